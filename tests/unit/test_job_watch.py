"""Running jobs are followed by the clock through their account and region's shared listing, not by a pass
per job per job poll: while the listing (refreshed in a worker every job poll) shows an object's job
running, its ticks run no pass; the refresh that no longer shows it wakes that object at once; and an
object still gets a pass once a poll, or whenever the listing is not fresh (the refresher is stuck)."""

from __future__ import annotations

from typing import Any

from controller.reconcile import Reconciler
from controller.reconcile.job_watch import JobWatch
from controller.runtime import operator as runtime
from controller.runtime.work_queue import Glance
from controller.settings import Settings
from tests.unit.test_job_listing import Counting, _client

POLL, JOB_POLL = 10.0, 0.5


class Executor:
    """Runs the clock's listing refreshes at once and records the passes it queues."""

    def __init__(self) -> None:
        self.passes: list[str] = []

    def submit(self, fn: Any, *args: Any) -> None:
        if len(args) == 1:  # a refresh of a listing
            fn(*args)
        else:  # a pass: (run_queued, uid, item)
            self.passes.append(args[1])


def _world(jobs: int):
    now = [100.0]
    s = Settings(poll_seconds=POLL, job_poll_seconds=JOB_POLL)
    op = runtime.Operator(s, reconciler=Reconciler(s, monotonic=lambda: now[0]))
    executor = Executor()
    op.executor = executor  # type: ignore[assignment]
    fake = Counting({f"job-{i}": f"arn:job-{i}" for i in range(jobs)})
    bedrock = _client(fake)
    bedrock.refresh_running(0, now[0])  # the passes that saw the jobs running listed them
    for i in range(jobs):
        body = {
            "metadata": {"uid": f"u{i}", "namespace": "t", "name": f"m{i}", "generation": 1},
            "status": {"phase": "Importing", "importJob": {"state": "InProgress"}},
        }
        body["metadata"]["finalizers"] = [runtime.FINALIZER]
        op.work.observe(f"u{i}", Glance.of(body))
        op.reconciler.job_watch.follow(f"u{i}", bedrock, f"job-{i}", f"arn:job-{i}", now[0])
    op.tick(now[0])  # the clock sees them
    return op, executor, fake, now


def _pass(op: runtime.Operator, uid: str, now: float) -> None:
    """What a pass does to the watch (`importing._look_up`): its job listed running, it follows it again;
    not listed, it reads the job by name and is no longer followed."""
    watch = op.reconciler.job_watch
    followed = watch._by_uid.get(uid)
    if followed is None:
        return
    bedrock = followed.client
    job = bedrock.running_job(followed.job_name, JOB_POLL / 2, now)
    if job is not None and job.arn == followed.job_arn:
        watch.follow(uid, bedrock, followed.job_name, followed.job_arn, now)
    else:
        watch.drop(uid)


def _run(
    op: runtime.Operator, executor: Executor, now: list[float], seconds: float
) -> list[tuple[float, str]]:
    """The clock's loop (a tick every quarter second); each queued pass runs at once (frees its claim)."""
    out = []
    end = now[0] + seconds
    while now[0] < end - 1e-9:
        now[0] += JOB_POLL / 2
        op.tick(now[0])
        for uid in executor.passes:
            op.work.get(uid).queued = False
            out.append((now[0], uid))
            _pass(op, uid, now[0])
        executor.passes.clear()
    return out


def test_two_hundred_running_jobs_cost_no_pass_and_one_listing_per_job_poll():
    op, executor, fake, now = _world(200)
    passes = _run(op, executor, now, 5.0)
    assert passes == []  # before: 200 passes every half second
    assert fake.calls["ListModelImportJobs"] <= 1 + 5.0 / JOB_POLL  # and the one before


def test_the_refresh_that_no_longer_lists_a_job_wakes_only_its_object_at_once():
    op, executor, fake, now = _world(200)
    _run(op, executor, now, 1.0)
    del fake.running["job-7"]  # it ended
    started = now[0]
    passes = _run(op, executor, now, 2.0)
    assert {uid for _, uid in passes} == {"u7"}  # (its glance, never updated here, still says it runs)
    assert passes[0][0] - started <= JOB_POLL  # noticed within a job poll, not at its object's next poll


