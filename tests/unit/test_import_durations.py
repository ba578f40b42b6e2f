"""A running import says how long imports in its region took lately (the median of this process's last
jobs there), once there are enough of them to say so."""

from __future__ import annotations

from controller.reconcile.durations import RecentDurations
from tests.support.world import World, condition
from tests.unit.test_invariants import spec


def test_a_running_import_says_how_long_the_regions_last_imports_took():
    w = World()
    w.aws.set_faults({"job_duration_seconds": 120})
    c = w.cluster("east")
    for i in range(3):
        body = c.create("team-a", f"m{i}", spec(f"s3://models/m{i}/", "us-east-1", "Delete", {}, None))
        w.advance(200.0)
        assert body["status"]["phase"] == "Ready"
        message = condition(body, "Imported")["message"]
        assert "took" not in message  # fewer than three jobs: nothing typical yet
    running = c.create("team-a", "next", spec("s3://models/next/", "us-east-1", "Delete", {}, None))
    w.advance(20.0)
    imported = condition(running, "Imported")
    assert imported["reason"] == "ImportJobRunning", imported
    assert "imports in us-east-1 took about 2 min (median of the last 3)" in imported["message"], imported
    assert "took about" in condition(running, "Ready")["message"]


def test_a_job_seen_ended_twice_counts_once_and_the_median_is_kept_per_region():
    d = RecentDurations()
    for job, seconds in (("a", 60), ("a", 60), ("b", 600), ("c", 660)):
        d.add("us-east-1", job, seconds)
    assert d.typical("us-east-1") == "imports in us-east-1 took about 10 min (median of the last 3)"
    assert d.typical("us-west-2") is None
    d.add("us-west-2", "x", 30)
    d.add("us-west-2", "y", 40)
    assert d.typical("us-west-2") is None
    d.add("us-west-2", "z", 50)
    assert d.typical("us-west-2") == "imports in us-west-2 took about 40 s (median of the last 3)"
