"""One level-based pass over one object: look at status and Bedrock, take the next step.

The order of a pass is the whole policy:
1. follow the import job this object started (Bedrock cannot stop one: it is always seen to its end, and
   its model is served or recorded for deletion);
2. delete the models it no longer serves;
3. if the model the spec asks for serves: check it against Bedrock (tags, deletion) and stop;
4. a revision that failed for good stays failed until what it depends on changes;
5. validate the artifacts; 6. wait for the region's slot; 7. write the intent to create the job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, NamedTuple

from pydantic import ValidationError

from controller import metrics
from controller.api.models import IN_FLIGHT, BedrockImportedModelSpec, BedrockImportedModelStatus
from controller.api.reasons import ALWAYS_PRESENT, ConditionType, Phase, Reason
from controller.aws.clients import BedrockClient, RegionClients, SupportClients
from controller.aws.session import assumed_session
from controller.errors import OperatorError
from controller.kube.client import KUBE_ERRORS, api_error
from controller.kube.exports import ConfigMapExports
from controller.kube.validation_jobs import ValidationJobs
from controller.naming import Identity
from controller.reconcile import (
    admission,
    deletion,
    exporting,
    failures,
    given_up,
    importing,
    serving,
    source_pin,
    validation,
)
from controller.reconcile.context import (
    Pass,
    View,
    parse_status,
    serving_note,
    shown,
    shown_reason,
    wanted_region,
)
from controller.reconcile.durations import RecentDurations
from controller.reconcile.import_queue import ImportQueue, arrival_order, line_key, shown_time, slot_of
from controller.reconcile.job_watch import JobWatch
from controller.reconcile.memory import Memory
from controller.reconcile.outcome import Outcome, QueueState
from controller.settings import Settings
from controller.tenancy.rules import Decision, Violation
from controller.tenancy.view import TenancyView

#: (settings, region, tenant) -> clients; tenant: None for the operator's own account, else (role, namespace)
Tenant = tuple[str, str] | None
ClientsFactory = Callable[[Settings, str, Tenant], tuple[BedrockClient, SupportClients]]


def tag_phase(uid: str, cadence: float) -> float:
    """How far into the tag cadence an object is when this process first looks at it, spread evenly by its
    uid: after a start (or a thousand imports that ended together) the fleet's tag reads come one by one
    over the cadence, not all at once every cadence (1,000 reads are 200 s of the 5/s limiter)."""
    return int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16) / 2**32 * cadence


class Seat(NamedTuple):
    region: str
    uid: str
    queued_at: str | None  # None: its job holds the region's slot


def _aws_clients(settings: Settings, region: str, tenant: Tenant) -> tuple[BedrockClient, SupportClients]:
    session = None
    if tenant is not None:
        session = assumed_session(settings, tenant[0], settings.cluster_id or "unset", tenant[1])
    return BedrockClient(settings, region, session), SupportClients(settings, region, session)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        *,
        clients: ClientsFactory = _aws_clients,
        jobs: ValidationJobs | None = None,
        exports: exporting.Exports | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        tenancy: TenancyView | None = None,
    ) -> None:
        self.settings = settings
        self.tenancy = tenancy or TenancyView(settings.import_policy_default)
        self.queue = ImportQueue(settings.import_slots, clock=monotonic, busy_for=settings.poll_seconds)
        self.phases = metrics.Tally(metrics.MODELS)
        #: called when AWS answers again after an outage (the operator wakes who backed off from it)
        self.on_aws_back: Callable[[], None] | None = None
        validation.INLINE_GATE.resize(settings.inline_validations)
        self.import_durations = RecentDurations()
        self.job_watch = JobWatch()
        self.superseded = metrics.Tally(metrics.SUPERSEDED_MODELS)
        self.jobs = jobs or ValidationJobs(settings)
        self.exports: exporting.Exports = exports or ConfigMapExports(settings)
        self._make_clients = clients
        self._clients: dict[tuple[str, Tenant], RegionClients] = {}
        self._lock = threading.Lock()
        self.clock = clock
        self.monotonic = monotonic
        self._paused_looks: dict[str, tuple[float, bool]] = {}  # uid -> (when, its job still ran)

    def seat(self, body: dict[str, Any]) -> Seat | None:
        """Where the object stood in the import queue as its status says: the region whose slot its job
        holds (queued_at None), or the region and time it waits since; None when it is in neither."""
        v = View.of(body)
        stopped = bool(body.get("metadata", {}).get("deletionTimestamp")) or v.paused
        try:
            st = parse_status(v.status)
            job = st.import_job
            if job is not None and job.in_flight:  # its job runs: the slot is taken, paused or not
                return Seat(slot_of(job.region, st.account_role_arn), v.uid, None)
            if stopped or not st.queued_at:
                return None
            spec = BedrockImportedModelSpec.model_validate(v.spec)
            line = slot_of(wanted_region(spec, st, self.settings.region), st.account_role_arn)
            return Seat(line, v.uid, line_key(st.queued_at, st.queued_order))
        except (ValidationError, KeyError, TypeError):
            return None  # its own pass says what is wrong with it

    def seed_queue(self, seats: Iterable[Seat | None]) -> int:
        """Rebuild the import queue from the objects' status before the first pass (a restart, a standby
        taking over): who holds each region's slot and who waits since when are persisted there. Without
        this, the first object the new process happens to reconcile would find the line empty and start
        ahead of those queued before it. Returns how many objects were placed."""
        placed = 0
        for seat in seats:
            if seat is None:
                continue
            if seat.queued_at is None:
                self.queue.hold(seat.region, seat.uid)
            else:
                self.queue.enqueue(seat.region, seat.uid, seat.queued_at)
            placed += 1
        return placed

    def clients(self, region: str, tenant: Tenant = None) -> RegionClients:
        with self._lock:
            if (region, tenant) not in self._clients:
                made = RegionClients(*self._make_clients(self.settings, region, tenant))
                made.bedrock.on_recovered = self._aws_back
                self._clients[region, tenant] = made
            return self._clients[region, tenant]

    def _aws_back(self) -> None:
        if self.on_aws_back is not None:
            self.on_aws_back()

    def unreachable(self) -> list[BedrockClient]:
        """The Bedrock clients whose last call went unanswered (or answered 5xx)."""
        with self._lock:
            made = list(self._clients.values())
        return [c.bedrock for c in made if getattr(c.bedrock, "unreachable_since", None) is not None]

    def _clients_for(self, namespace: str, role: str | None) -> Callable[[str], RegionClients]:
        tenant = (role, namespace) if role else None
        return lambda region: self.clients(region, tenant)

    def identity(self, view: View) -> Identity:
        s = self.settings
        return Identity(s.cluster_id or "unset", s.readable_cluster_name, view.namespace, view.name, view.uid)

    # ---- cheap checks on a cached body (no API call) -------------------------------------------
    def is_steady(self, body: dict[str, Any]) -> bool:
        """Nothing in flight: only a resync (or an event) needs a look at Bedrock."""
        v = View.of(body)
        st = v.status
        job = st.get("importJob") or {}
        return (
            st.get("phase") in (Phase.READY, Phase.FAILED)
            and st.get("observedGeneration") == v.generation
            and job.get("state") not in IN_FLIGHT
            and not st.get("superseded")
            and not st.get("modelMissingSince")
        )

    def resync_due(self, body: dict[str, Any], memory: Memory) -> bool:
        return self._due(View.of(body).generation, memory)

    def _due(self, generation: int, memory: Memory) -> bool:
        last = memory.last_sync
        if last is None or last[1] != generation:
            return True
        return self.monotonic() - last[0] >= self.settings.resync_seconds

    # ---- the pass ----------------------------------------------------------------------------------
    def reconcile(self, body: dict[str, Any], memory: Memory | None = None, event: bool = True) -> Outcome:
        out = self._reconcile(body, memory, event)
        self.count(View.of(body).uid, out.status)
        return out

    def _reconcile(self, body: dict[str, Any], memory: Memory | None, event: bool) -> Outcome:
        memory = memory or Memory()
        v = View.of(body)
        st = parse_status(v.status)
        applied, seen = st.observed_generation == v.generation, st.observed_generation
        st.observed_generation = v.generation
        was_paused = shown(st, ConditionType.PAUSED) == "True"
        if not v.paused:
            self._paused_looks.pop(v.uid, None)
        if v.paused:
            out = Outcome(status=st)
            if not was_paused:
                out.event(
                    "Normal",
                    Reason.RECONCILE_PAUSED,
                    "annotation bedrock.modelops.io/paused=true: the operator leaves this model alone "
                    "(deletion included) until it is removed",
                )
            out.condition(
                ConditionType.PAUSED,
                "True",
                Reason.RECONCILE_PAUSED,
                "annotation bedrock.modelops.io/paused=true: the operator leaves this model alone",
            )
            for ctype in ALWAYS_PRESENT:  # paused before its first pass, or mid-way: not "working on it"
                if shown_reason(st, ctype) in (None, Reason.RECONCILING):
                    out.condition(
                        ctype,
                        "Unknown",
                        Reason.RECONCILE_PAUSED,
                        "paused: nothing is done until the annotation goes",
                    )
            if not applied:  # an edit made while paused is not in effect: Ready must not say it is
                out.condition(
                    ConditionType.READY,
                    "Unknown",
                    Reason.RECONCILE_PAUSED,
                    f"paused: generation {v.generation} of the spec applies when the annotation is removed",
                )
                out.condition(  # nor may Validated speak of the files of a spec that is no longer asked for
                    ConditionType.VALIDATED,
                    "Unknown",
                    Reason.RECONCILE_PAUSED,
                    f"paused: generation {v.generation} is validated when the annotation is removed",
                )
                st.phase = Phase.PAUSED
            # its job still takes the slot while it runs; once it ended, the slot is the next object's (the
            # paused object follows its job when the annotation goes; a look is not a change)
            if self._paused_job_runs(v, st):
                self.queue.hold(slot_of(st.import_job.region, st.account_role_arn), v.uid)  # type: ignore[union-attr]
            else:
                self.queue.forget(v.uid)
            return out
        try:
            spec = BedrockImportedModelSpec.model_validate(v.spec)
        except ValidationError as exc:
            out = Outcome(status=st)
            msg = "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            out.condition(
                ConditionType.VALIDATED, "False", Reason.INVALID_SPEC, f"the spec is invalid: {msg}"
            )
            # admitted, yet invalid here (a rule CEL cannot express, a CRD older than the operator): what
            # the object already runs or serves stays its own and in status, and a running job its slot
            job, ready = st.import_job, f"the spec is invalid: {msg}"
            if job is not None and self._paused_job_runs(v, st):  # asked of Bedrock at most once a poll
                self.queue.hold(slot_of(job.region, st.account_role_arn), v.uid)
                ready += f"; import job {job.job_name} runs on and is followed once the spec is fixed"
            else:
                self.queue.forget(v.uid)
            if st.model_arn:
                ready += f"; {serving_note(st)}"
            out.condition(ConditionType.READY, "False", Reason.INVALID_SPEC, ready)
            out.condition(  # not "Bedrock serves what the spec asks for": this spec cannot be asked for
                ConditionType.SYNCED,
                "False",
                Reason.INVALID_SPEC,
                "nothing is sent to Bedrock for an invalid spec",
            )
            if shown(st, ConditionType.IMPORTED) is None:  # not "working on it"
                out.condition(
                    ConditionType.IMPORTED, "False", Reason.INVALID_SPEC, "no import job was started"
                )
            st.phase = Phase.FAILED
            return out
        try:
            decision = self._decide(v, spec, st)
        except KUBE_ERRORS as exc:  # policies or labels could not be read: decide nothing, try again
            if not applied:  # nothing was decided for this generation: status must not say it was
                st.observed_generation = seen
            out = Outcome(status=st)
            out.retry_error = api_error(exc, "reading BedrockImportPolicies")
            failures.show_retrying(out, out.retry_error)
            return out
        if not _owns(st):
            st.account_role_arn = decision.account_role  # pinned while the object owns anything
        clients = self._clients_for(v.namespace, st.account_role_arn)
        p = Pass.build(v, self.identity(v), spec, st, self.settings.region, clients, self.clock())
        p.decision = decision
        p.price_per_cmu_minute = self.settings.price_per_cmu_minute
        p.import_durations = self.import_durations
        # a running job's end is noticed within a job poll: the listing is at most half of one old
        p.job_listing = (self.settings.job_poll_seconds / 2, self.monotonic())
        p.job_watch = self.job_watch
        p.memory = memory
        if st.region is None or not p.serving:
            st.region = p.region  # pinned: a later change of the operator's default does not move it
        admission.show(p, decision)
        if was_paused:
            p.out.condition(ConditionType.PAUSED, "False", Reason.RECONCILE_RESUMED, "reconciliation resumed")
            p.out.event("Normal", Reason.RECONCILE_RESUMED, "the pause annotation is gone: reconciling again")
        try:
            self._steps(p, memory, event, decision)
        except OperatorError as err:
            failures.handle_error(p, err)
        except KUBE_ERRORS as exc:  # the Kubernetes API (validation Jobs) failed: try again
            failures.handle_error(p, api_error(exc, "on validation Jobs"))
        exporting.publish(p, self.exports, event)  # the ARN the apps read, once the spec's model serves
        st.architecture = spec.architecture or (st.validation.architecture if st.validation else None)
        failures.show_synced(p)
        self._settle_queue(p)
        return p.out

    def count(self, uid: str, st: BedrockImportedModelStatus | None) -> None:
        """The fleet's gauges after a pass of one object (None: it is gone): `bmo_models` by phase, and
        `bmo_superseded_models`, what it still has to delete, by region and whether its last delete failed."""
        if st is None:
            self.phases.forget(uid)
            self.superseded.forget(uid)
            return
        self.phases.set(uid, {(str(st.phase),): 1} if st.phase else {})
        counts: dict[tuple[str, ...], int] = {}
        for old in st.superseded or []:
            labels = (old.region, "true" if old.last_error else "false")
            counts[labels] = counts.get(labels, 0) + 1
        self.superseded.set(uid, counts)

    def _paused_job_runs(self, v: View, st: BedrockImportedModelStatus) -> bool:
        """`_job_runs` for an object no pass follows (paused, or being deleted), asked at most once a poll (a
        paused object with a job is ticked at the job poll's pace)."""
        rec = st.import_job
        if rec is None or not rec.in_flight:
            self._paused_looks.pop(v.uid, None)
            return False
        now = self.monotonic()
        looked = self._paused_looks.get(v.uid)
        if looked is None or now - looked[0] >= self.settings.poll_seconds:
            looked = self._paused_looks[v.uid] = (now, self._job_runs(v, st))
        return looked[1]

    def _settle_deleting(self, v: View, st: BedrockImportedModelStatus) -> None:
        """A deletion that waits (a delete Bedrock refuses, a pause) holds no slot once its job ended."""
        if self._paused_job_runs(v, st):
            self.queue.hold(slot_of(st.import_job.region, st.account_role_arn), v.uid)  # type: ignore[union-attr]
        else:
            self.queue.forget(v.uid)

    def _job_runs(self, v: View, st: BedrockImportedModelStatus) -> bool:
        """Whether the object's import job may still run in Bedrock (asked when no pass follows it: paused,
        or being deleted). A create not shown yet, or a Bedrock that cannot be asked, counts as running."""
        rec = st.import_job
        if rec is None or not rec.in_flight:
            return False
        try:
            job = self._clients_for(v.namespace, st.account_role_arn)(rec.region)[0].find_job(rec.job_name)
        except OperatorError:
            return True
        return job is None or job.status == "InProgress"

    def _decide(self, v: View, spec: BedrockImportedModelSpec, st: BedrockImportedModelStatus) -> Decision:
        """What the namespace's policies make of the spec (and of where its models already live)."""
        mode = validation.mode_of(spec, self.settings)
        decision = self.tenancy.decide(v.namespace, spec, mode, wanted_region(spec, st, self.settings.region))
        if _owns(st) and (st.account_role_arn or None) != decision.account_role:
            moved = Violation(
                Reason.ACCOUNT_CHANGED,
                "metadata.namespace",
                f"this object's models live in the account of {st.account_role_arn or 'the operator'}, "
                f"but its policy now names {decision.account_role or 'the operator account'}: nothing new "
                "is imported "
                "there; delete and re-create the object to move it",
            )
            decision = replace(decision, violations=(*decision.violations, moved))
        return decision

    def _steps(self, p: Pass, memory: Memory, event: bool, decision: Decision) -> None:
        grace = self.settings.model_missing_grace_seconds
        running = importing.follow(
            p, grace, self.settings.iam_propagation_seconds, self.settings.smoke_test_default_prompt
        )
        if p.st.given_up_creates and given_up.look(p, grace):  # a late model is written before it is deleted
            p.out.defer_retire = p.out.again = True
        if not p.out.defer_retire:  # the promotion is written first; the next pass (again) retires
            serving.retire_superseded(p, grace)
        if p.up_to_date:
            if p.st.failure is not None:  # reverted to the serving revision: that failure is history
                if p.st.failure.condition == ConditionType.SMOKE_TESTED:
                    p.out.condition(
                        ConditionType.SMOKE_TESTED,
                        "True",
                        Reason.SMOKE_TEST_NOT_REQUESTED,
                        f"revision {p.rev[:8]} serves; the failed smoke test was of another revision",
                    )
                if p.st.failure.condition == ConditionType.VALIDATED:
                    p.out.condition(
                        ConditionType.VALIDATED,
                        "True",
                        Reason.ARTIFACTS_IMPORTABLE,
                        f"revision {p.rev[:8]} serves; its artifacts were validated before it was imported",
                    )
                p.st.failure, p.st.failure_message = None, None
            elif shown(p.st, ConditionType.VALIDATED) not in (None, "True"):
                self._reverted_while_validating(p)
            if p.out.model_checked:
                memory.last_sync = (self.monotonic(), p.view.generation)
                return
            if not (event or self._due(p.view.generation, memory)) and p.st.model_missing_since is None:
                serving.ready(p)
                return
            user_edit = memory.last_sync is not None and memory.last_sync[1] != p.view.generation
            now = self.monotonic()
            if memory.last_tag_check is None:  # first look in this process: a place in the tag cadence
                memory.last_tag_check = now - tag_phase(p.view.uid, self.settings.tag_check_seconds)
            tags_due = event or now - memory.last_tag_check >= self.settings.tag_check_seconds
            # one listing serves the fleet's resync period (and never more often than the poll)
            list_age = max(self.settings.resync_seconds / 2, self.settings.poll_seconds)
            if serving.check_drift(
                p, grace, user_edit, exact=event, check_tags=tags_due, list_age=list_age, now=now
            ):
                folder = p.spec.source.s3_uri or p.st.resolved_s3_uri
                if tags_due and folder:  # on the tag cadence: is the folder still what was imported?
                    source_pin.check_serving(p, folder)
                if p.st.model_missing_since is None:
                    memory.last_sync = (now, p.view.generation)
                    if tags_due:
                        memory.last_tag_check = now
                return
            memory.last_sync = None  # gone: imported again below
        if running:
            return
        if failures.still_failed(p):
            failures.show(p)
            return
        if not admission.may_import(
            p, decision, self.tenancy.members(p.view.namespace), validation.source_uri
        ):
            return
        # join the line before validating, so objects that validate faster cannot overtake
        if not p.st.queued_at:
            p.st.queued_at = shown_time(memory.arrival) or p.now_rfc3339()
            p.st.queued_order = arrival_order(memory.arrival, p.st.queued_at)
        if not validation.validated(p, self.settings, self.jobs):
            return
        if not admission.may_start(p, decision):
            return
        if self.queue.may_start(slot_of(p.region, p.st.account_role_arn), p.view.uid):
            changed = source_pin.as_validated(p, validation.source_uri(p))
            if changed is not None:  # validated again first; its place in line is kept meanwhile
                validation.revalidate(p, self.settings, self.jobs, changed)
                return
        importing.start(p, self.queue, memory.arrival)

    def _reverted_while_validating(self, p: Pass) -> None:
        """The spec went back to the serving revision while another was being validated: that validation
        (and its Job) is moot, and Validated speaks of what serves again."""
        skipped = validation.mode_of(p.spec, self.settings) == "Skip"
        if not skipped:
            self.jobs.delete_for_owner(p.view.namespace, p.view.uid)
        p.out.condition(
            ConditionType.VALIDATED,
            "True",
            Reason.VALIDATION_SKIPPED if skipped else Reason.ARTIFACTS_IMPORTABLE,
            f"revision {p.rev[:8]} serves; "
            + (
                "spec.validation.mode is Skip"
                if skipped
                else "its artifacts were validated before it was imported"
            ),
        )

    def _settle_queue(self, p: Pass) -> None:
        """Where the object stands in the import queue after this pass: one call, every path."""
        q, uid = p.out.queue, p.view.uid
        self.queue.name(uid, f"{p.view.namespace}/{p.view.name}")
        job = p.st.import_job
        if job is not None and job.in_flight:
            q = QueueState(
                slot_of(job.region, p.st.account_role_arn), holding=True
            )  # its job runs, or its create may have reached Bedrock
        elif q is not None and (p.out.retry_error is not None or p.st.failure is not None):
            q = None  # a head of line that cannot start must not block the objects behind it
        if q is None:
            self.queue.forget(uid)
        elif q.holding:
            self.queue.hold(q.region, uid)
        else:
            self.queue.enqueue(q.region, uid, q.queued_at or p.now_rfc3339())
            if q.busy_outside:
                self.queue.busy_outside(q.region)
        for region in self.queue.regions():
            metrics.QUEUE_LENGTH.labels(region).set(self.queue.length(region))

    # ---- deletion ----------------------------------------------------------------------------------
    def finalize(self, body: dict[str, Any]) -> deletion.Finalized:
        """Delete (or retain) what the object owns. Not done = try again later."""
        v = View.of(body)
        st = parse_status(v.status)
        owns = bool(st.model_arn or st.superseded or st.import_job)
        try:
            spec = BedrockImportedModelSpec.model_validate(v.spec)
        except ValidationError:
            if not owns:
                return deletion.Finalized(done=True)
            spec = BedrockImportedModelSpec.model_validate(
                {
                    "source": {"s3Uri": "s3://unknown/unknown/"},
                    "serviceRole": {"create": True},
                    "deletionPolicy": "Retain" if v.spec.get("deletionPolicy") == "Retain" else "Delete",
                }
            )
        clients = self._clients_for(v.namespace, st.account_role_arn)
        p = Pass.build(v, self.identity(v), spec, st, self.settings.region, clients, self.clock())
        try:
            result = deletion.finalize(p, self.settings.model_missing_grace_seconds)
        except OperatorError:
            self._settle_deleting(v, st)
            raise
        if not result.done:
            self._settle_deleting(v, st)
            self.count(v.uid, p.st)
            return result
        self.queue.forget(v.uid)
        self._paused_looks.pop(v.uid, None)
        # a role may have been made at an import's start whose status write was lost: deleted whatever the
        # spec and status say now (NoSuchEntity is success)
        if True:
            p.support.delete_role(p.support.role_name(p.me))
        if (spec.validation and spec.validation.mode == "Job") or self.settings.validation_mode == "Job":
            self.jobs.delete_for_owner(v.namespace, v.uid)
        return result


def _owns(st: BedrockImportedModelStatus) -> bool:
    """Whether the object may own a model, a job or a role it had created in the account it is pinned to
    (a created role outlives a failed job: it is deleted with the object, in that account)."""
    created_role = bool(st.service_role_arn and "/bmo-import-" in st.service_role_arn)
    return bool(
        st.model_arn or st.superseded or created_role or (st.import_job and st.import_job.state != "Failed")
    )
