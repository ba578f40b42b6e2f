"""The import queue (`controller/reconcile/import_queue.py`): one slot per region, first come first
served by arrival, one place per object, whose turn it is when the slot frees, and who keeps the slot."""

from __future__ import annotations

from controller.reconcile.import_queue import ImportQueue


def test_queue_is_first_come_first_served_with_one_slot():
    q = ImportQueue()
    assert q.enqueue("us-east-1", "b", "2026-01-01T00:00:01Z/2") == 1
    assert q.enqueue("us-east-1", "a", "2026-01-01T00:00:01Z/1") == 1  # earlier arrival goes first
    assert q.enqueue("us-east-1", "c", "2026-01-01T00:00:02Z/3") == 3
    assert q.may_start("us-east-1", "a") and not q.may_start("us-east-1", "b")
    q.hold("us-east-1", "a")
    assert not q.may_start("us-east-1", "b")  # the slot is busy
    assert q.may_start("us-west-2", "z")  # other regions have their own slot
    q.forget("a")
    assert q.may_start("us-east-1", "b") and not q.may_start("us-east-1", "c")
    assert q.length("us-east-1") == 2


def test_queue_holds_one_place_per_object():
    """Moving an object (another region, from waiting to holding) never leaves a place behind."""
    q = ImportQueue()
    q.enqueue("us-east-1", "a", "1")
    q.enqueue("us-west-2", "a", "1")
    assert q.length("us-east-1") == 0 and q.length("us-west-2") == 1
    q.hold("us-east-1", "a")
    assert q.length() == 0 and q.holders("us-east-1") == {"a"}
    q.enqueue("us-east-1", "a", "1")
    assert q.holders("us-east-1") == set()


def test_next_up_names_whose_turn_it_is_when_a_slot_frees():
    """Who the operator wakes at once after a pass (so the slot does not idle until their next poll)."""
    q = ImportQueue()
    q.enqueue("us-east-1", "second", "2026-01-01T00:00:01Z/2")
    q.enqueue("us-east-1", "first", "2026-01-01T00:00:01Z/1")
    q.enqueue("us-west-2", "west", "2026-01-01T00:00:05Z/3")
    q.hold("us-east-1", "running")
    assert q.next_up() == ["west"]  # us-east-1's slot is busy
    q.forget("running")  # its job ended
    assert sorted(q.next_up()) == ["first", "west"]  # only the head: "second" still waits for "first"
    assert ImportQueue(slots_per_region=2).next_up() == []


def test_the_queue_orders_by_arrival_not_by_uid():
    """uids are random: one that sorts first must not overtake an object that has waited longer."""
    from controller.reconcile.import_queue import ImportQueue

    q = ImportQueue()
    q.enqueue("us-east-1", "ffff-waited-longer", "2026-01-01T00:00:01Z/1")
    assert q.enqueue("us-east-1", "0000-came-later", "2026-01-01T00:00:05Z/2") == 2
    assert q.next_up() == ["ffff-waited-longer"]
    assert q.may_start("us-east-1", "ffff-waited-longer") and not q.may_start("us-east-1", "0000-came-later")


def test_a_create_refused_for_a_job_outside_keeps_its_place_and_wakes_nobody():
    """Bedrock's slot is held by a job this operator did not start: the head's create is refused. It keeps
    its place at the head (not sent to the back), and nobody in the region tries again before the next poll
    (a wake of the next in line would only draw the same refusal, over and over)."""
    clock = [0.0]
    q = ImportQueue(clock=lambda: clock[0], busy_for=10.0)
    q.enqueue("us-east-1", "head", "2026-01-01T00:00:01Z/1")
    q.enqueue("us-east-1", "next", "2026-01-01T00:00:02Z/2")
    assert q.next_up() == ["head"]
    q.busy_outside("us-east-1")  # what a QUEUE refusal of head's create does
    assert q.next_up() == [] and not q.may_start("us-east-1", "head") and not q.may_start("us-east-1", "next")
    clock[0] = 10.5  # the next poll
    assert q.next_up() == ["head"] and q.may_start("us-east-1", "head")


def test_a_paused_object_whose_job_runs_keeps_the_slot():
    """Pausing an object mid-import stops what the operator does for it, not Bedrock's job: the slot stays
    taken (else the next in line would draw refused creates until the job ends)."""
    from controller.reconcile import PAUSE_ANNOTATION
    from tests.support.world import World

    world = World()
    cluster = world.cluster("one")
    spec = {"source": {"s3Uri": "s3://models/llama/"}, "serviceRole": {"create": True}}
    world.aws.faults.job_duration_seconds = 120
    first = cluster.create("team", "first", spec)
    world.advance(20, tick=5)
    assert (first["status"].get("importJob") or {}).get("state") == "InProgress", first["status"]
    cluster.annotate(first, PAUSE_ANNOTATION, "true")
    second = cluster.create("team", "second", spec)
    world.advance(30, tick=5)
    assert second["status"].get("phase") == "Queued", second["status"]
    rec = cluster.operator.reconciler
    assert rec.queue.holders("us-east-1") == {first["metadata"]["uid"]}


def test_release_frees_only_a_held_slot_and_keeps_the_line():
    q = ImportQueue()
    q.hold("us-east-1", "a")
    q.enqueue("us-east-1", "b", "2026-01-01T00:00:00Z")
    assert q.next_up() == []
    assert q.release("a") and not q.holds("a")
    assert not q.release("a")  # nothing left to free
    assert not q.release("b")  # waiting is not holding: its place in line stays
    assert q.next_up() == ["b"]
