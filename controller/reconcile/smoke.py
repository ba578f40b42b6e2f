"""The smoke test: a newly imported model is called once (InvokeModel on its ARN) before it serves.

The job's model waits in status (`importJob.state: Testing`, its ARN recorded: deleted with the object like
any model it owns) while the test runs. One call per pass, never a sleep: ModelNotReadyException (the cold
start while Bedrock loads the model, or loads it again after an eviction) is tried again at the next poll.
An answer that matches `expect` promotes the model (the previous one is retired as usual); anything else
fails the revision for good, deletes the candidate, and leaves the previous model serving. Two answers are
not a broken model and fail nothing: a model still loading past the deadline is waited for (up to
`LOADING_LIMIT`), and an account-level enforced guardrail's intervention promotes the model that answered,
with a Warning that `expect` could not be checked.
"""

from __future__ import annotations

import json
import time
from typing import Any

from controller import tenant_regex
from controller.api.models import ImportJobRecord, SmokeTest, SmokeTestResult
from controller.api.reasons import ConditionType, Phase, Reason
from controller.errors import AwsError, Kind
from controller.reconcile.context import Pass
from controller.reconcile.failures import fail
from controller.reconcile.serving import promote, supersede
from controller.redact import redact

EXCERPT = 200
#: The part of an answer `expect` is matched against (a smoke test asks for few tokens).
MAX_MATCHED = 2000
#: Between two tries, at most this much counts toward the deadline (a poll is 10 s by default).
MAX_COUNTED_GAP = 60.0
NOT_READY = "ModelNotReadyException"
#: a model still loading is waited for past the smoke test's deadline, up to this multiple of it (and at
#: least an hour: Bedrock's own cold starts of large models take minutes): then it counts as never loading
LOADING_LIMIT_FACTOR, LOADING_LIMIT_MIN = 6, 3600.0
#: InvokeModel's body field when a guardrail ran on the call
GUARDRAIL_ACTION = "amazon-bedrock-guardrailAction"
NOT_REQUESTED = "no smoke test applies to the serving model"


def effective(p: Pass, default_prompt: str) -> SmokeTest | None:
    """The object's smoke test, else the operator's default (if it gives one), else none."""
    if p.spec.smoke_test is not None:
        return p.spec.smoke_test
    return SmokeTest(prompt=default_prompt) if default_prompt else None


def request_body(test: SmokeTest) -> bytes:
    if test.body is not None:
        return test.body.encode()
    if test.format == "OpenAIChatCompletion":
        doc: dict[str, Any] = {
            "messages": [{"role": "user", "content": test.prompt}],
            "max_tokens": test.max_tokens,
            "temperature": 0,
        }
    elif test.format == "OpenAICompletion":
        doc = {"prompt": test.prompt, "max_tokens": test.max_tokens, "temperature": 0}
    else:
        doc = {"prompt": test.prompt, "max_gen_len": test.max_tokens, "temperature": 0}
    return json.dumps(doc).encode()


