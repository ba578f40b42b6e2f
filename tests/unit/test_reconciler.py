"""The reconciler's decisions (`controller/reconcile/reconciler.py`), driven through the in-process World: a
spec only the operator refuses, a policy moving a namespace to another account, a revert to the serving
revision after a failed one, and the finalizer of an object whose spec the operator refuses. Each test names
the branch it drives (docs/coverage-branches.md)."""

from __future__ import annotations

from controller.naming import OWNER_KEYS, TAG_RETAINED_FROM
from tests.support.world import condition, import_jobs, model_arns, until_5s
from tests.unit.test_invariants import SOURCES, TENANT_ACCOUNT, Operators, spec

#: a backreference: the CRD admits it, the operator's model (RE2) does not
RE2_REFUSES = {"prompt": "hi", "expect": "(a)\\1"}


def test_a_queued_object_whose_spec_only_the_operator_refuses_gives_up_its_place_in_line():
    """reconciler.py, invalid-spec path, `if job is not None and self._paused_job_runs(v, st):` (false: no
    job). An object waiting in line gets a spec the API admits but the operator refuses (an RE2-invalid
    smokeTest.expect): it reads InvalidSpec and Failed, and leaves the line, so the object behind it
    imports when the slot frees instead of waiting on it."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"job_duration_seconds": 60})
    first = c.create("team-a", "a", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress", 30)
    middle = c.create("team-b", "b", spec(SOURCES[1], "us-east-1", "Delete", {"team": "b"}, None))
    last = c.create("team-c", "c", spec(SOURCES[2], "us-east-1", "Delete", {"team": "c"}, None))
    until_5s(w, lambda: last["status"].get("queuePosition") == 2, 30)
    c.edit_spec(middle, smokeTest=RE2_REFUSES)
    assert condition(middle, "Validated")["reason"] == "InvalidSpec"
    assert condition(middle, "Ready")["reason"] == "InvalidSpec" and middle["status"]["phase"] == "Failed"
    until_5s(w, lambda: last["status"].get("queuePosition") == 1, 30)
    until_5s(w, lambda: last["status"].get("phase") == "Ready", 240)
    assert middle["status"].get("importJob") is None and middle["status"]["phase"] == "Failed"
    c.edit_spec(middle, smokeTest=None)
    m.teardown()


def test_a_spec_only_the_operator_refuses_on_a_serving_object_names_the_model_that_keeps_serving():
    """reconciler.py, invalid-spec path, `if st.model_arn:`. A Ready object gets an RE2-invalid
    smokeTest.expect: Ready is False (InvalidSpec) and says which model keeps serving; the model stays in
    status and in Bedrock."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    arn, name = body["status"]["modelArn"], body["status"]["modelName"]
    c.edit_spec(body, smokeTest=RE2_REFUSES)
    ready = condition(body, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "InvalidSpec"
    revision = body["status"]["revision"][:8]
    assert ready["message"].endswith(f"; model {name} (revision {revision}) keeps serving"), ready
    w.advance(60.0)
    assert body["status"]["modelArn"] == arn and arn in model_arns(w)
    c.edit_spec(body, smokeTest=None)
    until_5s(w, lambda: condition(body, "Ready").get("status") == "True", 60)
    m.teardown()


def test_a_policy_moving_a_namespace_to_another_account_imports_nothing_new_and_keeps_what_serves():
    """reconciler.py `_decide`, `if _owns(st) and (st.account_role_arn or None) != decision.account_role:`.
    The namespace's models live in the operator's account; a policy now names a team account. A new
    revision is refused (Allowed False, AccountChanged, phase Blocked): nothing is imported in either
    account, and the model that serves keeps serving."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    c.set_policy(
        "ns-team-a",
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}},
            "sources": {"s3Prefixes": ["s3://models/"]},
            "serviceRoles": {"roleArns": ["arn:aws:iam::*"], "allowCreate": True},
            "validationModes": ["Job", "Inline", "Skip"],
            "account": {"roleArn": f"arn:aws:iam::{TENANT_ACCOUNT}:role/bmo-tenant-access"},
        },
    )
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    w.advance(120.0)
    allowed = condition(body, "Allowed")
    assert allowed["status"] == "False" and allowed["reason"] == "AccountChanged", allowed
    assert body["status"]["phase"] == "Blocked"
    assert body["status"]["modelArn"] == arn and arn in model_arns(w)
    assert len(import_jobs(w.aws)) == 1, "nothing new in the operator's account"
    assert TENANT_ACCOUNT not in w.accounts or not import_jobs(w.accounts[TENANT_ACCOUNT]), (
        "nor in the team's"
    )
    m.teardown()


def test_a_revert_after_a_failed_revision_clears_the_failure():
    """reconciler.py: Ready on revision A, revision B fails for good (its import job fails), the spec goes
    back to A: the failure is history, Validated and Ready speak of A again, nothing is imported anew."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    c.edit_spec(body, source={"s3Uri": SOURCES[3]})  # "broken": the import job fails
    until_5s(w, lambda: body["status"].get("failure") is not None)
    assert condition(body, "Ready")["status"] == "False" and body["status"]["modelArn"] == arn
    c.edit_spec(body, source={"s3Uri": SOURCES[0]})
    until_5s(
        w, lambda: body["status"].get("failure") is None and condition(body, "Ready").get("status") == "True"
    )
    assert body["status"]["modelArn"] == arn and body["status"]["phase"] == "Ready"
    with w.aws._lock:
        assert len(w.aws._jobs) == 2, "the revert imported nothing anew"
    m.teardown()


def test_reverting_after_a_failed_smoke_test_says_the_serving_revision_is_fine():
    """reconciler.py, revert path, `if p.st.failure.condition == ConditionType.SMOKE_TESTED:`. Revision B
    fails its smoke test while A serves; the spec goes back to A. At once SmokeTested is True again ("the
    failed smoke test was of another revision"), the failure is cleared, and A is Ready."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    failing = spec(SOURCES[1], None, "Delete", {}, None, smoke="fail")
    c.edit_spec(body, source=failing["source"], smokeTest=failing["smokeTest"])
    until_5s(w, lambda: (body["status"].get("failure") or {}).get("condition") == "SmokeTested", 180)
    assert condition(body, "SmokeTested")["status"] == "False"
    c.edit_spec(body, source={"s3Uri": SOURCES[0]}, smokeTest=None)
    smoke = condition(body, "SmokeTested")
    assert smoke["status"] == "True" and smoke["reason"] == "SmokeTestNotRequested", smoke
    assert "of another revision" in smoke["message"]
    assert body["status"].get("failure") is None and body["status"]["phase"] == "Ready"
    assert body["status"]["modelArn"] == arn
    w.advance(60.0)
    assert condition(body, "SmokeTested")["status"] == "True"
    m.teardown()


def test_reverting_after_a_failed_validation_says_the_serving_revision_was_validated():
    """reconciler.py, revert path, `if p.st.failure.condition == ConditionType.VALIDATED:`. Revision B's
    folder fails validation (a quantized model) while A serves; the spec goes back to A. At once Validated
    is True again for A (ArtifactsImportable), the failure is cleared, and A is Ready; nothing is imported."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create(
        "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Inline")
    )
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    w.s3.put_folder(SOURCES[1], "quantized")
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    until_5s(w, lambda: (body["status"].get("failure") or {}).get("condition") == "Validated", 60)
    assert condition(body, "Validated")["status"] == "False"
    c.edit_spec(body, source={"s3Uri": SOURCES[0]})
    validated = condition(body, "Validated")
    assert validated["status"] == "True" and validated["reason"] == "ArtifactsImportable", validated
    assert body["status"].get("failure") is None and body["status"]["phase"] == "Ready"
    assert body["status"]["modelArn"] == arn and len(import_jobs(w.aws)) == 1
    m.teardown()


