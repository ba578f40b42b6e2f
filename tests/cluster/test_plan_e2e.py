"""`bedrock-model-operator plan` against the real apiserver and the local AWS, read-only: the five examples
each plan as a new, importable, allowed model; a live object plans as nothing, a change in place, or a new
revision that names the model it replaces; a policy's refusal and a taken model name exit 1 with the reason;
and planning changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.operator_process import apply_model, wait_condition

pytestmark = [pytest.mark.controlplane, pytest.mark.usefixtures("clean_faults")]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["flan-t5.yaml", "llama3.yaml", "mistral.yaml", "retained.yaml", "sagemaker-source.yaml"]


def _plan(control_plane, local_aws, manifest: Path, namespace: str, *extra: str) -> tuple[int, list[dict]]:
    env = {**os.environ, **control_plane.env(), **local_aws.env()}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller.cli",
            "plan",
            "-f",
            str(manifest),
            "-n",
            namespace,
            "--output",
            "json",
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["plans"]


def _manifest(tmp_path: Path, name: str, **spec) -> Path:
    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": name},
        "spec": {
            "source": {"s3Uri": "s3://bmo-examples/llama3-8b-support/"},
            "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/BedrockModelImport"},
            "region": "us-east-1",
        }
        | spec,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_plans_as_a_new_importable_model(control_plane, local_aws, operator, namespace, example):
    before = local_aws.state()
    code, [plan] = _plan(
        control_plane, local_aws, ROOT / "examples" / example, namespace, "--price-per-cmu-minute", "0.1"
    )
    assert code == 0 and plan["problems"] == [], plan
    assert plan["action"] == "create" and plan["validation"]["verdict"] == "importable"
    assert plan["policy"]["allowed"] is True and plan["queue_ahead"] >= 0
    assert plan["cmus_estimate"] >= 1 and plan["window_cost"] == round(plan["cmus_estimate"] * 0.1 * 5, 6)
    assert plan["model_name"]
    after = local_aws.state()  # nothing new (other tests' namespaces may still be deleting their models)
    assert {j["jobArn"] for j in after["jobs"]} <= {j["jobArn"] for j in before["jobs"]}
    assert {m["modelArn"] for m in after["models"]} <= {m["modelArn"] for m in before["models"]}


def test_a_live_object_plans_as_nothing_in_place_or_a_new_revision(
    kubectl, control_plane, local_aws, operator, namespace, tmp_path
):
    apply_model(kubectl, namespace, "live", tags={"team": "a"})
    obj = wait_condition(kubectl, namespace, "live", "Ready", "True", timeout=120)
    same = _manifest(tmp_path, "live", tags={"team": "a"})
    assert _plan(control_plane, local_aws, same, namespace)[1][0]["action"] == "nothing"
    retagged = _manifest(tmp_path, "live", tags={"team": "b"})
    plan = _plan(control_plane, local_aws, retagged, namespace)[1][0]
    assert (plan["action"], plan["changes"], plan["validation"]) == ("in-place", ["tags"], None)
    moved = _manifest(
        tmp_path, "live", tags={"team": "a"}, source={"s3Uri": "s3://bmo-examples/mistral-7b-summarizer/"}
    )
    plan = _plan(control_plane, local_aws, moved, namespace)[1][0]
    assert plan["action"] == "new-revision" and obj["status"]["modelArn"] in plan["replaces"]
    assert plan["model_name"] == obj["status"]["modelName"]


def test_a_policy_refusal_and_a_taken_name_exit_1_with_the_reason(
    kubectl, control_plane, local_aws, operator, namespace, tmp_path
):
    apply_model(kubectl, namespace, "owner", modelName=f"{namespace}-taken")
    wait_condition(kubectl, namespace, "owner", "Ready", "True", timeout=120)
    code, [plan] = _plan(
        control_plane, local_aws, _manifest(tmp_path, "thief", modelName=f"{namespace}-taken"), namespace
    )
    assert code == 1 and plan["model_name_note"].startswith(f"taken: BedrockImportedModel {namespace}/owner ")
    policy = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportPolicy",
        "metadata": {"name": f"plan-{namespace}"},
        "spec": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "sources": {"s3Prefixes": ["s3://elsewhere/"]},
            "serviceRoles": {"roleArns": ["*"]},
            "validationModes": ["Inline", "Job", "Skip"],
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(policy))
    try:
        code, [plan] = _plan(control_plane, local_aws, _manifest(tmp_path, "new"), namespace)
    finally:
        kubectl("delete", "bedrockimportpolicy", f"plan-{namespace}", "--wait=true")
    assert code == 1 and plan["policy"]["allowed"] is False
    assert plan["policy"]["violations"][0]["rule"] == "SourceNotAllowed"
    assert any("a policy refuses it" in p for p in plan["problems"])