def answer_text(answer: dict[str, Any] | str) -> str:
    """The generated text of any of the answer shapes imported models give."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer.get("generation"), str):
        return answer["generation"]
    choices = answer.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        if isinstance(first.get("text"), str):
            return first["text"]
        message = first.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return message["content"]
    outputs = answer.get("outputs")
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        return str(outputs[0].get("text", ""))
    return json.dumps(answer)[:2000]


def step(p: Pass, rec: ImportJobRecord, test: SmokeTest | None) -> bool:
    """One look at a Testing candidate. True while the test goes on (the pass stops there)."""
    assert rec.model_arn
    bedrock = p.clients(rec.region).bedrock
    if rec.revision != p.rev or rec.region != p.region:
        _discard(p, rec)  # the spec moved on while the candidate was tested: not what it asks for now
        return False
    if test is None:  # the test was dropped: the candidate serves as it would have without one
        model = bedrock.find_model(rec.model_arn)
        if model is None:  # Bedrock may lag: look again at the next poll (the candidate stays recorded)
            return _waiting(p, rec, "the smoke test was removed; waiting for Bedrock to show the model")
        promote(p, bedrock, model, rec, f"import job {rec.job_name} completed")
        rec.state = "Completed"
        p.out.condition(ConditionType.SMOKE_TESTED, "True", Reason.SMOKE_TEST_NOT_REQUESTED, NOT_REQUESTED)
        p.out.again = p.out.defer_retire = True  # written before the previous model is retired
        return True
    record = p.st.smoke_test
    if record is None or record.model_arn != rec.model_arn:
        record = p.st.smoke_test = SmokeTestResult(
            revision=rec.revision, model_arn=rec.model_arn, started_at=p.now_rfc3339(), waited_seconds=0.0
        )
    # time spent trying, counted from the first call and only between tries a poll or so apart: a pause,
    # an operator outage or a long backoff does not eat the deadline
    gap = p.seconds_since(record.last_attempt_at) if record.last_attempt_at else 0.0
    record.waited_seconds = round((record.waited_seconds or 0.0) + min(gap, MAX_COUNTED_GAP), 1)
    record.last_attempt_at = p.now_rfc3339()
    overdue = record.waited_seconds >= test.deadline_seconds
    support = p.clients(rec.region).support
    t0 = time.monotonic()
    try:
        answer = support.invoke(rec.model_arn, request_body(test))
    except AwsError as err:
        message = redact(err.message, 300)
        if err.code == NOT_READY:  # loading (a cold start, or loading again after an eviction): not broken
            limit = max(LOADING_LIMIT_MIN, LOADING_LIMIT_FACTOR * test.deadline_seconds)
            if record.waited_seconds >= limit:
                return _failed(
                    p, rec, Reason.SMOKE_TEST_DEADLINE, f"the model was still loading after {limit:.0f}s"
                )
            if overdue:
                return _waiting(
                    p,
                    rec,
                    f"the model is still loading after {record.waited_seconds:.0f}s, past the test's "
                    f"deadline of {test.deadline_seconds}s: a model that loads is not broken, so the test "
                    f"goes on (up to {limit:.0f}s)",
                    Reason.SMOKE_TEST_STILL_LOADING,
                )
            return _waiting(
                p,
                rec,
                f"the model is loading (cold start, {record.waited_seconds:.0f}s of "
                f"{test.deadline_seconds}s)",
            )
        if overdue:
            return _failed(
                p, rec, Reason.SMOKE_TEST_DEADLINE, f"no answer within {test.deadline_seconds}s: {message}"
            )
        if err.kind is Kind.RETRYABLE:
            raise  # throttled, 5xx, unreachable: backoff, then the same step (the deadline still counts)
        if err.kind is Kind.NOT_FOUND:  # the runtime may lag behind the control plane
            return _waiting(p, rec, f"InvokeModel does not know the model yet ({message})")
        if err.reason == Reason.ACCESS_DENIED:  # the operator's permissions, not the model's fault
            return _waiting(
                p, rec, f"InvokeModel is denied to the operator: grant bedrock:InvokeModel ({message})"
            )
        return _failed(p, rec, Reason.SMOKE_TEST_FAILED, f"InvokeModel answered {err.code}: {message}")
    latency = int((time.monotonic() - t0) * 1000)
    text = answer_text(answer)[:MAX_MATCHED]
    record.answered_at = p.now_rfc3339()
    record.cold_start_seconds = record.waited_seconds
    record.latency_ms = latency
    record.excerpt = redact(text, EXCERPT)  # redacted whole, then cut: a key at the cut is still caught
    guarded = isinstance(answer, dict) and answer.get(GUARDRAIL_ACTION) == "INTERVENED"
    if test.expect is not None and not guarded and not tenant_regex.search(test.expect, text):
        return _failed(
            p,
            rec,
            Reason.SMOKE_TEST_MISMATCH,
            f"the answer does not match {test.expect!r}: {record.excerpt!r}",
        )
    record.passed, record.message = True, None
    model = bedrock.find_model(rec.model_arn)
    if model is None:  # answered a moment ago: Bedrock shows it at the next look
        return _waiting(p, rec, "the model answered; waiting for Bedrock to show it")
    answered = f"model {model.name} answered in {latency} ms (cold start {record.cold_start_seconds:.0f}s)"
    if guarded:  # the model ran; the account's guardrail replaced what it said: expect cannot be checked
        why = (
            f"{answered}, and an account-level guardrail intervened (replaced the answer): the model works, "
            "so it serves; expect was not checked (try a prompt the guardrail lets through)"
        )
        p.out.condition(ConditionType.SMOKE_TESTED, "True", Reason.SMOKE_TEST_GUARDRAIL, why)
        p.out.event("Warning", Reason.SMOKE_TEST_GUARDRAIL, why)
    else:
        p.out.condition(ConditionType.SMOKE_TESTED, "True", Reason.SMOKE_TEST_PASSED, answered)
    promote(p, bedrock, model, rec, f"import job {rec.job_name} completed, smoke test passed")
    rec.state = "Completed"
    # the promotion is written before the previous model is retired (a crash between the two must not leave
    # status naming a model already deleted, with the candidate still to be tested again)
    p.out.again = p.out.defer_retire = True
    return True


def _waiting(p: Pass, rec: ImportJobRecord, why: str, reason: str = Reason.SMOKE_TEST_WAITING) -> bool:
    """The candidate is still being tested: say why; True (the caller's pass stops)."""
    if p.st.smoke_test is not None:
        p.st.smoke_test.message = why
    p.st.phase = Phase.TESTING if not p.serving else Phase.UPDATING
    p.out.condition(ConditionType.SMOKE_TESTED, "Unknown", reason, why)
    p.out.condition(
        ConditionType.IMPORTED, "True", Reason.IMPORT_COMPLETED, f"import job {rec.job_name} completed"
    )
    p.out.condition(
        ConditionType.READY,
        "False",
        reason,
        p.keeps_serving(f"smoke test of the new model: {why}"),
    )
    return True  # the test goes on: the pass stops here


def _failed(p: Pass, rec: ImportJobRecord, reason: str, message: str) -> bool:
    """The candidate is deleted; the revision failed for good (a fix of the spec, its smoke test, or the
    retry annotation tries again); a previous model keeps serving."""
    if p.st.smoke_test is not None:
        p.st.smoke_test.passed, p.st.smoke_test.message = False, redact(message, 1024)
    _discard(p, rec)
    fail(
        p,
        ConditionType.SMOKE_TESTED,
        reason,
        f"smoke test of model {rec.model_name}: {message}; it was deleted",
        inputs=rec.inputs,
    )
    return False


def _discard(p: Pass, rec: ImportJobRecord) -> None:
    supersede(p, rec.model_arn or "", rec.model_name, rec.region, rec.revision)
    rec.state = "Completed"
