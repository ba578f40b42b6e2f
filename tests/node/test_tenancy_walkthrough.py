"""docs/tenancy.md's two-team walkthrough, its commands run as written (the block between its marker and the
closing fence) against the session's control plane, node and local AWS, seeded as `dev` seeds them: team A's
reach for team B's folder is refused at apply, both teams' models import (team A's with a created role in the
operator's account, team B's into its own account), and each line the page shows is printed."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tenancy.md"
TEAM_LABEL = "bedrock.modelops.io/team"


def _blocks() -> tuple[str, list[str]]:
    """The commands, and the lines the page says they print."""
    text = DOC.read_text()
    start = text.index("<!-- tenancy-walkthrough")
    body = text[text.index("```sh\n", start) + len("```sh\n") :]
    commands = body[: body.index("```")]
    after = body[body.index("What it prints") :]
    shown = after[after.index("```\n") + 4 :]
    return commands, [line for line in shown[: shown.index("```")].splitlines() if line.strip()]


def _admission(kubectl) -> list[str]:
    """The shipped admission policy, bound as the dev stack binds it (open: creates pass where no policy
    exists) to the teams' namespaces only, so no other test's objects meet it."""
    kubectl("apply", "-f", str(ROOT / "deploy" / "base" / "admission-policy.yaml"))
    names = []
    for binding in yaml.safe_load_all(
        (ROOT / "deploy" / "base" / "admission-policy-binding.yaml").read_text()
    ):
        binding["spec"]["paramRef"]["parameterNotFoundAction"] = "Allow"
        binding["spec"]["matchResources"]["namespaceSelector"] = {
            "matchExpressions": [{"key": TEAM_LABEL, "operator": "Exists"}]
        }
        # the shipped names: the refusal quotes the binding's name, as the page shows it
        kubectl("apply", "-f", "-", input=yaml.safe_dump(binding))
        names.append(binding["metadata"]["name"])
    return names


def _squash(line: str) -> str:
    return " ".join(line.split())


def test_the_two_team_walkthrough_runs_as_written(kubectl, operator, local_aws, control_plane, tmp_path):
    local_aws.seed_tenancy()
    bindings = _admission(kubectl)
    cache = tmp_path / "cache"  # the dev stack's kubeconfig path, for the block's own `export KUBECONFIG`
    (cache / "dev" / "cluster").mkdir(parents=True)
    (cache / "dev" / "cluster" / "kubeconfig").symlink_to(control_plane.kubeconfig)
    commands, shown = _blocks()
    # the apiserver sees new BedrockImportPolicies (the admission policy's parameters) a moment after they
    # are created: a person takes that long between two commands, a script does not. Wait for the refusal
    # with a server-side dry run (nothing is created) before the page's own apply runs as written.
    refused = "kubectl apply -f examples/tenancy/team-a-reaches-for-team-b.yaml"
    assert refused in commands
    settle = (
        "for i in $(seq 60); do kubectl apply --dry-run=server"
        " -f examples/tenancy/team-a-reaches-for-team-b.yaml >/dev/null 2>&1 || break; sleep 0.5; done\n"
    )
    commands = commands.replace(refused, settle + refused, 1)
    try:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", commands],
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BMO_CACHE_DIR": str(cache)},
            capture_output=True,
            text=True,
            timeout=660,
        )
        output = proc.stdout + proc.stderr
        printed = [_squash(line) for line in output.splitlines()]
        if proc.returncode != 0:
            pytest.fail(f"the walkthrough's commands failed ({proc.returncode}):\n{output}")
        for line in shown:
            if "denied request: " in line:  # the refusal: what it names, whichever binding answered first
                want = f'"borrowed" is forbidden|{_squash(line.split("denied request: ", 1)[1])}'
                found = any(all(part in p for part in want.split("|")) for p in printed)
            else:
                found = any(p.startswith(_squash(line)) for p in printed)
            if not found:
                pytest.fail(f"docs/tenancy.md shows {line!r}; the commands printed:\n{output}")

        # where each team's model lives, and with which role
        a = json.loads(kubectl("get", "bedrockmodel", "llama", "-n", "team-a", "-o", "json").stdout)["status"]
        b = json.loads(kubectl("get", "bedrockmodel", "mistral", "-n", "team-b", "-o", "json").stdout)[
            "status"
        ]
        assert a["modelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:imported-model/")
        assert re.fullmatch(r"arn:aws:iam::123456789012:role/bmo-import-.+", a["serviceRoleArn"])
        assert b["modelArn"].startswith("arn:aws:bedrock:us-east-1:222222222222:imported-model/")
        assert b["accountRoleArn"] == "arn:aws:iam::222222222222:role/bmo-tenant-access"
        assert b["validation"]["verdict"] == "importable" and a["validation"]["verdict"] == "importable"
        assert "borrowed" not in str(local_aws.state())  # nothing came of the refused manifest, anywhere
    finally:
        kubectl("delete", "namespace", "team-a", "team-b", "--ignore-not-found", "--timeout=110s")
        kubectl("delete", "bedrockimportpolicies", "team-a", "team-b", "--ignore-not-found")
        for name in bindings:
            kubectl("delete", "validatingadmissionpolicybinding", name, "--ignore-not-found")
