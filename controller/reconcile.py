"""Decide and act for one BedrockImportedModel: from manifest to a Ready model, through revisions.

Level-based: `Reconciler.reconcile(body)` looks at the object and at Bedrock and takes the next step,
whatever happened before (a crash, a restart, a missed event). It talks to AWS only through
`bedrock_client` and to Kubernetes only through `validation_jobs`; it never writes the object itself but
returns an `Outcome` (status fields, conditions, Events) that the handlers write (`model_status`).
Deterministic names and tokens make every step safe to repeat.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from controller import metrics
from controller.api.models import BedrockImportedModelSpec
from controller.artifacts import S3Folder, SourceAccessError, validate_source
from controller.artifacts.sources import source_error_reason
from controller.bedrock_client import AwsError, BedrockClient, Kind, SupportClients
from controller.conditions import get_condition, now_rfc3339
from controller.import_queue import ImportQueue
from controller.kube import api_error
from controller.naming import (
    base_model_name,
    client_token,
    job_name,
    ownership_tags,
    revision,
    revision_model_name,
)
from controller.redact import redact
from controller.settings import Settings
from controller.validation_jobs import ValidationJobs

PAUSE_ANNOTATION = "bedrock.modelops.io/paused"
#: Changing this annotation's value retries a failed revision without a spec change (files fixed in place).
RETRY_ANNOTATION = "bedrock.modelops.io/retry"


@dataclass
class Outcome:
    """What reconcile decided: status fields to merge, conditions to set, Events to emit."""

    status: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (Normal|Warning, reason, message)
    retry_error: AwsError | None = None  # a retryable AWS error: back off, then try again

    def condition(self, ctype: str, status: str, reason: str, message: str) -> None:
        self.conditions[ctype] = (status, reason, redact(message))

    def event(self, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason, redact(message)))


def _shown(findings: list[dict]) -> list[dict]:
    """Validator findings as status holds them: redacted, each message bounded, at most 20."""
    return [{"code": str(f["code"]), "message": redact(str(f["message"]), 512)} for f in findings][:20]


@dataclass
class View:
    """The parts of the object reconcile reads."""

    uid: str
    namespace: str
    name: str
    generation: int
    annotations: dict[str, str]
    spec: dict[str, Any]
    status: dict[str, Any]

    @classmethod
    def of(cls, body: dict[str, Any]) -> View:
        meta = body.get("metadata", {})
        return cls(
            meta.get("uid", ""),
            meta.get("namespace", ""),
            meta.get("name", ""),
            int(meta.get("generation") or 0),
            dict(meta.get("annotations") or {}),
            dict(body.get("spec") or {}),
            dict(body.get("status") or {}),
        )


class Reconciler:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.queue = ImportQueue(settings.import_slots)
        self.jobs = ValidationJobs(settings)
        self._no_job: dict[str, str] = {}  # uid -> the job name known not to exist: skip the lookup
        self._clients: dict[str, tuple[BedrockClient, SupportClients]] = {}
        self._lock = threading.Lock()
        self._last_sync: dict[str, tuple[float, int]] = {}  # uid -> (monotonic, generation)
        self._arrivals: dict[str, str] = {}
        self._arrival_counter = 0

    def note_arrival(self, uid: str, created: str) -> str:
        """Queue key in the order objects reached the operator (called on the event loop, in watch order).

        creationTimestamp first (persisted by the apiserver, so the order survives a restart), then the
        arrival count to order objects created within the same second.
        """
        with self._lock:
            if uid not in self._arrivals:
                self._arrival_counter += 1
                self._arrivals[uid] = f"{created}/{self._arrival_counter:012d}"
            return self._arrivals[uid]

    def clients(self, region: str) -> tuple[BedrockClient, SupportClients]:
        with self._lock:
            if region not in self._clients:
                self._clients[region] = (
                    BedrockClient(self.settings, region),
                    SupportClients(self.settings, region),
                )
            return self._clients[region]

    def bedrock_calls(self) -> int:
        return sum(b.calls for b, _ in self._clients.values())

    # ---- entry point ---------------------------------------------------------------------------
    def reconcile(self, body: dict[str, Any]) -> Outcome:
        v = View.of(body)
        out = Outcome()
        if v.annotations.get(PAUSE_ANNOTATION, "").lower() == "true":
            out.condition(
                "Paused",
                "True",
                "ReconcilePaused",
                f"annotation {PAUSE_ANNOTATION}=true: the operator leaves this model alone",
            )
            return out
        if (get_condition(v.status.get("conditions"), "Paused") or {}).get("status") == "True":
            out.condition("Paused", "False", "ReconcileResumed", "reconciliation resumed")
        try:
            spec = BedrockImportedModelSpec.model_validate(v.spec)
        except ValidationError as exc:
            msg = "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            self._fail(out, v, "InvalidSpec", f"the spec is invalid: {msg}", "Validated")
            return out
        region = spec.region or self.settings.region
        try:
            self._reconcile(v, spec, region, out)
            out.condition("Synced", "True", "ReconcileSucceeded", "the last reconcile reached Bedrock")
        except ApiException as exc:  # the Kubernetes API (validation Jobs) failed: try again
            out.retry_error = api_error(exc, "on validation Jobs")
            out.condition("Synced", "False", out.retry_error.reason, out.retry_error.message)
        except AwsError as err:
            if err.kind is Kind.RETRYABLE:
                out.retry_error = err
                out.condition("Synced", "False", err.reason, f"{err.message} (retrying with backoff)")
            elif err.kind is Kind.QUOTA:
                out.retry_error = err
                out.condition("Synced", "False", err.reason, err.message)
                out.condition(
                    "Imported", "False", err.reason, f"{err.message}; retried when a model is deleted"
                )
            else:
                self.queue.release(region, v.uid)
                self._fail(out, v, err.reason, err.message, err.condition)
                self._mark_failed(out, v, revision(spec))
        out.status["observedGeneration"] = v.generation
        return out

    # ---- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _serving(v: View) -> bool:
        return bool(v.status.get("modelArn"))

    @staticmethod
    def _failure_marker(v: View, rev: str, attempt: int) -> str:
        """Identifies a failure for good: the revision and attempt, and the spec/retry it happened under."""
        return f"{rev}/{attempt}@{v.generation}:{v.annotations.get(RETRY_ANNOTATION, '')[:40]}"

    def _mark_failed(self, out: Outcome, v: View, rev: str) -> None:
        """Record that this revision's current attempt failed for good (see `_failure_marker`)."""
        attempt = int(out.status.get("attempt") or self._attempt(v, rev))
        out.status["failedRevision"] = self._failure_marker(v, rev, attempt)

    @staticmethod
    def _attempt(v: View, rev: str) -> int:
        return int(v.status.get("attempt") or 1) if v.status.get("importRevision") == rev else 1

    def _fail(self, out: Outcome, v: View, reason: str, message: str, ctype: str) -> None:
        """A failure only the user can fix: say it on the condition, keep serving any current model."""
        out.condition(ctype, "False", reason, message)
        out.status["failureMessage"] = redact(message)
        if self._serving(v):
            out.condition(
                "Ready",
                "True",
                "PreviousRevisionServing",
                f"the new revision failed ({reason}); the previous model keeps serving: {message}",
            )
            out.status["phase"] = "Ready"
        else:
            out.condition("Ready", "False", reason, message)
            out.status["phase"] = "Failed"
        out.event("Warning", reason, message)

    def _tags(self, v: View, spec: BedrockImportedModelSpec) -> dict[str, str]:
        return dict(spec.tags or {}) | ownership_tags(self.settings.cluster_name, v.namespace, v.name, v.uid)

    def resync_due(self, body: dict[str, Any]) -> bool:
        """Whether a Ready, unchanged object needs a look at Bedrock now (cheap; no AWS call)."""
        v = View.of(body)
        last = self._last_sync.get(v.uid)
        if last is None or last[1] != v.generation:
            return True
        return time.monotonic() - last[0] >= self.settings.resync_seconds

    def is_steady(self, body: dict[str, Any]) -> bool:
        v = View.of(body)
        return (
            v.status.get("phase") in ("Ready", "Failed")
            and v.status.get("observedGeneration") == v.generation
            and not v.status.get("previousModelArn")
        )

    # ---- the state machine ----------------------------------------------------------------------
    def _reconcile(self, v: View, spec: BedrockImportedModelSpec, region: str, out: Outcome) -> None:
        bedrock, support = self.clients(region)
        rev = revision(spec)
        if self._serving(v) and v.status.get("revision") == rev:
            self._steady(v, spec, bedrock, out)
            return

        attempt = self._attempt(v, rev)
        base = base_model_name(v.namespace, v.name, spec)
        marker = v.status.get("failedRevision") or ""
        if marker.startswith(f"{rev}/{attempt}@"):
            if marker == self._failure_marker(v, rev, attempt):
                return  # failed for good: nothing to do until the spec (or the retry annotation) changes
            # the user changed something since: try again; a failed job's name is spent, so bump the attempt
            out.status.update(failedRevision=None, validatedRevision=None)
            v.status["validatedRevision"] = None
            if bedrock.find_job(job_name(base, rev, attempt)) is not None:
                attempt += 1
        target = v.status.get("targetModelName") if v.status.get("importRevision") == rev else None
        target = target or (revision_model_name(base, rev) if self._serving(v) else base)
        jname = job_name(base, rev, attempt)
        out.status.update(importRevision=rev, attempt=attempt, targetModelName=target, failureMessage=None)
        updating = self._serving(v)

        # A queued object that this process saw without a job cannot have one: skip the lookup. After a
        # restart the set is empty, so the first look always asks Bedrock (crash safety).
        job = None if self._no_job.get(v.uid) == jname else bedrock.find_job(jname)
        if job is None:
            self._no_job[v.uid] = jname
            # join the line before validating, so objects that validate faster cannot overtake
            queued_at = v.status.get("queuedAt") or self._arrivals.get(v.uid) or now_rfc3339()
            out.status["queuedAt"] = queued_at
            self.queue.enqueue(region, v.uid, queued_at)
            if not self._validated(v, spec, rev, region, support, out):
                # out of line while validation is pending or failed (a slow or stuck validation must not
                # hold the region's slot); a pending one keeps its queuedAt, so it returns to its place
                self.queue.release(region, v.uid)
                if out.status.get("failedRevision"):
                    out.status["queuedAt"] = None
                return
            self._start_import(v, spec, region, rev, attempt, jname, target, bedrock, support, out, updating)
            return

        out.status.update(jobName=job.name, jobArn=job.arn, jobStatus=job.status)
        if job.status == "InProgress":
            self.queue.take_slot(region, v.uid)
            out.status.update(phase="Updating" if updating else "Importing", queuePosition=None)
            out.condition("Imported", "Unknown", "ImportJobRunning", f"import job {job.name} is running")
            if not updating:
                out.condition("Ready", "False", "Importing", f"import job {job.name} is running")
            return
        self.queue.release(region, v.uid)
        if job.created and job.ended:
            metrics.IMPORT_DURATION.observe(max(0.0, (job.ended - job.created).total_seconds()))
        metrics.IMPORT_JOBS.labels("completed" if job.status == "Completed" else "failed").inc()
        if job.status == "Failed":
            message = f"import job {job.name} failed: {job.failure_message or 'no reason given'}"
            self._fail(out, v, "ImportFailed", message, "Imported")
            out.status["failedRevision"] = self._failure_marker(v, rev, attempt)
            return
        model = bedrock.find_model(job.model_arn or job.model_name)
        if model is None:  # completed, then deleted before we saw it: import again
            out.status.update(attempt=attempt + 1)
            out.event(
                "Warning",
                "ModelDeletedOutside",
                f"model {job.model_name} from job {job.name} is gone; importing it again",
            )
            return
        self._adopt_model(v, spec, rev, model, bedrock, out, job_note=f"import job {job.name} completed")

    def _validated(
        self,
        v: View,
        spec: BedrockImportedModelSpec,
        rev: str,
        region: str,
        support: SupportClients,
        out: Outcome,
    ) -> bool:
        if v.status.get("validatedRevision") == rev:
            return True
        s3_uri = spec.source.s3_uri or support.sagemaker_s3_uri(spec.source.sage_maker_model_name or "")
        out.status["resolvedS3Uri"] = s3_uri
        mode = (spec.validation.mode if spec.validation else None) or self.settings.validation_mode
        if mode == "Skip":
            out.condition("Validated", "True", "ValidationSkipped", "spec.validation.mode is Skip")
            out.status["validatedRevision"] = rev
            return True
        out.status["phase"] = "Validating"
        if mode == "Job":
            result = self.jobs.ensure(
                namespace=v.namespace,
                owner_name=v.name,
                owner_uid=v.uid,
                rev=rev,
                s3_uri=s3_uri,
                region=region,
                architecture=spec.architecture,
            )
            if result.kind == "running":
                out.condition("Validated", "Unknown", result.reason, result.message)
                if not self._serving(v):
                    out.condition("Ready", "False", "Validating", result.message)
                return False
            if result.kind == "failed":
                metrics.VALIDATIONS.labels("error", result.reason).inc()
                self._fail(out, v, result.reason, result.message, "Validated")
                self._mark_failed(out, v, rev)
                return False
            doc = result.doc
            summary = dict(doc.get("s") or {})
            errors = [{"code": c, "message": m} for c, m in doc.get("e") or []]
            warnings = [{"code": c, "message": m} for c, m in doc.get("w") or []]
            verdict = doc.get("v")
        else:
            source = S3Folder(s3_uri, client=support.s3)
            try:
                report = validate_source(source, architecture=spec.architecture, region=region)
            except SourceAccessError as exc:
                reason = source_error_reason(exc.code)
                if reason is not None:
                    raise AwsError(
                        Kind.TERMINAL,
                        exc.code,
                        f"cannot read the model source ({exc.code}): {exc.message}",
                        reason,
                        condition="Validated",
                    ) from None
                raise AwsError(
                    Kind.RETRYABLE, exc.code, f"reading the model source: {exc.message}", "SourceUnreachable"
                ) from None
            summary = report.summary.to_status()
            errors = [{"code": f.code, "message": f.message} for f in report.errors]
            warnings = [{"code": f.code, "message": f.message} for f in report.warnings]
            verdict = report.verdict
        return self._judged(v, spec, rev, s3_uri, verdict, summary, errors, warnings, out)

    def _judged(
        self,
        v: View,
        spec: BedrockImportedModelSpec,
        rev: str,
        s3_uri: str,
        verdict: str,
        summary: dict[str, Any],
        errors: list[dict],
        warnings: list[dict],
        out: Outcome,
    ) -> bool:
        """Turn a validation result (inline or from a Job) into the Validated condition and summary."""
        clean, cleanw = _shown(errors), _shown(warnings)
        out.status["validation"] = {
            "verdict": verdict,
            **summary,
            "errors": clean or None,
            "warnings": cleanw or None,
        }
        strict = bool(spec.validation and spec.validation.warnings_as_errors)
        problems = clean + (cleanw if strict else [])
        refused = bool(problems) or verdict != "importable"
        metrics.VALIDATIONS.labels(
            "not-importable" if refused else "importable",
            problems[0]["code"] if problems else "ArtifactsImportable",
        ).inc()
        if refused:
            message = f"{len(problems)} problem(s) with {s3_uri}: " + "; ".join(
                f"{f['code']}: {f['message']}" for f in problems[:3]
            )
            self._fail(out, v, "ValidationFailed", message, "Validated")
            out.condition("Validated", "False", problems[0]["code"] if problems else "NotImportable", message)
            self._mark_failed(out, v, rev)
            return False
        codes = sorted({w["code"] for w in cleanw})
        warn = f" ({len(cleanw)} warning(s): {', '.join(codes)})" if cleanw else ""
        out.condition("Validated", "True", "ArtifactsImportable", f"{s3_uri} will import{warn}")
        out.status["validatedRevision"] = rev
        out.event("Normal", "Validated", f"{s3_uri}: importable as {summary.get('architecture')}{warn}")
        return True

    def _start_import(
        self,
        v: View,
        spec: BedrockImportedModelSpec,
        region: str,
        rev: str,
        attempt: int,
        jname: str,
        target: str,
        bedrock: BedrockClient,
        support: SupportClients,
        out: Outcome,
        updating: bool,
    ) -> None:
        queued_at = out.status.get("queuedAt") or v.status.get("queuedAt") or now_rfc3339()
        position = self.queue.enqueue(region, v.uid, queued_at)
        if not self.queue.may_start(region, v.uid):
            self._queued(v, out, queued_at, position, updating, "another import is running in " + region)
            return
        s3_uri = out.status.get("resolvedS3Uri") or v.status.get("resolvedS3Uri") or spec.source.s3_uri
        if not s3_uri:
            s3_uri = support.sagemaker_s3_uri(spec.source.sage_maker_model_name or "")
            out.status["resolvedS3Uri"] = s3_uri
        if spec.service_role.role_arn:
            role = spec.service_role.role_arn
        else:
            role = support.ensure_role(
                support.role_name(v.namespace, v.name),
                s3_uri,
                ownership_tags(self.settings.cluster_name, v.namespace, v.name, v.uid),
            )
        out.status["serviceRoleArn"] = role
        try:
            arn = bedrock.create_job(
                job_name=jname,
                model_name=target,
                role_arn=role,
                s3_uri=s3_uri,
                token=client_token(v.uid, rev, attempt),
                tags=self._tags(v, spec),
                kms_key_id=spec.kms_key_id,
                vpc=spec.vpc_config.model_dump(by_alias=True) if spec.vpc_config else None,
            )
        except AwsError as err:
            if err.kind is Kind.QUEUE:
                self._queued(
                    v, out, queued_at, position, updating, "Bedrock's import slot in " + region + " is busy"
                )
                return
            if err.kind is Kind.CONFLICT:
                existing = bedrock.find_model(target)
                if existing is not None and spec.adopt_existing:
                    self.queue.release(region, v.uid)
                    self._adopt_model(v, spec, rev, existing, bedrock, out, job_note="adopted existing model")
                    out.event("Normal", "ModelAdopted", f"adopted the existing imported model {target}")
                    return
                if existing is not None:
                    raise AwsError(
                        Kind.TERMINAL,
                        err.code,
                        f"an imported model named {target} already exists and "
                        "is not managed by this object: set spec.adoptExisting: true to adopt it, or "
                        "choose another spec.modelName",
                        "ModelNameConflict",
                    ) from None
            raise
        self.queue.take_slot(region, v.uid)
        self._no_job.pop(v.uid, None)
        out.status.update(
            jobName=jname,
            jobArn=arn,
            jobStatus="InProgress",
            queuePosition=None,
            queuedAt=None,
            phase="Updating" if updating else "Importing",
        )
        out.condition("Imported", "Unknown", "ImportJobRunning", f"import job {jname} started")
        if not updating:
            out.condition("Ready", "False", "Importing", f"import job {jname} is running")
        metrics.IMPORT_JOBS.labels("started").inc()
        out.event("Normal", "ImportStarted", f"import job {jname} started for model {target} from {s3_uri}")

    def _queued(self, v: View, out: Outcome, queued_at: str, position: int, updating: bool, why: str) -> None:
        out.status.update(
            phase="Updating" if updating else "Queued", queuePosition=position, queuedAt=queued_at
        )
        out.condition(
            "Imported",
            "Unknown",
            "Queued",
            f"waiting for Bedrock's single import slot: position {position} ({why})",
        )
        if not updating:
            out.condition("Ready", "False", "Queued", f"queued for import (position {position})")
        if v.status.get("phase") != "Queued":
            out.event("Normal", "Queued", f"queued for import at position {position}: {why}")

    def _adopt_model(
        self,
        v: View,
        spec: BedrockImportedModelSpec,
        rev: str,
        model,
        bedrock: BedrockClient,
        out: Outcome,
        job_note: str,
    ) -> None:
        previous = v.status.get("modelArn")
        bedrock.sync_tags(model.arn, self._tags(v, spec))
        out.status.update(
            modelName=model.name,
            modelArn=model.arn,
            modelArchitecture=model.architecture,
            instructSupported=model.instruct_supported,
            revision=rev,
            phase="Ready",
            failureMessage=None,
            customModelUnits={
                "customModelUnitsPerModelCopy": model.cmu_per_copy,
                "customModelUnitsVersion": model.cmu_version,
            },
            jobStatus="Completed" if job_note.startswith("import") else v.status.get("jobStatus"),
            targetModelName=None,
            queuePosition=None,
            queuedAt=None,
            lastSyncTime=now_rfc3339(),
        )
        out.condition("Imported", "True", "ImportCompleted", f"{job_note}: model {model.name}")
        out.condition("Ready", "True", "ModelReady", f"model {model.arn} is ready")
        out.event("Normal", "ModelReady", f"model {model.name} is ready ({model.arn})")
        self._last_sync[v.uid] = (time.monotonic(), v.generation)
        if previous and previous != model.arn:
            out.status["previousModelArn"] = previous
            self._retire_previous(previous, bedrock, out)

    def _retire_previous(self, previous: str, bedrock: BedrockClient, out: Outcome) -> None:
        bedrock.delete_model(previous)
        out.status["previousModelArn"] = None
        out.event("Normal", "PreviousRevisionDeleted", f"deleted the previous revision {previous}")

    def _steady(self, v: View, spec: BedrockImportedModelSpec, bedrock: BedrockClient, out: Outcome) -> None:
        if v.status.get("previousModelArn"):
            self._retire_previous(v.status["previousModelArn"], bedrock, out)
        last = self._last_sync.get(v.uid)
        due = (
            last is None
            or last[1] != v.generation
            or time.monotonic() - last[0] >= self.settings.resync_seconds
        )
        if not due and v.status.get("phase") == "Ready":
            return
        model = bedrock.find_model(v.status["modelArn"])
        if model is None:
            rev = revision(spec)
            out.status.update(
                modelArn=None,
                phase="Importing",
                importRevision=rev,
                attempt=self._attempt(v, rev) + 1,
                targetModelName=v.status.get("modelName"),
                validatedRevision=None,
                failedRevision=None,
            )
            out.condition(
                "Ready",
                "False",
                "ModelDeletedOutside",
                f"model {v.status.get('modelName')} was deleted outside the cluster; importing it again",
            )
            out.event(
                "Warning",
                "ModelDeletedOutside",
                f"model {v.status.get('modelName')} no longer exists in Bedrock; importing it again",
            )
            self._last_sync.pop(v.uid, None)
            return
        changed, removed = bedrock.sync_tags(model.arn, self._tags(v, spec))
        if changed or removed:
            user_edit = last is not None and last[1] != v.generation
            what = f"set {sorted(changed)}" + (f", removed {removed}" if removed else "")
            if user_edit:
                out.event("Normal", "TagsUpdated", f"tags updated in place: {what}")
            else:
                out.event(
                    "Warning", "TagsDriftCorrected", f"tags changed outside the cluster were set back: {what}"
                )
        out.status.update(
            phase="Ready",
            lastSyncTime=now_rfc3339(),
            modelArchitecture=model.architecture,
            instructSupported=model.instruct_supported,
            failureMessage=None,
        )
        out.condition("Ready", "True", "ModelReady", f"model {model.arn} is ready")
        out.condition("Imported", "True", "ImportCompleted", f"model {model.name} exists in Bedrock")
        self._last_sync[v.uid] = (time.monotonic(), v.generation)

    # ---- deletion ---------------------------------------------------------------------------------
    def finalize(self, body: dict[str, Any]) -> tuple[bool, list[tuple[str, str, str]]]:
        """Delete (or retain) what the object owns. Returns (done, events); not done = try again later."""
        v = View.of(body)
        events: list[tuple[str, str, str]] = []
        try:
            spec = BedrockImportedModelSpec.model_validate(v.spec)
        except ValidationError:
            return True, events  # never created anything
        region = spec.region or self.settings.region
        bedrock, support = self.clients(region)
        rev = revision(spec)
        base = base_model_name(v.namespace, v.name, spec)
        job_names = {n for n in (v.status.get("jobName"), job_name(base, rev, self._attempt(v, rev))) if n}
        to_delete = {a for a in (v.status.get("modelArn"), v.status.get("previousModelArn")) if a}
        for jn in sorted(job_names):
            job = bedrock.find_job(jn)
            if job is None:
                continue
            if job.status == "InProgress":
                return False, [
                    (
                        "Normal",
                        "WaitingForImportJob",
                        f"import job {jn} is running and Bedrock cannot stop it; deleting when it ends",
                    )
                ]
            if job.status == "Completed" and job.model_arn:
                to_delete.add(job.model_arn)
        self.queue.release(region, v.uid)
        self._last_sync.pop(v.uid, None)
        self._arrivals.pop(v.uid, None)
        self._no_job.pop(v.uid, None)
        if spec.deletion_policy == "Retain":
            if to_delete:
                events.append(
                    ("Normal", "ModelRetained", f"deletionPolicy Retain: kept {', '.join(sorted(to_delete))}")
                )
        else:
            for arn in sorted(to_delete):
                if bedrock.delete_model(arn):
                    events.append(("Normal", "ModelDeleted", f"deleted imported model {arn}"))
        if spec.service_role.create:
            support.delete_role(support.role_name(v.namespace, v.name))
        if (spec.validation and spec.validation.mode == "Job") or self.settings.validation_mode == "Job":
            self.jobs.delete_for_owner(v.namespace, v.uid)
        return True, events


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
