"""The runtime's work queue: which objects get a pass, when, and never two passes of one object at once.

The vocabulary is client-go's workqueue, which every Kubernetes controller reader knows: an object is
*added* (a watch event, its turn in Bedrock's import line, its Job's end), *added after* an interval (its
periodic tick, `Glance.tick_interval`), *added rate-limited* after a retryable failure (exponential
backoff), *forgotten* when a pass succeeds (the backoff resets), and *done* when its pass ends. An object
added while its pass runs is marked *dirty*: the next tick makes a full pass even when it looks steady.

Nothing here is needed for correctness after a restart (status and Bedrock hold the truth); it makes the
process cheap and fair. Each object keeps only a `Glance` at its last watch event (a few hundred bytes; the
pass itself always reads the object fresh) and the reconcile's own `Memory`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.api.models import IN_FLIGHT
from controller.reconcile.context import PAUSE_ANNOTATION, is_paused
from controller.reconcile.memory import Memory

#: status fields a tick reads (`Reconciler.is_steady`); `importJob` is cut down to its state
_STATUS_FIELDS = ("phase", "observedGeneration", "superseded", "modelMissingSince")
_META_FIELDS = ("uid", "namespace", "name", "generation", "creationTimestamp", "deletionTimestamp")


def import_job_running(status: Mapping[str, Any] | None, meta: Mapping[str, Any] | None = None) -> bool:
    """The object's import job runs (or its create is in flight) and the object is neither paused
    (nothing is done for it) nor being deleted (the finalizer follows the job): polled fast."""
    meta = meta or {}
    if meta.get("deletionTimestamp") or is_paused(meta.get("annotations")):
        return False
    job = (status or {}).get("importJob") or {}
    return job.get("state") in IN_FLIGHT


@dataclass(frozen=True)
class Glance:
    """An object as its last watch event showed it, cut to what decides a tick. `body` is itself a body
    (kopf.Body, an Event's involvedObject): a few hundred bytes where the object, with its managed fields
    and kopf's annotations, is tens of KiB once parsed."""

    body: dict[str, Any]

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Glance:
        meta = body.get("metadata") or {}
        status = body.get("status") or {}
        annotations = meta.get("annotations") or {}
        small_meta: dict[str, Any] = {k: meta[k] for k in _META_FIELDS if k in meta}
        small_meta["finalizers"] = list(meta.get("finalizers") or [])
        small_meta["annotations"] = {k: annotations[k] for k in (PAUSE_ANNOTATION,) if k in annotations}
        small_status: dict[str, Any] = {k: status[k] for k in _STATUS_FIELDS if k in status}
        job = status.get("importJob") or {}
        if job:
            small_status["importJob"] = {"state": job.get("state")}
        head = {k: body[k] for k in ("apiVersion", "kind") if k in body}
        return cls({**head, "metadata": small_meta, "status": small_status})

    @property
    def meta(self) -> Mapping[str, Any]:
        return self.body.get("metadata") or {}

    @property
    def ref(self) -> str:
        return f"{self.meta.get('namespace')}/{self.meta.get('name')}"

    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))

    @property
    def paused(self) -> bool:
        return is_paused(self.meta.get("annotations"))

    @property
    def job_running(self) -> bool:
        return import_job_running(self.body.get("status"), self.meta)

    def tick_interval(self, poll_seconds: float, job_poll_seconds: float) -> float | None:
        """Seconds between the object's ticks, or None while it gets none: being deleted (kopf's finalizer
        handler retries on its own) or not yet carrying the finalizer (its create handler comes first)."""
        if self.deleting or not self.meta.get("finalizers"):
            return None
        if self.job_running:
            return min(job_poll_seconds, poll_seconds)  # a job's end is noticed within a poll of its own
        return poll_seconds


@dataclass
class Item:
    """One object in the work queue."""

    memory: Memory = field(default_factory=Memory)
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while its pass runs
    failures: int = 0  # consecutive retryable failures (rate limiting)
    next_try: float = 0.0  # monotonic time before which a tick does not retry
    dirty: bool = False  # added while its pass ran: the next tick makes a full pass
    glance: Glance | None = None  # its last watch event
    last_tick: float | None = None  # monotonic time of its last tick (None: not yet seen by the clock)
    queued: bool = False  # a pass (a tick, or a wake for its turn in the import line) waits for a worker
    queued_at: float = 0.0  # monotonic time it was queued (`bmo_workqueue_queue_duration_seconds`)
    queued_by: str = "wake"  # what queued it: its periodic "tick", or a "wake"
    gone: bool = False  # the object left the API while a pass of it may still be running
    outage: bool = False  # backing off because AWS did not answer (woken as soon as it answers again)

    def backing_off(self, now: float) -> bool:
        return now < self.next_try


