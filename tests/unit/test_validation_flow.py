"""Validating a revision in the reconcile (`controller/reconcile/validation.py`), driven through the
in-process World: a Job that ends without a verdict or with a bare not-importable one, the one inline
validation at a time, and an inline validation S3 throttles. Each test names the branch it drives
(docs/coverage-branches.md) or the mutation it answers (hack/mutants.py)."""

from __future__ import annotations

from typing import Any

from controller.api.reasons import Reason
from controller.kube.validation_jobs import JobResult
from controller.reconcile.validation import INLINE_GATE
from tests.support.world import World, condition, creates_for, import_jobs, listing_of, until_5s
from tests.unit.test_invariants import SOURCES, Operators, spec


def test_a_validation_job_that_ends_without_a_verdict_fails_the_revision_and_frees_the_line():
    """validation.py `validated`: `if result.kind == "failed": fail(p, VALIDATED, ...)`. The validation
    Job was OOMKilled (or evicted, or past its deadline): no verdict will ever come. The revision fails
    (Validated False with the Job's reason), nothing is imported, and the object behind it in line imports."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    real = c.jobs.ensure

    def ensure(**kw: Any) -> JobResult:
        result = real(**kw)
        if result.kind != "verdict":
            return result
        return JobResult("failed", "ValidationJobOOMKilled", "validation Job ran out of memory (injected)")

    c.jobs.ensure = ensure  # type: ignore[method-assign]
    body = c.create(
        "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Job")
    )
    behind = c.create("team-b", "next", spec(SOURCES[1], "us-east-1", "Delete", {"team": "b"}, None))
    until_5s(w, lambda: condition(body, "Validated").get("status") == "False", 120)
    assert condition(body, "Validated")["reason"] == "ValidationJobOOMKilled"
    assert (
        body["status"]["phase"] == "Failed"
        and body["status"]["failure"]["reason"] == "ValidationJobOOMKilled"
    )
    assert condition(body, "Ready")["status"] == "False"
    until_5s(w, lambda: behind["status"].get("phase") == "Ready", 120)
    assert creates_for(w, SOURCES[0]) == 0
    m.teardown()


def test_a_not_importable_verdict_without_error_findings_starts_no_import():
    """Mutation fresh-validation-verdict-ignored (validation.py `_judged`, `refused = bool(problems) or
    verdict != "importable"`). A validation Job's verdict says not-importable but lists no error finding
    (e.g. a validator whose findings were cut from the termination message). The verdict decides:
    Validated is False (NotImportable), the revision is Failed, and no paid import job is started."""
    w = World()
    c = w.cluster("east")
    real = c.jobs.ensure

    def ensure(**kw: Any):
        result = real(**kw)
        if result.kind == "verdict":
            result.doc = result.doc.model_copy(update={"verdict": "not-importable", "errors": []})
        return result

    c.jobs.ensure = ensure  # type: ignore[method-assign]
    body = c.create(
        "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Job")
    )
    until_5s(w, lambda: condition(body, "Validated").get("status") in ("True", "False"), 120)
    w.advance(60.0)
    validated = condition(body, "Validated")
    assert validated["status"] == "False" and validated["reason"] == "NotImportable", validated
    assert body["status"]["phase"] == "Failed"
    assert body["status"]["validation"]["verdict"] == "not-importable"
    assert not import_jobs(w.aws), "no import job was paid for"


def test_an_inline_validation_waits_while_the_operator_validates_another_model():
    """validation.py `validated`: `if not INLINE_GATE.acquire(p.view.uid, timeout=...)`. At most
    BMO_INLINE_VALIDATIONS (1) Inline validations at a time per process (each one's memory is bounded, the
    reconcile threads are not). Here the test holds the gate, as another object's validation would: this
    object says it is waiting for the inline validator, holds no worker, is the first woken when the gate
    frees, and validates."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    assert INLINE_GATE.acquire("another-model", timeout=5)
    held = True
    try:
        body = c.create(
            "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Inline")
        )
        w.advance(10.0, tick=5.0)
        validated = condition(body, "Validated")
        assert validated.get("status") == "Unknown", validated
        assert "waiting for the operator's inline validator" in validated.get("message", "")
        assert condition(body, "Ready")["status"] == "False" and creates_for(w, SOURCES[0]) == 0
        INLINE_GATE.release()
        held = False
        # the freed turn is this object's at once (the operator wakes it), not at its next poll
        assert INLINE_GATE.next_up() == [body["metadata"]["uid"]]
        assert INLINE_GATE.next_up() == []  # woken once: it puts itself back if it finds the gate full
    finally:
        if held:
            INLINE_GATE.release()
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 120)
    assert condition(body, "Validated")["reason"] == Reason.ARTIFACTS_IMPORTABLE
    m.teardown()


def test_an_inline_validation_that_cannot_reach_s3_is_retried_not_failed():
    """validation.py `validated`: `if reason is not None:` false, so `raise SourceError(Kind.RETRYABLE,
    ... SOURCE_UNREACHABLE)`. S3 throttles (SlowDown) the inline validator's listing: that says nothing of
    the model. The object retries (Synced False, SourceUnreachable), then validates and imports."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    listing = listing_of(w, SOURCES[0])
    listing["code"] = "SlowDown"
    body = c.create(
        "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Inline")
    )
    until_5s(w, lambda: condition(body, "Synced").get("reason") == Reason.SOURCE_UNREACHABLE, 60)
    assert body["status"].get("failure") is None
    assert condition(body, "Validated").get("status") != "False"
    listing["code"] = None
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 120)
    assert condition(body, "Validated")["reason"] == Reason.ARTIFACTS_IMPORTABLE
    m.teardown()


def test_the_inline_gate_takes_turns_first_come_first_served_and_forgets_the_gone():
    from controller.reconcile.inline_gate import InlineGate

    gate = InlineGate(2)
    assert gate.acquire("a", 0) and gate.acquire("b", 0)
    assert not gate.acquire("c", 0) and not gate.acquire("d", 0) and not gate.acquire("e", 0)
    assert gate.next_up() == []  # nothing free: nobody is woken to find it full
    gate.forget("d")  # deleted while waiting
    gate.release()
    assert gate.next_up() == ["c"]
    gate.release()
    assert gate.next_up() == ["e"]
    assert gate.acquire("e", 0) and gate.acquire("c", 0) and not gate.acquire("f", 0)
