"""The status a reconcile writes, and why a reconcile never decides from a stale cached body.

kopf's watch cache can lag behind the last reconcile's own status write. These tests run the real
`Operator.run_reconcile` with an in-memory object store and a recording reconciler (no servers): the
decision must be made on what the store holds now, and conditions the outcome does not touch must keep
the values the previous reconcile wrote.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import kopf
import pytest

from controller.api.models import BedrockImportedModelStatus
from controller.conditions import set_conditions
from controller.kube.status_store import status_patch
from controller.reconcile import Outcome
from controller.reconcile.import_queue import ImportQueue
from controller.reconcile.job_watch import JobWatch
from controller.runtime import operator as runtime
from controller.settings import Settings

LOG = logging.getLogger("test")


def obj(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {
            "name": "m1",
            "namespace": "ns",
            "uid": "u-1",
            "generation": 1,
            "finalizers": [runtime.FINALIZER],
        },
        "spec": {"source": {"s3Uri": "s3://b/m/"}},
        "status": status or {},
    }


class Store:
    """Plays the apiserver for one object: reads return what the last merge patch left."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = copy.deepcopy(body)
        self.writes: list[dict[str, Any]] = []

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.body)

    def write(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.writes.append(patch)
        status = self.body.setdefault("status", {})
        for key, value in patch["status"].items():
            if value is None:
                status.pop(key, None)
            else:
                status[key] = value


class Recorder:
    """A reconciler that returns a fixed outcome and remembers which status it decided from."""

    def __init__(self, out: Outcome) -> None:
        self.out = out
        self.seen: list[dict[str, Any]] = []
        self.job_watch = JobWatch()

    def reconcile(self, body: dict[str, Any], memory=None, event: bool = True) -> Outcome:
        self.seen.append(copy.deepcopy(body.get("status") or {}))
        return copy.deepcopy(self.out)

    def is_steady(self, body: dict[str, Any]) -> bool:
        return False

    def resync_due(self, body: dict[str, Any], memory) -> bool:
        return True

    @staticmethod
    def monotonic() -> float:
        return 0.0

    def count(self, uid: str, st) -> None:  # the fleet gauges: nothing to count here
        pass

    queue = ImportQueue()


@pytest.fixture
def wired():
    def wire(store: Store, out: Outcome) -> tuple[runtime.Operator, Recorder]:
        rec = Recorder(out)
        op = runtime.Operator(Settings(), reconciler=rec, store=store)  # type: ignore[arg-type]
        op.post_event = lambda *a, **k: None
        op.work.get("u-1")  # seen by the watch: ticks are for objects the process knows
        return op, rec

    return wire


def conditions(store: Store) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in store.body["status"]["conditions"]}


def test_a_stale_cached_body_does_not_undo_the_previous_reconcile(wired):
    # the previous reconcile validated the model and started the import; kopf's cache has not seen it yet
    written = obj(
        {
            "validatedInputs": "r1",
            "conditions": [
                {"type": "Validated", "status": "True", "reason": "Importable", "message": "ok"},
                {"type": "Imported", "status": "Unknown", "reason": "ImportJobRunning", "message": "job"},
                {"type": "Ready", "status": "False", "reason": "Importing", "message": "job"},
            ],
        }
    )
    store = Store(written)
    done = Outcome()
    done.condition("Imported", "True", "ImportJobCompleted", "job completed")
    done.condition("Ready", "True", "ModelReady", "model is ready")
    op, rec = wired(store, done)

    op.run_reconcile(kopf.Body(obj()), LOG, event=False)  # the cached body: no status at all

    assert rec.seen == [written["status"]]  # decided from the object as it is now
    assert conditions(store) == {
        "Validated": ("True", "Importable"),
        "Imported": ("True", "ImportJobCompleted"),
        "Ready": ("True", "ModelReady"),
    }


def test_first_visit_shows_every_condition(wired):
    store = Store(obj())
    started = Outcome()
    started.condition("Validated", "Unknown", "Validating", "reading headers")
    op, _ = wired(store, started)

    op.run_reconcile(kopf.Body(obj()), LOG, event=True)

    assert conditions(store) == {
        "Validated": ("Unknown", "Validating"),
        "Imported": ("Unknown", "Reconciling"),
        "Ready": ("Unknown", "Reconciling"),
        "Reconciling": ("True", "Reconciling"),  # kstatus: work under way from the first write on
    }


def test_an_event_that_arrives_mid_reconcile_is_not_lost_on_a_steady_object(wired, monkeypatch):
    # e.g. the pause annotation set while a resync of a Ready object is running: no generation change
    store = Store(obj({"phase": "Ready"}))
    paused = Outcome()
    paused.condition("Paused", "True", "ReconcilePaused", "paused")
    op, rec = wired(store, paused)
    monkeypatch.setattr(rec, "is_steady", lambda body: True)
    monkeypatch.setattr(rec, "resync_due", lambda body, memory: False)

    op.run_reconcile(kopf.Body(obj()), LOG, event=False)
    assert rec.seen == []  # steady and not due: skipped without a read

    with op.work.get("u-1").lock:  # a pass of this object is running when the event comes
        op.run_reconcile(kopf.Body(obj()), LOG, event=True)
    assert rec.seen == []
    op.run_reconcile(kopf.Body(obj()), LOG, event=False)  # the next tick

    assert len(rec.seen) == 1 and conditions(store)["Paused"] == ("True", "ReconcilePaused")


