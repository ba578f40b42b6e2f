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
