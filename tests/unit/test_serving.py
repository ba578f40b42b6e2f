"""The serving model (`controller/reconcile/serving.py`), driven through the in-process World: status is no
authority to replace it by itself, and a serving model retagged to another owner is never touched again.
Each test names the branch it drives (docs/coverage-branches.md) or the mutation it answers
(hack/mutants.py)."""

from __future__ import annotations

from controller.naming import TAG_CLUSTER_ID, TAG_UID
from tests.support.world import bump, events_of, import_jobs, model_arns, until_5s
from tests.unit.test_invariants import SOURCES, Operators, spec


def test_a_status_naming_the_serving_models_job_as_still_running_leaves_that_model_serving():
    """Mutation fresh-promote-same-model-supersedes-itself (serving.py `promote`, `if old_arn and old_arn
    != model.arn:`). Status is no authority: a hand edit or a restore of the status subresource can say the
    job whose model already serves is still InProgress. The operator follows that job to its end and
    promotes its model again: the model that serves must not be recorded as replaced by itself, so it is
    neither deleted nor re-imported, and the object stays Ready on it. (Normal passes mark a job Completed
    in the same write that promotes its model, so only a status written outside the operator reaches this.)"""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 120)
    arn = body["status"]["modelArn"]
    assert body["status"]["importJob"]["state"] == "Completed"
    body["status"]["importJob"]["state"] = "InProgress"  # written back by hand (or a restore)
    bump(body)
    c.annotate(body, "touch", "1")  # an event: the pass follows the job status names
    until_5s(w, lambda: body["status"]["importJob"]["state"] == "Completed", 30)
    w.advance(120.0)
    assert arn in model_arns(w), "the serving model was deleted as superseded by itself"
    assert body["status"]["modelArn"] == arn and body["status"]["phase"] == "Ready"
    assert not body["status"].get("superseded")
    assert not events_of(c, "m", "SupersededModelDeleted") and not events_of(c, "m", "ModelDeletedOutside")
    assert len(import_jobs(w.aws)) == 1, "nothing was imported again"
    w.check_always()


def test_a_serving_model_retagged_to_another_owner_is_never_touched_again():
    """serving.py: someone puts another object's ownership tags on the serving model. The object says so
    (ModelOwnedElsewhere) and neither retags nor deletes that model, even when it is deleted itself."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    arn = body["status"]["modelArn"]
    with w.aws._lock:
        w.aws._tags[arn] = {TAG_CLUSTER_ID: "another-cluster", TAG_UID: "someone-else"}
    c.annotate(body, "touch", "1")  # an event: the model and its tags are read now
    until_5s(w, lambda: "ModelOwnedElsewhere" in str(body["status"].get("conditions")), 60)
    c.delete(body)
    until_5s(w, lambda: not c.store.objects, 300)
    with w.aws._lock:
        assert arn in w.aws._models, "another owner's model was deleted"
        assert w.aws._tags[arn] == {TAG_CLUSTER_ID: "another-cluster", TAG_UID: "someone-else"}