def test_a_deleted_object_is_not_reconciled(wired):
    store = Store(obj())
    store.body = None  # type: ignore[assignment]
    store.read = lambda namespace, name: None  # type: ignore[method-assign]
    op, rec = wired(store, Outcome())

    rec.queue.enqueue("us-east-1", "u-1", "2026-01-01T00:00:00Z")
    op.run_reconcile(kopf.Body(obj()), LOG, event=True)

    assert rec.seen == [] and store.writes == []
    assert rec.queue.length() == 0  # gone without the finalizer: it holds no place in line


def test_an_object_deleted_while_its_pass_followed_its_job_is_no_longer_followed(wired):
    """The pass saw the job running and followed it just as the DELETED event dropped the object: nothing
    may stay followed (its listing would be read twice a second until the process restarts)."""
    store = Store(obj())
    op, rec = wired(store, Outcome())
    decide = rec.reconcile

    def racing(body, memory=None, event=True):
        out = decide(body, memory, event)
        op.gone("u-1")  # the DELETED event, while the pass runs...
        rec.job_watch.follow("u-1", object(), "job", "arn:job", 0.0)  # ...which then follows its job
        return out

    rec.reconcile = racing  # type: ignore[method-assign]
    op.run_reconcile(kopf.Body(obj()), LOG, event=True)
    assert len(rec.job_watch) == 0


