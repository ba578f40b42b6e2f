"""One pass of one object: read it fresh, let the reconciler decide, write the status over the read it was
decided on, post the Events; and the finalizer's pass. The work queue (`work_queue`) decides when; this
decides nothing about Bedrock (the reconciler does) and returns a `PassResult` the queue acts on.

Blocking I/O: called in a worker thread, one pass of an object at a time (the queue's lock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from controller import logs
from controller.errors import OperatorError
from controller.kube.client import KUBE_ERRORS, api_error
from controller.kube.status_store import ModelStatusStore, changes_nothing, status_patch
from controller.reconcile import Finalized, Outcome, Reconciler
from controller.reconcile.memory import Memory

STATUS_LOG = logging.getLogger("bmo.status")

#: Passes run back to back at most this often when a pass asks for another (write-ahead of a create).
MAX_PASSES = 3


class Ended(Enum):
    SKIPPED = "skipped"  # nothing to do: steady and no resync due, or being deleted
    DONE = "done"  # decided and written; `outcome` says whether to retry
    GONE = "gone"  # the object is no longer in the API (or is another object of the same name)
    UNREADABLE = "unreadable"  # the object could not be read: the next tick tries again


@dataclass
class PassResult:
    ended: Ended
    outcome: Outcome | None = None
    error: OperatorError | None = None

    @property
    def retry_error(self) -> OperatorError | None:
        return self.outcome.retry_error if self.outcome is not None else None


class PassRunner:
    def __init__(
        self,
        reconciler: Reconciler,
        store: ModelStatusStore,
        post_event: Callable[..., None],
    ) -> None:
        self.reconciler = reconciler
        self.store = store
        # (body, type=, reason=, message=): aggregated Events from `bedrock-model-operator`; replaceable
        self.post_event = post_event

    def run(
        self,
        uid: str,
        namespace: str,
        name: str,
        memory: Memory,
        *,
        event: bool,
        after_each: Callable[[Outcome], None],
    ) -> PassResult:
        """Up to MAX_PASSES passes back to back while a pass asks for another (`Outcome.again`): each from a
        fresh read, its status written (and `after_each` told) before the next."""
        rec = self.reconciler
        result = PassResult(Ended.SKIPPED)
        for _ in range(MAX_PASSES):
            try:
                fresh = self.store.read(namespace, name)
            except KUBE_ERRORS as exc:
                return PassResult(Ended.UNREADABLE, error=api_error(exc, "reading the model"))
            if fresh is None or fresh.get("metadata", {}).get("uid") != uid:
                return PassResult(Ended.GONE)  # also when its DELETED event never comes
            if fresh["metadata"].get("deletionTimestamp"):
                return result
            if not event and rec.is_steady(fresh) and not rec.resync_due(fresh, memory):
                return result
            out = rec.reconcile(fresh, memory, event)
            self.write(fresh, out)
            after_each(out)
            result = PassResult(Ended.DONE, out)
            if not out.again or out.retry_error is not None:
                return result
        return result

    def write(self, fresh: dict[str, Any], out: Outcome) -> None:
        """The outcome's status, over the resourceVersion it was decided on, and its Events. A conflict
        (409) decides again from a new read (`out.again`), unless only metadata moved meanwhile."""
        meta = fresh["metadata"]
        patch = status_patch(out, fresh.get("status") or {}, meta.get("generation"))
        revision = out.status.revision or (out.status.import_job.revision if out.status.import_job else None)
        if changes_nothing(fresh.get("status") or {}, patch):
            self.emit(fresh, out.events, revision)
            return
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
        self.emit(fresh, out.events, revision)

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

    def emit(self, body: Any, events: list[tuple[str, str, str]], revision: str | None) -> None:
        """Each Event to the API (blocking HTTP: call it in a worker thread) and as a log line."""
        meta = body["metadata"]
        for kind, reason, message in events:
            self.post_event(body, type=kind, reason=reason, message=message)
            logs.log_event(meta.get("namespace"), meta.get("name"), revision, kind, reason, message)

    def finalize(self, body: Any) -> Finalized:
        """The finalizer's pass. Not done: kopf calls again after the poll period; deleting is always
        retried, never abandoned."""
        meta = body["metadata"]
        try:
            # fresh: a pass that ended after the deletion event may have just written a new model ARN
            fresh = self.store.read(meta["namespace"], meta["name"])
            if fresh is None or fresh.get("metadata", {}).get("uid") != meta.get("uid"):
                fresh = dict(body)
            return self.reconciler.finalize(fresh)
        except KUBE_ERRORS as exc:
            err: OperatorError = api_error(exc, "while deleting")
        except OperatorError as exc:
            err = exc
        return Finalized(done=False, events=[("Warning", err.reason, f"deleting: {err.message}; retrying")])
