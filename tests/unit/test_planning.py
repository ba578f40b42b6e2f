"""`plan`'s decisions without servers (`controller/planning.py`): what an apply would do to a live object,
who is ahead in the import line, and the CMU and cost estimate."""

from __future__ import annotations

from controller import planning
from controller.api.models import BedrockImportedModelSpec
from controller.naming import revision

SPEC = {
    "source": {"s3Uri": "s3://bucket/llama/"},
    "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/r"},
    "region": "us-east-1",
    "tags": {"team": "a"},
}


def _live(spec: dict, **status) -> dict:
    return {"metadata": {"uid": "u"}, "spec": spec, "status": status}


def test_what_an_apply_would_do_to_the_live_object() -> None:
    spec = BedrockImportedModelSpec.model_validate(SPEC)
    serving = {"modelArn": "arn:m", "revision": revision(spec), "region": "us-east-1"}
    assert planning.action_of(spec, None, "us-east-1") == ("create", [])
    assert planning.action_of(spec, _live(SPEC, **serving), "us-east-1") == ("nothing", [])
    retagged = BedrockImportedModelSpec.model_validate({**SPEC, "tags": {"team": "b"}})
    assert planning.action_of(retagged, _live(SPEC, **serving), "us-east-1") == ("in-place", ["tags"])
    moved = BedrockImportedModelSpec.model_validate({**SPEC, "source": {"s3Uri": "s3://bucket/other/"}})
    assert planning.action_of(moved, _live(SPEC, **serving), "us-east-1") == ("new-revision", ["source"])
    assert planning.action_of(spec, _live(SPEC, **serving), "us-west-2")[0] == "new-revision"  # migrates
    assert planning.action_of(retagged, _live(SPEC), "us-east-1")[0] == "new-revision"  # nothing serves yet


def test_who_is_ahead_in_the_import_line() -> None:
    def obj(uid: str, **status) -> dict:
        return {"metadata": {"uid": uid}, "status": status}

    bodies = [
        obj("holds", importJob={"state": "InProgress", "region": "us-east-1"}),
        obj("waits", queuedAt="2026-01-01T00:00:00Z", region="us-east-1", phase="Queued"),
        obj("west", importJob={"state": "InProgress", "region": "us-west-2"}),
        obj("team-b", importJob={"state": "InProgress", "region": "us-east-1"}, accountRoleArn="arn:role/b"),
        obj("done", importJob={"state": "Completed", "region": "us-east-1"}, phase="Ready"),
        obj("me", queuedAt="2026-01-01T00:00:00Z", region="us-east-1", phase="Queued"),
    ]
    assert planning.queue_ahead(bodies, "us-east-1", None, uid="me") == 2
    assert planning.queue_ahead(bodies, "us-east-1", "arn:role/b") == 1  # another account: its own slot


def test_the_cmu_and_cost_estimate() -> None:
    assert planning.estimate_cmus(None) is None and planning.estimate_cmus(1) == 1
    assert planning.estimate_cmus(16_060_000_000) == 3 and planning.estimate_cmus(8 * 10**9) == 1
    assert planning.window_cost(2, 0.0785) == 0.785 and planning.window_cost(2, None) is None
