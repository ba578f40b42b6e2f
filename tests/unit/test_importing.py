"""Importing a revision (`controller/reconcile/importing.py`, `failures.py`), driven through the in-process
World: a create Bedrock refuses for good or past the IAM propagation wait, which attempt a failed job's
failure belongs to, and an own model of another revision holding the name. Each test names the branch it
drives (docs/coverage-branches.md) or the mutation it answers (hack/mutants.py)."""

from __future__ import annotations

from bmo_devtools.emulator.protocol import ApiError
from bmo_devtools.emulator.state import ImportOutcome
from tests.support.world import condition, events_of, eventually, import_jobs, model_arns, until_5s
from tests.unit.test_invariants import ROLE, ROLES, SOURCES, Operators, spec


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
    until_5s(w, lambda: condition(bad, "Imported").get("reason") == "ServiceRoleInvalid", wait + 120)
    assert bad["status"]["failure"]["reason"] == "ServiceRoleInvalid"
    assert bad["status"].get("importJob") is None, "no job exists: the intent is not kept"
    w.aws.set_faults({"iam_propagation_failures": 0})
    until_5s(w, lambda: other["status"].get("phase") == "Ready", 120)
    m.teardown()


def test_an_earlier_specs_job_that_fails_records_no_failure_for_the_new_spec():
    """importing.py, `if rec.revision == p.rev and rec.region == p.region:` (false) after `job.status ==
    "Failed"`. The spec is fixed while the job of the broken one runs; that old job then fails. The new
    spec never reads Failed (no ImportFailed Event or condition for it) and its revision is imported."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"job_duration_seconds": 40})
    body = c.create("team-a", "m", spec(SOURCES[3], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: (body["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    old_job = body["status"]["importJob"]["jobName"]
    c.edit_spec(body, source={"s3Uri": SOURCES[0]})
    seen: list[tuple] = []  # after every pass: what the new spec's status said

    def look() -> None:
        status = body["status"]
        seen.append((status.get("phase"), status.get("failure"), condition(body, "Imported").get("reason")))

    w.on_tick.append(look)
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 180)
    assert w.find_job(old_job).status == "Failed", "the old spec's job did fail"
    assert not events_of(c, "m", "ImportFailed"), "no failure was reported for the new spec"
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
    until_5s(w, lambda: bad["status"].get("phase") == "Failed", 60)
    assert condition(bad, "Imported")["status"] == "False"
    assert condition(bad, "Imported")["reason"] == "AccessDenied"
    assert bad["status"]["failure"]["reason"] == "AccessDenied"
    assert bad["status"].get("importJob") is None, "Bedrock made no job: no intent is kept"
    until_5s(w, lambda: other["status"].get("phase") == "Ready", 120)
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
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    old_arn = body["status"]["modelArn"]
    with w.aws._lock:  # a replica behind: Bedrock answers NotFound for it for 5 minutes
        w.aws._models[old_arn].visible_at = w.clock.t + 300
    c.annotate(body, "touch", "1")  # an event: the model is read by its ARN
    until_5s(w, lambda: events_of(c, "m", "ModelDeletedOutside"), 120)
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    until_5s(w, lambda: old_arn not in str(body["status"]), 60)  # forgotten: status no longer knows it
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 600)
    new_arn = body["status"]["modelArn"]
    assert new_arn != old_arn
    _, model = w._model(new_arn)
    assert model.job.s3_uri == SOURCES[1], "what serves was imported from the spec's folder"
    until_5s(w, lambda: old_arn not in model_arns(w), 120)
    m.teardown()


def test_a_job_that_failed_with_a_role_fixed_meanwhile_is_retried_with_the_fixed_role():
    """Mutation fresh-failure-ignores-attempt-inputs (failures.py `fail`, `inputs=inputs or p.inputs`). The
    import job runs with a role that cannot read the source; while it runs the user fixes
    spec.serviceRole.roleArn. The job then fails: that failure belongs to the attempt with the old role,
    so the fixed spec is imported at once (a second job, with the new role) and the object becomes Ready,
    instead of staying Failed until some other edit."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    checked = w.aws.check

    def check(s3_uri: str, role_arn: str, job: object = None) -> ImportOutcome:
        if role_arn == ROLE:
            return ImportOutcome(False, f"AccessDenied: {role_arn} may not read {s3_uri}")
        return checked(s3_uri, role_arn, job)

    w.aws.check = check
    w.aws.set_faults({"job_duration_seconds": 40})
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: (body["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    first = body["status"]["importJob"]["jobName"]
    c.edit_spec(body, serviceRole={"roleArn": ROLES[1]})  # the fix, while the job with ROLE runs
    until_5s(w, lambda: w.find_job(first).status == "Failed", 120)
    eventually(w, lambda: body["status"].get("phase") == "Ready", 180, body)
    _, model = w._model(body["status"]["modelArn"])
    assert model.job.role_arn == ROLES[1], "what serves was imported with the fixed role"
    assert body["status"].get("failure") is None
    assert [j.role_arn for j in sorted(import_jobs(w.aws), key=lambda j: j.seq)] == [ROLE, ROLES[1]]
