"""Every object's ticks on one clock (`controller.runtime.work_queue`, `Operator.tick`), no servers.

A tick decides on a glance at the object's last watch event instead of the whole body a kopf timer kept:
the glance must decide exactly as the body would, for any body (property test), and the clock must give
each object the ticks its kopf timers gave it: none before one interval, the fast interval only while
its job runs, none while it is deleted, and never a second pass queued behind one not yet run.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.reconcile import PAUSE_ANNOTATION, Outcome, Reconciler
from controller.reconcile.memory import Memory
from controller.runtime import operator as runtime
from controller.runtime.work_queue import Glance, Item, import_job_running
from controller.settings import Settings

POLL, JOB_POLL = 10.0, 1.0

_phases = st.sampled_from(["Ready", "Failed", "Queued", "Importing", "Validating", "Deleting", None])
_job_states = st.sampled_from(["Creating", "InProgress", "Testing", "Completed", "Failed", "Adopting", None])
_maybe_text = st.one_of(st.none(), st.sampled_from(["", "x", "arn:aws:bedrock:us-east-1:1:imported-model/a"]))


@st.composite
def bodies(draw: Any) -> dict[str, Any]:
    """A model as the watch delivers it: the fields a tick reads, in every combination, among others."""
    generation = draw(st.integers(1, 3))
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": "True"}], "modelArn": "arn:x"}
    phase = draw(_phases)
    if phase is not None:
        status["phase"] = phase
    if draw(st.booleans()):
        status["observedGeneration"] = draw(st.integers(1, 3))
    job = draw(_job_states)
    if job is not None:
        status["importJob"] = {"state": job, "region": "us-east-1", "jobArn": "arn:job"}
    for key in ("superseded", "modelMissingSince"):
        value = draw(_maybe_text)
        if value is not None:
            status[key] = value
    annotations = {"kopf.bedrock.modelops.io/last-handled-configuration": "{...}", "team": "a"}
    pause = draw(st.sampled_from([None, "true", "false", ""]))
    if pause is not None:
        annotations[PAUSE_ANNOTATION] = pause
    meta: dict[str, Any] = {
        "uid": "u-1",
        "namespace": "team",
        "name": "m",
        "generation": generation,
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "annotations": annotations,
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        "finalizers": draw(st.sampled_from([[], [runtime.FINALIZER], ["other/x", runtime.FINALIZER]])),
    }
    if draw(st.booleans()):
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    return {
        "apiVersion": "v1",
        "kind": "BedrockImportedModel",
        "metadata": meta,
        "spec": {},
        "status": status,
    }


@settings(max_examples=300, deadline=None)
@given(body=bodies(), synced=st.sampled_from([None, (0.0, 1), (0.0, 2), (-400.0, 1)]))
def test_a_glance_decides_every_tick_as_the_whole_body_would(body: dict[str, Any], synced: Any) -> None:
    rec = Reconciler(Settings(), monotonic=lambda: 0.0)
    memory = Memory(last_sync=synced)
    small = Glance.of(body).body
    assert rec.is_steady(small) == rec.is_steady(body)
    assert rec.resync_due(small, memory) == rec.resync_due(body, memory)
    assert import_job_running(small["status"], small["metadata"]) == import_job_running(
        body["status"], body["metadata"]
    )
    assert Glance(small).tick_interval(POLL, JOB_POLL) == Glance(body).tick_interval(POLL, JOB_POLL)
    assert Glance.of(small).body == small  # a glance of a glance is itself: nothing a tick reads is lost
    # none of what makes a body tens of KiB: managed fields, kopf's annotations, spec, conditions
    assert set(small) == {"apiVersion", "kind", "metadata", "status"} and "conditions" not in small["status"]
    assert "managedFields" not in small["metadata"] and set(small["metadata"]["annotations"]) <= {
        PAUSE_ANNOTATION
    }


class Executor:
    """Records what the clock queues instead of running it."""

    def __init__(self) -> None:
        self.queued: list[str] = []

    def submit(self, fn: Any, *args: Any) -> None:
        self.queued.append(args[1])


def _operator() -> tuple[runtime.Operator, Executor, list[float]]:
    now = [0.0]
    s = Settings(poll_seconds=POLL, job_poll_seconds=JOB_POLL)
    op = runtime.Operator(s, reconciler=Reconciler(s, monotonic=lambda: now[0]))
    executor = Executor()
    op.executor = executor  # type: ignore[assignment]
    return op, executor, now


def _model(uid: str, phase: str = "Importing", job: str | None = None, **meta: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "observedGeneration": 1}
    if job:
        status["importJob"] = {"state": job}
    metadata = {
        "uid": uid,
        "namespace": "team",
        "name": uid,
        "generation": 1,
        "finalizers": [runtime.FINALIZER],
    }
    return {"metadata": metadata | meta, "status": status}


def _seen(op: runtime.Operator, body: dict[str, Any]) -> Item:
    return op.work.observe(body["metadata"]["uid"], Glance.of(body))


def _ticks(
    op: runtime.Operator, executor: Executor, now: list[float], until: float
) -> list[tuple[float, str]]:
    """Tick each second until `until`, running each queued pass at once (it frees its claim)."""
    out = []
    while now[0] < until:
        now[0] += 1.0
        op.tick(now[0])
        for uid in executor.queued:
            op.work.get(uid).queued = False
            out.append((now[0], uid))
        executor.queued.clear()
    return out


def test_each_object_ticks_one_interval_after_it_was_seen_then_every_interval() -> None:
    op, executor, now = _operator()
    _seen(op, _model("a"))
    now[0] = 5.0
    _seen(op, _model("b"))
    op.tick(now[0])  # the clock first sees both now: their first tick is one poll from here
    ticks = _ticks(op, executor, now, 30.0)
    assert [t for t, uid in ticks if uid == "a"] == [15.0, 25.0]
    assert [t for t, uid in ticks if uid == "b"] == [15.0, 25.0]


def test_only_a_running_job_is_ticked_fast_and_a_steady_object_only_when_its_resync_is_due() -> None:
    op, executor, now = _operator()
    _seen(op, _model("running", job="InProgress"))
    _seen(op, _model("ready", phase="Ready", job="Completed"))
    _seen(op, _model("paused", job="InProgress", annotations={PAUSE_ANNOTATION: "true"}))
    op.work.get("ready").memory.last_sync = (0.0, 1)  # checked against Bedrock at 0
    op.tick(0.0)
    ticks = _ticks(op, executor, now, float(Settings().resync_seconds) + 20)
    running = [t for t, uid in ticks if uid == "running"]
    assert running == [float(t) for t in range(1, len(running) + 1)]  # every second
    assert [t for t, uid in ticks if uid == "paused"] == [10.0 * k for k in range(1, len(running) // 10 + 1)]
    ready = [t for t, uid in ticks if uid == "ready"]
    assert ready and all(t >= Settings().resync_seconds for t in ready), ready  # nothing before its resync


def test_no_tick_while_deleted_or_before_the_finalizer_and_no_second_pass_behind_a_queued_one() -> None:
    op, executor, _ = _operator()
    _seen(op, _model("deleting", deletionTimestamp="2026-01-01T00:00:00Z"))
    _seen(op, _model("new", finalizers=[]))
    _seen(op, _model("slow"))
    op.tick(0.0)
    for second in range(1, 60):
        op.tick(float(second))  # never run: "slow"'s first queued pass waits behind a busy pool
    assert executor.queued == ["slow"]


def test_an_event_missed_during_a_pass_is_ticked_even_when_the_object_looks_steady() -> None:
    op, executor, now = _operator()
    state = _seen(op, _model("ready", phase="Ready", job="Completed"))
    state.memory.last_sync = (0.0, 1)
    op.tick(0.0)
    assert _ticks(op, executor, now, 10.0) == []
    state.dirty = True  # e.g. the pause annotation arrived while a resync ran
    assert _ticks(op, executor, now, 20.0) == [(20.0, "ready")]


def test_a_queued_pass_runs_on_the_glance_and_decides_on_a_fresh_read() -> None:
    op, _, _ = _operator()
    fresh = _model("a")
    fresh["spec"] = {"source": {"s3Uri": "s3://b/m/"}}
    reads: list[tuple[str, str]] = []
    decided: list[dict[str, Any]] = []

    class Store:
        def read(self, namespace: str, name: str) -> dict[str, Any]:
            reads.append((namespace, name))
            return copy.deepcopy(fresh)

    op.store = Store()  # type: ignore[assignment]
    op.reconciler.reconcile = lambda body, memory, event: decided.append(body) or Outcome()  # type: ignore[method-assign]
    op.passes.write = lambda body, out: None  # type: ignore[method-assign]
    state = _seen(op, _model("a"))
    assert op.work.add("a") is state
    op.run_queued("a", state)
    assert reads == [("team", "a")] and decided == [fresh]  # one read, the whole object
    assert not state.queued


def test_no_kopf_timer_or_daemon_per_object() -> None:
    """Each kopf timer or daemon is a task per object holding its body: memory that grows with the fleet."""
    op, _, _ = _operator()
    assert list(op.registry()._spawning.get_all_handlers()) == []


def _handler(handlers_of: Any, name: str) -> Any:
    return next(h.fn for h in handlers_of.get_all_handlers() if h.fn.__name__ == name)


def test_the_watch_keeps_the_glance_current_and_a_job_s_end_slows_the_ticks() -> None:
    """A status-only change (the job ended) reaches no change handler: only the watch-event handler sees it.
    Without it the object would be polled every second for ever."""
    op, executor, now = _operator()
    registry = op.registry()
    on_event = _handler(registry._watching, "on_watch_event")
    running = _model("a", job="InProgress")
    asyncio.run(on_event(type=None, uid="a", body=kopf.Body(running)))
    op.tick(0.0)
    assert [t for t, _ in _ticks(op, executor, now, 3.0)] == [1.0, 2.0, 3.0]
    done = _model("a", phase="Importing", job="Completed")
    asyncio.run(on_event(type="MODIFIED", uid="a", body=kopf.Body(done)))
    assert [t for t, _ in _ticks(op, executor, now, 20.0)] == [13.0]  # back to the 10 s poll
    asyncio.run(on_event(type="DELETED", uid="a", body=kopf.Body(done)))
    assert _ticks(op, executor, now, 60.0) == [] and op.work.snapshot() == []


def test_the_clock_starts_with_kopf_and_outlives_an_object_it_cannot_read(monkeypatch) -> None:
    op, executor, now = _operator()
    registry = op.registry()
    start = _handler(registry._activities, "start_clock")
    _seen(op, _model("good"))
    op.work.get("odd").glance = Glance({"metadata": "not a mapping"})  # a defect's glance
    op.tick(0.0)
    assert [uid for _, uid in _ticks(op, executor, now, 10.0)] == ["good"]

    exits: list[int] = []
    monkeypatch.setattr(runtime.os, "_exit", exits.append)

    async def run_clock() -> None:
        await start()
        assert op._clock is not None and not op._clock.done()
        await asyncio.sleep(0.6)  # a few of the clock's own ticks
        op._clock.cancel()
        await asyncio.sleep(0)

    asyncio.run(run_clock())
    assert exits == []  # cancelled by kopf's stop: no exit

    async def failing() -> None:
        raise RuntimeError("a defect")

    async def clock_dies() -> None:
        task = asyncio.get_running_loop().create_task(failing())
        task.add_done_callback(runtime.clock_stopped)
        await asyncio.sleep(0.01)

    asyncio.run(clock_dies())
    assert exits == [1]  # a clock that ends on its own takes the process down (the pod restarts)


def test_a_pass_that_raises_backs_off_and_says_so_in_an_event() -> None:
    op, _, now = _operator()
    posted: list[tuple[str, str]] = []
    op.post_event = lambda body, type, reason, message: posted.append((reason, body["kind"], message))

    def broken(body: Any, logger: Any, *, event: bool) -> None:
        raise KeyError("documentation")

    op.run_reconcile = broken  # type: ignore[method-assign]
    state = _seen(op, {"kind": "BedrockImportedModel", **_model("a")})
    for expected_failures in (1, 2):
        op.run_queued("a", state)
        assert state.failures == expected_failures
    assert state.next_try == now[0] + 2 * Settings().backoff_base_seconds
    assert [p[:2] for p in posted] == [("PassFailed", "BedrockImportedModel")] * 2
    assert posted[0] == posted[1]  # the same Event twice (counted up), whatever the backoff step


def test_an_object_gone_from_the_api_is_forgotten_by_its_next_pass() -> None:
    """Its DELETED event may never come (removed before kopf's first list): it must not be polled forever."""
    op, executor, now = _operator()

    class Gone:
        def read(self, namespace: str, name: str) -> None:
            return None

    op.store = Gone()  # type: ignore[assignment]
    op.reconciler.queue.enqueue("us-east-1", "a", "2026-01-01T00:00:00Z/1")
    importing = _model("a", job="InProgress")
    op.tenancy.model_changed({**importing, "spec": {}})  # holds a slot: counts against its namespace
    assert [m.uid for m in op.tenancy.members("team")] == ["a"]
    state = _seen(op, importing)
    op.run_queued("a", state)
    assert op.work.snapshot() == [] and op.reconciler.queue.length() == 0
    assert op.tenancy.members("team") == []  # its namespace's quota no longer counts it
    assert _ticks(op, executor, now, 30.0) == []
    op.run_queued("a", state)  # a tick queued before it was forgotten, run late: nothing comes back
    assert op.work.snapshot() == []


def test_the_operator_s_start_is_no_event_but_a_create_or_an_edit_is() -> None:
    """kopf resumes every object when the operator starts: that pass must not read each model by ARN."""
    op, _, _ = _operator()
    on_change = _handler(op.registry()._changing, "on_change")
    passes: list[bool] = []

    def run_reconcile(body: Any, logger: Any, *, event: bool) -> None:
        passes.append(event)

    op.run_reconcile = run_reconcile  # type: ignore[method-assign]
    op.executor = ThreadPoolExecutor(1)  # type: ignore[assignment]
    body = kopf.Body({"metadata": {"uid": "a", "annotations": {}}})
    for reason in (kopf.Reason.RESUME, kopf.Reason.CREATE, kopf.Reason.UPDATE):
        asyncio.run(on_change(body=body, patch=kopf.Patch(), logger=None, reason=reason))
    assert passes == [False, True, True]


def test_a_paused_object_is_not_polled_fast_whatever_the_annotations_case() -> None:
    """The pass read the pause annotation case-insensitively and the
    tick did not, so `paused: "True"` beside a running job was polled every 0.5 s while every pass did
    nothing. One reading now decides both."""
    running = {"importJob": {"state": "InProgress", "region": "us-east-1", "jobArn": "arn:job"}}
    for value in ("true", "True", "TRUE"):
        meta = {"finalizers": ["f"], "annotations": {PAUSE_ANNOTATION: value}}
        assert not import_job_running(running, meta), value
        assert Glance({"metadata": meta, "status": running}).tick_interval(300.0, 0.5) == 300.0, value
    meta = {"finalizers": ["f"], "annotations": {PAUSE_ANNOTATION: "false"}}
    assert Glance({"metadata": meta, "status": running}).tick_interval(300.0, 0.5) == 0.5


def test_a_validation_job_event_queues_its_owners_pass_in_the_process() -> None:
    """A validation Job's progress wakes the model that controls it through the operator's own
    queue (its controller ownerReference names the model's uid), not by writing an annotation on the model
    (which cost an apiserver write per Job event, its own watch event, and status-write conflicts). A Job that
    names no controller, or is being deleted, wakes nothing; a model with a pass queued gets none more."""
    op, executor, _ = _operator()
    registry = op.registry()
    on_job = _handler(registry._watching, "on_validation_progress")
    _seen(op, _model("m", phase="Validating"))

    def job(**meta: Any) -> kopf.Body:
        refs = [{"kind": "BedrockImportedModel", "name": "m", "uid": "m", "controller": True}]
        return kopf.Body({"metadata": {"name": "bmo-validate-m", "ownerReferences": refs} | meta})

    asyncio.run(on_job(body=job()))
    assert executor.queued == ["m"]
    asyncio.run(on_job(body=job()))
    assert executor.queued == ["m"], "one pass queued at a time"
    op.work.get("m").queued = False
    executor.queued.clear()
    asyncio.run(on_job(body=job(deletionTimestamp="2026-01-01T00:00:00Z")))
    asyncio.run(on_job(body=kopf.Body({"metadata": {"name": "stray", "ownerReferences": []}})))
    assert executor.queued == []


def test_a_pass_kopf_cancels_before_a_worker_took_it_never_runs() -> None:
    """At SIGTERM kopf cancels its handlers. A pass still waiting for a worker must not run (kopf's own
    executor for sync handlers shields them: every queued pass ran, and kopf waited for all of them, past the
    pod's grace period); the next process does it."""
    op, _, _ = _operator()
    op.executor = ThreadPoolExecutor(1)  # type: ignore[assignment]
    on_change = _handler(op.registry()._changing, "on_change")
    release, ran = threading.Event(), []
    op.executor.submit(release.wait, 5)  # the only worker is busy

    def run_reconcile(body: Any, logger: Any, *, event: bool) -> None:
        ran.append(body["metadata"]["uid"])

    op.run_reconcile = run_reconcile  # type: ignore[method-assign]

    async def cancelled_while_queued() -> None:
        body = kopf.Body({"metadata": {"uid": "queued", "annotations": {}}})
        task = asyncio.ensure_future(on_change(body=body, patch=kopf.Patch(), logger=None, reason="create"))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(cancelled_while_queued())
    release.set()
    op.executor.shutdown(wait=True)
    assert ran == []


def test_only_objects_whose_job_runs_are_polled_fast():
    from controller.runtime.work_queue import import_job_running

    assert import_job_running({"importJob": {"state": "InProgress"}})
    assert import_job_running({"importJob": {"state": "Creating"}})
    for state in ("Testing", "Completed", "Failed", "Adopting"):
        assert not import_job_running({"importJob": {"state": state}}), state
    assert not import_job_running({}) and not import_job_running(None)


def _timed_operator(pass_seconds: float) -> tuple[runtime.Operator, list[float], dict[str, Any]]:
    """An operator whose passes of object "a" read `fresh` (the caller may change it), decide nothing, write
    nothing, and take `pass_seconds` on its clock."""
    op, _, now = _operator()
    fresh = _model("a")

    class Store:
        def read(self, namespace: str, name: str) -> dict[str, Any]:
            return copy.deepcopy(fresh)

    def reconcile(body: Any, memory: Any, event: bool) -> Outcome:
        now[0] += pass_seconds
        return Outcome()

    op.store = Store()  # type: ignore[assignment]
    op.reconciler.reconcile = reconcile  # type: ignore[method-assign]
    op.passes.write = lambda body, out: None  # type: ignore[method-assign]
    return op, now, fresh


def test_a_pass_s_wait_for_a_worker_and_its_own_time_are_measured() -> None:
    """`bmo_workqueue_queue_duration_seconds` and `..._work_duration_seconds` (client-go's pair): where a
    freed slot's idle time goes, the workers' backlog or the passes themselves. A pass skipped cheaply
    (steady, no resync due) is no pass."""
    import prometheus_client

    def totals() -> tuple[float, float, float]:
        def value(name: str, **labels: str) -> float:
            return prometheus_client.REGISTRY.get_sample_value(name, labels) or 0.0

        return (
            value("bmo_workqueue_queue_duration_seconds_sum", queued_by="wake"),
            value("bmo_workqueue_queue_duration_seconds_count", queued_by="wake"),
            value("bmo_workqueue_work_duration_seconds_count"),
        )

    op, now, fresh = _timed_operator(4.0)  # the pass takes 4 s: not part of its wait
    state = _seen(op, _model("a"))
    before = totals()
    duration = prometheus_client.REGISTRY.get_sample_value("bmo_workqueue_work_duration_seconds_sum") or 0.0
    now[0] = 100.0
    assert op.work.add("a") is state and op._submit("a", state)
    now[0] = 102.5  # the workers were busy for 2.5 s
    op.run_queued("a", state)
    waited, queued, passes = (b - a for a, b in zip(before, totals(), strict=True))
    assert (queued, passes) == (1, 1) and waited == pytest.approx(2.5)
    took = prometheus_client.REGISTRY.get_sample_value("bmo_workqueue_work_duration_seconds_sum") - duration
    assert took == pytest.approx(4.0)
    fresh["status"] = {"phase": "Ready", "observedGeneration": 1}  # steady: the next tick skips it
    state.memory.last_sync = (now[0], 1)
    ticks = prometheus_client.REGISTRY.get_sample_value(
        "bmo_workqueue_queue_duration_seconds_count", {"queued_by": "tick"}
    )
    op.tick(now[0])  # the clock sees it...
    now[0] += POLL
    assert op.tick(now[0]) == 1  # ...and queues its periodic look a poll later
    op.run_queued("a", state)
    assert totals()[2] - before[2] == 1  # no second pass...
    after = prometheus_client.REGISTRY.get_sample_value(
        "bmo_workqueue_queue_duration_seconds_count", {"queued_by": "tick"}
    )
    assert after == (ticks or 0.0) + 1  # ...though its wait, as a tick's, is counted


def test_both_queue_wait_series_are_served_from_the_start() -> None:
    """A dashboard or alert on the wakes' wait sees 0, not "no data", from a restart to the first wake (in
    a new process: this one's tests have queued passes of both kinds)."""
    import subprocess
    import sys

    exposed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import controller.metrics, prometheus_client as p; print(p.generate_latest().decode())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for by in ("tick", "wake"):
        assert f'bmo_workqueue_queue_duration_seconds_count{{queued_by="{by}"}}' in exposed
    for by in ("listing", "pass"):
        assert f'bmo_import_slots_freed_total{{by="{by}"}} 0.0' in exposed


def test_a_slot_the_object_s_own_pass_frees_is_counted_as_freed_by_a_pass() -> None:
    """`bmo_import_slots_freed_total{by="pass"}`: a freed slot that waited for its ended object's pass,
    not handed over from the listing (at 200 slots, 180 of 200 did, unseen, until the listing's hand-over
    was mended). A pass that keeps its slot (its job runs, or its next create is on its way) frees none."""
    import prometheus_client

    def freed() -> float:
        return (
            prometheus_client.REGISTRY.get_sample_value("bmo_import_slots_freed_total", {"by": "pass"}) or 0.0
        )

    op, _, fresh = _timed_operator(0.1)
    _seen(op, fresh)
    queue = op.reconciler.queue
    before = freed()
    queue.hold("us-east-1", "a")
    op.run_reconcile(kopf.Body(copy.deepcopy(fresh)), logging.getLogger("test"), event=True)
    assert freed() == before  # kept: its job runs
    inner = op.reconciler.reconcile

    def ends(body: Any, memory: Any, event: bool) -> Outcome:
        queue.forget("a")  # its job ended: the pass settles it out of the slot
        return inner(body, memory, event)

    op.reconciler.reconcile = ends  # type: ignore[method-assign]
    op.run_reconcile(kopf.Body(copy.deepcopy(fresh)), logging.getLogger("test"), event=True)
    assert freed() == before + 1
    op.run_reconcile(kopf.Body(copy.deepcopy(fresh)), logging.getLogger("test"), event=True)
    assert freed() == before + 1  # held none: freed none


def test_a_pass_kopf_handed_over_is_timed_too() -> None:
    """A create or an edit reaches a worker through kopf's handler, not the clock's queue: its pass is no
    wait of the work queue's, but its time is a pass's (a busy pool's cost is mostly these at an apply)."""
    import prometheus_client

    op, _, fresh = _timed_operator(1.5)

    def sample(name: str, **labels: str) -> float:
        return prometheus_client.REGISTRY.get_sample_value(name, labels) or 0.0

    waits = sample("bmo_workqueue_queue_duration_seconds_count", queued_by="wake")
    took = sample("bmo_workqueue_work_duration_seconds_sum")
    _seen(op, fresh)
    op.run_reconcile(kopf.Body(copy.deepcopy(fresh)), logging.getLogger("test"), event=True)  # as on_change
    assert sample("bmo_workqueue_work_duration_seconds_sum") - took == pytest.approx(1.5)
    assert sample("bmo_workqueue_queue_duration_seconds_count", queued_by="wake") == waits