def test_a_pass_still_runs_once_a_poll_and_whenever_the_listing_is_not_fresh():
    op, executor, _fake, now = _world(3)
    passes = _run(op, executor, now, POLL + 1)
    assert sorted(uid for _, uid in passes) == ["u0", "u1", "u2"]  # a poll after the pass that saw them
    op2, executor2, _fake2, now2 = _world(3)
    op2.refresh_job_listings = lambda now: None  # the refresher is stuck
    passes = _run(op2, executor2, now2, 3 * JOB_POLL)
    assert {uid for _, uid in passes} == {"u0", "u1", "u2"}  # as before the watch: each job read by a pass


def test_a_listed_job_of_another_arn_is_not_taken_for_the_followed_one():
    watch = JobWatch()
    fake = Counting({"job-1": "arn:someone-elses"})
    bedrock = _client(fake)
    bedrock.refresh_running(0, 100.0)
    watch.follow("u1", bedrock, "job-1", "arn:mine", 100.0)
    assert not watch.leaves_be("u1", 100.1, JOB_POLL, POLL)
    assert watch.ended(bedrock, 100.1, JOB_POLL) == ["u1"]


def test_a_deleted_object_is_no_longer_followed():
    op, _executor, _fake, _now = _world(2)
    op.gone("u0")
    assert len(op.reconciler.job_watch) == 1


def test_an_object_marked_dirty_gets_its_pass_though_its_job_runs():
    """An edit or annotation that arrived while a pass ran (a pause, a retry) must not wait for the job."""
    op, executor, _fake, now = _world(3)
    op.work.get("u1").dirty = True
    passes = _run(op, executor, now, JOB_POLL)
    assert [uid for _, uid in passes] == ["u1"]


def test_the_refresh_itself_wakes_the_object_without_waiting_for_its_tick():
    op, executor, fake, now = _world(5)
    del fake.running["job-3"]
    now[0] += JOB_POLL  # the listing is old: the clock's refresh reads it again...
    op.refresh_job_listings(now[0])
    assert executor.passes == ["u3"]  # ...and queues the pass of the object whose job ended, then and there


def test_a_paused_object_whose_job_ended_is_woken_once_not_at_every_refresh():
    """A paused object's pass returns before it looks at its job, so it never drops it itself."""
    op, executor, fake, now = _world(2)
    del fake.running["job-0"]
    woken = []
    for _ in range(20):  # ten seconds of refreshes; the pass, paused, does not touch the watch
        now[0] += JOB_POLL / 2
        op.refresh_job_listings(now[0])
        woken += executor.passes
        for uid in executor.passes:
            op.work.get(uid).queued = False
        executor.passes.clear()
    assert woken == ["u0"]
    assert len(op.reconciler.job_watch) == 1  # u1, whose job still runs


def test_the_clock_never_waits_for_a_listing_in_flight():
    """A listing call holds its listing's lock for as long as AWS takes; the clock (the event loop) must
    not wait for it to decide a tick."""
    import threading

    op, _executor, fake, now = _world(2)
    bedrock = op.reconciler.job_watch.clients()[0]
    entered, release = threading.Event(), threading.Event()
    slow = fake.list_model_import_jobs

    def hanging(**kw):
        entered.set()
        release.wait(10)
        return slow(**kw)

    fake.list_model_import_jobs = hanging
    t = threading.Thread(target=bedrock.refresh_running, args=(0, now[0] + 5))
    t.start()
    try:
        assert entered.wait(5)
        done = threading.Event()
        threading.Thread(
            target=lambda: (op.reconciler.job_watch.leaves_be("u0", now[0], 1.0, POLL), done.set())
        ).start()
        assert done.wait(2), "a tick's decision waited for the listing in flight"
    finally:
        release.set()
        t.join()


def test_the_clock_lists_in_a_worker_never_on_its_own_thread():
    op, _executor, fake, now = _world(3)
    deferred: list[Any] = []
    op.executor = type("Deferred", (), {"submit": lambda self, fn, *args: deferred.append((fn, args))})()
    before = dict(fake.calls)
    now[0] += 2 * JOB_POLL
    op.tick(now[0])  # the listing is old: a refresh is due
    assert fake.calls == before  # nothing listed on the clock's (the event loop's) thread...
    assert [args for _, args in deferred if len(args) == 1]  # ...a refresh was handed to a worker


