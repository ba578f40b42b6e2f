"""The emulated Bedrock account: import jobs, imported models, tags, quotas and injected faults.

Behaviour follows docs/bedrock-facts.md ("The import API"): jobs run InProgress for a set time and then
complete or fail; one import job per region at a time and a quota of imported models (ServiceQuotaExceeded);
clientRequestToken makes a create safe to repeat; names conflict; at most 50 tags per resource.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import string
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bmo_devtools.emulator.protocol import ApiError

MAX_TAGS_PER_RESOURCE = 50
log = logging.getLogger("bedrock-emulator")


@dataclass
class Faults:
    """Knobs the tests turn (admin endpoint or flags)."""

    throttle_rate: float = 0.0  # share of requests answered ThrottlingException
    error_rate: float = 0.0  # share answered InternalServerException (500)
    latency_ms: int = 0  # added to every request
    fail_jobs: int = 0  # the next N jobs end Failed, whatever their artifacts
    fail_message: str = "Injected failure: the model could not be imported."
    iam_propagation_failures: int = 0  # the next N creates answer "role ARN is invalid"
    job_duration_seconds: float = 5.0
    imported_model_quota: int = 3
    concurrent_jobs: int = 1
    model_visibility_delay_seconds: float = 0.0  # a new model answers NotFound this long after its job ends
    delete_conflicts: int = 0  # the next N DeleteImportedModel calls answer ConflictException
    deny_deletes: int = 0  # the next N DeleteImportedModel calls answer AccessDeniedException
    job_visibility_delay_seconds: float = 0.0  # a new job answers NotFound this long after its create
    # faults *after* the state change (the request was applied; the caller cannot know). Keys are an
    # operation ("TagResource"), or an operation and text its parameters contain ("TagResource@<arn>"), so
    # a test's fault strikes only its own resources:
    drop_responses: dict = field(default_factory=dict)  # key -> next N answers lost (connection closed)
    hold_responses: dict = field(default_factory=dict)  # key -> seconds an applied call waits to answer
    hold_requests: dict = field(default_factory=dict)  # key -> seconds a call waits *before* applying
    # key -> for this many seconds from the first matching call, GetImportedModel answers NotFound for a
    # model that exists (a replica behind)
    not_found_seconds: dict = field(default_factory=dict)
    # bedrock-runtime (runtime.py): a model loads on its first invocation and answers ModelNotReadyException
    # until warm; it is evicted (cold again) after idle_evict_seconds without a call
    cold_start_seconds: float = 0.0
    idle_evict_seconds: float = 3600.0
    always_cold: bool = False
    invoke_errors: int = 0  # the next N invocations answer ModelErrorException
    # the next N InvokeModel answers are an account-level enforced guardrail's intervention (the model ran;
    # its text is replaced by the guardrail's blocked message, `amazon-bedrock-guardrailAction: INTERVENED`)
    guardrail_interventions: int = 0


@dataclass
class Job:
    arn: str
    name: str
    region: str
    model_name: str
    role_arn: str
    s3_uri: str
    created: dt.datetime
    done_at: float
    fingerprint: str
    token: str | None
    kms_key: str | None = None
    vpc: dict | None = None
    model_tags: list[dict] = field(default_factory=list)
    status: str = "InProgress"
    failure_message: str | None = None
    modified: dt.datetime | None = None
    end: dt.datetime | None = None
    model_arn: str | None = None
    seq: int = 0
    visible_at: float = 0.0  # clock time from which Get/List show it (eventual consistency)

    def describe(self) -> dict[str, Any]:
        return {
            "jobArn": self.arn,
            "jobName": self.name,
            "importedModelName": self.model_name,
            "importedModelArn": self.model_arn,
            "roleArn": self.role_arn,
            "modelDataSource": {"s3DataSource": {"s3Uri": self.s3_uri}},
            "status": self.status,
            "failureMessage": self.failure_message,
            "creationTime": self.created,
            "lastModifiedTime": self.modified or self.created,
            "endTime": self.end,
            "vpcConfig": self.vpc,
            "importedModelKmsKeyArn": self.kms_key,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "jobArn": self.arn,
            "jobName": self.name,
            "status": self.status,
            "lastModifiedTime": self.modified or self.created,
            "creationTime": self.created,
            "endTime": self.end,
            "importedModelArn": self.model_arn,
            "importedModelName": self.model_name,
        }


@dataclass
class Model:
    arn: str
    name: str
    region: str
    job: Job
    created: dt.datetime
    architecture: str
    instruct: bool
    cmu: int
    seq: int = 0
    visible_at: float = 0.0  # clock time from which Get/List show it (eventual consistency)
    warm_at: float | None = None  # runtime: loaded (answers) from this clock time; None: not loading
    last_invoked: float = 0.0
    invocations: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "jobName": self.job.name,
            "jobArn": self.job.arn,
            "modelDataSource": {"s3DataSource": {"s3Uri": self.job.s3_uri}},
            "creationTime": self.created,
            "modelArchitecture": self.architecture,
            "modelKmsKeyArn": self.job.kms_key,
            "instructSupported": self.instruct,
            "customModelUnits": {"customModelUnitsPerModelCopy": self.cmu, "customModelUnitsVersion": "1.0"},
        }

    def summary(self) -> dict[str, Any]:
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "creationTime": self.created,
            "instructSupported": self.instruct,
            "modelArchitecture": self.architecture,
        }


@dataclass(frozen=True)
class ImportOutcome:
    """What the emulator's own artifact check decided for a finished job."""

    ok: bool
    message: str = ""
    architecture: str = ""
    instruct: bool = False
    cmu: int = 1


