"""Status read by GitOps tools never runs ahead of what was decided: a pass that
cannot read the policies after a restart decides nothing, so it must not claim the new generation, and
the Argo CD health check reads Ready's own observedGeneration."""

from __future__ import annotations

from tests.cluster.test_argocd_health import health
from tests.support.world import World
from tests.unit.test_invariants import SOURCES, spec


def test_a_pass_that_cannot_read_the_policies_claims_no_generation():
    w = World()
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {}, None))
    w.advance(20.0)
    assert health(body)[0] == "Healthy"
    c.policy_reads_fail = True
    c.restart()  # a new process lists the policies at its first decision: the apiserver answers 500
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    w.advance(10.0)
    assert body["metadata"]["generation"] == 2
    assert body["status"]["observedGeneration"] == 1, "nothing was decided for generation 2"
    assert health(body)[0] == "Progressing", health(body)
    # even were observedGeneration bumped, Ready's own observedGeneration says which generation it is about
    stale = {**body, "status": {**body["status"], "observedGeneration": 2}}
    status, message = health(stale)
    assert status == "Progressing" and "generation 1" in message, (status, message)
    c.policy_reads_fail = False
    w.advance(30.0)
    assert body["status"]["observedGeneration"] == 2


def test_a_spec_only_the_operator_refuses_keeps_its_running_job_and_slot():
    """A spec admitted by the API but refused by the operator's model (a rule CEL cannot
    express, a CRD older than the operator) made the object InvalidSpec and dropped its place: the slot
    its running job holds went to the next object, and Ready said nothing of the model that serves."""
    from controller.reconcile.import_queue import slot_of
    from tests.unit.test_invariants import SOURCES, Operators, spec

    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"job_duration_seconds": 120})
    body = c.create("team-a", "a", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    w.advance(10.0, tick=2.0)
    assert body["status"]["importJob"]["state"] == "InProgress"
    c.edit_spec(body, smokeTest={"prompt": "hi", "expect": "(a)\\1"})  # a backreference: RE2 refuses it
    other = c.create("team-b", "b", spec(SOURCES[1], "us-east-1", "Delete", {"team": "b"}, None))
    w.advance(20.0, tick=2.0)
    ready = next(x for x in body["status"]["conditions"] if x["type"] == "Ready")
    assert ready["reason"] == "InvalidSpec" and "runs on" in ready["message"], ready
    holders = c.operator.reconciler.queue.holders(slot_of("us-east-1", None))
    assert holders == {body["metadata"]["uid"]}, "the running job keeps its slot"
    assert other["status"].get("phase") == "Queued"
    w.advance(120.0, tick=5.0)  # the job ends; nobody follows it while the spec stays invalid
    assert body["metadata"]["uid"] not in c.operator.reconciler.queue.holders(slot_of("us-east-1", None)), (
        "a job that ended still holds the slot: the region waits on a tenant who never fixes the spec"
    )
    assert other["status"].get("phase") != "Queued"
    c.edit_spec(body, smokeTest=None)
    m.teardown()  # both Ready at quiescence, nothing leaked
