"""Prove the artifacts will import before an import job is paid for: inline, in a Job pod, or skipped."""

from __future__ import annotations

import datetime as dt
from typing import Any

from controller import metrics, rfc3339
from controller.api.models import BedrockImportedModelSpec, SourceWait, ValidationSummary
from controller.api.reasons import ConditionType, EventReason, Phase, Reason
from controller.artifacts import S3Folder, SourceAccessError, validate_source
from controller.artifacts.limits import INLINE_LIMITS
from controller.artifacts.sources import source_error_reason
from controller.errors import Kind, SourceError
from controller.kube.validation_jobs import ValidationJobs
from controller.reconcile.context import Pass, shown_reason
from controller.reconcile.failures import fail
from controller.reconcile.import_queue import line_key, slot_of
from controller.reconcile.inline_gate import InlineGate
from controller.reconcile.outcome import QueueState
from controller.redact import redact
from controller.settings import Settings

INLINE_GATE = InlineGate()  # the process's (BMO_INLINE_VALIDATIONS turns)
#: How long a pass waits for the inline validator before it says so and tries again at the next poll (short:
#: a waiting pass holds one of the reconcile workers every other object needs).
INLINE_WAIT_SECONDS = 0.5
#: Findings that mean a file is not there (yet): a folder named before (or while) its upload runs. Waited for,
#: up to BMO_SOURCE_WAIT_SECONDS, when they are all the validator found.
NOT_THERE_YET = frozenset(
    {
        "SourceEmpty",
        "SourceNotFound",
        "MissingConfig",
        "MissingWeights",
        "ShardMissing",
        "MissingTokenizer",
        "MissingTokenizerConfig",
    }
)


def _shown(findings: list[dict]) -> list[dict]:
    """Validator findings as status holds them: redacted, each message bounded, at most 20."""
    return [{"code": str(f["code"]), "message": redact(str(f["message"]), 512)} for f in findings][:20]


def mode_of(spec: BedrockImportedModelSpec, settings: Settings) -> str:
    """The validation that runs for a spec: its own mode, else the operator's default."""
    return (spec.validation.mode if spec.validation else None) or settings.validation_mode


def source_uri(p: Pass) -> str:
    """The S3 folder to import: the spec's, or the SageMaker model's artifacts (resolved once per pass)."""
    if p.spec.source.s3_uri:
        return p.spec.source.s3_uri
    if not p.st.resolved_s3_uri or p.st.validated_inputs != p.inputs:
        p.st.resolved_s3_uri = p.support.sagemaker_s3_uri(p.spec.source.sage_maker_model_name or "")
    return p.st.resolved_s3_uri