ArtifactCheck = Callable[[str, str], ImportOutcome]  # (s3 uri, role arn) -> outcome


def _now() -> dt.datetime:
    """Now, at the millisecond precision Bedrock's timestamps have on the wire."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class BedrockState:
    """All jobs and models, per region, behind one lock. A ticker thread finishes due jobs."""

    def __init__(
        self,
        check: ArtifactCheck,
        account: str = "123456789012",
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        ticker: bool = True,
        wall: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.check = check
        self.clock = clock  # when jobs end and models become visible
        self.wall = wall or _now  # the timestamps Bedrock reports
        self.account = account
        self.faults = Faults()
        self._not_found_until: dict[tuple[str, str], float] = {}  # (fault key, model ARN) -> clock time
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}  # arn -> job
        self._models: dict[str, Model] = {}  # arn -> model
        self._tags: dict[str, dict[str, str]] = {}
        self._seq = 0
        self._stop = threading.Event()
        if ticker:  # tests that drive time themselves call tick()
            threading.Thread(target=self._tick_loop, name="bedrock-emulator-ticker", daemon=True).start()

    # ---- faults -------------------------------------------------------------------------------
    def before_request(self, operation: str) -> None:
        """Count the call and apply latency, throttling and 5xx faults."""
        with self._lock:
            self.calls[operation] += 1
            f = self.faults
            latency = f.latency_ms
            roll = self._rng.random()
        if latency:
            time.sleep(latency / 1000)
        if roll < f.throttle_rate:
            raise ApiError("ThrottlingException", "Too many requests, please wait before trying again.")
        if roll < f.throttle_rate + f.error_rate:
            raise ApiError(
                "InternalServerException", "An internal server error occurred. Retry your request."
            )

    @staticmethod
    def _fault_key(table: dict, operation: str, params: dict[str, Any]) -> str | None:
        """The key of `table` this call matches: `operation@text` (text in its parameters) first."""
        if not table:
            return None  # no fault of this kind: the common case costs nothing
        text = json.dumps(params, sort_keys=True, default=str)
        for key in table:
            op, _, needle = key.partition("@")
            if op == operation and needle and needle in text:
                return key
        return operation if operation in table else None

    def after_apply(self, operation: str, params: dict[str, Any]) -> tuple[float, bool]:
        """How the answer of an applied call goes wrong: (seconds to hold it, whether to lose it)."""
        with self._lock:
            f = self.faults
            hold_key = self._fault_key(f.hold_responses, operation, params)
            hold = float(f.hold_responses[hold_key]) if hold_key else 0.0
            drop_key = self._fault_key(f.drop_responses, operation, params)
            drop = drop_key is not None and int(f.drop_responses[drop_key]) > 0
            if drop:
                f.drop_responses[drop_key] = int(f.drop_responses[drop_key]) - 1
            if drop or hold:
                self.errors[f"{operation}:{'ResponseLost' if drop else 'ResponseHeld'}"] += 1
            return hold, drop

    def before_apply(self, operation: str, params: dict[str, Any]) -> float:
        """Seconds a call waits after it arrived and before it changes anything."""
        with self._lock:
            key = self._fault_key(self.faults.hold_requests, operation, params)
            return float(self.faults.hold_requests[key]) if key else 0.0

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self.faults, key):
                    raise KeyError(key)
                setattr(self.faults, key, type(getattr(self.faults, key))(value))
                if key == "not_found_seconds":
                    self._not_found_until.clear()  # a new window starts at the next matching call
            return self.faults

    def reset(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._models.clear()
            self._tags.clear()
            self._not_found_until.clear()
            self.calls.clear()
            self.errors.clear()
            self.faults = Faults(
                job_duration_seconds=self.faults.job_duration_seconds,
                imported_model_quota=self.faults.imported_model_quota,
            )

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "jobs": [j.summary() | {"region": j.region} for j in self._jobs.values()],
                "models": [m.summary() | {"region": m.region} for m in self._models.values()],
                "calls": dict(self.calls),
                "errors": dict(self.errors),
                "faults": self.faults.__dict__.copy(),
            }

    # ---- helpers ------------------------------------------------------------------------------
    def _id12(self) -> str:
        """ARN ids; seeded with the faults' generator, so a seeded emulator repeats its answers."""
        return "".join(self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(12))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _find_job(self, region: str, ident: str) -> Job:
        for job in self._jobs.values():
            if job.region == region and ident in (job.arn, job.name) and job.visible_at <= self.clock():
                return job
        raise ApiError("ResourceNotFoundException", f"The specified model import job {ident} was not found.")

    def _visible(self, model: Model) -> bool:
        return model.visible_at <= self.clock()

    def invoke(self, region: str, ident: str) -> Model:
        """A runtime call reaches the model: it answers once loaded. Raises ModelNotReadyException while it
        loads (the first call starts the load; an idle model is evicted and loads again)."""
        with self._lock:
            model = next(
                (m for m in self._models.values() if m.region == region and ident in (m.arn, m.name)),
                None,
            )
            if model is None or not self._visible(model):
                raise ApiError("ResourceNotFoundException", "The provided model identifier is invalid.")
            f, now = self.faults, self.clock()
            if (
                model.warm_at is not None
                and model.last_invoked
                and now - model.last_invoked > f.idle_evict_seconds
            ):
                model.warm_at = None  # evicted after a long idle: the next call loads it again
            if model.warm_at is None:
                model.warm_at = now + f.cold_start_seconds
            model.last_invoked = now
            if f.always_cold or now < model.warm_at:
                raise ApiError(
                    "ModelNotReadyException",
                    "Model is not ready for inference. Wait and try your request again. Refer to "
                    "https://docs.aws.amazon.com/bedrock/latest/userguide/invoke-imported-model.html#handle-model-not-ready-exception.",
                )
            if f.invoke_errors > 0:
                f.invoke_errors -= 1
                raise ApiError("ModelErrorException", "The model failed to process the request (injected).")
            model.invocations += 1
            return model

    def guardrail_intervenes(self) -> bool:
        """Whether an enforced guardrail intervenes on this answer (uses one of `guardrail_interventions`)."""
        with self._lock:
            if self.faults.guardrail_interventions > 0:
                self.faults.guardrail_interventions -= 1
                return True
            return False

    def _find_model(self, region: str, ident: str) -> Model:
        for model in self._models.values():
            if model.region == region and ident in (model.arn, model.name) and self._visible(model):
                return model
        raise ApiError("ResourceNotFoundException", f"The specified imported model {ident} was not found.")

    def _check_tags(self, arn: str, name: str, tags: dict[str, str]) -> None:
        if len(tags) > MAX_TAGS_PER_RESOURCE:
            raise ApiError(
                "TooManyTagsException",
                f"The number of tags exceeds the limit of {MAX_TAGS_PER_RESOURCE} for resource {name}.",
                resourceName=arn,
            )

    # ---- operations ---------------------------------------------------------------------------
    def create_job(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        fingerprint = hashlib.sha256(
            json.dumps({k: v for k, v in p.items() if k != "clientRequestToken"}, sort_keys=True).encode()
        ).hexdigest()
        token = p.get("clientRequestToken")
        with self._lock:
            if token:
                # AWS: "If this token matches a previous request, Amazon Bedrock ignores the request, but
                # does not return an error" -- the original job is the answer, whatever the parameters.
                for job in self._jobs.values():
                    if job.region == region and job.token == token:
                        return {"jobArn": job.arn}
            if self.faults.iam_propagation_failures > 0:
                self.faults.iam_propagation_failures -= 1
                raise ApiError(
                    "ValidationException",
                    "The provided role ARN is invalid. Check the role ARN "
                    "and its trust policy, then try again.",
                )
            if any(j.region == region and j.name == p["jobName"] for j in self._jobs.values()):
                # as real Bedrock answers (a job name is spent once used: there is no DeleteModelImportJob)
                raise ApiError("ValidationException", "The provided job name is currently in use.")
            name = p["importedModelName"]
            if any(m.region == region and m.name == name for m in self._models.values()) or any(
                j.region == region and j.model_name == name and j.status == "InProgress"
                for j in self._jobs.values()
            ):
                raise ApiError("ConflictException", f"An imported model named {name} already exists.")
            model_tags = {t["key"]: t["value"] for t in p.get("importedModelTags", [])}
            job_tags = {t["key"]: t["value"] for t in p.get("jobTags", [])}
            self._check_tags("", p["jobName"], job_tags)
            self._check_tags("", name, model_tags)
            running = sum(1 for j in self._jobs.values() if j.region == region and j.status == "InProgress")
            if running >= self.faults.concurrent_jobs:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    "You have reached the quota for concurrent model "
                    f"import jobs ({self.faults.concurrent_jobs}) in {region}. Try again when the "
                    "running job completes.",
                )
            models = sum(1 for m in self._models.values() if m.region == region)
            if models + running >= self.faults.imported_model_quota:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    "You have reached the quota for imported models "
                    f"({self.faults.imported_model_quota}) in {region}. Delete an imported model or "
                    "request a quota increase.",
                )
            now = self.wall()
            job = Job(
                arn=f"arn:aws:bedrock:{region}:{self.account}:model-import-job/{self._id12()}",
                name=p["jobName"],
                region=region,
                model_name=name,
                role_arn=p["roleArn"],
                s3_uri=p["modelDataSource"]["s3DataSource"]["s3Uri"],
                created=now,
                done_at=self.clock() + self.faults.job_duration_seconds,
                fingerprint=fingerprint,
                token=token,
                kms_key=self._kms_arn(region, p.get("importedModelKmsKeyId")),
                vpc=p.get("vpcConfig"),
                model_tags=p.get("importedModelTags", []),
                seq=self._next_seq(),
                visible_at=self.clock() + self.faults.job_visibility_delay_seconds,
            )
            self._jobs[job.arn] = job
            self._tags[job.arn] = job_tags
            return {"jobArn": job.arn}

    def _kms_arn(self, region: str, key: str | None) -> str | None:
        if not key or key.startswith("arn:"):
            return key
        return f"arn:aws:kms:{region}:{self.account}:{key if key.startswith('alias/') else 'key/' + key}"

    def get_job(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._find_job(region, p["jobIdentifier"]).describe()

    def get_model(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            model = self._find_model(region, p["modelIdentifier"])
            key = self._fault_key(self.faults.not_found_seconds, "GetImportedModel", p)
            if key:
                until = self._not_found_until.setdefault(
                    (key, model.arn), self.clock() + float(self.faults.not_found_seconds[key])
                )
                if self.clock() < until:
                    raise ApiError(
                        "ResourceNotFoundException",
                        f"The specified imported model {p['modelIdentifier']} was not found.",
                    )
            return model.describe()

    def delete_model(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            model = self._find_model(region, p["modelIdentifier"])
            if self.faults.deny_deletes > 0:
                self.faults.deny_deletes -= 1
                raise ApiError(
                    "AccessDeniedException",
                    "User is not authorized to perform: bedrock:DeleteImportedModel on resource: "
                    + model.arn,
                )
            if self.faults.delete_conflicts > 0:
                self.faults.delete_conflicts -= 1
                raise ApiError(
                    "ConflictException",
                    f"The imported model {model.name} is being modified. Try again later.",
                )
            del self._models[model.arn]
            self._tags.pop(model.arn, None)
            return {}

    def _page(self, items: list, p: dict[str, Any], key: str, status_filter: bool) -> dict[str, Any]:
        if status_filter and p.get("statusEquals"):
            items = [i for i in items if i.status == p["statusEquals"]]
        if p.get("nameContains"):
            items = [i for i in items if p["nameContains"] in i.name]
        if p.get("creationTimeAfter"):
            items = [i for i in items if i.created > p["creationTimeAfter"]]
        if p.get("creationTimeBefore"):
            items = [i for i in items if i.created < p["creationTimeBefore"]]
        items.sort(key=lambda i: (i.created, i.seq), reverse=p.get("sortOrder", "Descending") == "Descending")
        start = 0
        if p.get("nextToken"):
            try:
                start = int(p["nextToken"])
            except ValueError as exc:
                raise ApiError("ValidationException", "The nextToken is invalid.") from exc
        size = p.get("maxResults") or 1000
        page = items[start : start + size]
        out: dict[str, Any] = {key: [i.summary() for i in page]}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return out

    def list_jobs(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.region == region and j.visible_at <= self.clock()]
            return self._page(jobs, p, "modelImportJobSummaries", status_filter=True)

    def list_models(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            models = [m for m in self._models.values() if m.region == region and self._visible(m)]
            return self._page(models, p, "modelSummaries", status_filter=False)

    def _resource(self, region: str, arn: str) -> str:
        if arn in self._jobs or (arn in self._models and self._visible(self._models[arn])):
            return arn
        raise ApiError("ResourceNotFoundException", f"The resource {arn} was not found.")

    def tag(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            arn = self._resource(region, p["resourceARN"])
            merged = self._tags.get(arn, {}) | {t["key"]: t["value"] for t in p["tags"]}
            self._check_tags(arn, arn.rsplit("/", 1)[-1], merged)
            self._tags[arn] = merged
            return {}

    def untag(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            arn = self._resource(region, p["resourceARN"])
            for key in p["tagKeys"]:
                self._tags.get(arn, {}).pop(key, None)
            return {}

    def list_tags(self, region: str, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            arn = self._resource(region, p["resourceARN"])
            return {"tags": [{"key": k, "value": v} for k, v in sorted(self._tags.get(arn, {}).items())]}

    # ---- job lifecycle ------------------------------------------------------------------------
    def _tick_loop(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.tick()
            except Exception:  # a bug here must not stop every later job: the next tick tries again
                log.exception("the emulator's job ticker failed; continuing")

    def tick(self) -> None:
        """Finish every job whose time is up: run the artifact check, then create the model or fail."""
        now = self.clock()
        with self._lock:
            due = [j for j in self._jobs.values() if j.status == "InProgress" and j.done_at <= now]
        for job in sorted(due, key=lambda j: j.seq):
            with self._lock:
                forced = self.faults.fail_jobs > 0
                if forced:
                    self.faults.fail_jobs -= 1
            if forced:
                outcome = ImportOutcome(False, self.faults.fail_message)
            else:
                try:
                    outcome = self.check(job.s3_uri, job.role_arn, job)
                except Exception as exc:  # a check that breaks ends the job Failed, never InProgress forever
                    log.exception(f"artifact check of job {job.name} failed")
                    outcome = ImportOutcome(
                        False,
                        f"Amazon Bedrock could not complete the import: an internal error occurred "
                        f"({type(exc).__name__}). Try the import again.",
                    )
            with self._lock:
                stamp = self.wall()
                job.modified = job.end = stamp
                if not outcome.ok:
                    job.status, job.failure_message = "Failed", outcome.message[:2048]
                    continue
                model = Model(
                    arn=f"arn:aws:bedrock:{job.region}:{self.account}:imported-model/{self._id12()}",
                    name=job.model_name,
                    region=job.region,
                    job=job,
                    created=stamp,
                    architecture=outcome.architecture,
                    instruct=outcome.instruct,
                    cmu=outcome.cmu,
                    seq=self._next_seq(),
                    visible_at=self.clock() + self.faults.model_visibility_delay_seconds,
                )
                self._models[model.arn] = model
                self._tags[model.arn] = {t["key"]: t["value"] for t in job.model_tags}
                job.status, job.model_arn = "Completed", model.arn

    def close(self) -> None:
        self._stop.set()
