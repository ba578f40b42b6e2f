"""Deleting an object (`controller/reconcile/deletion.py`), driven through the in-process World: a create
that may still land is waited for, a failed job leaves nothing to wait for, and Retain skips a model already
deleted outside. Each test names the branch it drives (docs/coverage-branches.md)."""

from __future__ import annotations

from controller.reconcile.importing import LATE_CREATE_SECONDS
from tests.support.world import condition, events_of, model_arns, until_5s
from tests.unit.test_invariants import SOURCES, Operators, spec


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
    until_5s(w, lambda: condition(body, "Synced").get("reason") == "WaitingForIAMPropagation", 60)
    job_name = body["status"]["importJob"]["jobName"]
    assert body["status"]["importJob"]["state"] == "Creating" and w.find_job(job_name) is None
    c.delete(body)
    assert c.store.read("team-a", "m") is not None, "a create that may have landed is waited for"
    assert any(job_name in e[3] for e in events_of(c, "m", "WaitingForImportJob"))
    w.advance(90.0, tick=5.0)
    assert c.store.read("team-a", "m") is not None, "a create may still land 90 s after it was sent"
    until_5s(w, lambda: c.store.read("team-a", "m") is None, LATE_CREATE_SECONDS)
    assert w.find_job(job_name) is None and not w.models(), "nothing was made, nothing is left"
    w.aws.set_faults({"iam_propagation_failures": 0})
    until_5s(w, lambda: other["status"].get("phase") == "Ready", 120)
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
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    serving = body["status"]["modelArn"]
    w.aws.set_faults({"job_duration_seconds": 30})
    c.edit_spec(body, source={"s3Uri": SOURCES[3]})  # "broken": its job fails
    until_5s(w, lambda: (body["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    job_name = body["status"]["importJob"]["jobName"]
    w.aws.set_faults({"throttle_rate": 1.0})  # the operator's polls fail; Bedrock's jobs go on
    until_5s(w, lambda: w.find_job(job_name).status == "Failed", 60)
    w.aws.set_faults({"throttle_rate": 0.0})
    assert body["status"]["importJob"]["state"] == "InProgress", "no pass saw the failure"
    c.delete(body)
    assert c.store.read("team-a", "m") is None, "the finalizer finished in its first pass"
    assert not events_of(c, "m", "WaitingForImportJob")
    assert serving not in model_arns(w), "the serving model went with the object (Delete)"
    assert any(serving in e[3] for e in events_of(c, "m", "ModelDeleted"))
    m.teardown()


def test_retain_skips_a_model_already_deleted_outside_the_cluster():
    """deletion.py `_release`, `if err.kind is Kind.NOT_FOUND: return False`. With deletionPolicy Retain,
    the serving model was deleted by hand before the object is deleted: nothing is reported retained (no
    ModelRetained Event, no model handed over) and the deletion completes."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Retain", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    w.aws.delete_model("us-east-1", {"modelIdentifier": arn})  # someone deletes it in the console
    c.delete(body)
    assert c.store.read("team-a", "m") is None, "the deletion completed"
    assert not events_of(c, "m", "ModelRetained") and arn not in c.retained
    assert arn not in model_arns(w)
    m.teardown()
