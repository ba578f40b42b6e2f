"""A revision that failed for good: recorded once, shown the same way on every pass, and retried only when
something the import depends on changes (revision fields, region, role, model name, the retry annotation)."""

from __future__ import annotations

from controller.api.models import FailureRecord
from controller.api.reasons import ConditionType, Phase
from controller.reconcile.context import Pass
from controller.redact import redact


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
    p.st.queued_at = None


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
