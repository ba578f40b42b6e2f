"""Two replicas: only the holder of the Lease
reconciles; after the leader is killed with -9 the standby takes over within 15 s, and the queue goes on in
its order with no second job or model. The replicas are real operator processes against the shared
control plane and local Bedrock, with production lease timings (10 s)."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from bmo_devtools.dev.controlplane import free_port
from controller.runtime.leadership import lease_name, timings
from controller.settings import Settings
from tests.cluster.test_deploy import wait_until_no_model_is_being_deleted
from tests.support.helpers import wait_for
from tests.support.operator_process import (
    OperatorProcess,
    apply_model,
    get_obj,
    jobs_of,
    models_of,
    wait_condition,
)


def test_lease_name_and_timings_leave_the_leader_time_to_stop():
    assert lease_name(Settings()) == "bedrock-model-operator"  # fixed: not derived from the namespaces
    assert lease_name(Settings(namespaces=["team-a"])) == "bedrock-model-operator"
    assert lease_name(Settings(leader_election_lease="shard-a")) == "shard-a"
    assert timings(10) == (10, 6, 2)  # the leader exits 6 s after its last renewal; a standby waits 10 s
    for seconds in (5, 7, 10, 15, 60):
        duration, deadline, retry = timings(seconds)
        assert deadline + retry < duration  # a renewal's timeout (one retry period) still ends in time
        assert deadline > 1.2 * retry and retry >= 1  # what the library demands (it exits otherwise)


def _holder(kubectl, ns: str) -> str:
    leases = json.loads(kubectl("get", "leases", "-n", ns, "-o", "json").stdout)["items"]
    return (leases[0]["spec"].get("holderIdentity") or "") if leases else ""


@pytest.mark.controlplane
def test_a_standby_takes_over_a_killed_leader_without_a_duplicate(
    kubectl, control_plane, local_aws, operator, clean_faults, namespace, tmp_path
):
    from bmo_devtools.dev.controlplane import free_port
    from tests.cluster.test_deploy import wait_until_no_model_is_being_deleted

    wait_until_no_model_is_being_deleted(kubectl)
    operator.stop()  # the session's operator watches every namespace: only the two replicas may act here
    replicas: list[OperatorProcess] = []

    def replica(name: str) -> OperatorProcess:
        (tmp_path / name).mkdir()
        op = OperatorProcess(
            control_plane,
            local_aws,
            tmp_path / name,
            "--namespace",
            namespace,
            BMO_LEADER_ELECTION="true",
            BMO_LEADER_ELECTION_NAMESPACE=namespace,
            BMO_LIVENESS=f"http://127.0.0.1:{free_port()}/healthz",
        )
        op.start()
        replicas.append(op)
        return op

    try:
        a = replica("a")
        wait_for(lambda: f"_{a.proc.pid}_" in _holder(kubectl, namespace), timeout=30, what="a to lead")
        b = replica("b")
        wait_for(lambda: "standing by" in b.log.read_text(), timeout=30, what="b to stand by")
        # the standby answers its liveness probe (its pod counts as available) and reconciles nothing
        live = b.extra_env["BMO_LIVENESS"]
        assert (
            wait_for(lambda: urllib.request.urlopen(live, timeout=5).status, timeout=20, what="b's probe")
            == 200
        )
        local_aws.set_faults(job_duration_seconds=4)
        names = [f"m{i}" for i in range(4)]
        for name in names:  # one region, one slot: they queue in this order (creation, then arrival)
            apply_model(kubectl, namespace, name)

        def queue_written():
            """The leader's queue as it persisted it: the imports started, then the others by queuedAt."""
            started = sorted(
                (n for n in names if jobs_of(local_aws, namespace, n)),
                key=lambda n: jobs_of(local_aws, namespace, n)[0]["creationTime"],
            )
            waiting = {n: get_obj(kubectl, namespace, n).get("status", {}).get("queuedAt") for n in names}
            waiting = {n: q for n, q in waiting.items() if n not in started}
            if not started or len(started) == len(names) or not all(waiting.values()):
                return None
            return started + sorted(waiting, key=lambda n: waiting[n])

        order = wait_for(queue_written, timeout=60, what="an import running, the others queued")
        assert "leading as" not in b.log.read_text()

        killed = time.monotonic()
        a.kill9()
        wait_for(lambda: f"_{b.proc.pid}_" in _holder(kubectl, namespace), timeout=30, what="b to take over")
        took = time.monotonic() - killed
        print(f"failover: the standby holds the Lease {took:.1f} s after the leader was killed")
        assert took <= 15, took

        for name in names:
            wait_condition(kubectl, namespace, name, "Ready", "True", "ModelReady", timeout=120)
        for name in names:
            assert len(jobs_of(local_aws, namespace, name)) == 1, name  # no second job across the failover
            assert len(models_of(local_aws, namespace, name)) == 1, name
        started = sorted(names, key=lambda n: jobs_of(local_aws, namespace, n)[0]["creationTime"])
        assert started == order  # the standby followed the queue the leader had persisted

        # a clean stop (a rolling update's SIGTERM) hands over at once: the Lease is released, not waited out
        c = replica("c")
        wait_for(lambda: "standing by" in c.log.read_text(), timeout=30, what="c to stand by")
        stopping = time.monotonic()
        b.stop()
        assert b.proc is not None and b.proc.returncode == 0, b.tail()
        wait_for(lambda: f"_{c.proc.pid}_" in _holder(kubectl, namespace), timeout=20, what="c to take over")
        handed = time.monotonic() - stopping
        print(f"handover: the standby holds the Lease {handed:.1f} s after SIGTERM to the leader")
        # waited out, the 10 s Lease would take 8-12 s from here; released, the stop and one retry (2 s)
        assert handed < 7, handed
        wait_for(lambda: "leading as" in c.log.read_text(), timeout=10, what="c to start reconciling")
    finally:
        for op in replicas:
            op.stop()
        operator.start()


