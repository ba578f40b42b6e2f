"""When an object's periodic pass is due: one clock for every object instead of a kopf timer per object.

A kopf timer is an asyncio task per object that holds the object's whole body twice (as its timer was
spawned, and as last seen): at 1,000 objects the two timers per object held ~50 MiB of bodies and ~10 MiB
of task state, and woke 100 tasks a second for ticks that were nearly all skipped. Here each object keeps
only a *glance* at its last watch event (the few fields a tick decides on; the pass itself always reads
the object fresh), and one loop (`Operator.tick_forever`) asks `tick_interval` which objects are due.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.api.models import IN_FLIGHT
from controller.reconcile.context import PAUSE_ANNOTATION, is_paused

#: status fields a tick reads (`Reconciler.is_steady`); `importJob` is cut down to its state
_STATUS_FIELDS = ("phase", "observedGeneration", "superseded", "modelMissingSince")
_META_FIELDS = ("uid", "namespace", "name", "generation", "creationTimestamp", "deletionTimestamp")


def glance(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a model's body that decides a tick, as a body of its own (a few hundred bytes where
    the object, with its managed fields and kopf's annotations, is tens of KiB once parsed)."""
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
    head = {k: body[k] for k in ("apiVersion", "kind") if k in body}  # an Event's involvedObject
    return {**head, "metadata": small_meta, "status": small_status}


def import_job_running(status: Mapping[str, Any] | None, meta: Mapping[str, Any] | None = None) -> bool:
    """The object's import job runs (or its create is in flight) and the object is neither paused
    (nothing is done for it) nor being deleted (the finalizer follows the job): polled fast."""
    meta = meta or {}
    if meta.get("deletionTimestamp") or is_paused(meta.get("annotations")):
        return False
    job = (status or {}).get("importJob") or {}
    return job.get("state") in IN_FLIGHT


def tick_interval(cached: Mapping[str, Any], poll_seconds: float, job_poll_seconds: float) -> float | None:
    """Seconds between the object's ticks, or None while it gets none: being deleted (kopf's finalizer
    handler retries on its own) or not yet carrying the finalizer (its create handler comes first)."""
    meta = cached.get("metadata") or {}
    if meta.get("deletionTimestamp") or not meta.get("finalizers"):
        return None
    if import_job_running(cached.get("status"), meta):
        return min(job_poll_seconds, poll_seconds)  # a job's end is noticed within a poll of its own
    return poll_seconds
