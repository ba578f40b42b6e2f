"""How every error of a pass ends, in one place (as ACK's HandleReconcileError): a retryable one as Synced
(and Ready) False and a retry with backoff, a quota or a busy slot as a wait, anything else as a revision
that failed for good: recorded once, shown the same way on every pass, and retried only when something the
import depends on changes (revision fields, region, role, model name, the retry annotation). The runtime
acts on `Outcome.retry_error` (backoff), and posts `Outcome.events`."""

from __future__ import annotations

from controller.api.models import FailureRecord
from controller.api.reasons import ConditionType, Phase, Reason
from controller.errors import Kind, OperatorError, SourceError
from controller.reconcile.context import Pass
from controller.reconcile.outcome import Outcome
from controller.redact import redact


def handle_error(p: Pass, err: OperatorError) -> None:
    """An error a step raised, as conditions, a retry (`retry_error`) or a recorded failure."""
    out = p.out
    if err.kind is Kind.RETRYABLE:
        out.retry_error = err
        show_retrying(out, err)
        if not p.up_to_date and ConditionType.READY not in out.conditions:
            out.condition(ConditionType.READY, "False", err.reason, f"{err.message} (retrying with backoff)")
        return
    if err.kind is Kind.QUOTA:
        out.retry_error = err
        out.condition(ConditionType.SYNCED, "False", err.reason, err.message)
        message = f"{err.message}; retried when a model is deleted"
        out.condition(ConditionType.IMPORTED, "False", err.reason, message)
        if not p.up_to_date:
            out.condition(ConditionType.READY, "False", err.reason, message)
        return
    if err.kind is Kind.QUEUE:  # the slot is busy outside this operator: wait in line
        out.retry_error = err
        return
    ctype = ConditionType.VALIDATED if isinstance(err, SourceError) else ConditionType.IMPORTED
    fail(p, ctype, err.reason, err.message)


def show_retrying(out: Outcome, err: OperatorError) -> None:
    """Synced=False while a retryable error is retried: the one wording of it."""
    out.condition(ConditionType.SYNCED, "False", err.reason, f"{err.message} (retrying with backoff)")


def show_synced(p: Pass) -> None:
    """Synced, unless a step said it: the error and the retry; True only while Bedrock holds what the spec
    asks for (its model serves, or its import job was sent and runs); else Unknown: nothing of this spec is
    in Bedrock yet (it validates, or waits in line; a completed job's model that never showed is not)."""
    out = p.out
    if ConditionType.SYNCED in out.conditions:
        return
    err, job = out.retry_error, p.st.import_job
    if err is not None:
        show_retrying(out, err)
    elif p.up_to_date:
        out.condition(
            ConditionType.SYNCED, "True", Reason.RECONCILE_SUCCEEDED, "Bedrock serves what the spec asks for"
        )
    elif (
        job is not None
        and job.in_flight
        and job.sent_at
        and job.inputs == p.inputs
        and job.region == p.region
    ):
        out.condition(
            ConditionType.SYNCED,
            "True",
            Reason.RECONCILE_SUCCEEDED,
            f"import job {job.job_name} for this spec was sent to Bedrock",
        )
    else:
        phase = str(p.st.phase or "Pending").lower()
        out.condition(
            ConditionType.SYNCED,
            "Unknown",
            Reason.NOT_SENT_YET,
            f"nothing of this spec has been sent to Bedrock yet ({phase})",
        )


def fail(p: Pass, ctype: ConditionType, reason: str, message: str, inputs: str | None = None) -> None:
    """A failure only the user can fix. The serving model (if any) keeps serving; Ready says the spec's
    revision is not there, and why. `inputs`: what the failed attempt ran with (default: the spec's now)."""
    p.st.failure = FailureRecord(
        revision=p.rev,
        inputs=inputs or p.inputs,
        reason=str(reason),
        condition=str(ctype),
        message=redact(message),
    )
    p.out.event("Warning", reason, message)
    show(p)


def show(p: Pass) -> None:
    """Conditions and phase of a recorded failure (the same on every pass until it is retried)."""
    f = p.st.failure
    assert f is not None
    p.out.condition(f.condition, "False", f.reason, f.message)
    if f.condition == ConditionType.VALIDATED and not p.serving:
        p.out.condition(ConditionType.IMPORTED, "False", f.reason, f"no import job was started: {f.message}")
    if f.condition == ConditionType.SMOKE_TESTED:  # the spec's revision: imported, failed, deleted
        p.out.condition(ConditionType.IMPORTED, "False", f.reason, f"imported, then deleted: {f.message}")
    p.out.condition(ConditionType.READY, "False", f.reason, p.keeps_serving(f.message))
    p.out.condition(
        ConditionType.SYNCED,
        "False",
        f.reason,
        "terminal: the operator does not retry until the spec (or the annotation "
        "bedrock.modelops.io/retry) changes",
    )
    p.st.failure_message = f.message
    p.st.phase = Phase.FAILED
    p.st.queue_position = None
    p.st.queued_at = p.st.queued_order = None


def still_failed(p: Pass) -> bool:
    """True when the recorded failure applies to what the spec asks for now; a stale one is cleared."""
    f = p.st.failure
    if f is None:
        return False
    if f.inputs == p.inputs:
        return True
    p.st.failure = None
    p.st.failure_message = None
    return False
