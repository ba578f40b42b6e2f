"""The gauges the shipped alerts and dashboard read (deploy/monitoring): `bmo_models` by phase and
`bmo_superseded_models`, each the sum over the fleet of every object's latest pass, and nothing left behind
by an object that is gone."""

from __future__ import annotations

from controller import metrics
from tests.support.world import World
from tests.unit.test_invariants import spec


def _models(phase: str) -> float:
    return metrics.MODELS.labels(phase)._value.get()


def _superseded(failing: str) -> float:
    return metrics.SUPERSEDED_MODELS.labels("us-east-1", failing)._value.get()


def test_phases_and_superseded_models_are_counted_over_the_fleet_and_forgotten_with_their_object():
    w = World()
    c = w.cluster("east")
    a = c.create("team-a", "a", spec("s3://models/a/", "us-east-1", "Delete", {}, None))
    b = c.create("team-a", "b", spec("s3://models/b/", "us-east-1", "Delete", {}, None))
    w.advance(60.0)
    assert _models("Ready") == 2
    w.set_faults({"deny_deletes": 1000})  # the old revision cannot be deleted
    c.edit_spec(a, source={"s3Uri": "s3://models/a2/"})
    w.advance(60.0)
    assert a["status"]["phase"] == "Ready" and len(a["status"]["superseded"]) == 1
    assert _superseded("true") == 1 and _superseded("false") == 0 and _models("Ready") == 2
    w.set_faults({"deny_deletes": 0})
    w.advance(120.0)
    assert not a["status"].get("superseded") and _superseded("true") == 0
    c.delete(b)
    w.advance(30.0)
    assert ("team-a", "b") not in c.store.objects
    assert _models("Ready") == 1, "a deleted object still counts"
    # an object removed without the finalizer (its DELETED event): it no longer counts either
    del c.store.objects[("team-a", "a")]
    c.operator.gone(a["metadata"]["uid"], "team-a")
    assert _models("Ready") == 0


def test_a_tally_sums_objects_and_drops_labels_an_object_left():
    from prometheus_client import CollectorRegistry, Gauge

    gauge = Gauge("t", "t", ["region"], registry=CollectorRegistry())
    tally = metrics.Tally(gauge)
    tally.set("x", {("r1",): 2, ("r2",): 1})
    tally.set("y", {("r1",): 1})
    assert gauge.labels("r1")._value.get() == 3 and gauge.labels("r2")._value.get() == 1
    tally.set("x", {("r1",): 1})  # x's r2 is gone: its label goes back to the others' sum
    assert gauge.labels("r1")._value.get() == 2 and gauge.labels("r2")._value.get() == 0
    tally.forget("y")
    assert gauge.labels("r1")._value.get() == 1
