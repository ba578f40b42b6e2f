"""The operator process: a work queue (`work_queue`), a pass runner (`pass_runner`), one clock for every
object's ticks, and a worker pool, put together. kopf's handlers (`registry`) only feed it.

Nothing is built at import: `bedrock-model-operator run` builds an `Operator` from its settings and
registers its handlers in a kopf registry. One pass of an object runs at a time; it decides from a fresh
read and writes its status before the next; retryable errors back off exponentially; steady objects are
skipped cheaply until their resync is due. Ticks are not kopf timers: one loop decides them for every
object from the small `Glance` kept at its last watch event.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes import client

from controller import metrics, orphans
from controller.api.models import GROUP, PLURAL, VERSION
from controller.api.observed import OBSERVED_PLURAL
from controller.api.reasons import Reason
from controller.aws.clients import OUTAGE_REASONS, ModelReads
from controller.kube.client import KUBE_ERRORS, api_client, tenancy_readers
from controller.kube.events import EventRecorder
from controller.kube.status_store import ModelStatusStore
from controller.reconcile import Finalized, Outcome, Reconciler
from controller.reconcile.observe import observe
from controller.reconcile.validation import INLINE_GATE
from controller.runtime.heap import Trimmer
from controller.runtime.pass_runner import Ended, PassRunner
from controller.runtime.work_queue import Item, WorkQueue
from controller.settings import Settings
from controller.tenancy.view import TenancyView

FINALIZER = f"{GROUP}/finalizer"
POLL_LOG = logging.getLogger("bmo.poll")

#: the clock's resolution: a tick is at most this late (a running job's end is noticed within its poll + this)
TICK_SECONDS = 0.25


def clock_stopped(task: asyncio.Task) -> None:
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
        self.work = WorkQueue(settings.backoff_base_seconds, settings.backoff_cap_seconds)
        self._waits_said: dict[str, set[tuple[str, str]]] = {}  # uid -> the deletion waits already said
        self.observed = ModelStatusStore(settings, plural=OBSERVED_PLURAL)
        self.passes = PassRunner(
            self.reconciler, store or ModelStatusStore(settings), EventRecorder(settings).post
        )
        # every pass and finalizer's pass: ticks and wakes here, kopf's handlers through `registry.in_worker`
        self.executor = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="reconcile")
        self._clock: asyncio.Task | None = None
        self._observer: asyncio.Task | None = None
        self.reconciler.on_aws_back = self.wake_after_outage
        self._probed_at = 0.0
        self._probing: set[int] = set()  # ids of the clients a probe runs for
        self._refreshing: set[int] = set()  # ids of the clients whose running-jobs listing is being read

    # the pass runner's collaborators, replaceable (tests, the property test's World)
    @property
    def store(self) -> ModelStatusStore:
        return self.passes.store

    @store.setter
    def store(self, store: ModelStatusStore) -> None:
        self.passes.store = store

    @property
    def post_event(self) -> Callable[..., None]:
        return self.passes.post_event

    @post_event.setter
    def post_event(self, post: Callable[..., None]) -> None:
        self.passes.post_event = post

    # ---- one object's pass, under its lock ------------------------------------------------------
    def run_reconcile(self, body: kopf.Body, logger: logging.Logger, *, event: bool) -> None:
        meta = body.metadata
        uid = meta.uid
        if FINALIZER not in (meta.get("finalizers") or []) or meta.get("deletionTimestamp"):
            return  # kopf adds the finalizer first: nothing is created in AWS before it is there
        item = self.work.begin(uid, event=event)
        if item is None:
            return  # unknown (a tick for a forgotten object), or a pass of it runs: it sees the result
        try:
            event = event or item.dirty
            item.dirty = False
            if not event and self._tick_needs_no_pass(body, item):
                return  # decided on the cached body; the decision below is made on a fresh read
            began, held = self.reconciler.monotonic(), self.reconciler.queue.holds(uid)
            result = self.passes.run(
                uid,
                meta.namespace,
                meta.name,
                item.memory,
                event=event,
                after_each=lambda out: self._after(
                    item, out, logger, holds_slot=self.reconciler.queue.holds(uid)
                ),
            )
            if result.ended is not Ended.SKIPPED:
                metrics.PASS_DURATION.observe(self.reconciler.monotonic() - began)
            if held and not self.reconciler.queue.holds(uid):
                metrics.SLOTS_FREED.labels("pass").inc()
            if result.ended is Ended.UNREADABLE and result.error is not None:
                logger.warning(
                    f"retryable: {result.error.reason}: {result.error.message}; the next tick tries again"
                )
            elif result.ended is Ended.GONE:  # no place in line, no ticks, no quota counted
                self.gone(uid, meta.namespace)
        finally:
            if item.gone:  # deleted while this pass ran: its settle must not leave a place in line
                self.reconciler.queue.forget(uid)
                self.reconciler.job_watch.drop(uid)  # nor a job it followed
            self.work.done(item)
            if item.dirty and not item.gone:  # an edit or annotation came during this pass: its pass now
                self._wake(uid)
            self.wake_next_up(uid)

    def _tick_needs_no_pass(self, body: Any, item: Item) -> bool:
        """A tick (not an event) that needs no pass: backing off, or steady and its resync not due."""
        rec = self.reconciler
        return item.backing_off(rec.monotonic()) or (
            rec.is_steady(body) and not rec.resync_due(body, item.memory)
        )

    def _after(self, item: Item, out: Outcome, logger: logging.Logger, holds_slot: bool = False) -> None:
        metrics.RECONCILES.labels("retry" if out.retry_error else "ok").inc()
        if out.retry_error is None:
            self.work.forget(item)
            return
        item.outage = out.retry_error.reason in OUTAGE_REASONS
        # the region's one slot waits on a holder: it looks again at least every poll
        cap = self.settings.poll_seconds if holds_slot else None
        delay = self.work.add_rate_limited(
            item, self.reconciler.monotonic(), cap, floor=out.retry_error.retry_after
        )
        # a paced wait (retry_after: a source not uploaded yet) is expected, not a fault: info, not warning
        log = logger.info if out.retry_error.retry_after is not None else logger.warning
        log(f"retryable: {out.retry_error.reason}: {out.retry_error.message}; next try in {delay:.0f}s")

    # ---- the clock: every object's periodic pass ---------------------------------------------------
    async def tick_forever(self) -> None:
        """One loop for every object's ticks: every TICK_SECONDS, queue a pass for the objects whose tick is
        due and that need one. Started by kopf's startup, cancelled at its cleanup."""
        s = self.settings
        period = min(TICK_SECONDS, s.job_poll_seconds / 2, s.poll_seconds / 2)
        trimmer = Trimmer()
        while True:
            await asyncio.sleep(period)
            try:
                self.tick(self.reconciler.monotonic())
                self.probe_outages(self.reconciler.monotonic())
                trimmer.maybe()  # what a burst of passes freed goes back to the system (`heap`)
            except Exception:  # a defect: say it, and keep every other object ticking
                POLL_LOG.exception("the clock's tick failed")

    def tick(self, now: float) -> int:
        """Queue a pass for each object whose tick is due (first tick one interval after it was first seen,
        the fast interval while its import job runs) and that needs one. Runs on the event loop: decisions
        only, no I/O. Returns how many were queued."""
        queued = 0
        self.refresh_job_listings(now)
        for uid, item in self.work.snapshot():
            try:
                added = self.work.add(uid) if self._tick_due(uid, item, now) else None
                if added is not None:
                    queued += self._submit(uid, added, "tick")
            except Exception:  # one object's odd glance must not stop the others' ticks (nor flood the log)
                if item.last_tick != now:
                    POLL_LOG.exception(f"tick of {uid} failed")
                item.last_tick = now
        return queued

    def probe_outages(self, now: float) -> None:
        """Once a poll, one cheap call to each region (of each AWS identity) that stopped answering: the
        first answer wakes every object that backed off from the outage (`wake_after_outage`), so they are
        back within a poll of AWS, not at the end of a backoff that grew while it was away."""
        if now - self._probed_at < self.settings.poll_seconds:
            return
        self._probed_at = now
        for bedrock in self.reconciler.unreachable():
            # not while the last probe still waits for an answer (a hanging connection)
            self._in_worker_once(self._probing, bedrock, bedrock.probe)

    def wake_after_outage(self) -> None:
        """AWS answers again (a pass's call or a probe): whoever backed off from it tries now."""
        for uid in self.work.outage_over():
            if not self._wake(uid):
                return

    def _wake(self, uid: str) -> bool:
        """Queue a pass of a known object now (none if one is queued); False: shutting down."""
        item = self.work.add(uid)
        return item is None or self._submit(uid, item)

    def _in_worker_once(self, busy: set[int], client: Any, work: Callable[[], None]) -> None:
        """Run `work` for `client` in a worker, unless such work for it still runs (its id in `busy`)."""
        if id(client) in busy:
            return
        busy.add(id(client))

        def run() -> None:
            try:
                work()
            finally:
                busy.discard(id(client))

        try:
            self.executor.submit(contextvars.copy_context().run, run)
        except RuntimeError:  # shutting down
            busy.discard(id(client))

    def refresh_job_listings(self, now: float) -> None:
        """Each account and region's listing of running jobs that an object follows, listed again in a
        worker once a job poll old (a tenth early: the clock ticks in quarters of one); an object whose job
        it no longer shows running is woken at once (`JobWatch`): a job's end is noticed without a pass per
        running job per job poll.

        A listing a pass made (a pass asks for one at most half a job poll old) is handed over from at the
        next tick, without a call: with many objects' passes listing, the clock's own refresh was seldom
        due, and most freed slots waited for their ended objects' passes (bench/control_loop.py at 200
        slots: 187 of 200 hand-overs from the listing instead of 20, idle slot 0.7 s instead of 1.2 s)."""
        watch, job_poll = self.reconciler.job_watch, self.settings.job_poll_seconds
        for bedrock in watch.clients():
            age = bedrock.running_listing_age(now)
            if age is not None and age < 0.9 * job_poll:
                self._hand_over(watch.ended(bedrock, now, 2 * job_poll))  # decisions only: no call
                continue

            def refresh(client=bedrock) -> None:
                try:
                    client.refresh_running(0.9 * job_poll, self.reconciler.monotonic())
                    self._hand_over(watch.ended(client, self.reconciler.monotonic(), 2 * job_poll))
                except Exception:  # a defect: said; the followers' passes read their jobs meanwhile
                    POLL_LOG.exception(f"refreshing the running jobs of {client.region} failed")

            self._in_worker_once(self._refreshing, bedrock, refresh)

    def _hand_over(self, ended: list[str]) -> None:
        """Objects whose jobs a fresh listing no longer shows running: Bedrock counts only running jobs, so
        their slots go to the next in line at once, whose creates are queued first; then each is woken to
        record its end. (Its own pass used to free the slot: the next create waited for that pass, a second
        and more when 200 jobs ended together.) An object in the middle of a pass keeps its slot: that pass
        saw the listing before this refresh and its end decides. Should Bedrock still count the job, the
        create meets ServiceQuotaExceeded and waits in line (`ImportQueue.busy_outside`)."""
        freed = False
        for uid in ended:
            item = self.work.find(uid)
            if item is not None and not item.lock.locked() and self.reconciler.queue.release(uid):
                metrics.SLOTS_FREED.labels("listing").inc()
                freed = True
        if freed:
            self.wake_next_up("")
        for uid in ended:
            self._wake(uid)

    def _tick_due(self, uid: str, item: Item, now: float) -> bool:
        s = self.settings
        glance = item.glance
        if glance is None or not self.work.add_after_elapsed(item, now, s.poll_seconds, s.job_poll_seconds):
            return False
        watch = self.reconciler.job_watch
        if not item.dirty and watch.leaves_be(uid, now, 2 * s.job_poll_seconds, s.poll_seconds):
            return False  # the listing a worker refreshes shows its job running: nothing to notice yet
        # not when a pass runs (it sees what this tick would) or there is nothing to do: no thread
        return not item.lock.locked() and (item.dirty or not self._tick_needs_no_pass(glance.body, item))

    def _submit(self, uid: str, item: Item, queued_by: str = "wake") -> bool:
        item.queued_at, item.queued_by = self.reconciler.monotonic(), queued_by
        try:
            self.executor.submit(contextvars.copy_context().run, self.run_queued, uid, item)
        except RuntimeError:  # shutting down: the next start's passes place it
            item.queued = False
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
        item = self.work.add(owner) if owner else None
        return item is not None and self._submit(owner, item)

    def wake_next_up(self, after: str) -> None:
        """A pass may have freed a region's slot (its job ended, it was deleted or paused): the objects
        whose turn it now is run a pass at once instead of at their next poll, so the slot never idles.
        (A region whose create Bedrock refused is skipped until the next poll: ImportQueue.busy_outside.)"""
        for uid in self.reconciler.queue.next_up():
            if uid != after and not self._wake(uid):
                return
        # and a turn of the inline validator it freed goes to whoever waited for one first (the object of
        # this very pass too: it found the gate full, and its pass has ended)
        for uid in INLINE_GATE.next_up():
            if not self._wake(uid):
                return

    def run_queued(self, uid: str, item: Item) -> None:
        """A tick or a wake, in a worker: a pass on the object's glance (the pass reads it fresh)."""
        queued_at, queued_by = item.queued_at, item.queued_by  # before another `_submit` may set them
        item.queued = False
        metrics.QUEUE_WAIT.labels(queued_by).observe(max(0.0, self.reconciler.monotonic() - queued_at))
        glance = item.glance
        if glance is None:
            return
        log = _ObjectLog(POLL_LOG, {"object": glance.ref})
        try:
            self.run_reconcile(kopf.Body(glance.body), log, event=False)
        except Exception as exc:  # a defect (a future's exception is dropped): say it, back off like kopf
            delay = self.work.add_rate_limited(item, self.reconciler.monotonic())
            log.exception(f"a pass failed; next try in {delay:.0f}s")
            # the delay only in the log: one Event counted up per kind of failure, not one per backoff step
            message = (
                f"a pass failed unexpectedly ({type(exc).__name__}; the operator log has the details); "
                "retried with backoff"
            )
            try:
                self.passes.emit(glance.body, [("Warning", Reason.PASS_FAILED, message)], None)
            except Exception:
                log.exception("posting the PassFailed Event failed")

    # ---- deletion -------------------------------------------------------------------------------
    def finalize(self, body: kopf.Body) -> Finalized:
        """The finalizer's pass under the object's lock (its Events for the caller to post)."""
        uid = body.metadata.uid
        with self.work.get(uid).lock:
            held = self.reconciler.queue.holds(uid)
            try:
                return self.passes.finalize(body)
            finally:
                if held and not self.reconciler.queue.holds(uid):
                    metrics.SLOTS_FREED.labels("pass").inc()

    def finalize_and_emit(self, body: kopf.Body) -> Finalized:
        """The finalizer's pass and its Events (blocking: in a worker). A deletion that waits says why once
        per reason (a paused one, or one waiting for a job, is looked at every poll: not an Event each)."""
        result = self.finalize(body)
        uid = body.metadata.uid
        events = result.events
        if not result.done:
            said = self._waits_said.get(uid)
            self._waits_said[uid] = {(kind, reason) for kind, reason, _ in events}
            events = [e for e in events if said is None or (e[0], e[1]) not in said]
        self.passes.emit(body, events, body.status.get("revision"))
        return result

    def gone(self, uid: str, namespace: str | None = None) -> None:
        """The object is gone from the API (also without our finalizer: removed by hand, or a namespace
        force-deleted): it holds no place in the import queue and nothing is remembered for it. A pass
        still running for it sees `item.gone` when it ends and leaves the queue too. With its namespace (its
        DELETED event, or a pass that found it gone), its namespace's quota stops counting it."""
        self.work.remove(uid)
        self.reconciler.queue.forget(uid)
        self.reconciler.job_watch.drop(uid)
        self.reconciler.count(uid, None)
        INLINE_GATE.forget(uid)
        self._waits_said.pop(uid, None)
        if namespace is not None:
            self.tenancy.model_changed({"metadata": {"namespace": namespace, "uid": uid}}, deleted=True)

    # ---- observe-only models (BedrockObservedModel) --------------------------------------------------
    def observe(self, namespace: str, name: str) -> bool:
        """One look at an observed model, its status written over the read it was decided on (blocking: in
        a worker). Only reads reach Bedrock (`ModelReads`). False: it should be looked at again soon."""
        try:
            fresh = self.observed.read(namespace, name)
        except KUBE_ERRORS:
            return False
        if fresh is None:
            return True
        rec = self.reconciler

        def reader(region: str, role: str | None, ns: str) -> ModelReads:
            return ModelReads(rec.clients(region, (role, ns) if role else None).bedrock)

        result = observe(fresh, self.tenancy.decide_observation, reader, self.settings.region, rec.clock())
        patch = {
            "status": result.status,
            "metadata": {"resourceVersion": fresh["metadata"]["resourceVersion"]},
        }
        try:
            self.observed.write(namespace, name, patch)
        except KUBE_ERRORS:  # changed since the read (its own watch event looks again), or the API is away
            return False
        self.passes.emit(fresh, result.events, None)
        return result.retry_error is None

    def count_orphans(self) -> int:
        """`bmo_orphaned_models`: the operator's account's models no live object accounts for, by region and
        why (the `orphans` command, without CMUs and age). Only when this process watches every namespace: a
        shard cannot tell another shard's models from orphans. A team's own account: run `orphans` there."""
        if self.settings.namespaces:
            return 0
        rec = self.reconciler
        imported = [orphans.slim(body) for page in self.model_pages() for body in page]  # paged, slimmed
        regions = {self.settings.region} | {(b.get("status") or {}).get("region") or "" for b in imported}
        regions.discard("")
        found = orphans.scan(
            imported,
            [orphans.slim(body) for body in self.observed.items(None)],
            sorted(regions),
            lambda region: rec.clients(region, None).bedrock,
            self.settings.cluster_id or "",
            details=False,
        )
        for region in regions:
            for kind in orphans.KINDS:
                count = sum(1 for o in found if o.region == region and o.kind == kind)
                metrics.ORPHANED_MODELS.labels(region, kind).set(count)
        return len(found)

    async def observe_forever(self) -> None:
        """Every observed model looked at once per resync period (one LIST, then a look each in the pool);
        one that answered a transient error is looked at again after a poll. The orphan count, once per
        resync period too."""
        s = self.settings
        retry: set[tuple[str, str]] = set()
        elapsed = s.resync_seconds - s.poll_seconds  # the first full look (and orphan count) after a poll
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(s.poll_seconds)
            elapsed += s.poll_seconds
            try:
                if elapsed >= s.resync_seconds:
                    elapsed = 0.0
                    due = set(await loop.run_in_executor(self.executor, self.observed.names, s.namespaces))
                    try:
                        await loop.run_in_executor(self.executor, self.count_orphans)
                    except Exception:  # the count is a metric: it never stops the observed models' looks
                        POLL_LOG.exception("counting orphaned models failed")
                else:
                    due = retry
                looks = [
                    (
                        key,
                        loop.run_in_executor(
                            self.executor, contextvars.copy_context().run, self.observe, *key
                        ),
                    )
                    for key in sorted(due)
                ]
                retry = {key for key, look in looks if not await look}
            except Exception:  # a defect or the API away: say it, and keep observing
                POLL_LOG.exception("observing models failed")

    # ---- start-up -------------------------------------------------------------------------------
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
        from controller.runtime.registry import build_registry

        return build_registry(self)