def test_a_refresh_wakes_only_objects_of_its_own_account_and_region():
    op, executor, fake, now = _world(2)  # u0, u1 follow jobs in the first region
    other_fake = Counting({"job-x": "arn:job-x"})
    other = _client(other_fake)
    other.region = "us-west-2"
    other.refresh_running(0, now[0])
    op.reconciler.job_watch.follow("u1", other, "job-x", "arn:job-x", now[0])  # u1 now follows another
    del fake.running["job-1"]  # a job of the same name ends in the first region: not u1's job
    now[0] += JOB_POLL
    op.refresh_job_listings(now[0])
    assert executor.passes == []
    assert op.reconciler.job_watch.leaves_be("u1", now[0], 2 * JOB_POLL, POLL)


def test_a_refresh_still_in_flight_is_not_started_again():
    """A listing call that hangs (AWS late) must not gather one more refresh at every tick."""
    op, _executor, _fake, now = _world(3)
    deferred: list[Any] = []
    op.executor = type("Deferred", (), {"submit": lambda self, fn, *args: deferred.append((fn, args))})()
    for _ in range(8):  # two seconds of ticks, the first refresh never answering
        now[0] += JOB_POLL / 2
        op.tick(now[0])
    assert len([args for _, args in deferred if len(args) == 1]) == 1
    fn, args = deferred[0]
    fn(*args)  # it answers at last: the next stale tick may refresh again
    now[0] += 2 * JOB_POLL
    op.tick(now[0])
    assert len([args for _, args in deferred if len(args) == 1]) == 2


def _freed_by_listing() -> float:
    import prometheus_client

    return (
        prometheus_client.REGISTRY.get_sample_value("bmo_import_slots_freed_total", {"by": "listing"}) or 0.0
    )


def _holding(op: runtime.Operator, holders: int, waiting: int) -> None:
    """The first `holders` objects hold us-east-1's slots (their jobs run); `waiting` more wait in line."""
    q = op.reconciler.queue
    q.slots_per_region = holders
    for i in range(holders):
        q.hold("us-east-1", f"u{i}")
    for i in range(waiting):
        uid = f"w{i}"
        op.work.observe(uid, Glance.of({"metadata": {"uid": uid, "namespace": "t", "name": uid}}))
        q.enqueue("us-east-1", uid, f"2026-01-01T00:00:0{i}Z")


def test_the_refresh_that_no_longer_lists_a_job_hands_its_slot_to_the_next_in_line_at_once():
    """Bedrock counts only running jobs: the next create need not wait for the ended object's own pass
    (which used to free the slot: a second and more of idle slot when 200 jobs ended together)."""
    op, executor, fake, now = _world(3)
    _holding(op, holders=3, waiting=2)
    del fake.running["job-1"]  # it ended
    now[0] += JOB_POLL
    op.tick(now[0])
    assert executor.passes == ["w0", "u1"]  # the first in line's create is queued first, then u1's pass
    assert op.reconciler.queue.try_start("us-east-1", "w0")  # its slot is free before u1's pass ran
    assert not op.reconciler.queue.try_start("us-east-1", "w1")  # one ended, one slot


def test_a_listing_a_pass_made_hands_the_slot_over_at_the_next_tick_without_listing_again():
    """Passes list too (a pass asks for a listing at most half a job poll old), so with many objects the
    clock's own refresh is seldom due: an end that another object's pass listed is handed over at the next
    tick all the same, not when the ended object's own pass comes (at 200 slots, 180 of 200 freed slots
    waited for it: a second of idle slot on average)."""
    op, executor, fake, now = _world(3)
    _holding(op, holders=3, waiting=2)
    del fake.running["job-1"]  # it ended
    now[0] += JOB_POLL / 4
    op.reconciler.job_watch.clients()[0].running_job("job-0", JOB_POLL / 8, now[0])  # u0's pass lists
    calls, freed = dict(fake.calls), _freed_by_listing()
    now[0] += JOB_POLL / 4
    op.tick(now[0])  # the listing is a quarter of a job poll old: the clock does not list again...
    assert fake.calls == calls
    assert executor.passes == ["w0", "u1"]  # ...and hands u1's slot over from the pass's listing
    assert _freed_by_listing() == freed + 1  # bmo_import_slots_freed_total{by="listing"}
    assert op.reconciler.queue.try_start("us-east-1", "w0")
    assert not op.reconciler.queue.try_start("us-east-1", "w1")