@pytest.mark.controlplane
def test_operators_sharded_by_namespace_each_lead_their_own(
    kubectl, control_plane, local_aws, operator, clean_faults, namespace, tmp_path
):
    """Past one process: one operator per set of namespaces (README "Sharding"), each with replicas of its
    own and its own Lease: both lead at once, and each reconciles only its namespaces."""
    other = f"t-{uuid.uuid4().hex[:10]}"
    kubectl("create", "namespace", other)
    wait_until_no_model_is_being_deleted(kubectl)
    operator.stop()
    shards: dict[str, OperatorProcess] = {}
    try:
        for ns in (namespace, other):
            (tmp_path / ns).mkdir()
            shards[ns] = OperatorProcess(
                control_plane,
                local_aws,
                tmp_path / ns,
                "--namespace",
                ns,
                BMO_LEADER_ELECTION="true",
                BMO_LEADER_ELECTION_NAMESPACE=namespace,  # both shards' Leases side by side: named apart
                BMO_LEADER_ELECTION_LEASE=f"shard-{ns}",
                BMO_LIVENESS=f"http://127.0.0.1:{free_port()}/healthz",
            )
            shards[ns].start()
        for ns, op in shards.items():
            wait_for(
                lambda op=op: "leading as" in op.log.read_text(), timeout=30, what=f"the {ns} shard to lead"
            )
        leases = json.loads(kubectl("get", "leases", "-n", namespace, "-o", "json").stdout)["items"]
        holders = {lease["metadata"]["name"]: lease["spec"]["holderIdentity"] for lease in leases}
        assert len(holders) == 2 and all(holders.values()), holders  # two Leases, each held
        for ns in shards:
            apply_model(kubectl, ns, "sharded")
        for ns in shards:
            wait_condition(kubectl, ns, "sharded", "Ready", "True", "ModelReady", timeout=120)
        for ns, op in shards.items():
            log = op.log.read_text()
            foreign = next(n for n in shards if n != ns)
            assert f"{ns}/sharded" in log and f"{foreign}/sharded" not in log  # only its own objects
    finally:
        for op in shards.values():
            op.stop()
        kubectl("delete", "bedrockmodel", "sharded", "-n", other, "--wait=false", check=False)
        operator.start()
        kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_the_queue_is_rebuilt_from_status_before_the_first_pass():
    """A new leader (or a restarted operator) places every object where its status says before any pass:
    the first object it happens to reconcile cannot jump a line it has not seen yet (found by the failover
    test above: the standby started the last of three queued models first)."""
    from controller.reconcile import Reconciler

    def body(uid: str, status: dict, **meta) -> dict:
        source = {"s3Uri": "s3://bmo-examples/llama3-8b-support/"}
        spec = {
            "source": source,
            "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/r"},
            "region": "us-east-1",
        }
        return {
            "metadata": {"uid": uid, "namespace": "n", "name": uid, **meta},
            "spec": spec,
            "status": status,
        }

    running = {
        "importJob": {
            "revision": "r",
            "region": "us-east-1",
            "attempt": 1,
            "jobName": "j",
            "modelName": "m",
            "state": "InProgress",
        },
    }
    rec = Reconciler(Settings(cluster_id="c"))
    placed = rec.seed_queue(
        rec.seat(b)
        for b in [
            body("late", {"queuedAt": "2026-11-29T10:00:05Z/000000000003"}),
            body("running", running),
            body("early", {"queuedAt": "2026-11-29T10:00:05Z/000000000001"}),
            body(
                "paused",
                {"queuedAt": "2026-11-29T10:00:00Z/000000000000"},
                annotations={"bedrock.modelops.io/paused": "true"},
            ),
            body(
                "deleting",
                {"queuedAt": "2026-11-29T10:00:00Z/000000000000"},
                deletionTimestamp="2026-11-29T10:00:09Z",
            ),
            body("ready", {"phase": "Ready"}),
        ]
    )
    assert placed == 3
    assert rec.queue.holders("us-east-1") == {"running"}
    assert not rec.queue.may_start("us-east-1", "late")  # the slot is taken, and "early" is ahead
    rec.queue.forget("running")  # its job ended
    assert rec.queue.may_start("us-east-1", "early") and not rec.queue.may_start("us-east-1", "late")
