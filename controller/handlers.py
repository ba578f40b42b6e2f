"""kopf wiring, kept thin: every event and a periodic timer call the one level-based reconcile.

The reconcile runs at most once at a time per object (a per-object lock), decides from a fresh read of
the object and writes its status before the lock is released (see `model_status`), backs off
exponentially on retryable AWS errors, and is skipped cheaply for Ready objects until their resync is due.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from controller import logs, metrics
from controller.api.models import GROUP, PLURAL, VERSION
from controller.kube import api_error
from controller.model_status import ModelStatusStore, status_patch
from controller.reconcile import Outcome, Reconciler
from controller.settings import Settings
from controller.validation_jobs import (
    ANNOTATION_OWNER_NAME,
    LABEL_MANAGED,
    MANAGED_BY,
    job_fingerprint,
    nudge_owner,
)

FINALIZER = f"{GROUP}/finalizer"
settings = Settings.from_env()
reconciler = Reconciler(settings)
status_store = ModelStatusStore(settings)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_backoff: dict[str, tuple[int, float]] = {}  # uid -> (consecutive failures, monotonic time of next try)
_missed_events: set[str] = set()  # uids whose event came while a reconcile of them was running
_executor = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="reconcile")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.execution.max_workers = reconciler.settings.max_workers
    settings.posting.level = logging.WARNING  # our own Events say what happened; kopf's would be noise
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = [1, 2, 5, 10]
    # On deletion kopf stops the object's timer; a tick still running makes it look again only after
    # this long (default 60 s), and the finalizer waits for that: deleting a model took a minute more.
    settings.background.cancellation_polling = 1


def _lock(uid: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(uid, threading.Lock())


def _emit(out: Outcome, body: dict[str, Any]) -> None:
    meta, status = body.get("metadata", {}), body.get("status") or {}
    revision = out.status.get("revision") or out.status.get("importRevision") or status.get("revision")
    for kind, reason, message in out.events:
        kopf.event(body, type=kind, reason=reason, message=message)
        logs.log_event(meta.get("namespace"), meta.get("name"), revision, kind, reason, message)


def run_reconcile(body: kopf.Body, logger: logging.Logger, *, event: bool) -> None:
    uid = body.metadata.uid
    if FINALIZER not in (body.metadata.get("finalizers") or []) or body.metadata.get("deletionTimestamp"):
        return  # kopf adds the finalizer first: nothing is created in AWS before it is there
    lock = _lock(uid)
    if not lock.acquire(blocking=False):
        if event:  # e.g. a pause or retry annotation: the next tick must not skip it as steady
            _missed_events.add(uid)
        return  # a reconcile of this object is running; the next tick sees its result
    try:
        failures, next_try = _backoff.get(uid, (0, 0.0))
        if not event and time.monotonic() < next_try:
            return
        event = event or uid in _missed_events
        _missed_events.discard(uid)
        if not event and reconciler.is_steady(body) and not reconciler.resync_due(body):
            return  # cheap skip on the cached body; the decision below is made on a fresh read
        try:
            fresh = status_store.read(body.metadata.namespace, body.metadata.name)
        except ApiException as exc:
            err = api_error(exc, "reading the model")
            logger.warning(f"retryable: {err.reason}: {err.message}; the next tick tries again")
            return
        if fresh is None or fresh.get("metadata", {}).get("uid") != uid:
            return  # deleted (or deleted and re-created: that object has its own handlers)
        if fresh["metadata"].get("deletionTimestamp"):
            return
        if not event and reconciler.is_steady(fresh) and not reconciler.resync_due(fresh):
            return
        out = reconciler.reconcile(fresh)
        meta = fresh["metadata"]
        patch = status_patch(out, fresh.get("status") or {}, meta.get("generation"))
        try:
            status_store.write(meta["namespace"], meta["name"], patch)
        except ApiException as exc:  # what was done in AWS is found again by its deterministic names
            out.retry_error = out.retry_error or api_error(exc, "writing the status")
        _emit(out, fresh)
        metrics.RECONCILES.labels("retry" if out.retry_error else "ok").inc()
        for region in reconciler.queue.regions():
            metrics.QUEUE_LENGTH.labels(region).set(reconciler.queue.length(region))
        if out.retry_error is not None:
            failures += 1
            delay = min(settings.backoff_cap_seconds, settings.backoff_base_seconds * 2 ** (failures - 1))
            _backoff[uid] = (failures, time.monotonic() + delay)
            logger.warning(
                f"retryable: {out.retry_error.reason}: {out.retry_error.message}; next try in {delay:.0f}s"
            )
        else:
            _backoff.pop(uid, None)
    finally:
        lock.release()


async def _in_thread(body: kopf.Body, logger: logging.Logger, event: bool) -> None:
    # Runs on the event loop first, in watch order: the import queue's tie-break is fixed here.
    reconciler.note_arrival(body.metadata.uid, body.metadata.get("creationTimestamp") or "")
    ctx = contextvars.copy_context()  # kopf.event() and the logger need kopf's context in the thread
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(_executor, ctx.run, lambda: run_reconcile(body, logger, event=event))


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
@kopf.on.update(GROUP, VERSION, PLURAL, field="metadata.annotations")
async def on_change(body: kopf.Body, logger: logging.Logger, **_: Any) -> None:
    await _in_thread(body, logger, event=True)


@kopf.timer(GROUP, VERSION, PLURAL, interval=settings.poll_seconds, initial_delay=settings.poll_seconds)
async def on_tick(body: kopf.Body, logger: logging.Logger, **_: Any) -> None:
    await _in_thread(body, logger, event=False)


def _finalize(body: kopf.Body) -> tuple[bool, list[tuple[str, str, str]]]:
    with _lock(body.metadata.uid):
        # fresh: a reconcile that ended after the deletion event may have just written a new model ARN
        fresh = status_store.read(body.metadata.namespace, body.metadata.name)
        if fresh is None or fresh.get("metadata", {}).get("uid") != body.metadata.uid:
            fresh = dict(body)
        return reconciler.finalize(fresh)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def on_delete(body: kopf.Body, patch: kopf.Patch, logger: logging.Logger, **_: Any) -> None:
    ctx = contextvars.copy_context()
    done, events = await asyncio.get_running_loop().run_in_executor(_executor, ctx.run, _finalize, body)
    for kind, reason, message in events:
        kopf.event(body, type=kind, reason=reason, message=message)
        logs.log_event(
            body.metadata.namespace, body.metadata.name, body.status.get("revision"), kind, reason, message
        )
    if not done:
        patch.status["phase"] = "Deleting"
        raise kopf.TemporaryError("waiting for the running import job to finish", delay=settings.poll_seconds)
    _backoff.pop(body.metadata.uid, None)
    _missed_events.discard(body.metadata.uid)
    with _locks_guard:
        _locks.pop(body.metadata.uid, None)


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_MANAGED: MANAGED_BY})
async def on_validation_progress(body: kopf.Body, **_: Any) -> None:
    """A validation Job changed: wake the owning model up (watched, not polled). Pods are not watched (a
    cluster-wide pod watch is costly); a pod stuck before it runs (image pull) is seen at the next resync."""
    owner = (body.metadata.get("annotations") or {}).get(ANNOTATION_OWNER_NAME)
    if not owner or body.metadata.get("deletionTimestamp"):
        return
    fingerprint = job_fingerprint(dict(body))
    ctx = contextvars.copy_context()
    await asyncio.get_running_loop().run_in_executor(
        _executor, ctx.run, nudge_owner, settings, body.metadata.namespace, owner, fingerprint
    )
