"""Branches of controller/reconcile/{deletion,importing,reconciler}.py the whole-suite coverage run never
took (docs/coverage-branches.md, "untested"), each driven through the in-process World; each test names
its branch by the code text."""

from __future__ import annotations

from functools import partial

from bmo_devtools.emulator.protocol import ApiError
from controller.naming import OWNER_KEYS, TAG_RETAINED_FROM
from controller.reconcile.importing import LATE_CREATE_SECONDS
from tests.support.world import condition, until
from tests.unit.test_invariants import SOURCES, TENANT_ACCOUNT, Operators, spec

_until = partial(until, tick=5.0)  # the timer's own 5 s
#: a backreference: the CRD admits it, the operator's model (RE2) does not
RE2_REFUSES = {"prompt": "hi", "expect": "(a)\\1"}


def _events(c, name: str, reason: str) -> list[tuple[str, str, str, str]]:
    return [e for e in c.events if e[0] == name and e[2] == reason]


def _model_arns(w) -> set[str]:
    return {m["arn"] for m in w.models()}


def _jobs(state) -> list:
    with state._lock:
        return list(state._jobs.values())


# ---- controller/reconcile/deletion.py ------------------------------------------------------------------
def test_deleting_an_object_whose_create_never_landed_waits_out_the_grace_period_then_finishes():
    """deletion.py, `if job is not None and ownership(bedrock.tags(job.arn), p.me) != "other":` (false: no
    job). The object is deleted while Bedrock still refuses its create (the role not visible yet), so no job
    exists. The finalizer first gives the create time to show up (it may have landed; nothing looks for it
    once the object is gone): the grace period, and at least `LATE_CREATE_SECONDS` after its last send. Then
    it finishes: nothing leaks, and the next object gets the slot."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"iam_propagation_failures": 10**6})
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    other = c.create("team-b", "next", spec(SOURCES[1], "us-east-1", "Delete", {"team": "b"}, None))
    _until(w, lambda: condition(body, "Synced").get("reason") == "WaitingForIAMPropagation", 60)
    job_name = body["status"]["importJob"]["jobName"]
    assert body["status"]["importJob"]["state"] == "Creating" and w.find_job(job_name) is None
    c.delete(body)
    assert c.store.read("team-a", "m") is not None, "a create that may have landed is waited for"
    assert any(job_name in e[3] for e in _events(c, "m", "WaitingForImportJob"))
    w.advance(90.0, tick=5.0)
    assert c.store.read("team-a", "m") is not None, "a create may still land 90 s after it was sent"
    _until(w, lambda: c.store.read("team-a", "m") is None, LATE_CREATE_SECONDS)
    assert w.find_job(job_name) is None and not w.models(), "nothing was made, nothing is left"
    w.aws.set_faults({"iam_propagation_failures": 0})
    _until(w, lambda: other["status"].get("phase") == "Ready", 120)
    m.teardown()


def test_deleting_an_object_whose_failed_job_was_not_followed_yet_finishes_at_once():
    """deletion.py, `if job.status == "Completed" and job.model_arn and job.model_arn not in keep:` (false:
    the job Failed). A new revision's job fails in Bedrock while the operator's polls are throttled, so
    status still says InProgress; the object is deleted then. The finalizer finds the Failed job, has
    nothing of it to delete, deletes the serving model and is done in its first pass."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready")
    serving = body["status"]["modelArn"]
    w.aws.set_faults({"job_duration_seconds": 30})
    c.edit_spec(body, source={"s3Uri": SOURCES[3]})  # "broken": its job fails
    _until(w, lambda: (body["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    job_name = body["status"]["importJob"]["jobName"]
    w.aws.set_faults({"throttle_rate": 1.0})  # the operator's polls fail; Bedrock's jobs go on
    _until(w, lambda: w.find_job(job_name).status == "Failed", 60)
    w.aws.set_faults({"throttle_rate": 0.0})
    assert body["status"]["importJob"]["state"] == "InProgress", "no pass saw the failure"
    c.delete(body)
    assert c.store.read("team-a", "m") is None, "the finalizer finished in its first pass"
    assert not _events(c, "m", "WaitingForImportJob")
    assert serving not in _model_arns(w), "the serving model went with the object (Delete)"
    assert any(serving in e[3] for e in _events(c, "m", "ModelDeleted"))
    m.teardown()


def test_retain_skips_a_model_already_deleted_outside_the_cluster():
    """deletion.py `_release`, `if err.kind is Kind.NOT_FOUND: return False`. With deletionPolicy Retain,
    the serving model was deleted by hand before the object is deleted: nothing is reported retained (no
    ModelRetained Event, no model handed over) and the deletion completes."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Retain", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    w.aws.delete_model("us-east-1", {"modelIdentifier": arn})  # someone deletes it in the console
    c.delete(body)
    assert c.store.read("team-a", "m") is None, "the deletion completed"
    assert not _events(c, "m", "ModelRetained") and arn not in c.retained
    assert arn not in _model_arns(w)
    m.teardown()


# ---- controller/reconcile/importing.py -----------------------------------------------------------------
def test_an_earlier_specs_job_that_fails_records_no_failure_for_the_new_spec():
    """importing.py, `if rec.revision == p.rev and rec.region == p.region:` (false) after `job.status ==
    "Failed"`. The spec is fixed while the job of the broken one runs; that old job then fails. The new
    spec never reads Failed (no ImportFailed Event or condition for it) and its revision is imported."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"job_duration_seconds": 40})
    body = c.create("team-a", "m", spec(SOURCES[3], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: (body["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    old_job = body["status"]["importJob"]["jobName"]
    c.edit_spec(body, source={"s3Uri": SOURCES[0]})
    seen: list[tuple] = []  # after every pass: what the new spec's status said

    def look() -> None:
        status = body["status"]
        seen.append((status.get("phase"), status.get("failure"), condition(body, "Imported").get("reason")))

    w.on_tick.append(look)
    _until(w, lambda: body["status"].get("phase") == "Ready", 180)
    assert w.find_job(old_job).status == "Failed", "the old spec's job did fail"
    assert not _events(c, "m", "ImportFailed"), "no failure was reported for the new spec"
    assert seen and all(p != "Failed" and f is None and r != "ImportFailed" for p, f, r in seen)
    assert body["status"]["importJob"]["jobName"] != old_job
    m.teardown()


def test_a_create_bedrock_refuses_for_good_fails_the_revision_and_frees_the_slot():
    """importing.py `_create_refused`, `if err.kind is Kind.QUOTA:` (false) then `fail(...)`.
    CreateModelImportJob is refused with a terminal error (here AccessDenied: the operator may not use the
    spec's KMS key). The revision is Failed with the classified reason and no job, it is not retried, and
    the object queued behind imports."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    create_job = w.aws.create_job
    refused: list[str] = []

    def refusing(region, params):
        if params.get("importedModelKmsKeyId"):
            refused.append(params["jobName"])
            raise ApiError(
                "AccessDeniedException",
                "User is not authorized to perform: kms:CreateGrant on resource: "
                f"arn:aws:kms:{region}:123456789012:key/retired",
            )
        return create_job(region, params)

    w.aws.create_job = refusing
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    bad = c.create("team-a", "bad", {**doc, "kmsKeyId": "alias/retired-key"})
    other = c.create("team-b", "next", spec(SOURCES[1], "us-east-1", "Delete", {"team": "b"}, None))
    _until(w, lambda: bad["status"].get("phase") == "Failed", 60)
    assert condition(bad, "Imported")["status"] == "False"
    assert condition(bad, "Imported")["reason"] == "AccessDenied"
    assert bad["status"]["failure"]["reason"] == "AccessDenied"
    assert bad["status"].get("importJob") is None, "Bedrock made no job: no intent is kept"
    _until(w, lambda: other["status"].get("phase") == "Ready", 120)
    w.advance(120.0)
    assert len(refused) == 1, "a terminal refusal is not retried"
    assert bad["status"]["phase"] == "Failed"
    m.teardown()


def test_an_own_model_of_another_revision_holding_the_name_is_retired_not_served():
    """importing.py `_name_taken`, `if owner == "mine" and not adopted and not _from_revision(...)`.
    Bedrock hides the serving model past the grace period: it is taken for deleted and, once the spec
    moves to another folder, forgotten. When it shows again it holds the name the new revision's import
    wants. It is not taken as the new revision (its weights are the old folder's): it is deleted, and the
    spec's folder is imported under another name."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready")
    old_arn = body["status"]["modelArn"]
    with w.aws._lock:  # a replica behind: Bedrock answers NotFound for it for 5 minutes
        w.aws._models[old_arn].visible_at = w.clock.t + 300
    c.annotate(body, "touch", "1")  # an event: the model is read by its ARN
    _until(w, lambda: _events(c, "m", "ModelDeletedOutside"), 120)
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    _until(w, lambda: old_arn not in str(body["status"]), 60)  # forgotten: status no longer knows it
    _until(w, lambda: body["status"].get("phase") == "Ready", 600)
    new_arn = body["status"]["modelArn"]
    assert new_arn != old_arn
    _, model = w._model(new_arn)
    assert model.job.s3_uri == SOURCES[1], "what serves was imported from the spec's folder"
    _until(w, lambda: old_arn not in _model_arns(w), 120)
    m.teardown()


# ---- controller/reconcile/reconciler.py ----------------------------------------------------------------
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
    _until(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress", 30)
    middle = c.create("team-b", "b", spec(SOURCES[1], "us-east-1", "Delete", {"team": "b"}, None))
    last = c.create("team-c", "c", spec(SOURCES[2], "us-east-1", "Delete", {"team": "c"}, None))
    _until(w, lambda: last["status"].get("queuePosition") == 2, 30)
    c.edit_spec(middle, smokeTest=RE2_REFUSES)
    assert condition(middle, "Validated")["reason"] == "InvalidSpec"
    assert condition(middle, "Ready")["reason"] == "InvalidSpec" and middle["status"]["phase"] == "Failed"
    _until(w, lambda: last["status"].get("queuePosition") == 1, 30)
    _until(w, lambda: last["status"].get("phase") == "Ready", 240)
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
    _until(w, lambda: body["status"].get("phase") == "Ready")
    arn, name = body["status"]["modelArn"], body["status"]["modelName"]
    c.edit_spec(body, smokeTest=RE2_REFUSES)
    ready = condition(body, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "InvalidSpec"
    revision = body["status"]["revision"][:8]
    assert ready["message"].endswith(f"; model {name} (revision {revision}) keeps serving"), ready
    w.advance(60.0)
    assert body["status"]["modelArn"] == arn and arn in _model_arns(w)
    c.edit_spec(body, smokeTest=None)
    _until(w, lambda: condition(body, "Ready").get("status") == "True", 60)
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
    _until(w, lambda: body["status"].get("phase") == "Ready")
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
    assert body["status"]["modelArn"] == arn and arn in _model_arns(w)
    assert len(_jobs(w.aws)) == 1, "nothing new in the operator's account"
    assert TENANT_ACCOUNT not in w.accounts or not _jobs(w.accounts[TENANT_ACCOUNT]), "nor in the team's"
    m.teardown()


def test_reverting_after_a_failed_smoke_test_says_the_serving_revision_is_fine():
    """reconciler.py, revert path, `if p.st.failure.condition == ConditionType.SMOKE_TESTED:`. Revision B
    fails its smoke test while A serves; the spec goes back to A. At once SmokeTested is True again ("the
    failed smoke test was of another revision"), the failure is cleared, and A is Ready."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    failing = spec(SOURCES[1], None, "Delete", {}, None, smoke="fail")
    c.edit_spec(body, source=failing["source"], smokeTest=failing["smokeTest"])
    _until(w, lambda: (body["status"].get("failure") or {}).get("condition") == "SmokeTested", 180)
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
    _until(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    w.s3.put_folder(SOURCES[1], "quantized")
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    _until(w, lambda: (body["status"].get("failure") or {}).get("condition") == "Validated", 60)
    assert condition(body, "Validated")["status"] == "False"
    c.edit_spec(body, source={"s3Uri": SOURCES[0]})
    validated = condition(body, "Validated")
    assert validated["status"] == "True" and validated["reason"] == "ArtifactsImportable", validated
    assert body["status"].get("failure") is None and body["status"]["phase"] == "Ready"
    assert body["status"]["modelArn"] == arn and len(_jobs(w.aws)) == 1
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
    _until(w, lambda: drop["status"].get("phase") == "Ready" and keep["status"].get("phase") == "Ready", 120)
    dropped, kept = drop["status"]["modelArn"], keep["status"]["modelArn"]
    for body in (drop, keep):
        c.edit_spec(body, smokeTest=RE2_REFUSES)
        assert condition(body, "Ready")["reason"] == "InvalidSpec"
        c.delete(body)
    _until(w, lambda: not c.store.objects, 120)
    models = {x["arn"]: x for x in w.models()}
    assert dropped not in models, "deletionPolicy Delete: the model went with the object"
    assert kept in models and kept in c.retained, "deletionPolicy Retain: the model was kept"
    assert not any(k in models[kept]["tags"] for k in OWNER_KEYS)
    assert models[kept]["tags"][TAG_RETAINED_FROM] == "team-b/keep"
    m.teardown()