def validated(p: Pass, settings: Settings, jobs: ValidationJobs) -> bool:
    """True when the spec's revision is proven importable; otherwise the pass says why not (pending or
    failed) and the caller stops."""
    if p.st.validated_inputs == p.inputs:
        # said while paused, for an edit that turned out to need no new validation: true again
        if shown_reason(p.st, ConditionType.VALIDATED) == Reason.RECONCILE_PAUSED:
            _say_validated_before(p, settings)
        return True
    s3_uri = source_uri(p)
    p.st.resolved_s3_uri = s3_uri
    mode = mode_of(p.spec, settings)
    if mode == "Skip":
        p.out.condition(
            ConditionType.VALIDATED, "True", Reason.VALIDATION_SKIPPED, "spec.validation.mode is Skip"
        )
        p.st.validated_inputs = p.inputs
        p.st.validation = None  # an earlier revision's summary (and fingerprint) says nothing of this one
        return True
    p.st.phase = Phase.UPDATING if p.serving else Phase.VALIDATING
    if mode == "Job":
        result = jobs.ensure(
            namespace=p.view.namespace,
            owner_name=p.view.name,
            owner_uid=p.view.uid,
            rev=p.rev,
            s3_uri=s3_uri,
            region=p.region,
            architecture=p.spec.architecture,
        )
        if result.kind == "running":
            if (  # the user's to fix: said out loud, once (not at every look until it exists)
                result.reason == "ValidationServiceAccountMissing"
                and shown_reason(p.st, ConditionType.VALIDATED) != result.reason
            ):
                p.out.event("Warning", result.reason, result.message)
            p.out.condition(ConditionType.VALIDATED, "Unknown", result.reason, result.message)
            p.out.condition(
                ConditionType.READY, "False", Reason.VALIDATING, _while_serving(p, result.message)
            )
            if not p.serving:  # says why no import has started, instead of a generic "working on it"
                p.out.condition(
                    ConditionType.IMPORTED,
                    "Unknown",
                    Reason.VALIDATING,
                    "no import job yet: the artifacts are being validated first",
                )
            return False
        if result.kind == "failed":
            if result.reason in NOT_THERE_YET:
                _wait_for_upload(p, settings, s3_uri, result.reason, result.message, job=jobs)
            metrics.VALIDATIONS.labels("error", result.reason).inc()
            fail(p, ConditionType.VALIDATED, result.reason, _waited(p, settings, result.message))
            return False
        doc = result.doc
        assert doc is not None  # a "verdict" result carries one
        summary = dict(doc.summary)
        errors = [{"code": c, "message": m} for c, m in doc.errors]
        warnings = [{"code": c, "message": m} for c, m in doc.warnings]
        verdict = doc.verdict
    else:
        source = S3Folder(s3_uri, client=p.support.s3)
        # a few Inline validations at a time in the process: each one's memory is bounded
        # (INLINE_PEAK_BUDGET), the number of reconcile threads that could run one at once is not
        if not INLINE_GATE.acquire(p.view.uid, timeout=INLINE_WAIT_SECONDS):
            message = "waiting for the operator's inline validator (other models are being validated first)"
            p.out.condition(ConditionType.VALIDATED, "Unknown", Reason.VALIDATING, message)
            p.out.condition(ConditionType.READY, "False", Reason.VALIDATING, _while_serving(p, message))
            return False
        try:
            report = validate_source(
                source, architecture=p.spec.architecture, region=p.region, limits=INLINE_LIMITS, concurrency=4
            )
        except SourceAccessError as exc:
            reason = source_error_reason(exc.code)
            message = f"cannot read the model source ({exc.code}): {exc.message}"
            if reason in NOT_THERE_YET:  # no bucket (yet): wait, within the bound
                _wait_for_upload(p, settings, s3_uri, reason, message)
                message = _waited(p, settings, message)
            if reason is not None:
                raise SourceError(Kind.TERMINAL, exc.code, message, reason) from None
            raise SourceError(
                Kind.RETRYABLE,
                exc.code,
                f"reading the model source: {exc.message}",
                Reason.SOURCE_UNREACHABLE,
            ) from None
        finally:
            INLINE_GATE.release()
        summary = report.summary.to_status()
        errors = [{"code": f.code, "message": f.message} for f in report.errors]
        warnings = [{"code": f.code, "message": f.message} for f in report.warnings]
        verdict = report.verdict
    if errors and all(e["code"] in NOT_THERE_YET for e in errors):
        missing = "; ".join(
            "no files" if e["code"] == "SourceEmpty" else f"{e['code']}: {e['message']}" for e in errors[:3]
        )
        _wait_for_upload(p, settings, s3_uri, errors[0]["code"], missing, job=jobs if mode == "Job" else None)
        errors = [{**errors[0], "message": _waited(p, settings, errors[0]["message"])}, *errors[1:]]
    return _judged(p, s3_uri, verdict, summary, errors, warnings)


def _wait_for_upload(
    p: Pass, settings: Settings, s3_uri: str, code: str, detail: str, job: ValidationJobs | None = None
) -> None:
    """The source is not (fully) there yet. Within BMO_SOURCE_WAIT_SECONDS of the first time this revision
    found it so, say so and raise a retryable error (looked at again with backoff; a Job's verdict of the
    missing files is removed so the next look reads the folder again); past it, return: the caller fails."""
    wait = p.st.source_wait
    if wait is None or wait.inputs != p.inputs:
        wait = p.st.source_wait = SourceWait(inputs=p.inputs, since=p.now_rfc3339())
    if p.seconds_since(wait.since) >= settings.source_wait_seconds:
        return
    if job is not None:
        job.delete_for_owner(p.view.namespace, p.view.uid)
    until = rfc3339.format_time(
        rfc3339.parse(wait.since) + dt.timedelta(seconds=settings.source_wait_seconds)
    )
    message = (
        f"{s3_uri} is not there yet ({detail}); waiting for the upload, looked at again with backoff until "
        f"{until} (if the URI is wrong, fix spec.source)"
    )
    p.out.condition(ConditionType.VALIDATED, "Unknown", Reason.WAITING_FOR_SOURCE, message)
    p.out.condition(ConditionType.READY, "False", Reason.WAITING_FOR_SOURCE, _while_serving(p, message))
    if not p.serving:
        p.out.condition(
            ConditionType.IMPORTED,
            "Unknown",
            Reason.WAITING_FOR_SOURCE,
            "no import job yet: the source is not there",
        )
    # looks slow down as the wait goes on (an eighth of it so far), whatever happened between them
    pace = max(settings.backoff_base_seconds, p.seconds_since(wait.since) / 8)
    raise SourceError(Kind.RETRYABLE, code, message, Reason.WAITING_FOR_SOURCE, retry_after=pace)


