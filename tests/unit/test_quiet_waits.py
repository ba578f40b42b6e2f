"""Waits the user chose or must fix are said once, not at every look: a paused deletion (looked at every
poll until the annotation goes) and a missing validator ServiceAccount (every poll until it is created)."""

from __future__ import annotations

import logging

from controller.logs import DELETION_WAIT, QuietDeletionWaits
from controller.reconcile.context import PAUSE_ANNOTATION
from tests.support.world import events_of, until, until_5s
from tests.unit.test_invariants import SOURCES, Operators, spec


def test_a_paused_deletion_posts_one_event_however_long_it_waits():
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    c.annotate(body, PAUSE_ANNOTATION, "true")
    c.delete(body)
    w.advance(120, tick=1.0)  # 120 looks at one a second
    assert len(events_of(c, "m", "DeletionPaused")) == 1, c.events
    c.annotate(body, PAUSE_ANNOTATION, None)
    until(w, lambda: ("team-a", "m") not in c.store.objects, 60)
    m.teardown()


def test_a_missing_validator_service_account_is_one_warning_until_it_exists():
    m = Operators()
    w = m.world
    c = w.cluster("east")
    c.jobs.no_service_account.add("team-a")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    doc["validation"] = {"mode": "Job"}
    body = c.create("team-a", "m", doc)
    w.advance(120, tick=1.0)
    said = events_of(c, "m", "ValidationServiceAccountMissing")
    assert len(said) == 1 and said[0][1] == "Warning", said
    c.jobs.no_service_account.clear()
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 300)
    m.teardown()


def test_kopfs_error_line_for_a_deletion_that_waits_is_dropped_and_nothing_else():
    quiet = QuietDeletionWaits()
    line = logging.LogRecord(
        "kopf.objects",
        logging.ERROR,
        "",
        0,
        f"Handler 'on_delete' failed temporarily: {DELETION_WAIT}",
        (),
        None,
    )
    other = logging.LogRecord(
        "kopf.objects", logging.ERROR, "", 0, "Handler 'on_delete' failed: boom", (), None
    )
    assert not quiet.filter(line) and quiet.filter(other)


def test_joining_the_import_line_is_one_queued_event():
    """docs/behaviour.md promises a `Queued` Event: posted when an object joins the line behind another
    import, once however long it waits."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    first = c.create("team-a", "first", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    second = c.create("team-a", "second", spec(SOURCES[1], "us-east-1", "Delete", {"team": "a"}, None))
    until(w, lambda: second["status"].get("phase") == "Queued", 60)
    until_5s(w, lambda: second["status"].get("phase") == "Ready", 900)
    queued = events_of(c, "second", "Queued")
    assert len(queued) == 1 and queued[0][1] == "Normal" and "position 1" in queued[0][3], queued
    assert "team-a/first's import runs in us-east-1" in queued[0][3]  # who holds the slot, by name
    assert events_of(c, "first", "Queued") == []  # it never waited
    m.teardown()


def test_a_ready_model_says_what_an_active_copy_costs_at_the_admins_price_and_nothing_without_one():
    """BMO_PRICE_PER_CMU_MINUTE: the admin's price (none is hard-coded); the Ready message names the model
    (its ARN has its own column) and, with a price, the hourly cost of an active copy from its CMUs."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready")
    ready = next(x for x in body["status"]["conditions"] if x["type"] == "Ready")["message"]
    assert ready == f"model {body['status']['modelName']} is ready", ready
    c.operator.reconciler.settings = c.operator.reconciler.settings.model_copy(
        update={"price_per_cmu_minute": 0.0785}
    )
    c.annotate(body, "touch", "1")  # an event: a pass
    w.advance(5)
    ready = next(x for x in body["status"]["conditions"] if x["type"] == "Ready")["message"]
    cmus = body["status"]["customModelUnits"]["customModelUnitsPerModelCopy"]
    assert ready.endswith(f"; {cmus} CMU per copy: {cmus * 0.0785 * 60:.2f} per hour of an active copy"), (
        ready
    )
    m.teardown()


def test_a_queued_object_names_at_most_two_holders_of_a_raised_quota():
    """With 200 slots, naming every holder made each waiting object's conditions kilobytes long, and
    changed them at every handover."""
    from controller.reconcile.importing import running_imports

    assert running_imports([]) == "another import is running"
    assert running_imports(["a/x"]) == "a/x's import runs"
    assert running_imports(["a/x", "b/y"]) == "a/x's and b/y's imports run"
    many = running_imports([f"t/m{i:03d}" for i in range(200)])
    assert many == "200 imports run (t/m000, t/m001 and 198 more)"
