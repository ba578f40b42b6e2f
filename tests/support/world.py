"""A whole world in one process for invariant tests: one AWS account (the local Bedrock's state, with a
clock the test drives), any number of clusters each running the real `Operator` pass logic
(`run_reconcile`, `finalize`) against an in-memory object store, and a record of every call that deletes
or retags a model, made by whom."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import kopf
from botocore.exceptions import ClientError, ReadTimeoutError
from kubernetes.client.exceptions import ApiException

from bmo_devtools.emulator.protocol import ApiError
from bmo_devtools.emulator.state import BedrockState, ImportOutcome
from controller.artifacts import S3Folder, validate_source
from controller.artifacts.verdict import Verdict
from controller.aws.clients import classify
from controller.kube.validation_jobs import JobResult
from controller.kube.validation_jobs import job_name as validation_job_name
from controller.naming import (
    OWNER_KEYS,
    TAG_CLUSTER_ID,
    TAG_RETAINED_BY_CLUSTER,
    TAG_RETAINED_FROM,
    TAG_UID,
    released,
)
from controller.reconcile import Reconciler
from controller.runtime.operator import FINALIZER, Operator
from controller.runtime.work_queue import Glance
from controller.settings import Settings
from controller.tenancy.view import TenancyView
from tests.support.inprocess_bedrock import FakeS3, FakeSupport, InProcessBedrock, client_error

if TYPE_CHECKING:
    import pytest

LOG = logging.getLogger("world")
#: wall time of every pass (and finalizer call) any World ran in this process: `bench/hostile_passes.py`
PASS_SECONDS: list[float] = []
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MUTATING = ("DeleteImportedModel", "TagResource", "UntagResource")
#: the only calls an observe-only object (BedrockObservedModel) may make
OBSERVER_READS = ("GetImportedModel", "ListTagsForResource")
OPERATOR_ACCOUNT = "123456789012"
TENANT_ACCOUNT = "222222222222"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def mono(self) -> float:
        return self.t

    def now(self) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=self.t)


class Store:
    """Plays the apiserver for one cluster: objects by (namespace, name); status writes are merge patches."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.failing_writes = 0  # the next N status writes fail (the apiserver answers 500)
        #: a write this says yes to fails (once): a crash or an apiserver error right after an AWS call
        self.fail_write_if: Callable[[dict[str, Any]], bool] | None = None
        #: runs after every status write that landed (the world changing between two passes of one visit)
        self.after_write: list[Callable[[dict[str, Any]], None]] = []
        #: runs before every read (a pass's fresh read: the moment its object's lock is held)
        self.before_read: list[Callable[[], None]] = []

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        for hook in self.before_read:
            hook()
        body = self.objects.get((namespace, name))
        return copy.deepcopy(body) if body is not None else None

    def items(self, namespaces: list[str] | None) -> list[dict[str, Any]]:
        return [copy.deepcopy(b) for (ns, _), b in self.objects.items() if not namespaces or ns in namespaces]

    def write(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        body = self.objects.get((namespace, name))
        if body is None:
            return
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != body["metadata"].get("resourceVersion"):
            raise ApiException(status=409, reason="Conflict")  # decided from an older object
        if self.failing_writes > 0 or (
            self.fail_write_if is not None and self.fail_write_if(patch["status"])
        ):
            self.failing_writes = max(0, self.failing_writes - 1)
            self.fail_write_if = None if self.failing_writes == 0 else self.fail_write_if
            raise ApiException(status=500, reason="Internal Server Error")
        status = body.setdefault("status", {})
        _merge(status, patch["status"])
        bump(body)
        for hook in self.after_write:
            hook(status)


def bump(body: dict[str, Any]) -> None:
    """Every change of an object gets a new resourceVersion, as in the apiserver."""
    body["metadata"]["resourceVersion"] = str(int(body["metadata"].get("resourceVersion", "0")) + 1)


class StaleReads:
    """What an old leader's in-flight pass sees: the object as it was when that pass read it. Its writes
    reach the real store, which refuses them once the object has moved on (resourceVersion)."""

    def __init__(self, store: Store, stale: dict[str, Any]) -> None:
        self.store, self.stale = store, stale

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        stale, self.stale = self.stale, None  # the pass in flight read it; any later read is fresh
        return copy.deepcopy(stale) if stale is not None else self.store.read(namespace, name)

    def write(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.store.write(namespace, name, patch)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = _stored(value)


def _stored(value: Any) -> Any:
    """What the apiserver keeps of a value written whole: no null fields (the CRD's structural schema
    prunes them; none of its fields is nullable)."""
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


class OperatorKilled(BaseException):
    """kill -9 of the operator process between an AWS call and anything after it (no handler runs)."""


@dataclass
class Violation(AssertionError):
    message: str

    def __str__(self) -> str:
        return self.message


class FakeJobs:
    """One cluster's validation Jobs, in memory (the Kubernetes side is tested end to end elsewhere): a Job
    runs `duration` simulated seconds, then reads the World's folder as the pod would and leaves the compact
    verdict `validate` writes to its termination message. Jobs outlive operator restarts, as in the API."""

    def __init__(self, world: World, duration: float = 20.0) -> None:
        self.world, self.duration = world, duration
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.created = 0
        self.no_service_account: set[str] = set()  # namespaces without the validator's ServiceAccount

    def ensure(self, *, namespace: str, owner_name: str, owner_uid: str, rev: str, s3_uri: str, **kw: Any):
        name = validation_job_name(owner_name, owner_uid, rev)
        job = self.jobs.get((namespace, name))
        if job is None and namespace in self.no_service_account:  # as ValidationJobs.ensure says it
            return JobResult(
                "running", "ValidationServiceAccountMissing", f"ServiceAccount missing in {namespace}"
            )
        if job is None:
            self.delete_for_owner(namespace, owner_uid, keep=name)
            self.jobs[(namespace, name)] = {
                "owner": owner_uid,
                "started": self.world.clock.t,
                "uri": s3_uri,
                **kw,
            }
            self.created += 1
            return JobResult("running", "ValidationJobCreated", f"validation Job {name} created")
        if job["owner"] != owner_uid:
            return JobResult("running", "ValidationJobForeign", f"a Job named {name} is not the operator's")
        if self.world.clock.t - job["started"] < self.duration:
            return JobResult("running", "ValidationJobRunning", f"validation Job {name} is running")
        if "doc" not in job:  # the pod reads the folder as it is when it runs
            report = validate_source(
                S3Folder(job["uri"], client=self.world.s3),
                architecture=job.get("architecture"),
                region=job.get("region"),
                concurrency=2,
            )
            job["doc"] = Verdict.read(Verdict.of_report(report).to_message())  # as the pod reports it
        return JobResult("verdict", doc=job["doc"])

    def delete_for_owner(self, namespace: str, owner_uid: str, keep: str | None = None) -> int:
        gone = [
            k for k, j in self.jobs.items() if k[0] == namespace and j["owner"] == owner_uid and k[1] != keep
        ]
        for key in gone:
            del self.jobs[key]
        return len(gone)


class FakeExports:
    """One cluster's ConfigMaps written for `spec.exportTo` (and any a test puts there), by (namespace,
    name): data and the controller owner's uid, as the API would hold them."""

    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0

    def publish(
        self, namespace: str, name: str, owner_name: str, owner_uid: str, data: dict[str, str]
    ) -> str:
        cm = self.config_maps.get((namespace, name))
        if cm is not None and cm["owner"] != owner_uid:
            return "conflict"
        if cm is not None and cm["data"] == data:
            return "unchanged"
        self.config_maps[(namespace, name)] = {"owner": owner_uid, "data": dict(data)}
        self.writes += 1
        return "written"

    def withdraw(self, namespace: str, name: str, owner_uid: str) -> bool:
        cm = self.config_maps.get((namespace, name))
        if cm is None or cm["owner"] != owner_uid:
            return False
        del self.config_maps[(namespace, name)]
        return True


class InlineWorkers:
    """The operator's worker pool in a World, on the World's clock and thread, so that sequences replay
    exactly: what the clock hands a worker (a listing's refresh) runs at once; a queued pass (a wake: an
    object's turn in the import line, a job's end the listing showed) waits in `passes` until its cluster
    runs it as a visit (`Cluster.run_wakes`), whose calls are then that object's."""

    def __init__(self) -> None:
        self.passes: list[str] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        if len(args) == 3:  # (run_queued, uid, item): a pass
            self.passes.append(args[1])
        else:
            fn(*args)


class Cluster:
    def __init__(self, world: World, name: str) -> None:
        self.world, self.name = world, name
        self.id = str(uuid.UUID(bytes=hashlib.sha256(name.encode()).digest()[:16]))  # same in every run
        self.store = Store()
        self.store.before_read.append(lambda: world.slow_pass_now(self))
        self.retained: set[str] = set()
        self.events: list[tuple[str, str, str, str]] = []
        self.policies: dict[str, dict[str, Any]] = {}  # BedrockImportPolicies, as the API holds them
        self.policy_reads_fail = False  # listing the policies answers 500 (the apiserver restarting)
        self.jobs = FakeJobs(world)
        self.observed = Store()  # BedrockObservedModels, as the API holds them
        self.exports = FakeExports()  # ConfigMaps of spec.exportTo
        self.newest_first = False  # the order of a round's passes (a busy pool's is any)
        self._running_wakes = False
        self.restart()

    def settings(self) -> Settings:
        return Settings(
            cluster_id=self.id,
            cluster_name=self.name,
            validation_mode="Skip",
            region="us-east-1",
            resync_seconds=300,
            poll_seconds=10,
            model_missing_grace_seconds=30,
            backoff_base_seconds=2,
            backoff_cap_seconds=60,
        )

    def restart(self) -> None:
        """A fresh operator process (a restart, or the standby taking over from a killed leader): it knows
        only what status says, and rebuilds the import queue from it before its first pass, as `run` does."""
        w = self.world
        settings = self.settings()
        rec = Reconciler(
            settings,
            clients=lambda s, region, tenant: (
                InProcessBedrock(w.for_tenant(tenant), region, w),
                FakeSupport(region, w, state=w.for_tenant(tenant)),
            ),
            jobs=self.jobs,  # type: ignore[arg-type]
            exports=self.exports,
            clock=w.clock.now,
            monotonic=w.clock.mono,
            # a new process lists the policies there are, as the real one does at its first decision
            tenancy=TenancyView(
                "open",
                list_policies=self._list_policies,
                read_labels=lambda ns: {"kubernetes.io/metadata.name": ns},
            ),
        )
        self.old_operator = getattr(self, "operator", None)  # the process it replaces may still be mid-pass
        self.operator = Operator(settings, reconciler=rec, store=self.store)
        self.operator.executor = InlineWorkers()  # type: ignore[assignment]
        self.operator.post_event = self._event
        self.operator.observed = self.observed  # type: ignore[assignment]
        self.operator.model_pages = lambda limit=100: iter([self.store.items(None)])  # type: ignore[method-assign]
        rec.seed_queue(rec.seat(copy.deepcopy(body)) for body in self.store.objects.values())

    def _list_policies(self) -> list[dict[str, Any]]:
        if self.policy_reads_fail:
            raise ApiException(status=500, reason="Internal Server Error")
        return list(self.policies.values())

    def set_policy(self, name: str, spec: dict[str, Any] | None) -> None:
        """Create, change or (None) delete a policy: the API and the running operator's watch."""
        body = {"metadata": {"name": name}, "spec": spec}
        if spec is None:
            self.policies.pop(name, None)
        else:
            self.policies[name] = body
        self.operator.tenancy.policy_changed(body, deleted=spec is None)
        self.operator.work.add_all()

    def _event(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
        self.events.append((body["metadata"]["name"], type, reason, message))

    def create(self, namespace: str, name: str, spec: dict[str, Any], visit: bool = True) -> dict[str, Any]:
        uid = str(uuid.UUID(int=self.world.next_uid()))
        body = {
            "apiVersion": "bedrock.modelops.io/v1alpha1",
            "kind": "BedrockImportedModel",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": uid,
                "generation": 1,
                "annotations": {},
                "finalizers": [FINALIZER],
                "creationTimestamp": self.world.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "resourceVersion": "1",
            },
            "spec": spec,
        }
        self.store.objects[(namespace, name)] = body
        self.world.names[uid] = f"{namespace}/{name}"
        if visit:  # else the caller makes the first visit (`World.interleave`)
            self.visit(body, event=True)
        return body

    def edit_spec(self, body: dict[str, Any], **changes: Any) -> None:
        for key, value in changes.items():
            if value is None:
                body["spec"].pop(key, None)
            else:
                body["spec"][key] = value
        body["metadata"]["generation"] += 1
        bump(body)
        self.visit(body, event=True)

    def annotate(self, body: dict[str, Any], key: str, value: str | None) -> None:
        annotations = body["metadata"]["annotations"]
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
        bump(body)
        self.visit(body, event=True)

    def delete(self, body: dict[str, Any]) -> None:
        body["metadata"]["deletionTimestamp"] = self.world.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        bump(body)
        self.visit(body, event=True)

    def visit(self, body: dict[str, Any], event: bool) -> None:
        """What kopf would call for this object now (a pass, or the finalizer while it is being deleted)."""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if self.store.objects.get(key) is not body:
            return
        self.world.actor = (self.id, body["metadata"]["uid"])
        began = time.perf_counter()
        try:
            self._pass(body, key, event)
        except OperatorKilled:
            self.restart()  # a new process (or the standby) knows only what status says
            return
        finally:
            self.world.actor = None
            PASS_SECONDS.append(time.perf_counter() - began)
        for check in self.world.on_tick:
            check()
        self.run_wakes()

    def run_wakes(self, limit: int = 200) -> None:
        """The passes the operator queued (its wakes), in order, each as a visit; not from inside one."""
        if self._running_wakes:
            return
        self._running_wakes = True
        try:
            workers = self.operator.executor
            for _ in range(limit):
                if not workers.passes:
                    return
                uid = workers.passes.pop(0)
                item = self.operator.work.find(uid)
                if item is not None:
                    item.queued = False  # as `Operator.run_queued`
                namespace, _, name = self.world.names.get(uid, "").partition("/")
                body = self.store.objects.get((namespace, name))
                meta = (body or {}).get("metadata") or {}
                if meta.get("uid") == uid and not meta.get("deletionTimestamp"):
                    self.visit(body, event=False)
        finally:
            self._running_wakes = False

    def _pass(self, body: dict[str, Any], key: tuple[str, str], event: bool) -> None:
        if body["metadata"].get("deletionTimestamp"):
            result = self.operator.finalize_and_emit(kopf.Body(copy.deepcopy(body)))  # as `on_delete`
            if result.done:
                self.retained |= set(result.retained)
                del self.store.objects[key]
                self.operator.gone(body["metadata"]["uid"])
            else:  # as kopf's delete handler (`registry.on_delete`) patches it
                body.setdefault("status", {})["phase"] = "Deleting"
            return
        self.operator.work.note_arrival(body["metadata"]["uid"], body["metadata"]["creationTimestamp"])
        self.operator.work.observe(body["metadata"]["uid"], Glance.of(body))  # as its watch event does
        # an event hands over the whole body (kopf's), a tick only the clock's glance at it
        cached = copy.deepcopy(body) if event else Glance.of(body).body
        self.operator.run_reconcile(kopf.Body(cached), LOG, event=event)

    def old_leader_pass(self, stale: dict[str, Any]) -> None:
        """The replaced process finishes a pass it began on `stale` (a read from before it lost the
        Lease): its AWS calls happen, its status write meets the newer object."""
        old, key = self.old_operator, (stale["metadata"]["namespace"], stale["metadata"]["name"])
        body = self.store.objects.get(key)
        if old is None or body is None or body["metadata"]["uid"] != stale["metadata"]["uid"]:
            return
        if stale["metadata"].get("deletionTimestamp"):
            return
        old.store = StaleReads(self.store, stale)  # type: ignore[assignment]
        self.world.actor = (self.id, stale["metadata"]["uid"])
        self.world.stale_pass = True
        try:
            old.run_reconcile(kopf.Body(copy.deepcopy(stale)), LOG, event=True)
        except OperatorKilled:
            pass
        finally:
            self.world.actor, self.world.stale_pass = None, False
            old.store = self.store

    def observe(self, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Create a BedrockObservedModel and make its first look (kopf's create handler)."""
        body = {
            "apiVersion": "bedrock.modelops.io/v1alpha1",
            "kind": "BedrockObservedModel",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.UUID(int=self.world.next_uid())),
                "generation": 1,
                "resourceVersion": "1",
            },
            "spec": spec,
        }
        self.observed.objects[(namespace, name)] = body
        self.look(body)
        return body

    def look(self, body: dict[str, Any]) -> bool:
        """One look at an observed model, as the operator's observer makes it; every Bedrock call it makes is
        checked against OBSERVER_READS (`World.check_always`)."""
        meta = body["metadata"]
        self.world.actor = (self.id, f"observe:{meta['namespace']}/{meta['name']}")
        try:
            return self.operator.observe(meta["namespace"], meta["name"])
        finally:
            self.world.actor = None

    def round(self) -> None:
        """Every object's tick, as the operator's clock decides it: the running-jobs listings that objects
        follow are refreshed first (one that no longer shows a job frees its slot for the next in line at
        once: `Operator._hand_over`), and an object whose job a fresh listing shows running gets no pass
        (`JobWatch.leaves_be`), so the invariants meet the clock's skips and hand-overs too."""
        op, s, now = self.operator, self.operator.settings, self.world.clock.mono()
        op.refresh_job_listings(now)
        self.run_wakes()
        watch = op.reconciler.job_watch
        bodies = list(self.store.objects.values())
        for body in reversed(bodies) if self.newest_first else bodies:
            uid = body["metadata"]["uid"]
            item = op.work.find(uid)
            skip = watch.leaves_be(uid, now, 2 * s.job_poll_seconds, s.poll_seconds)
            if skip and not body["metadata"].get("deletionTimestamp") and not (item and item.dirty):
                continue
            self.visit(body, event=False)

    def live(self) -> list[dict[str, Any]]:
        return [b for b in self.store.objects.values() if not b["metadata"].get("deletionTimestamp")]


@dataclass
class World:
    clock: Clock = field(default_factory=Clock)
    drop_responses: Counter = field(default_factory=Counter)  # operation -> responses to lose after success
    role_denials: int = 0  # the next N CreateRole calls are refused (AccessDenied: terminal)
    role_delete_failures: int = 0  # the next N DeleteRole calls are throttled
    missing_roles: set[str] = field(default_factory=set)  # service role ARNs IAM does not have
    untrusting_roles: set[str] = field(default_factory=set)  # roles whose trust policy names no Bedrock
    #: (operation, model ARN, its owner then, who called, whether the caller may adopt that model, whether
    #: its status says it is adopting that model)
    mutations: list[tuple[str, str, str, tuple[str, str] | None, bool, bool]] = field(default_factory=list)
    #: checks run after every pass of every object (a window shorter than a step can break what they check)
    on_tick: list[Callable[[], None]] = field(default_factory=list)
    #: operation -> how many times the operator process is killed right after that call succeeded
    kill_after: Counter = field(default_factory=Counter)
    #: operation -> (how many of the next such requests are held, for how long): applied late, unanswered
    hold_next: dict[str, tuple[int, float]] = field(default_factory=dict)
    held: list[tuple[float, Any, str, str, str, dict[str, Any], Any]] = field(default_factory=list)
    #: the next pass of an object whose running job its cluster's clock follows takes this many seconds
    #: before it reads: time passes while it holds its object (jobs end), and the clock refreshes its
    #: running-jobs listing meanwhile, so a hand-over meets an object whose pass is under way
    #: (`Operator._hand_over`'s locked branch; `slow_pass_now`)
    slow_pass: float = 0.0
    _uids: int = 0
    _faults: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> tuple[str, str] | None:
        """(cluster id, uid) of the object whose pass makes the calls (per thread: see `interleave`)."""
        return getattr(self._local, "actor", None)

    @actor.setter
    def actor(self, value: tuple[str, str] | None) -> None:
        self._local.actor = value

    def interleave(self, visits: list[Callable[[], None]], schedule: list[int]) -> None:
        """Run `visits` (passes of objects in different clusters: two processes) at the same time, taking
        turns at every Bedrock call: at each call, the next entry of `schedule` picks which of the passes
        still running goes on (index modulo their count; once it is used up, the caller goes on). Only one
        runs at any moment, so the World needs no locks, yet a pass can read, lose its turn, and write
        after another pass wrote (TagResource is not conditional)."""
        turn = threading.Condition()
        order = list(schedule)
        done: set[int] = set()
        current = [0]
        errors: list[BaseException] = []

        def wait_for_turn(me: int) -> None:
            if not turn.wait_for(lambda: current[0] == me, timeout=30):
                raise RuntimeError("interleaving stalled: a pass waits on a lock another pass holds")

        def switch(me: int) -> None:
            with turn:
                running = [i for i in range(len(visits)) if i not in done]
                current[0] = running[order.pop(0) % len(running)] if order else me
                turn.notify_all()
                wait_for_turn(me)

        def run(i: int) -> None:
            self._local.switch = lambda: switch(i)
            try:
                with turn:
                    wait_for_turn(i)
                visits[i]()
            except BaseException as exc:  # a Violation, or a defect: re-raised in the caller
                errors.append(exc)
            finally:
                self._local.switch = None
                with turn:
                    done.add(i)
                    running = [j for j in range(len(visits)) if j not in done]
                    if running:
                        current[0] = running[0]
                    turn.notify_all()

        threads = [threading.Thread(target=run, args=(i,), name=f"pass-{i}") for i in range(len(visits))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def __post_init__(self) -> None:
        self._local = threading.local()
        #: AWS accounts by id: the operator's, and tenant accounts (a policy's account.roleArn) when used
        self.accounts: dict[str, BedrockState] = {}
        self.aws = self.account(OPERATOR_ACCOUNT)
        self.clusters: dict[str, Cluster] = {}
        self.s3 = FakeS3()  # the model folders Inline validation reads (and a test may swap)
        self.names: dict[str, str] = {}  # uid -> "namespace/name" of every object ever created
        self.roles: dict[str, str] = {}  # IAM roles the operators created -> the uid of the object they serve
        self.sent_jobs: set[str] = set()  # import job names whose create was sent at least once
        self.unvalidated_sends: list[str] = []
        self.observer_calls: list[str] = []  # calls an observe-only object made that are not reads
        #: creates a process sent while its own objects' running jobs already filled its slots there
        self.double_booked: list[str] = []
        self.stale_pass = False  # a replaced process finishes a pass it began (`Cluster.old_leader_pass`)

    def account(self, account_id: str) -> BedrockState:
        if account_id not in self.accounts:
            state = BedrockState(
                self._check,
                account=account_id,
                seed=7,
                clock=self.clock.mono,
                ticker=False,
                wall=self.clock.now,
            )
            state.set_faults({"job_duration_seconds": 4, "imported_model_quota": 50, "concurrent_jobs": 1})
            if self.accounts:  # a tenant account meets the faults the operator's meets
                state.set_faults(self._faults)
            self.accounts[account_id] = state
        return self.accounts[account_id]

    def for_tenant(self, tenant: tuple[str, str] | None) -> BedrockState:
        """The account a pass acts in: the operator's, or the one a policy's account role is in."""
        return self.aws if tenant is None else self.account(tenant[0].split(":")[4])

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Faults for every account (one AWS has one weather)."""
        self._faults |= faults
        for state in self.accounts.values():
            state.set_faults(faults)

    def find_job(self, name: str):
        for state in self.accounts.values():
            with state._lock:
                job = next((j for j in state._jobs.values() if j.name == name), None)
            if job is not None:
                return job
        return None

    def _model(self, arn_or_name: str):
        """(account state, model) for an ARN (or a name, the operator's account first)."""
        for state in self.accounts.values():
            with state._lock:
                model = next((m for m in state._models.values() if arn_or_name in (m.arn, m.name)), None)
            if model is not None:
                return state, model
        return None, None

    def next_uid(self) -> int:
        self._uids += 1
        return self._uids

    def _check(self, s3_uri: str, role_arn: str, job: object = None) -> ImportOutcome:
        if role_arn in self.missing_roles | self.untrusting_roles:  # as Bedrock says it, minutes in
            return ImportOutcome(False, f"Amazon Bedrock could not assume the role {role_arn}.")
        if "broken" in s3_uri:
            return ImportOutcome(False, "The model weights could not be loaded.")
        return ImportOutcome(True, architecture="llama3", instruct=True, cmu=1)

    def cluster(self, name: str) -> Cluster:
        if name not in self.clusters:
            self.clusters[name] = Cluster(self, name)
        return self.clusters[name]

    def may_create_role(self) -> bool:
        if self.role_denials > 0:
            self.role_denials -= 1
            return False
        return True

    def hold_request(
        self, state: Any, region: str, operation: str, method: str, params: dict[str, Any]
    ) -> bool:
        count, seconds = self.hold_next.get(operation, (0, 0.0))
        if count <= 0:
            return False
        self.hold_next[operation] = (count - 1, seconds)
        self.held.append(
            (self.clock.t + seconds, state, region, operation, method, copy.deepcopy(params), self.actor)
        )
        return True

    def _apply_held(self) -> None:
        """Requests held on their way arrive now: applied by the service as sent (an error is nobody's)."""
        due = [h for h in self.held if h[0] <= self.clock.t]
        self.held = [h for h in self.held if h[0] > self.clock.t]
        for _, state, region, operation, method, params, actor in due:
            self.actor = actor
            try:
                target = params.get("modelIdentifier") or params.get("resourceARN") or ""
                # a delete is judged as it lands (whose the model is by then); a tag write was judged when it
                # was sent: TagResource is not conditional, so one applied a minute late after the model
                # changed hands (released by Retain, adopted) re-tags it, and nothing the sender does now can
                # stop that. The new owner then reports ModelOwnedElsewhere and never deletes it (docs).
                if operation == "DeleteImportedModel" and self._model(target)[1] is not None:
                    self.before_call(operation, params)
                getattr(state, method)(region, params)
            except ApiError:
                pass
            finally:
                self.actor = None

    def after_call(self, operation: str) -> None:
        """Runs after a call changed state: the operator process dies right there (before any status
        write), or the response is lost, if the test asked for it."""
        if self.kill_after[operation] > 0:
            self.kill_after[operation] -= 1
            raise OperatorKilled(operation)
        if self.drop_responses[operation] > 0:
            self.drop_responses[operation] -= 1
            raise ReadTimeoutError(endpoint_url=f"in-process {operation}")

    def before_call(self, operation: str, params: dict[str, Any]) -> None:
        """Remember who deletes or retags which model, and whom its tags said owned it at that moment; and
        a first create sent for a folder holding files its object's validation would refuse. Under
        `interleave`, another pass may take its turn first."""
        switch = getattr(self._local, "switch", None)
        if switch is not None:
            switch()
        if (
            self.actor is not None
            and str(self.actor[1]).startswith("observe:")
            and operation not in OBSERVER_READS
        ):
            self.observer_calls.append(f"{operation} by {self.actor[1]}: {params}")
        if operation == "CreateModelImportJob" and params.get("jobName") not in self.sent_jobs:
            self.sent_jobs.add(params["jobName"])
            uri = params["modelDataSource"]["s3DataSource"]["s3Uri"]
            spec = self._spec_of(self.actor)
            validates = ((spec or {}).get("validation") or {}).get("mode", "Skip") != "Skip"
            if validates and self.s3.variant.get(uri) == "quantized":
                self.unvalidated_sends.append(f"{params['jobName']} sent for {uri} holding a quantized model")
        if operation in MUTATING:
            arn = params.get("modelIdentifier") or params.get("resourceARN") or ""
            _, model = self._model(arn)
            arn = model.arn if model is not None else arn
            tags = {t["key"]: t["value"] for t in params.get("tags") or []}
            # a retention marker naming the caller itself is its own release (Retain), not a claim
            release = (
                operation == "TagResource"
                and not any(k in tags for k in OWNER_KEYS)
                and self.actor is not None
                and tags.get(TAG_RETAINED_FROM) == self.names.get(self.actor[1])
                and tags.get(TAG_RETAINED_BY_CLUSTER) == self.actor[0]
            )
            if operation == "UntagResource" and self.actor is not None and model is not None:
                # the release's second half: its owner keys off, beside the marker naming the caller itself
                state, _ = self._model(arn)
                now = (state or self.aws)._tags.get(arn, {})
                release = (
                    set(params.get("tagKeys") or []) <= set(OWNER_KEYS)
                    and now.get(TAG_RETAINED_FROM) == self.names.get(self.actor[1])
                    and now.get(TAG_RETAINED_BY_CLUSTER) == self.actor[0]
                )
            may = release or self._may_adopt(arn)
            self.mutations.append((operation, arn, self._owner_of(arn), self.actor, may, self._claiming(arn)))

    def sending(self, state: BedrockState, region: str, operation: str, params: dict[str, Any]) -> None:
        """A create a cluster's process sends while jobs of its own live objects already fill its slots in
        that account and region: it gave a slot it had not got (Bedrock refuses it; were it a slot of the
        import line's, one model's import waits, or a freed slot idles). Not a replaced process's stale
        pass, nor a slot an object left when it went without its finalizer (its job runs on, unknown)."""
        if operation != "CreateModelImportJob" or self.actor is None or self.stale_pass:
            return
        cluster = next((c for c in self.clusters.values() if c.id == self.actor[0]), None)
        if cluster is None:
            return
        live = {b["metadata"]["uid"] for b in cluster.store.objects.values()} - {self.actor[1]}
        with state._lock:
            own = sorted(
                j.name
                for j in state._jobs.values()
                if j.region == region
                and j.status == "InProgress"
                and state._tags.get(j.arn, {}).get(TAG_CLUSTER_ID) == cluster.id
                and state._tags.get(j.arn, {}).get(TAG_UID) in live
            )
        if len(own) >= cluster.operator.reconciler.queue.slots_per_region:
            self.double_booked.append(
                f"{cluster.name}: {self.names.get(self.actor[1])} sent {params.get('jobName')} in {region} "
                f"while its own {own} ran"
            )

    def slow_pass_now(self, cluster: Cluster) -> None:
        """A pass of `cluster` has begun (its object's lock held): if a slow pass is due and the clock of the
        cluster follows the object's running job, time passes (jobs end) and the clock refreshes its
        listing before the pass reads on: the hand-over meets an object in the middle of its pass."""
        actor = self.actor
        if not self.slow_pass or self.stale_pass or actor is None or actor[0] != cluster.id:
            return  # (a replaced process's pass is not the one the rule slows, nor its new process's clock)
        if actor[1] not in cluster.operator.reconciler.job_watch._by_uid:
            return
        seconds, self.slow_pass = self.slow_pass, 0.0
        try:
            self.clock.t += seconds
            self._apply_held()  # (says each held request's sender: the actor is this pass's again after)
            for state in list(self.accounts.values()):
                state.tick()
            cluster.operator.refresh_job_listings(self.clock.mono())
            # the other workers run the passes that woke (the next in line for a freed slot) while this one
            # holds its object; its own wake finds it locked. Not with a kill pending: the process would
            # restart in the middle of this pass. Nor when this pass is itself a wake (`run_wakes` runs
            # one at a time): the others then run after it.
            if not any(self.kill_after.values()):
                cluster.run_wakes()
        finally:
            self.actor = actor

    def _claiming(self, arn: str) -> bool:
        """Whether the caller's status (as written) says it is adopting this model: TagResource is not
        conditional, so two adopters that both read it as unowned both tag it (the claim each confirms, or
        gives up, a settle time later); overwriting the other's claim is not taking an owned model."""
        job = ((self._body_of(self.actor) or {}).get("status") or {}).get("importJob") or {}
        return job.get("state") == "Adopting" and job.get("modelArn") == arn

    def _may_adopt(self, arn: str) -> bool:
        """Whether the calling object may take over this unowned model, judged here from the policies as
        written (not by the operator's code): it asks for it by name with adoptExisting, and every policy
        that selects its namespace lists the name, or lets it adopt what its own namespace retained."""
        body = self._body_of(self.actor)
        cluster = next((c for c in self.clusters.values() if self.actor and c.id == self.actor[0]), None)
        state, model = self._model(arn)
        if body is None or cluster is None or model is None:
            return False
        spec, ns = body["spec"], body["metadata"]["namespace"]
        if not (spec.get("adoptExisting") and spec.get("modelName") == model.name):
            return False
        tags = state._tags.get(model.arn, {})
        for policy in cluster.policies.values():
            selector = policy["spec"].get("namespaceSelector") or {}
            wanted = (selector.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
            if wanted not in (None, ns):
                continue  # does not select this namespace
            rule = policy["spec"].get("adoption") or {}
            named = any(
                model.name.startswith(n[:-1]) if n.endswith("*") else model.name == n
                for n in rule.get("modelNames") or []
            )
            ours = (
                rule.get("retainedFromNamespace")
                and tags.get(TAG_RETAINED_FROM, "").startswith(f"{ns}/")
                and tags.get(TAG_RETAINED_BY_CLUSTER) == cluster.id
            )
            if not (named or ours):
                return False
        return True

    def _body_of(self, actor: tuple[str, str] | None) -> dict[str, Any] | None:
        for cluster in self.clusters.values():
            for body in cluster.store.objects.values():
                if actor == (cluster.id, body["metadata"]["uid"]):
                    return body
        return None

    def _spec_of(self, actor: tuple[str, str] | None) -> dict[str, Any] | None:
        body = self._body_of(actor)
        return body["spec"] if body is not None else None

    def _owner_of(self, arn: str) -> str:
        state, _ = self._model(arn)
        tags = (state or self.aws)._tags.get(arn, {})
        return (
            f"{tags.get(TAG_CLUSTER_ID, '')}/{tags.get(TAG_UID, '')}"
            if any(k in tags for k in OWNER_KEYS) and not released(tags)
            else ""
        )

    def advance(self, seconds: float, tick: float = 5.0) -> None:
        """Time passes: Bedrock finishes due jobs, and every operator's timer fires every `tick` seconds."""
        while seconds > 0:
            step = min(tick, seconds)
            seconds -= step
            self.clock.t += step
            self._apply_held()
            for state in list(self.accounts.values()):
                state.tick()
            for cluster in self.clusters.values():
                cluster.round()

    # ---- what must always hold --------------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        """Every model in every account."""
        out = []
        for state in self.accounts.values():
            with state._lock:
                out += [
                    {
                        "arn": m.arn,
                        "name": m.name,
                        "region": m.region,
                        "tags": dict(state._tags.get(m.arn, {})),
                    }
                    for m in state._models.values()
                ]
        return out

    def check_always(self) -> None:
        if self.double_booked:
            raise Violation(f"a create sent for a slot its process did not have: {self.double_booked}")
        if self.unvalidated_sends:
            raise Violation(f"imported without validating the files it reads: {self.unvalidated_sends}")
        if self.observer_calls:
            raise Violation(f"an observe-only object changed something: {self.observer_calls}")
        for operation, arn, owner, actor, may_adopt, claiming in self.mutations:
            if claiming and operation in ("TagResource", "UntagResource") and may_adopt:
                continue  # an adoption race: judged at quiescence (one owner, in one status)
            if owner and (actor is None or owner != f"{actor[0]}/{actor[1]}"):
                raise Violation(f"{operation} on {arn} owned by {owner} was made by {actor}")
            if not owner and operation == "DeleteImportedModel":  # hand-made, retained, another's released
                raise Violation(f"{actor} deleted {arn}, which no object owned")
            if not owner and not may_adopt:
                raise Violation(
                    f"{actor} retagged {arn}, which no object owned, without the right to adopt it"
                )
        self.mutations.clear()
        arns: dict[str, str] = {}
        for cluster in self.clusters.values():
            for body in cluster.live():
                arn = (body.get("status") or {}).get("modelArn")
                who = f"{cluster.name}:{body['metadata']['namespace']}/{body['metadata']['name']}"
                if arn:
                    if arn in arns:
                        raise Violation(f"{who} and {arns[arn]} both report {arn}")
                    arns[arn] = who
        running: Counter[tuple[str, str]] = Counter()
        per_owner: Counter[str | None] = Counter()
        for account, state in self.accounts.items():
            with state._lock:
                for j in state._jobs.values():
                    if j.status == "InProgress":
                        running[(account, j.region)] += 1
                        per_owner[state._tags.get(j.arn, {}).get(TAG_UID)] += 1
        if any(n > self.aws.faults.concurrent_jobs for n in running.values()):
            raise Violation(f"more jobs than the quota run at once: {dict(running)}")
        if any(n > 1 for uid, n in per_owner.items() if uid):
            raise Violation(f"one object runs two import jobs at once: {dict(per_owner)}")


def until(w: World, what: Callable[[], object], seconds: float = 600.0, tick: float = 2.0) -> None:
    """Let the World's time pass, `tick` seconds at a time, until `what` holds (fail after `seconds`)."""
    for _ in range(int(seconds / tick)):
        if what():
            return
        w.advance(tick, tick=tick)
    raise AssertionError("never happened")


def condition(body: dict[str, Any], ctype: str) -> dict[str, Any]:
    """The object's condition of that type as status holds it ({} when absent)."""
    return next((c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


# ---- for the tests that drive one behaviour through the World -------------------------------------------
#: `until` in steps of the operator's own timer (5 s)
until_5s = partial(until, tick=5.0)


def eventually(w: World, what: Callable[[], object], seconds: float, status_of: dict[str, Any]) -> None:
    """`until_5s`, failing with the object's phase, Ready condition and failure, not "never happened"."""
    try:
        until_5s(w, what, seconds)
    except AssertionError:
        st = status_of.get("status") or {}
        raise AssertionError(
            f"not within {seconds:.0f}s: phase {st.get('phase')}, Ready {condition(status_of, 'Ready')}, "
            f"failure {st.get('failure')}"
        ) from None


def events_of(c: Cluster, name: str, reason: str) -> list[tuple[str, str, str, str]]:
    """The Events the cluster posted on the object `name` with `reason`."""
    return [e for e in c.events if e[0] == name and e[2] == reason]


def model_arns(w: World) -> set[str]:
    """The ARN of every model in every account."""
    return {m["arn"] for m in w.models()}


def import_jobs(state: BedrockState) -> list:
    """Every import job of one account (`w.aws`: the operator's)."""
    with state._lock:
        return list(state._jobs.values())


def creates_for(w: World, uri: str) -> int:
    """How many import jobs the operator's account holds for the folder `uri`."""
    with w.aws._lock:
        return sum(1 for j in w.aws._jobs.values() if j.s3_uri == uri)


def listing_of(w: World, uri: str) -> dict[str, str | None]:
    """S3 ListObjectsV2 of one folder answers the error code put in the returned dict (None: it lists)."""
    bucket, prefix = FakeS3._split(uri)
    real = w.s3.paginate
    fault: dict[str, str | None] = {"code": None}
    status = {"SlowDown": 503, "AccessDenied": 403, "NoSuchBucket": 404}

    def paginate(*, Bucket: str, Prefix: str, Delimiter: str = "/") -> list[dict[str, Any]]:
        code = fault["code"]
        if code and (Bucket, Prefix) == (bucket, prefix):
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": f"{code} (injected)"},
                    "ResponseMetadata": {"HTTPStatusCode": status.get(code, 500)},
                },
                "ListObjectsV2",
            )
        return real(Bucket=Bucket, Prefix=Prefix, Delimiter=Delimiter)

    w.s3.paginate = paginate  # type: ignore[method-assign]
    return fault


def invoke_answers(monkeypatch: pytest.MonkeyPatch, code: str) -> dict[str, bool]:
    """InvokeModel (the runtime the smoke test calls) answers `code` while the returned flag is on, as the
    operator's client would classify it."""
    real = FakeSupport.invoke
    fault = {"on": True}

    def invoke(self: FakeSupport, model_arn: str, body: bytes) -> dict[str, Any]:
        if fault["on"]:
            err = ApiError(code, f"{code} (injected)")
            raise classify(client_error(err, "InvokeModel", "bedrock-runtime"), "InvokeModel")
        return real(self, model_arn, body)

    monkeypatch.setattr(FakeSupport, "invoke", invoke)
    return fault
