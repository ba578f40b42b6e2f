"""kopf wiring, kept thin: every event, and every object's tick on one clock, call the one level-based
reconcile.

`Operator` owns everything the process keeps: settings, the reconciler, the status store, the worker
pool and the per-object state (`object_state`). Nothing is built at import: `bedrock-model-operator run`
builds an `Operator` from its settings and registers its handlers in a kopf registry.

One pass of an object runs at a time (its lock). It decides from a fresh read of the object and writes
its status before the lock is released (see `kube.status_store`), backs off exponentially on retryable errors,
and is skipped cheaply for steady objects until their resync is due. Ticks are not kopf timers: one loop
decides them for every object from a small glance at its last watch event (`ticks`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes import client

from controller import logs, metrics
from controller.api.models import GROUP, PLURAL, VERSION
from controller.api.policy import POLICY_PLURAL
from controller.api.reasons import Phase, Reason
from controller.errors import OperatorError
from controller.kube.client import KUBE_ERRORS, api_client, api_error, tenancy_readers
from controller.kube.events import EventRecorder
from controller.kube.status_store import ModelStatusStore, status_patch
from controller.kube.validation_jobs import (
    LABEL_MANAGED,
    MANAGED_BY,
)
from controller.reconcile import Finalized, Outcome, Reconciler
from controller.runtime.heap import Trimmer
from controller.runtime.object_state import ObjectStates
from controller.runtime.ticks import glance, tick_interval
from controller.settings import Settings
from controller.tenancy.view import TenancyView

FINALIZER = f"{GROUP}/finalizer"
#: kopf's own annotations live under this prefix. Not `bedrock.modelops.io/`: kopf leaves annotations
#: under its storage prefix out of its diff, so `paused` and `retry` never fired an update.
KOPF_PREFIX = f"kopf.{GROUP}"
#: Passes run back to back at most this often when a pass asks for another (write-ahead of a create).
MAX_PASSES = 3


POLL_LOG = logging.getLogger("bmo.poll")
STATUS_LOG = logging.getLogger("bmo.status")


#: the clock's resolution: a tick is at most this late (a running job's end is noticed within its poll + this)
TICK_SECONDS = 0.25


def _clock_stopped(task: asyncio.Task) -> None:
    """The clock only ends when kopf stops. Otherwise nothing would be polled again while the liveness probe
    stays green: exit, as a leader that lost its Lease does, and let the pod restart."""
    if task.cancelled():
        return
    POLL_LOG.critical("the clock stopped (%r): exiting so that the operator restarts", task.exception())
    os._exit(1)


class _ObjectLog(logging.LoggerAdapter):
    """A line about one object (kopf's per-object loggers belong to its handlers; ticks are ours)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        ref = (self.extra or {}).get("object", "")
        return f"{ref}: {msg}", {**kwargs, "extra": {**(self.extra or {}), **kwargs.get("extra", {})}}


class Operator:
    def __init__(
        self,
        settings: Settings,
        reconciler: Reconciler | None = None,
        store: ModelStatusStore | None = None,
    ) -> None:
        self.settings = settings
        self.reconciler = reconciler or Reconciler(
            settings, tenancy=TenancyView(settings.import_policy_default, **tenancy_readers(settings))
        )
        # a test's stand-in reconciler may have none: the watches then feed a view nobody reads
        self.tenancy: TenancyView = getattr(self.reconciler, "tenancy", None) or TenancyView("open")
        self.store = store or ModelStatusStore(settings)
        self.states = ObjectStates()
        # (body, type=, reason=, message=): aggregated Events from `bedrock-model-operator`; replaceable
        self.post_event = EventRecorder(settings).post
        self.executor = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="reconcile")
        self._clock: asyncio.Task | None = None

    # ---- one object's pass, under its lock ------------------------------------------------------
    def run_reconcile(self, body: kopf.Body, logger: logging.Logger, *, event: bool) -> None:
        uid = body.metadata.uid
        if FINALIZER not in (body.metadata.get("finalizers") or []) or body.metadata.get("deletionTimestamp"):
            return  # kopf adds the finalizer first: nothing is created in AWS before it is there
        # a tick or a wake is for an object the process knows: one forgotten meanwhile (deleted) stays so
        state = self.states.get(uid) if event else self.states.find(uid)
        if state is None:
            return
        if not state.lock.acquire(blocking=False):
            if event:  # e.g. a pause or retry annotation: the next tick must not skip it as steady
                state.missed_event = True
            return  # a pass of this object is running; the next tick sees its result
        try:
            event = event or state.missed_event
            state.missed_event = False
            if not event and self._tick_needs_no_pass(body, state):
                return  # decided on the cached body; the decision below is made on a fresh read
            rec = self.reconciler
            for _ in range(MAX_PASSES):
                try:
                    fresh = self.store.read(body.metadata.namespace, body.metadata.name)
                except KUBE_ERRORS as exc:
                    err = api_error(exc, "reading the model")
                    logger.warning(f"retryable: {err.reason}: {err.message}; the next tick tries again")
                    return
                if fresh is None or fresh.get("metadata", {}).get("uid") != uid:
                    # also when its DELETED event never comes: no place in line, no ticks, no quota counted
                    self.gone(uid, body.metadata.namespace)
                    return
                if fresh["metadata"].get("deletionTimestamp"):
                    return
                if not event and rec.is_steady(fresh) and not rec.resync_due(fresh, state):
                    return
                out = rec.reconcile(fresh, state, event)
                self._write(fresh, out)
                self._after(state, out, logger, holds_slot=rec.queue.holds(uid))
                if not out.again or out.retry_error is not None:
                    return
        finally:
            if state.gone:  # deleted while this pass ran: its settle must not leave a place in line
                self.reconciler.queue.forget(uid)
            state.lock.release()
            self.wake_next_up(uid)

    def _tick_needs_no_pass(self, body: Any, state: Any) -> bool:
        """A tick (not an event) that needs no pass: backing off, or steady and its resync not due."""
        rec = self.reconciler
        return rec.monotonic() < state.next_try or (rec.is_steady(body) and not rec.resync_due(body, state))

    # ---- the clock: every object's periodic pass ---------------------------------------------------
    async def tick_forever(self) -> None:
        """One loop for every object's ticks (see `ticks`): every TICK_SECONDS, queue a pass for the objects
        whose tick is due and that need one. Started by kopf's startup, cancelled at its cleanup."""
        s = self.settings
        period = min(TICK_SECONDS, s.job_poll_seconds / 2, s.poll_seconds / 2)
        trimmer = Trimmer()
        while True:
            await asyncio.sleep(period)
            try:
                self.tick(self.reconciler.monotonic())
                trimmer.maybe()  # what a burst of passes freed goes back to the system (`heap`)
            except Exception:  # a defect: say it, and keep every other object ticking
                POLL_LOG.exception("the clock's tick failed")

    def tick(self, now: float) -> int:
        """Queue a pass for each object whose tick is due (the same decisions a kopf timer per object made:
        first tick one interval after it was first seen, the fast interval while its import job runs) and
        that needs one. Runs on the event loop: decisions only, no I/O. Returns how many were queued."""
        queued = 0
        for uid, state in self.states.snapshot():
            try:
                claimed = self.states.claim_wake(uid) if self._tick_due(state, now) else None
                if claimed is not None:
                    queued += self._submit(uid, claimed)
            except Exception:  # one object's odd glance must not stop the others' ticks (nor flood the log)
                if state.last_tick != now:
                    POLL_LOG.exception(f"tick of {uid} failed")
                state.last_tick = now
        return queued

    def _tick_due(self, state: Any, now: float) -> bool:
        s = self.settings
        cached = state.cached
        interval = None if cached is None else tick_interval(cached, s.poll_seconds, s.job_poll_seconds)
        if interval is None:
            return False
        if state.last_tick is None:
            state.last_tick = now
            return False
        if now - state.last_tick < interval:
            return False
        state.last_tick = now
        # not when a pass runs (it sees what this tick would) or there is nothing to do: no thread
        return not state.lock.locked() and (state.missed_event or not self._tick_needs_no_pass(cached, state))

    def _submit(self, uid: str, state: Any) -> bool:
        try:
            self.executor.submit(contextvars.copy_context().run, self._queued_pass, uid, state)
        except RuntimeError:  # shutting down: the next start's passes place it
            state.wake_pending = False
            return False
        return True

    def wake_owner_of(self, job: dict[str, Any]) -> bool:
        """Queue a pass of the model that controls this validation Job, in this process: nothing is written
        to the model (an annotation written to wake it made its own watch event, and a status write racing
        it a conflict). A Job anyone labelled costs at most a pass of the object it names. True: queued."""
        meta = job.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return False
        owner = next((r.get("uid") for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
        state = self.states.claim_wake(owner) if owner else None
        return state is not None and self._submit(owner, state)

    def wake_next_up(self, after: str) -> None:
        """A pass may have freed a region's slot (its job ended, it was deleted or paused): the objects
        whose turn it now is run a pass at once instead of at their next poll, so the slot never idles.
        (A region whose create Bedrock refused is skipped until the next poll: ImportQueue.busy_outside.)"""
        for uid in self.reconciler.queue.next_up():
            state = self.states.claim_wake(uid) if uid != after else None
            if state is not None and not self._submit(uid, state):
                return

    def _queued_pass(self, uid: str, state: Any) -> None:
        """A tick or a wake, in a worker: a pass on the object's glance (the pass reads it fresh)."""
        state.wake_pending = False
        cached = state.cached
        if cached is None:
            return
        meta = cached["metadata"]
        log = _ObjectLog(POLL_LOG, {"object": f"{meta.get('namespace')}/{meta.get('name')}"})
        try:
            self.run_reconcile(kopf.Body(cached), log, event=False)
        except Exception as exc:  # a defect (a future's exception is dropped): say it, back off like kopf
            state.failures += 1
            delay = self._backoff(state.failures)
            state.next_try = self.reconciler.monotonic() + delay
            log.exception(f"a pass failed; next try in {delay:.0f}s")
            # the delay only in the log: one Event counted up per kind of failure, not one per backoff step
            message = (
                f"a pass failed unexpectedly ({type(exc).__name__}; the operator log has the details); "
                "retried with backoff"
            )
            try:
                self._emit(cached, [("Warning", Reason.PASS_FAILED, message)], None)
            except Exception:
                log.exception("posting the PassFailed Event failed")

    def _backoff(self, failures: int) -> float:
        s = self.settings
        return min(s.backoff_cap_seconds, s.backoff_base_seconds * 2 ** (failures - 1))

    def _write(self, fresh: dict[str, Any], out: Outcome) -> None:
        meta = fresh["metadata"]
        patch = status_patch(out, fresh.get("status") or {}, meta.get("generation"))
        if meta.get("resourceVersion"):
            # written only over the object this pass decided from: a write of an older leader still in
            # flight, or an edit since the read, makes the apiserver refuse it (409) instead of it undoing
            # a newer status
            patch["metadata"] = {"resourceVersion": meta["resourceVersion"]}
        try:
            try:
                self.store.write(meta["namespace"], meta["name"], patch)
            except KUBE_ERRORS as exc:
                if getattr(exc, "status", None) != 409 or not self._only_metadata_moved(fresh, patch):
                    raise
                self.store.write(meta["namespace"], meta["name"], patch)  # the decision still holds
        except KUBE_ERRORS as exc:  # what was done in AWS is found again from status and by name
            if getattr(exc, "status", None) == 409:  # decided from an old read: again, from a new one
                out.again = out.retry_error is None
                STATUS_LOG.info(
                    f"{meta['namespace']}/{meta['name']} changed since it was read: decided again"
                )
            else:
                out.retry_error = out.retry_error or api_error(exc, "writing the status")
                out.again = False
        revision = out.status.revision or (out.status.import_job.revision if out.status.import_job else None)
        self._emit(fresh, out.events, revision)

    def _only_metadata_moved(self, fresh: dict[str, Any], patch: dict[str, Any]) -> bool:
        """After a 409: whether only metadata changed since the pass's read (an annotation, a finalizer, a
        label), with the same spec generation and the same status. Then the decision holds,
        and `patch` is pointed at the new resourceVersion; else (a status written meanwhile, a spec edit) the
        pass must decide again."""
        meta = fresh["metadata"]
        now = self.store.read(meta["namespace"], meta["name"])
        if now is None or now["metadata"].get("uid") != meta.get("uid"):
            return False
        same = now["metadata"].get("generation") == meta.get("generation") and (now.get("status") or {}) == (
            fresh.get("status") or {}
        )
        if same:
            patch["metadata"] = {"resourceVersion": now["metadata"].get("resourceVersion")}
        return same

    def _emit(self, body: Any, events: list[tuple[str, str, str]], revision: str | None) -> None:
        """Each Event to the API (blocking HTTP: call it in a worker thread) and as a log line."""
        meta = body["metadata"]
        for kind, reason, message in events:
            self.post_event(body, type=kind, reason=reason, message=message)
            logs.log_event(meta.get("namespace"), meta.get("name"), revision, kind, reason, message)

    def _after(self, state: Any, out: Outcome, logger: logging.Logger, holds_slot: bool = False) -> None:
        metrics.RECONCILES.labels("retry" if out.retry_error else "ok").inc()
        if out.retry_error is None:
            state.failures, state.next_try = 0, 0.0
            return
        state.failures += 1
        delay = self._backoff(state.failures)
        if holds_slot:  # the region's one slot waits on this object: it looks again at least every poll
            delay = min(delay, self.settings.poll_seconds)
        state.next_try = self.reconciler.monotonic() + delay
        logger.warning(
            f"retryable: {out.retry_error.reason}: {out.retry_error.message}; next try in {delay:.0f}s"
        )

    async def in_thread(self, body: kopf.Body, logger: logging.Logger, event: bool) -> None:
        # the object's arrival and glance are noted by `on_watch_event`, which kopf runs first for the event
        ctx = contextvars.copy_context()  # kopf's per-object logger needs kopf's context in the thread
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self.executor, ctx.run, lambda: self.run_reconcile(body, logger, event=event)
        )

    # ---- deletion -------------------------------------------------------------------------------
    def finalize(self, body: kopf.Body) -> Finalized:
        with self.states.get(body.metadata.uid).lock:
            try:
                # fresh: a pass that ended after the deletion event may have just written a new model ARN
                fresh = self.store.read(body.metadata.namespace, body.metadata.name)
                if fresh is None or fresh.get("metadata", {}).get("uid") != body.metadata.uid:
                    fresh = dict(body)
                return self.reconciler.finalize(fresh)
            except KUBE_ERRORS as exc:
                err: OperatorError = api_error(exc, "while deleting")
            except OperatorError as exc:
                err = exc
            # not done: kopf calls again after the poll period; deleting is always retried, never abandoned
            return Finalized(
                done=False, events=[("Warning", err.reason, f"deleting: {err.message}; retrying")]
            )

    def _finalize_and_emit(self, body: kopf.Body) -> Finalized:
        result = self.finalize(body)
        self._emit(body, result.events, body.status.get("revision"))
        return result

    async def on_delete(self, body: kopf.Body, patch: kopf.Patch) -> None:
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()  # finalizing and its Events are blocking I/O: off the event loop
        result = await loop.run_in_executor(self.executor, ctx.run, self._finalize_and_emit, body)
        if not result.done:
            patch.status["phase"] = str(Phase.DELETING)
            raise kopf.TemporaryError(
                "waiting before the models can be deleted", delay=self.settings.poll_seconds
            )
        self.gone(body.metadata.uid)

    def gone(self, uid: str, namespace: str | None = None) -> None:
        """The object is gone from the API (also without our finalizer: removed by hand, or a namespace
        force-deleted): it holds no place in the import queue and nothing is remembered for it. A pass
        still running for it sees `state.gone` when it ends and leaves the queue too. With its namespace (its
        DELETED event, or a pass that found it gone), its namespace's quota stops counting it."""
        self.states.forget(uid)
        self.reconciler.queue.forget(uid)
        if namespace is not None:
            self.tenancy.model_changed({"metadata": {"namespace": namespace, "uid": uid}}, deleted=True)

    # ---- kopf -----------------------------------------------------------------------------------
    def model_pages(self, limit: int = 100) -> Iterator[list[dict[str, Any]]]:
        """Every model this operator watches, as the API has it now, `limit` at a time (one consistent
        paged LIST per namespace, or of the cluster)."""
        api = client.CustomObjectsApi(api_client(self.settings))
        for ns in self.settings.namespaces or [None]:
            token = None
            while True:
                kwargs = {"limit": limit, **({"_continue": token} if token else {})}
                if ns is None:
                    listed = api.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)
                else:
                    listed = api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, **kwargs)
                yield listed["items"]
                token = (listed.get("metadata") or {}).get("continue")
                if not token:
                    break

    def registry(self) -> kopf.OperatorRegistry:
        """A kopf registry with this operator's handlers (nothing registered at import)."""
        registry = kopf.OperatorRegistry()
        s = self.settings

        @kopf.on.login(registry=registry)
        def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
            # a registry of our own has none of kopf's default login handlers: use the official client's
            return kopf.login_via_client(**kwargs)

        @kopf.on.startup(registry=registry)
        def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.persistence.finalizer = FINALIZER
            settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
            settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
                prefix=KOPF_PREFIX, key="last-handled-configuration"
            )
            settings.execution.max_workers = s.max_workers
            settings.posting.level = (
                logging.WARNING
            )  # our own Events say what happened; kopf's would be noise
            settings.watching.server_timeout = 300
            settings.networking.error_backoffs = [1, 2, 5, 10]

        @kopf.on.startup(registry=registry)
        def seed_queue(logger: logging.Logger, **_: Any) -> None:
            # before any object's first pass: the line as the previous process (or leader) left it. Paged,
            # and only seats and glances kept: 1,000 whole bodies at once were ~50 MiB at start-up.
            rec = self.reconciler
            seats, seen = [], []
            try:
                for page in self.model_pages():
                    seats += [rec.seat(body) for body in page]
                    seen += [(body.get("metadata", {}).get("uid", ""), glance(body)) for body in page]
            except KUBE_ERRORS as exc:  # each object's own first pass places it (as before the seeding)
                logger.warning(
                    f"import queue not rebuilt from status: {api_error(exc, 'listing models').message}"
                )
                return
            placed = rec.seed_queue(seats)
            for uid, cached in seen:  # so that its turn can wake it before its own first pass
                self.states.observe(uid, cached)
            logger.info("import queue rebuilt from status: %d objects in line or holding a slot", placed)

        @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
        @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
        @kopf.on.update(GROUP, VERSION, PLURAL, field="spec", registry=registry)
        @kopf.on.update(GROUP, VERSION, PLURAL, field="metadata.annotations", registry=registry)
        async def on_change(
            body: kopf.Body, patch: kopf.Patch, logger: logging.Logger, reason: kopf.Reason, **_: Any
        ) -> None:
            # The operator's start (a restart, a failover) is no event on the object: a Ready model is looked
            # up in the region's listing, not read by ARN with its tags (2 calls each: at the shipped 5/s,
            # 1,000 models kept every worker, and the import queue behind them, busy for minutes).
            await self.in_thread(body, logger, event=reason != kopf.Reason.RESUME)

        @kopf.on.startup(registry=registry)
        async def start_clock(**_: Any) -> None:
            # one task for every object's ticks (`ticks`), not a kopf timer (a task and two bodies) each
            self._clock = asyncio.get_running_loop().create_task(self.tick_forever(), name="bmo-ticks")
            self._clock.add_done_callback(_clock_stopped)

        @kopf.on.cleanup(registry=registry)
        async def stop_clock(**_: Any) -> None:
            if self._clock is not None:
                self._clock.cancel()

        @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
        async def on_delete(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
            await self.on_delete(body, patch)

        @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
        async def on_watch_event(type: str | None, uid: str, body: kopf.Body, **_: Any) -> None:
            # async: a sync handler would run in kopf's own thread pool (20 more threads, and their
            # memory arenas, for a few dictionary operations per watch event). kopf runs it before the
            # change handlers of the same event, on the event loop, in watch order: the import queue's
            # tie-break (arrival) is fixed here, and the glance the clock decides on is kept current.
            if type == "DELETED":
                self.gone(uid, body.metadata.namespace)
                return
            self.tenancy.model_changed(dict(body))
            self.states.note_arrival(uid, body.metadata.get("creationTimestamp") or "")
            self.states.observe(uid, glance(body))

        @kopf.on.event(GROUP, VERSION, POLICY_PLURAL, registry=registry)
        async def on_policy_event(type: str | None, body: kopf.Body, **_: Any) -> None:
            """A policy changed: every object is looked at again at its next tick (a tightened policy
            stops what has not started; a loosened one lets a blocked model go)."""
            self.tenancy.policy_changed(dict(body), deleted=type == "DELETED")
            if type is not None:  # not the initial listing
                self.states.wake_all()

        @kopf.on.event("", "v1", "namespaces", registry=registry)
        async def on_namespace_event(type: str | None, name: str, body: kopf.Body, **_: Any) -> None:
            before = self.tenancy.version
            labels = None if type == "DELETED" else dict(body.metadata.get("labels") or {})
            self.tenancy.namespace_changed(name, labels)
            if type is not None and self.tenancy.version != before:
                self.states.wake_all()

        @kopf.on.event("batch", "v1", "jobs", labels={LABEL_MANAGED: MANAGED_BY}, registry=registry)
        async def on_validation_progress(body: kopf.Body, **_: Any) -> None:
            """A validation Job changed: its owner's pass runs now (watched, not polled). Pods are not
            watched (a cluster-wide pod watch is costly); a pod stuck before it runs is seen at the next
            poll."""
            self.wake_owner_of(dict(body))

        return registry