class WorkQueue:
    def __init__(self, backoff_base_seconds: float, backoff_cap_seconds: float) -> None:
        self._guard = threading.Lock()
        self._items: dict[str, Item] = {}
        self._arrivals = 0
        self._base, self._cap = backoff_base_seconds, backoff_cap_seconds

    # ---- what the watches tell it ------------------------------------------------------------------
    def get(self, uid: str) -> Item:
        with self._guard:
            return self._items.setdefault(uid, Item())

    def find(self, uid: str) -> Item | None:
        with self._guard:
            return self._items.get(uid)

    def note_arrival(self, uid: str, created: str) -> str:
        """Import-line key in the order objects reached the operator (called on the event loop, in watch
        order): creationTimestamp first (persisted by the apiserver, so the order survives a restart),
        then the arrival count to order objects created within the same second."""
        item = self.get(uid)
        with self._guard:
            if item.memory.arrival is None:
                self._arrivals += 1
                item.memory.arrival = f"{created}/{self._arrivals:012d}"
            return item.memory.arrival

    def observe(self, uid: str, glance: Glance) -> Item:
        item = self.get(uid)
        item.glance = glance
        return item

    def snapshot(self) -> list[tuple[str, Item]]:
        with self._guard:
            return list(self._items.items())

    def remove(self, uid: str) -> None:
        """The object left the API: nothing is kept for it; a pass still running sees `gone` at its end."""
        with self._guard:
            item = self._items.pop(uid, None)
        if item is not None:
            item.gone = True

    # ---- client-go's verbs -------------------------------------------------------------------------
    def add(self, uid: str) -> Item | None:
        """Queue a pass of a known, seen object unless one is queued already. The item when the caller
        must hand it to a worker; None when there is nothing to hand."""
        with self._guard:
            item = self._items.get(uid)
            if item is None or item.glance is None or item.queued:
                return None
            item.queued = True
            return item

    def add_all(self) -> None:
        """Every object's next tick makes a full pass (a policy or a namespace's labels changed)."""
        with self._guard:
            for item in self._items.values():
                item.dirty = True

    def add_after_elapsed(self, item: Item, now: float, poll_seconds: float, job_poll_seconds: float) -> bool:
        """Whether the object's tick interval has passed since its last tick (the first tick comes one
        interval after the clock first sees it). Moves its last tick to `now` when it has."""
        interval = None if item.glance is None else item.glance.tick_interval(poll_seconds, job_poll_seconds)
        if interval is None:
            return False
        if item.last_tick is None:
            item.last_tick = now
            return False
        if now - item.last_tick < interval:
            return False
        item.last_tick = now
        return True

    def begin(self, uid: str, *, event: bool) -> Item | None:
        """Start a pass: the item, its lock held, or None. A watch event makes the item known; a tick or a
        wake is for a known one (one forgotten meanwhile, deleted, stays so). When a pass of it already runs,
        an event marks it dirty (e.g. a pause or retry annotation: the next tick must not skip it)."""
        item = self.get(uid) if event else self.find(uid)
        if item is None:
            return None
        if not item.lock.acquire(blocking=False):
            if event:
                item.dirty = True
            return None
        return item

    def done(self, item: Item) -> None:
        item.lock.release()

    def add_rate_limited(
        self, item: Item, now: float, cap: float | None = None, floor: float | None = None
    ) -> float:
        """A retryable failure: the next tick waits base * 2^n (capped, and at most `cap`; at least `floor`).
        The delay."""
        item.failures += 1
        delay = min(self._cap, self._base * 2 ** (item.failures - 1))
        if floor is not None:
            delay = max(delay, min(floor, self._cap))
        if cap is not None:
            delay = min(delay, cap)
        item.next_try = now + delay
        return delay

    def forget(self, item: Item) -> None:
        """A pass succeeded: its backoff starts over."""
        item.failures, item.next_try, item.outage = 0, 0.0, False

    def outage_over(self) -> list[str]:
        """AWS answers again: the objects that backed off from its outage may try at once (their backoff
        had grown with the outage, up to the cap, not with anything wrong with them)."""
        woken = []
        with self._guard:
            for uid, item in self._items.items():
                if item.outage:
                    item.outage, item.next_try = False, 0.0
                    woken.append(uid)
        return woken
