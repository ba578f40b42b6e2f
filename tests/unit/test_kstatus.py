"""kstatus's verdict in every phase the operator can be in, from the real library.

kstatus (sigs.k8s.io/cli-utils) is what Flux's health checks and `wait: true`, `flux`/`kpt` waits and many
CI gates read. It knows progress only by `Reconciling=True` and failure only by `Stalled=True`: without
them a revision that failed for good read `InProgress` forever and Flux reported a timeout, not the reason.
The objects come from the in-process World (every pass as the operator runs it, status written as the
apiserver merges it); `hack/kstatus` (built from the Go module proxy, like the control plane) gives the
verdict. The table docs/gitops.md and the README show is this test's output.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from controller.conditions import progress_updates
from tests.support.world import World
from tests.unit.test_invariants import SOURCES, spec

ROOT = Path(__file__).resolve().parents[2]
GITOPS_DOC = ROOT / "docs" / "gitops.md"
TAGS = {"team": "a"}

#: scenario -> the verdict a GitOps tool must see (and why, for the table)
EXPECTED = {
    "validating": "InProgress",
    "queued": "InProgress",
    "importing": "InProgress",
    "testing (smoke test, cold start)": "InProgress",
    "Ready": "Current",
    "revision rollout (the previous model serves)": "InProgress",
    "failed validation": "Failed",
    "failed import job": "Failed",
    "blocked by a policy": "Failed",
    "paused, its revision serving": "Current",
    "paused with an edit not acted on": "Failed",
    "deleting": "Terminating",
    "retrying a transient error": "InProgress",
}


@pytest.fixture(scope="module")
def kstatus() -> Any:
    built = subprocess.run(
        [str(ROOT / "hack" / "build-kstatus.sh")], capture_output=True, text=True, check=False, timeout=600
    )
    assert built.returncode == 0, built.stderr
    binary = built.stdout.strip().splitlines()[-1]

    def verdicts(bodies: list[dict[str, Any]]) -> list[dict[str, str]]:
        lines = "".join(json.dumps(b) + "\n" for b in bodies)
        out = subprocess.run([binary], input=lines, capture_output=True, text=True, check=True, timeout=60)
        return [json.loads(line) for line in out.stdout.splitlines()]

    return verdicts


def _until(w: World, done: Any, seconds: float = 300.0, step: float = 2.0) -> None:
    waited = 0.0
    while not done():
        assert waited < seconds, "the World never reached the phase the test waits for"
        w.advance(step, tick=step)
        waited += step


def _phase(body: dict[str, Any]) -> str | None:
    return (body.get("status") or {}).get("phase")


def _cond(body: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in body["status"].get("conditions", []) if c["type"] == ctype), {})


def _scenarios() -> dict[str, dict[str, Any]]:
    """Each phase of the table, as the operator leaves the object in it."""
    seen: dict[str, dict[str, Any]] = {}
    w = World()
    c = w.cluster("east")
    w.set_faults({"job_duration_seconds": 30, "cold_start_seconds": 40})

    def snap(label: str, body: dict[str, Any]) -> None:
        seen[label] = copy.deepcopy(body)

    job_validated = spec(SOURCES[0], "us-west-2", "Delete", TAGS, None, validation="Job")
    validating = c.create("a", "validating", job_validated)
    assert _phase(validating) == "Validating", validating["status"]
    snap("validating", validating)

    first = c.create("a", "first", spec(SOURCES[0], "us-east-1", "Delete", TAGS, None))
    second = c.create("a", "second", spec(SOURCES[1], "us-east-1", "Delete", TAGS, None))
    w.advance(4.0)
    assert (_phase(first), _phase(second)) == ("Importing", "Queued")
    snap("importing", first)
    snap("queued", second)
    _until(w, lambda: _phase(first) == "Ready")
    snap("Ready", first)

    c.edit_spec(first, source={"s3Uri": SOURCES[2]})
    _until(w, lambda: _phase(first) == "Updating")
    snap("revision rollout (the previous model serves)", first)

    w.s3.put_folder("s3://models/quantized/", "quantized")
    broken = c.create(
        "a", "broken", spec("s3://models/quantized/", "us-west-2", "Delete", TAGS, None, validation="Inline")
    )
    _until(w, lambda: _phase(broken) == "Failed")
    assert _cond(broken, "Validated").get("status") == "False", broken["status"]
    snap("failed validation", broken)

    tested = c.create("b", "tested", spec(SOURCES[0], "us-west-2", "Delete", TAGS, None, smoke="pass"))
    _until(w, lambda: _phase(tested) == "Testing")
    snap("testing (smoke test, cold start)", tested)

    _until(w, lambda: _phase(second) == "Ready" and _phase(first) == "Ready", seconds=600)
    w.set_faults({"fail_jobs": 1})
    c.edit_spec(second, source={"s3Uri": SOURCES[0]})
    _until(w, lambda: _phase(second) == "Failed")
    assert _cond(second, "Imported").get("reason") == "ImportFailed", second["status"]
    snap("failed import job", second)

    c.set_policy(
        "only-other",
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "blocked"}},
            "sources": {"s3Prefixes": ["s3://elsewhere/"]},
        },
    )
    blocked = c.create("blocked", "m", spec(SOURCES[0], "us-west-2", "Delete", TAGS, None))
    w.advance(4.0)
    assert _phase(blocked) == "Blocked", blocked["status"]
    snap("blocked by a policy", blocked)

    c.annotate(first, "bedrock.modelops.io/paused", "true")
    snap("paused, its revision serving", first)
    c.edit_spec(first, source={"s3Uri": SOURCES[1]})
    snap("paused with an edit not acted on", first)

    late = c.create("c", "late", spec(SOURCES[1], "us-east-1", "Delete", TAGS, None))
    _until(w, lambda: _phase(late) == "Importing")
    w.set_faults({"throttle_rate": 1.0})
    w.advance(10.0)
    assert _cond(late, "Synced").get("status") == "False", late["status"]
    snap("retrying a transient error", late)
    w.set_faults({"throttle_rate": 0.0})
    c.delete(late)
    w.advance(4.0)
    assert "deletionTimestamp" in late["metadata"] and late["metadata"].get("finalizers"), "deleted already"
    snap("deleting", late)
    return seen


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| phase | status.phase | kstatus | conditions kstatus reads |", "|---|---|---|---|"]
    lines += [f"| {label} | {phase} | **{verdict}** | {why} |" for label, phase, verdict, why in rows]
    return "\n".join(lines) + "\n"


def test_kstatus_reads_every_phase_right(kstatus: Any) -> None:
    seen = _scenarios()
    assert set(seen) == set(EXPECTED)
    labels = list(EXPECTED)
    verdicts = kstatus([seen[label] for label in labels])
    rows, wrong = [], []
    for label, verdict in zip(labels, verdicts, strict=True):
        body = seen[label]
        kinds = [
            f"{c['type']}={c['status']} ({c['reason']})"
            for c in body["status"]["conditions"]
            if c["type"] in ("Reconciling", "Stalled", "Ready")
        ]
        if body["metadata"].get("deletionTimestamp"):
            kinds.append("metadata.deletionTimestamp")
        rows.append((label, str(_phase(body)), verdict["status"], ", ".join(kinds)))
        if verdict["status"] != EXPECTED[label]:
            wrong.append((label, verdict, body["status"]["conditions"]))
    assert not wrong, wrong
    table = _table(rows)
    for doc in (GITOPS_DOC, ROOT / "README.md"):
        assert table in doc.read_text(), f"{doc.name}'s kstatus table differs; paste:\n" + table
    # a Failed verdict carries the reason a user must act on, not a timeout
    failed = next(v for label, v in zip(labels, verdicts, strict=True) if label == "failed validation")
    assert failed["message"] and failed["message"] == _cond(seen["failed validation"], "Ready")["message"]


def test_both_go_when_the_revision_serves_and_neither_is_left_behind() -> None:
    """Pure rule: Ready True removes both; stalled and reconciling never both True."""
    ready = [{"type": "Ready", "status": "True", "reason": "ImportCompleted", "message": "ok"}]
    assert progress_updates(ready, "Ready") == {"Reconciling": None, "Stalled": None}
    waiting = [{"type": "Ready", "status": "False", "reason": "Queued", "message": "position 2"}]
    assert progress_updates(waiting, "Queued") == {
        "Reconciling": ("True", "Queued", "position 2"),
        "Stalled": None,
    }
    failed = [{"type": "Ready", "status": "False", "reason": "NotImportable", "message": "quantized"}]
    for phase in ("Failed", "Blocked"):
        assert progress_updates(failed, phase) == {
            "Reconciling": None,
            "Stalled": ("True", "NotImportable", "quantized"),
        }
    paused = [*waiting, {"type": "Paused", "status": "True", "reason": "ReconcilePaused", "message": "x"}]
    assert progress_updates(paused, "Queued")["Stalled"] == ("True", "ReconcilePaused", "x")


def test_the_crds_default_status_is_replaced_by_the_first_write() -> None:
    """A new object carries the CRD's default `Reconciling=True` (AwaitingOperator) until the operator writes:
    the first write must not leave it behind once the model serves (kstatus would read a Ready model as in
    progress for ever)."""
    import yaml

    from controller.api.models import BedrockImportedModelStatus
    from controller.kube.status_store import status_patch
    from controller.reconcile import Outcome

    crd = yaml.safe_load((ROOT / "crds" / "bedrock.modelops.io_bedrockimportedmodels.yaml").read_text())
    default = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["default"]
    assert default["conditions"][0]["reason"] == "AwaitingOperator"
    out = Outcome(status=BedrockImportedModelStatus())
    out.condition("Ready", "True", "ModelReady", "serves")
    written = {c["type"]: c for c in status_patch(out, default, 1)["status"]["conditions"]}
    assert "Reconciling" not in written and "Stalled" not in written
    out = Outcome(status=BedrockImportedModelStatus())
    out.condition("Ready", "False", "Queued", "position 1")
    written = {c["type"]: c for c in status_patch(out, default, 1)["status"]["conditions"]}
    assert written["Reconciling"]["reason"] == "Queued"