def test_status_patch_removes_cleared_fields_and_keeps_transition_times():
    current = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "ModelReady",
                "message": "m",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ]
    }
    out = Outcome(status=BedrockImportedModelStatus(phase="Ready"))
    out.condition("Ready", "True", "ModelReady", "still ready")
    patch = status_patch(out, current | {"failureMessage": "old"}, 3)["status"]
    assert patch["failureMessage"] is None and patch["phase"] == "Ready"
    ready = next(c for c in patch["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z" and ready["observedGeneration"] == 3
    assert [c["type"] for c in patch["conditions"]] == ["Validated", "Imported", "Ready"]


@pytest.mark.parametrize("meanwhile", ["status written", "annotation only"])
def test_a_status_write_over_a_newer_object_is_refused_and_decided_again(wired, meanwhile):
    """A status PATCH carries the resourceVersion the pass decided from. When the
    status changed since (an older leader's write landing late), the apiserver answers 409: the pass's status
    is not written over the newer one, and the decision is made again at once from a fresh read, without
    backing off. When only metadata moved (an annotation, a label), the decision holds:
    it is written at the new resourceVersion, not made twice (metrics and Events would count it twice)."""
    from kubernetes.client.exceptions import ApiException

    body = obj()
    body["metadata"]["resourceVersion"] = "41"

    class Conflicting(Store):
        """As the apiserver: a PATCH naming a resourceVersion that is not the current one is refused (409);
        one naming none is applied unconditionally."""

        def write(self, namespace, name, patch):
            wanted = patch.get("metadata", {}).get("resourceVersion")
            if wanted is not None and wanted != self.body["metadata"]["resourceVersion"]:
                raise ApiException(status=409, reason="Conflict")
            super().write(namespace, name, patch)

    store = Conflicting(body)
    out = Outcome(status=BedrockImportedModelStatus(phase="Ready"))
    op, rec = wired(store, out)
    state = op.work.get("u-1")
    real_read = store.read

    def read_then_changed(namespace, name):
        fresh = real_read(namespace, name)
        if len(rec.seen) == 0 and fresh["metadata"]["resourceVersion"] == "41":
            store.body["metadata"]["resourceVersion"] = "43"  # someone writes while the first pass decides
            if meanwhile == "status written":
                store.body["status"] = {"phase": "Importing"}
        return fresh

    store.read = read_then_changed  # type: ignore[method-assign]
    op.run_reconcile(kopf.Body(copy.deepcopy(body)), LOG, event=True)
    assert len(rec.seen) == (2 if meanwhile == "status written" else 1), rec.seen
    assert [w["metadata"]["resourceVersion"] for w in store.writes] == ["43"], "only a write over the latest"
    assert state.failures == 0 and state.next_try == 0.0, "a conflict is no error to back off from"


def test_conditions_keep_transition_time_when_status_is_unchanged():
    first = set_conditions(None, {"Ready": ("False", "Importing", "m")}, 1, now="2026-01-01T00:00:00Z")
    same = set_conditions(first, {"Ready": ("False", "Queued", "n")}, 2, now="2026-01-01T00:01:00Z")
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z" and same[0]["reason"] == "Queued"
    assert same[0]["observedGeneration"] == 2
    flipped = set_conditions(same, {"Ready": ("True", "ModelReady", "ok")}, 2, now="2026-01-01T00:02:00Z")
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T00:02:00Z"
    both = set_conditions(flipped, {"Validated": ("True", "ArtifactsImportable", "")}, 2)
    assert [c["type"] for c in both] == ["Validated", "Ready"]


def test_a_pass_that_decides_the_status_it_read_sends_no_write(wired):
    """A waiting or running object's routine pass decides the same status poll after poll: each was a PATCH
    the apiserver decoded, admitted and compared for nothing. Its Events are still posted."""
    store = Store(obj())
    waiting = Outcome()
    waiting.condition("Ready", "False", "Queued", "queued for import (position 3)")
    waiting.event("Normal", "Queued", "queued")
    op, _ = wired(store, waiting)
    posted: list[str] = []
    op.post_event = lambda body, **kw: posted.append(kw["reason"])

    op.run_reconcile(kopf.Body(obj()), LOG, event=False)
    op.run_reconcile(kopf.Body(obj()), LOG, event=False)

    assert len(store.writes) == 1, "the second pass changed nothing, yet wrote"
    assert posted == ["Queued", "Queued"]


def test_a_changed_status_is_written_however_small_the_change(wired):
    store = Store(obj())
    first = Outcome()
    first.condition("Ready", "False", "Queued", "queued for import (position 3)")
    op, rec = wired(store, first)
    op.run_reconcile(kopf.Body(obj()), LOG, event=False)
    rec.out = Outcome()
    rec.out.condition("Ready", "False", "Queued", "queued for import (position 2)")
    op.run_reconcile(kopf.Body(obj()), LOG, event=False)
    assert len(store.writes) == 2
    assert conditions(store)["Ready"] == ("False", "Queued")
    assert "position 2" in next(
        c["message"] for c in store.body["status"]["conditions"] if c["type"] == "Ready"
    )


def test_merge_patched_applies_a_merge_patch_as_the_apiserver_does():
    from controller.kube.status_store import merge_patched

    current = {"a": 1, "job": {"state": "InProgress", "arn": "x"}, "list": [1, 2]}
    assert merge_patched(current, {"a": None, "job": {"arn": None, "model": "m"}, "list": [3]}) == {
        "job": {"state": "InProgress", "model": "m"},
        "list": [3],
    }
    assert current == {"a": 1, "job": {"state": "InProgress", "arn": "x"}, "list": [1, 2]}, "left as it was"
    assert merge_patched({}, {"job": {}}) == {"job": {}}, "an empty object is created, as RFC 7386 says"


def test_a_pass_whose_only_change_removes_a_field_writes_it(wired):
    """The slot came: `queuePosition` goes. A write skipped for a removal left position 1 on a running
    import."""
    first = Outcome()
    first.status.queue_position = 1
    store = Store(obj())
    op, rec = wired(store, first)
    op.run_reconcile(kopf.Body(obj()), LOG, event=False)
    assert store.body["status"]["queuePosition"] == 1
    rec.out = copy.deepcopy(first)
    rec.out.status.queue_position = None
    op.run_reconcile(kopf.Body(obj()), LOG, event=False)
    assert len(store.writes) == 2 and "queuePosition" not in store.body["status"]


def test_an_edit_during_a_pass_that_writes_nothing_gets_its_pass_at_once(wired):
    """An edit (or a pause annotation) arriving while a pass runs only marks the object dirty. A pass that
    wrote used to meet the edit as a 409 and decide again; one that writes nothing meets nothing, so the
    object's pass is queued the moment this one ends, not at its next tick (up to a poll later)."""
    store = Store(obj())
    same = Outcome()
    op, rec = wired(store, same)
    op.run_reconcile(kopf.Body(obj()), LOG, event=True)  # the first write
    woken: list[str] = []
    op._wake = lambda uid: woken.append(uid) or True

    def edited_meanwhile(body, memory=None, event=True):
        assert op.work.begin("u-1", event=True) is None  # the edit's event finds the pass running
        return copy.deepcopy(same)

    rec.reconcile = edited_meanwhile
    op.run_reconcile(kopf.Body(obj()), LOG, event=False)
    assert len(store.writes) == 1, "the pass changed nothing"
    assert woken == ["u-1"], "the edit waits for the next tick"


def test_nulls_in_a_list_are_pruned_as_the_apiserver_prunes_them():
    """`superseded` entries carry null fields; the apiserver stores them without (the CRD's schema has no
    nullable field), so a comparison that kept them found a change at every pass."""
    from controller.kube.status_store import changes_nothing

    stored = {"superseded": [{"arn": "a", "name": "m"}]}
    assert changes_nothing(stored, {"status": {"superseded": [{"arn": "a", "name": "m", "lastError": None}]}})
    assert not changes_nothing(stored, {"status": {"superseded": [{"arn": "b", "name": "m"}]}})