def _waited(p: Pass, settings: Settings, message: str) -> str:
    """A failure's message, saying how long the source was waited for (when it was); the wait is over."""
    wait, p.st.source_wait = p.st.source_wait, None
    if wait is None or wait.inputs != p.inputs or settings.source_wait_seconds <= 0:
        return message
    return f"{message} (waited {p.seconds_since(wait.since) / 60:.0f} min for the upload)"


def _say_validated_before(p: Pass, settings: Settings) -> None:
    if mode_of(p.spec, settings) == "Skip" or p.st.validation is None:
        p.out.condition(
            ConditionType.VALIDATED, "True", Reason.VALIDATION_SKIPPED, "spec.validation.mode is Skip"
        )
        return
    p.out.condition(
        ConditionType.VALIDATED,
        "True",
        Reason.ARTIFACTS_IMPORTABLE,
        f"{p.st.resolved_s3_uri or p.spec.source.s3_uri} will import (validated before the pause)",
    )


def revalidate(p: Pass, settings: Settings, jobs: ValidationJobs, why: str) -> None:
    """The source changed since it was validated: judge it again before any import (a Job's verdict of
    the old files is removed, so the revision's next Job reads the folder as it is now)."""
    if mode_of(p.spec, settings) == "Job":
        jobs.delete_for_owner(p.view.namespace, p.view.uid)
    p.st.phase = Phase.UPDATING if p.serving else Phase.VALIDATING
    p.out.event("Warning", Reason.SOURCE_CHANGED, why)
    p.out.condition(ConditionType.VALIDATED, "Unknown", Reason.SOURCE_CHANGED, why)
    p.out.condition(ConditionType.READY, "False", Reason.VALIDATING, _while_serving(p, why))
    line = slot_of(p.region, p.st.account_role_arn)
    p.out.queue = QueueState(
        line, holding=False, queued_at=line_key(p.st.queued_at or p.now_rfc3339(), p.st.queued_order)
    )
    p.out.again = True


def _while_serving(p: Pass, message: str) -> str:
    if not p.serving:
        return message
    return p.keeps_serving(f"revision {p.rev[:8]}: {message}")


def _judged(
    p: Pass,
    s3_uri: str,
    verdict: str,
    summary: dict[str, Any],
    errors: list[dict],
    warnings: list[dict],
) -> bool:
    """Turn a validation result (inline or from a Job) into the Validated condition and summary."""
    p.st.source_wait = None  # judged: whatever was waited for is there (or was waited for long enough)
    clean, cleanw = _shown(errors), _shown(warnings)
    p.st.validation = ValidationSummary.model_validate(
        {"verdict": verdict, **summary, "errors": clean or None, "warnings": cleanw or None}
    )
    strict = bool(p.spec.validation and p.spec.validation.warnings_as_errors)
    problems = clean + (cleanw if strict else [])
    refused = bool(problems) or verdict != "importable"
    metrics.VALIDATIONS.labels(
        "not-importable" if refused else "importable",
        problems[0]["code"] if problems else Reason.ARTIFACTS_IMPORTABLE,
    ).inc()
    if refused:
        message = f"{len(problems)} problem(s) with {s3_uri}: " + "; ".join(
            f"{f['code']}: {f['message']}" for f in problems[:3]
        )
        fail(p, ConditionType.VALIDATED, problems[0]["code"] if problems else Reason.NOT_IMPORTABLE, message)
        return False
    codes = sorted({w["code"] for w in cleanw})
    warn = f" ({len(cleanw)} warning(s): {', '.join(codes)})" if cleanw else ""
    p.out.condition(
        ConditionType.VALIDATED, "True", Reason.ARTIFACTS_IMPORTABLE, f"{s3_uri} will import{warn}"
    )
    p.st.validated_inputs = p.inputs
    p.out.event(
        "Normal", EventReason.VALIDATED, f"{s3_uri}: importable as {summary.get('architecture')}{warn}"
    )
    return True
