"""The smoke test: a newly imported model is called once (InvokeModel on its ARN) before it serves.

The job's model waits in status (`importJob.state: Testing`, its ARN recorded: deleted with the object like
any model it owns) while the test runs. One call per pass, never a sleep: ModelNotReadyException (the cold
start while Bedrock loads the model) is tried again at the next poll until the deadline. An answer that
matches `expect` promotes the model (the previous one is retired as usual); anything else fails the
revision for good, deletes the candidate, and leaves the previous model serving.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from controller.api.models import ImportJobRecord, SmokeTest, SmokeTestResult
from controller.api.reasons import ConditionType, Phase, Reason
from controller.errors import AwsError, Kind
from controller.reconcile.context import Pass
from controller.reconcile.failures import fail
from controller.reconcile.serving import promote
from controller.redact import redact

EXCERPT = 200
NOT_READY = "ModelNotReadyException"


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
    bedrock = p.clients(rec.region)[0]
    if rec.revision != p.rev or rec.region != p.region or test is None:
        # the spec moved on (or dropped the test) while the candidate was tested: not what it asks for now
        if test is None and rec.revision == p.rev and rec.region == p.region:
            model = bedrock.find_model(rec.model_arn)
            if model is not None:
                promote(p, bedrock, model, rec.revision, rec.region, f"import job {rec.job_name} completed")
                rec.state = "Completed"
                return False
        _discard(p, rec)
        return False
    started = rec.completed_at or p.now_rfc3339()
    record = p.st.smoke_test
    if record is None or record.model_arn != rec.model_arn:
        record = p.st.smoke_test = SmokeTestResult(
            revision=rec.revision, model_arn=rec.model_arn, started_at=started
        )
    support = p.clients(rec.region)[1]
    t0 = time.monotonic()
    try:
        answer = support.invoke(rec.model_arn, request_body(test))
    except AwsError as err:
        if err.code == NOT_READY:
            waited = p.seconds_since(started)
            if waited < test.deadline_seconds:
                _waiting(
                    p, rec, f"the model is loading (cold start, {waited:.0f}s of {test.deadline_seconds}s)"
                )
                return True
            return _failed(
                p,
                rec,
                Reason.SMOKE_TEST_DEADLINE,
                f"no answer within {test.deadline_seconds}s: {err.message}",
            )
        if err.kind is Kind.RETRYABLE:
            raise  # throttled, 5xx, unreachable: backoff, then the same step
        return _failed(p, rec, Reason.SMOKE_TEST_FAILED, f"InvokeModel answered {err.code}: {err.message}")
    latency = int((time.monotonic() - t0) * 1000)
    text = answer_text(answer)
    record.answered_at = p.now_rfc3339()
    record.cold_start_seconds = round(p.seconds_since(started), 1)
    record.latency_ms = latency
    record.excerpt = redact(text[:EXCERPT], EXCERPT)
    if test.expect is not None and not re.search(test.expect, text):
        return _failed(
            p,
            rec,
            Reason.SMOKE_TEST_MISMATCH,
            f"the answer does not match {test.expect!r}: {record.excerpt!r}",
        )
    record.passed, record.message = True, None
    model = bedrock.find_model(rec.model_arn)
    if model is None:  # answered a moment ago: Bedrock shows it at the next look
        _waiting(p, rec, "the model answered; waiting for Bedrock to show it")
        return True
    p.out.condition(
        ConditionType.SMOKE_TESTED,
        "True",
        Reason.SMOKE_TEST_PASSED,
        f"model {model.name} answered in {latency} ms (cold start {record.cold_start_seconds:.0f}s)",
    )
    promote(
        p, bedrock, model, rec.revision, rec.region, f"import job {rec.job_name} completed, smoke test passed"
    )
    rec.state = "Completed"
    return False


def _waiting(p: Pass, rec: ImportJobRecord, why: str) -> None:
    assert p.st.smoke_test is not None
    p.st.smoke_test.message = why
    p.st.phase = Phase.TESTING if not p.serving else Phase.UPDATING
    p.out.condition(ConditionType.SMOKE_TESTED, "Unknown", Reason.SMOKE_TEST_WAITING, why)
    p.out.condition(
        ConditionType.IMPORTED, "True", Reason.IMPORT_COMPLETED, f"import job {rec.job_name} completed"
    )
    serving = f"; model {p.st.model_name} keeps serving" if p.serving else ""
    p.out.condition(
        ConditionType.READY,
        "False",
        Reason.SMOKE_TEST_WAITING,
        f"smoke test of the new model: {why}{serving}",
    )


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
    from controller.reconcile.importing import supersede  # importing follows jobs through this module

    supersede(p, rec.model_arn or "", rec.model_name, rec.region, rec.revision)
    rec.state = "Completed"