def test_an_object_in_the_middle_of_a_pass_keeps_its_slot_for_that_pass_to_decide():
    """Its pass read the listing before this refresh (its end, or a new create, decides the slot)."""
    op, executor, fake, now = _world(3)
    _holding(op, holders=3, waiting=1)
    del fake.running["job-1"]
    now[0] += JOB_POLL
    with op.work.get("u1").lock:
        op.tick(now[0])
    assert executor.passes == ["u1"]  # still woken (its pass ends; this one sees the end)
    assert op.reconciler.queue.holds("u1")
    assert not op.reconciler.queue.try_start("us-east-1", "w0")


def test_an_end_a_pass_saw_first_is_not_handed_over_again():
    """Between the refresh's look and its hand-over, the object's own pass saw the end (no longer
    followed) and may hold the slot for its next create: the refresh leaves that slot alone."""
    watch = JobWatch()
    fake = Counting({})
    bedrock = _client(fake)
    bedrock.refresh_running(0, 100.0)
    watch.follow("u1", bedrock, "job-1", "arn:job-1", 100.0)
    peek = bedrock.peek_running

    def a_pass_in_between(*args: Any) -> Any:
        watch.drop("u1")  # its pass read the job by name meanwhile
        return peek(*args)

    bedrock.peek_running = a_pass_in_between  # type: ignore[method-assign]
    assert watch.ended(bedrock, 100.1, JOB_POLL) == []


def test_an_edit_whose_pass_is_slow_keeps_its_turn_for_the_new_revision():
    """A user edits the spec while the job runs, and the edit's pass is slow (the apiserver loaded): the
    job ends meanwhile and the clock's listing shows it, while the pass holds the object. That pass decides
    the slot: it sends the new revision's create at once. Had the hand-over given the slot to the next in
    line (woken and run by another worker meanwhile), the edited model, first in line, would wait a whole
    job behind the second."""
    from tests.support.world import World, until
    from tests.unit.test_invariants import SOURCES, spec

    w = World()
    c = w.cluster("east")
    w.set_faults({"job_duration_seconds": 30})
    a = c.create("team-a", "a", spec(SOURCES[0], "us-east-1", "Delete", {}, None))
    b = c.create("team-a", "b", spec(SOURCES[1], "us-east-1", "Delete", {}, None))
    until(w, lambda: a["status"].get("phase") == "Importing", 60, 1.0)
    w.advance(12.0)
    assert a["metadata"]["uid"] in c.operator.reconciler.job_watch._by_uid  # the clock follows its job
    assert b["status"].get("phase") == "Queued"
    first_job = a["status"]["importJob"]["jobName"]
    w.slow_pass = 35.0  # past the job's end
    c.edit_spec(a, source={"s3Uri": SOURCES[2]})
    job = a["status"]["importJob"]
    assert job["jobName"] != first_job and job["state"] == "InProgress", a["status"]
    assert b["status"].get("phase") == "Queued", b["status"]
    w.check_always()


def test_the_world_says_when_a_process_sends_a_create_for_a_slot_it_had_not_got():
    """The property test's check of the slot's hand-overs is not vacuous: a slot given away while its
    holder's job runs (here by hand) makes the next create a violation."""
    import pytest

    from tests.support.world import Violation, World, until
    from tests.unit.test_invariants import SOURCES, spec

    w = World()
    c = w.cluster("east")
    w.set_faults({"job_duration_seconds": 30, "concurrent_jobs": 2})  # Bedrock would take both
    a = c.create("team-a", "a", spec(SOURCES[0], "us-east-1", "Delete", {}, None))
    b = c.create("team-a", "b", spec(SOURCES[1], "us-east-1", "Delete", {}, None))
    until(w, lambda: a["status"].get("phase") == "Importing", 60, 1.0)
    w.check_always()
    c.operator.reconciler.queue.release(a["metadata"]["uid"])  # a defect's hand-over
    c.operator.wake_next_up("")
    c.run_wakes()
    assert b["status"].get("phase") == "Importing"
    with pytest.raises(Violation, match="a create sent for a slot its process did not have"):
        w.check_always()
