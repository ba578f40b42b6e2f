"""Branches the whole-suite coverage run never took that a user would notice (docs/coverage-branches.md,
"untested"), each now driven through the in-process World."""

from __future__ import annotations

from functools import partial

from controller.naming import TAG_CLUSTER_ID, TAG_UID
from tests.support.world import condition, until
from tests.unit.test_invariants import SOURCES, Operators, spec

_until = partial(until, tick=5.0)  # this file's steps: the timer's own 5 s


def test_a_role_bedrock_still_refuses_after_the_iam_wait_fails_the_revision_and_frees_the_slot():
    """importing.py: a role Bedrock calls invalid for longer than the IAM propagation wait is wrong, not
    new: the revision fails (ServiceRoleInvalid) instead of retrying forever, and the next object imports."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"iam_propagation_failures": 10**6})
    bad = c.create("team-a", "bad", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    other = c.create("team-b", "next", spec(SOURCES[1], "us-east-1", "Delete", {"team": "b"}, None))
    wait = c.settings().iam_propagation_seconds
    _until(w, lambda: condition(bad, "Imported").get("reason") == "ServiceRoleInvalid", wait + 120)
    assert bad["status"]["failure"]["reason"] == "ServiceRoleInvalid"
    assert bad["status"].get("importJob") is None, "no job exists: the intent is not kept"
    w.aws.set_faults({"iam_propagation_failures": 0})
    _until(w, lambda: other["status"].get("phase") == "Ready", 120)
    m.teardown()


def test_a_revert_after_a_failed_revision_clears_the_failure():
    """reconciler.py: Ready on revision A, revision B fails for good (its import job fails), the spec goes
    back to A: the failure is history, Validated and Ready speak of A again, nothing is imported anew."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    c.edit_spec(body, source={"s3Uri": SOURCES[3]})  # "broken": the import job fails
    _until(w, lambda: body["status"].get("failure") is not None)
    assert condition(body, "Ready")["status"] == "False" and body["status"]["modelArn"] == arn
    c.edit_spec(body, source={"s3Uri": SOURCES[0]})
    _until(
        w, lambda: body["status"].get("failure") is None and condition(body, "Ready").get("status") == "True"
    )
    assert body["status"]["modelArn"] == arn and body["status"]["phase"] == "Ready"
    with w.aws._lock:
        assert len(w.aws._jobs) == 2, "the revert imported nothing anew"
    m.teardown()


def test_a_serving_model_retagged_to_another_owner_is_never_touched_again():
    """serving.py: someone puts another object's ownership tags on the serving model. The object says so
    (ModelOwnedElsewhere) and neither retags nor deletes that model, even when it is deleted itself."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    with w.aws._lock:
        w.aws._tags[arn] = {TAG_CLUSTER_ID: "another-cluster", TAG_UID: "someone-else"}
    c.annotate(body, "touch", "1")  # an event: the model and its tags are read now
    _until(w, lambda: "ModelOwnedElsewhere" in str(body["status"].get("conditions")), 60)
    c.delete(body)
    _until(w, lambda: not c.store.objects, 300)
    with w.aws._lock:
        assert arn in w.aws._models, "another owner's model was deleted"
        assert w.aws._tags[arn] == {TAG_CLUSTER_ID: "another-cluster", TAG_UID: "someone-else"}


def test_a_smoke_test_removed_while_its_candidate_is_tested_promotes_the_candidate():
    """smoke.py: the candidate of a smoke test is waiting out its cold start; the user drops
    spec.smokeTest. The candidate serves (as it would have without a test) and nothing is imported again."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.set_faults({"cold_start_seconds": 50.0})  # the candidate does not answer for 50 s: it is being tested
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    _until(w, lambda: (body["status"].get("importJob") or {}).get("state") == "Testing", 120)
    c.edit_spec(body, smokeTest=None)
    _until(w, lambda: body["status"].get("phase") == "Ready", 60)
    assert body["status"]["modelArn"] == body["status"]["importJob"]["modelArn"]
    assert condition(body, "SmokeTested")["reason"] == "SmokeTestNotRequested"
    with w.aws._lock:
        assert len(w.aws._jobs) == 1
    m.teardown()


def test_a_source_edited_while_a_candidate_is_tested_discards_the_candidate():
    """smoke.py: while a candidate is tested, the spec moves to another folder. That candidate is not what
    the spec asks for any more: it is deleted, never promoted, and the new revision is imported."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.set_faults({"cold_start_seconds": 50.0})  # the candidate does not answer for 50 s: it is being tested
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    _until(w, lambda: (body["status"].get("importJob") or {}).get("state") == "Testing", 120)
    candidate = body["status"]["importJob"]["modelArn"]
    c.edit_spec(body, source={"s3Uri": SOURCES[1]}, smokeTest=None)
    _until(w, lambda: body["status"].get("phase") == "Ready", 120)
    assert body["status"]["modelArn"] != candidate
    _until(w, lambda: candidate not in {x["arn"] for x in w.models()}, 120)
    m.teardown()
