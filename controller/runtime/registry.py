"""kopf's registry for an `Operator`, and nothing else: which watch feeds which part of the operator.

A pass and a finalizer's pass (blocking I/O) run in the operator's worker pool through one hand-off,
`in_worker`. Not kopf's own executor for sync handlers: kopf shields those from cancellation, so at a
SIGTERM every call queued behind the busy workers would still run, and kopf would wait for them all (after a
restart's resume passes, minutes: past the pod's grace period, and the Lease would not be handed over). A
call not started yet is dropped here instead; the next process does it. The watch-event handlers are async
on purpose: a few dictionary operations each, in watch order, on the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import kopf

from controller.api.models import GROUP, PLURAL, VERSION
from controller.api.observed import OBSERVED_PLURAL
from controller.api.policy import POLICY_PLURAL
from controller.api.reasons import Phase
from controller.kube.client import KUBE_ERRORS, api_error
from controller.kube.validation_jobs import LABEL_MANAGED, MANAGED_BY
from controller.logs import DELETION_WAIT
from controller.runtime.operator import FINALIZER, clock_stopped
from controller.runtime.work_queue import Glance

if TYPE_CHECKING:
    from controller.runtime.operator import Operator

T = TypeVar("T")

#: kopf's own annotations live under this prefix. Not `bedrock.modelops.io/`: kopf leaves annotations
#: under its storage prefix out of its diff, so `paused` and `retry` never fired an update.
KOPF_PREFIX = f"kopf.{GROUP}"


async def in_worker(op: Operator, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn` in the operator's worker pool, with kopf's context (its per-object logger); cancelled (kopf
    stopping) before a worker took it, it never runs."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(op.executor, call)


def build_registry(op: Operator) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    s = op.settings

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
        settings.execution.max_workers = s.max_workers  # kopf's own pool (login); passes use op.executor
        settings.posting.level = logging.WARNING  # our own Events say what happened; kopf's would be noise
        settings.watching.server_timeout = 300
        settings.networking.error_backoffs = [1, 2, 5, 10]

    @kopf.on.startup(registry=registry)
    def seed_queue(logger: logging.Logger, **_: Any) -> None:
        # before any object's first pass: the line as the previous process (or leader) left it. Paged,
        # and only seats and glances kept: 1,000 whole bodies at once were ~50 MiB at start-up.
        rec = op.reconciler
        seats, seen = [], []
        try:
            for page in op.model_pages():
                seats += [rec.seat(body) for body in page]
                seen += [(body.get("metadata", {}).get("uid", ""), Glance.of(body)) for body in page]
        except KUBE_ERRORS as exc:  # each object's own first pass places it (as before the seeding)
            logger.warning(
                f"import queue not rebuilt from status: {api_error(exc, 'listing models').message}"
            )
            return
        placed = rec.seed_queue(seats)
        for uid, glance in seen:  # so that its turn can wake it before its own first pass
            op.work.observe(uid, glance)
        logger.info("import queue rebuilt from status: %d objects in line or holding a slot", placed)

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec", registry=registry)
    @kopf.on.update(GROUP, VERSION, PLURAL, field="metadata.annotations", registry=registry)
    async def on_change(body: kopf.Body, logger: logging.Logger, reason: kopf.Reason, **_: Any) -> None:
        # The operator's start (a restart, a failover) is no event on the object: a Ready model is looked
        # up in the region's listing, not read by ARN with its tags (2 calls each: at the shipped 5/s,
        # 1,000 models kept every worker, and the import queue behind them, busy for minutes).
        # The object's arrival and glance are noted by `on_watch_event`, which kopf runs first.
        await in_worker(op, op.run_reconcile, body, logger, event=reason != kopf.Reason.RESUME)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    async def on_delete(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        result = await in_worker(op, op.finalize_and_emit, body)
        if not result.done:
            patch.status["phase"] = str(Phase.DELETING)
            raise kopf.TemporaryError(DELETION_WAIT, delay=s.poll_seconds)  # logged by us, not by kopf
        op.gone(body.metadata.uid)

    @kopf.on.resume(GROUP, VERSION, OBSERVED_PLURAL, registry=registry)
    @kopf.on.create(GROUP, VERSION, OBSERVED_PLURAL, registry=registry)
    @kopf.on.update(GROUP, VERSION, OBSERVED_PLURAL, field="spec", registry=registry)
    async def on_observed(body: kopf.Body, **_: Any) -> None:
        # no delete handler, so kopf puts no finalizer on it: deleting it leaves the model as it is
        await in_worker(op, op.observe, body.metadata.namespace, body.metadata.name)

    @kopf.on.startup(registry=registry)
    async def start_observing(**_: Any) -> None:
        op._observer = asyncio.get_running_loop().create_task(op.observe_forever(), name="bmo-observe")

    @kopf.on.startup(registry=registry)
    async def start_clock(**_: Any) -> None:
        # one task for every object's ticks, not a kopf timer (a task and two bodies) each
        op._clock = asyncio.get_running_loop().create_task(op.tick_forever(), name="bmo-ticks")
        op._clock.add_done_callback(clock_stopped)

    @kopf.on.cleanup(registry=registry)
    async def stop_clock(**_: Any) -> None:
        for task in (op._clock, op._observer):
            if task is not None:
                task.cancel()

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def on_watch_event(type: str | None, uid: str, body: kopf.Body, **_: Any) -> None:
        # kopf runs it before the change handlers of the same event, on the event loop, in watch order:
        # the import queue's tie-break (arrival) is fixed here, and the glance the clock decides on is
        # kept current.
        if type == "DELETED":
            op.gone(uid, body.metadata.namespace)
            return
        op.tenancy.model_changed(dict(body))
        op.work.note_arrival(uid, body.metadata.get("creationTimestamp") or "")
        op.work.observe(uid, Glance.of(body))

    @kopf.on.event(GROUP, VERSION, POLICY_PLURAL, registry=registry)
    async def on_policy_event(type: str | None, body: kopf.Body, **_: Any) -> None:
        """A policy changed: every object is looked at again at its next tick (a tightened policy
        stops what has not started; a loosened one lets a blocked model go)."""
        op.tenancy.policy_changed(dict(body), deleted=type == "DELETED")
        if type is not None:  # not the initial listing
            op.work.add_all()

    @kopf.on.event("", "v1", "namespaces", registry=registry)
    async def on_namespace_event(type: str | None, name: str, body: kopf.Body, **_: Any) -> None:
        before = op.tenancy.version
        labels = None if type == "DELETED" else dict(body.metadata.get("labels") or {})
        op.tenancy.namespace_changed(name, labels)
        if type is not None and op.tenancy.version != before:
            op.work.add_all()

    @kopf.on.event("batch", "v1", "jobs", labels={LABEL_MANAGED: MANAGED_BY}, registry=registry)
    async def on_validation_progress(body: kopf.Body, **_: Any) -> None:
        """A validation Job changed: its owner's pass runs now (watched, not polled). Pods are not
        watched (a cluster-wide pod watch is costly); a pod stuck before it runs is seen at the next
        poll."""
        op.wake_owner_of(dict(body))

    return registry