def test_deleting_an_object_with_an_operator_invalid_spec_that_owns_nothing_touches_no_aws():
    """reconciler.py `finalize`, `if not owns: return deletion.Finalized(done=True)`. An object whose spec
    the operator never accepted owns nothing: its finalizer is released at once, without any AWS call (so
    even while IAM throttles the role cleanup every other deletion does)."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    body = c.create("team-a", "m", {**doc, "smokeTest": RE2_REFUSES})
    assert condition(body, "Ready")["reason"] == "InvalidSpec" and not w.models()
    w.role_delete_failures = 5  # IAM throttles DeleteRole
    c.delete(body)
    assert c.store.read("team-a", "m") is None, "the finalizer was released in its first pass"
    assert w.role_delete_failures == 5, "no IAM call was made"
    w.role_delete_failures = 0
    m.teardown()


def test_deleting_objects_with_an_operator_invalid_spec_keeps_their_deletion_policy():
    """reconciler.py `finalize`, `if not owns:` (false): objects that own models get a spec the operator
    refuses, then are deleted. The fallback spec keeps each one's deletionPolicy: the Delete object's
    model is deleted, the Retain object's model is kept and handed over (owner tags removed)."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    drop = c.create("team-a", "drop", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    keep = c.create("team-b", "keep", spec(SOURCES[1], "us-east-1", "Retain", {"team": "b"}, None))
    until_5s(
        w, lambda: drop["status"].get("phase") == "Ready" and keep["status"].get("phase") == "Ready", 120
    )
    dropped, kept = drop["status"]["modelArn"], keep["status"]["modelArn"]
    for body in (drop, keep):
        c.edit_spec(body, smokeTest=RE2_REFUSES)
        assert condition(body, "Ready")["reason"] == "InvalidSpec"
        c.delete(body)
    until_5s(w, lambda: not c.store.objects, 120)
    models = {x["arn"]: x for x in w.models()}
    assert dropped not in models, "deletionPolicy Delete: the model went with the object"
    assert kept in models and kept in c.retained, "deletionPolicy Retain: the model was kept"
    assert not any(k in models[kept]["tags"] for k in OWNER_KEYS)
    assert models[kept]["tags"][TAG_RETAINED_FROM] == "team-b/keep"
    m.teardown()
