"""The smoke test of a candidate model (`controller/reconcile/smoke.py`; the smokeTest rules of
`controller/api/models.py`): the answer shapes `expect` is matched against, the request body sent,
InvokeModel's errors (throttled, denied, a runtime that lags), a pause during the cold start, and a spec
edited while a candidate is tested. Driven through the in-process World, or the function that decides. Each
test names the branch it drives (docs/coverage-branches.md) or the mutation it answers (hack/mutants.py)."""

from __future__ import annotations

import json
from typing import Any

from controller import tenant_regex
from controller.api.reasons import Reason
from controller.reconcile import PAUSE_ANNOTATION
from controller.reconcile.smoke import MAX_MATCHED, answer_text
from tests.support.inprocess_bedrock import FakeSupport
from tests.support.world import World, condition, import_jobs, invoke_answers, model_arns, until_5s
from tests.unit.test_invariants import SOURCES, Operators, spec


# ---- the answer shapes `expect` is matched against ---------------------------------------------------------
def test_a_mistral_answer_is_matched_on_its_generated_text():
    """smoke.py `answer_text`: `if isinstance(choices, list) and choices and ...` false (no `generation`,
    no `choices`), then `if isinstance(outputs, list) and outputs ...:` true. Mistral's imported models
    answer `{"outputs": [{"text": ...}]}`: an anchored `expect` must see the generated text, not the JSON
    around it, or every Mistral model fails its smoke test."""
    answer = {"outputs": [{"text": "Hello! How can I help?", "stop_reason": "stop"}]}
    text = answer_text(answer)
    assert text == "Hello! How can I help?"
    assert tenant_regex.search("^Hello!", text), "an anchored expect matches the generated text"


def test_a_chat_answer_without_text_content_is_matched_on_its_json():
    """smoke.py `answer_text`: `if isinstance(message, dict) and isinstance(message.get("content"), str)`
    false. A chat answer whose `content` is null (a tool call, a refusal field) has no text: the JSON of
    the answer is what `expect` is matched against (and the excerpt shows), never a crash of the pass."""
    answer = {
        "choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1"}]}}]
    }
    text = answer_text(answer)
    assert isinstance(text, str) and '"tool_calls"' in text and "call_1" in text
    assert tenant_regex.search("call_1", text[:MAX_MATCHED])


def test_an_answer_of_an_unknown_shape_is_matched_on_its_json_text():
    """smoke.py `answer_text`: `if isinstance(outputs, list) and outputs ...` false, so
    `return json.dumps(answer)[:2000]`. A custom model's own answer shape still lets `expect` match words
    of the answer, bounded (a smoke test asks for few tokens)."""
    assert tenant_regex.search("Paris", answer_text({"completion": "The capital is Paris."}))
    assert answer_text({"outputs": []}) == '{"outputs": []}'  # an empty outputs list is no text either
    assert len(answer_text({"completion": "x" * 5000})) == 2000


# ---- the request -------------------------------------------------------------------------------------------
def test_an_openai_completion_smoke_test_sends_max_tokens(monkeypatch):
    """Mutation fresh-smoke-openai-completion-wrong-key (smoke.py `request_body`). A smoke test with format
    OpenAICompletion and maxTokens 7 sends the OpenAI completion body {prompt, max_tokens: 7, temperature:
    0} (no Bedrock max_gen_len): the model answers in the OpenAI completion shape, and the test passes."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    real = FakeSupport.invoke
    sent: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def invoke(self: FakeSupport, model_arn: str, body: bytes) -> dict[str, Any]:
        answer = real(self, model_arn, body)
        sent.append((json.loads(body), answer))
        return answer

    monkeypatch.setattr(FakeSupport, "invoke", invoke)
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    doc["smokeTest"] = {
        "prompt": "Say hello",
        "format": "OpenAICompletion",
        "maxTokens": 7,
        "expect": "canned",
    }
    body = c.create("team-a", "m", doc)
    until_5s(w, lambda: body["status"].get("phase") in ("Ready", "Failed"), 120)
    assert body["status"]["phase"] == "Ready", body["status"].get("failure")
    assert sent, "the smoke test called InvokeModel"
    request, answer = sent[-1]
    assert request == {"prompt": "Say hello", "max_tokens": 7, "temperature": 0}, request
    assert answer.get("object") == "text_completion", "answered as an OpenAI completion"


def test_a_smoke_test_with_both_prompt_and_body_is_refused():
    """Mutation fresh-smoke-prompt-and-body-both-allowed (models.py `SmokeTest._one`). A smokeTest that sets
    both prompt and body is ambiguous (one would be silently ignored): the operator refuses the spec
    (Validated and Ready False, InvalidSpec, naming the rule) and imports nothing."""
    w = World()
    c = w.cluster("east")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    doc["smokeTest"] = {"prompt": "Say hello", "body": '{"prompt": "Say hi", "max_gen_len": 8}'}
    body = c.create("team-a", "m", doc)
    w.advance(20.0)
    validated = condition(body, "Validated")
    assert validated.get("status") == "False" and validated.get("reason") == "InvalidSpec", validated
    assert "exactly one of smokeTest.prompt or smokeTest.body" in validated["message"]
    assert condition(body, "Ready")["reason"] == "InvalidSpec" and body["status"]["phase"] == "Failed"
    assert not import_jobs(w.aws)


# ---- the InvokeModel call's errors -------------------------------------------------------------------------
def test_a_throttled_smoke_test_call_is_retried_and_the_candidate_then_serves(monkeypatch):
    """smoke.py `step`: `if err.kind is Kind.RETRYABLE: raise`. InvokeModel throttled (or a 5xx) is the
    weather, not the model's fault: the pass backs off (Synced False, Throttled) and calls again; the
    candidate is neither failed nor deleted, and serves once the call goes through."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    throttled = invoke_answers(monkeypatch, "ThrottlingException")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    until_5s(w, lambda: condition(body, "Synced").get("reason") == Reason.THROTTLED, 60)
    assert body["status"]["importJob"]["state"] == "Testing"
    assert body["status"].get("failure") is None
    assert condition(body, "SmokeTested").get("status") != "False"
    candidate = body["status"]["importJob"]["modelArn"]
    assert candidate in {x["arn"] for x in w.models()}, "the candidate is kept while the call is retried"
    throttled["on"] = False
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 60)
    assert body["status"]["modelArn"] == candidate
    assert condition(body, "SmokeTested")["reason"] == Reason.SMOKE_TEST_PASSED
    m.teardown()


def test_a_smoke_test_the_operator_may_not_invoke_waits_for_the_permission(monkeypatch):
    """smoke.py `step`: `if err.reason == Reason.ACCESS_DENIED: return _waiting(`. The operator lacks
    bedrock:InvokeModel: that is the operator's permissions, not a bad model. The test waits and says
    what to grant; once granted, the candidate passes and serves."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    denied = invoke_answers(monkeypatch, "AccessDeniedException")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    until_5s(w, lambda: "grant bedrock:InvokeModel" in condition(body, "SmokeTested").get("message", ""), 60)
    assert condition(body, "SmokeTested")["status"] == "Unknown"
    assert condition(body, "SmokeTested")["reason"] == Reason.SMOKE_TEST_WAITING
    assert condition(body, "Ready")["status"] == "False" and body["status"].get("failure") is None
    candidate = body["status"]["importJob"]["modelArn"]
    assert candidate in {x["arn"] for x in w.models()}, "the candidate is not judged as bad"
    denied["on"] = False
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 60)
    assert body["status"]["modelArn"] == candidate
    assert condition(body, "SmokeTested")["reason"] == Reason.SMOKE_TEST_PASSED
    m.teardown()


def test_a_model_the_runtime_does_not_know_yet_is_tried_again_not_failed(monkeypatch):
    """Mutation fresh-smoke-runtime-lag-fails (smoke.py `step`, `if err.kind is Kind.NOT_FOUND:`). Bedrock's
    control plane shows the just-imported model, but InvokeModel answers ResourceNotFoundException for a
    while (the runtime lags). The smoke test waits and says so; the candidate is kept, and serves once the
    runtime knows it, instead of the revision failing and the new model being deleted."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    lagging = invoke_answers(monkeypatch, "ResourceNotFoundException")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    until_5s(
        w,
        lambda: (
            "does not know the model yet" in condition(body, "SmokeTested").get("message", "")
            or body["status"].get("failure") is not None
        ),
        120,
    )
    assert body["status"].get("failure") is None, body["status"]["failure"]
    assert condition(body, "SmokeTested")["status"] == "Unknown"
    candidate = body["status"]["importJob"]["modelArn"]
    w.advance(30.0)
    assert body["status"].get("failure") is None and candidate in model_arns(w), "the candidate is kept"
    lagging["on"] = False
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 60)
    assert body["status"]["modelArn"] == candidate
    assert condition(body, "SmokeTested")["reason"] == "SmokeTestPassed"


# ---- the candidate under test ------------------------------------------------------------------------------
def test_a_pause_during_a_smoke_tests_cold_start_does_not_count_toward_its_deadline():
    """Mutation fresh-smoke-pause-eats-deadline (smoke.py `step`, `min(gap, MAX_COUNTED_GAP)`). A candidate
    loads for 300 s; its smoke test allows 200 s. The user pauses the object for 250 s early in the cold
    start. Only the time spent trying counts (a gap between two tries counts at most a minute): when the
    model answers, it passes and serves, instead of failing SmokeTestDeadline and being deleted."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.set_faults({"cold_start_seconds": 300.0})
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass")
    doc["smokeTest"]["deadlineSeconds"] = 200
    body = c.create("team-a", "m", doc)
    until_5s(w, lambda: (body["status"].get("importJob") or {}).get("state") == "Testing", 120)
    candidate = body["status"]["importJob"]["modelArn"]
    w.advance(20.0)
    c.annotate(body, PAUSE_ANNOTATION, "true")
    w.advance(250.0)
    with w.aws._lock:
        assert w.aws._models[candidate].warm_at > w.clock.t, "the model still loads when the pause ends"
    c.annotate(body, PAUSE_ANNOTATION, None)
    until_5s(w, lambda: body["status"].get("phase") in ("Ready", "Failed"), 200)
    assert body["status"].get("failure") is None, body["status"].get("failure")
    assert body["status"]["phase"] == "Ready" and body["status"]["modelArn"] == candidate
    assert condition(body, "SmokeTested")["reason"] == "SmokeTestPassed"
    result = body["status"]["smokeTest"]
    assert result["passed"] is True and result["waitedSeconds"] < 200, result


def test_a_smoke_test_removed_while_its_candidate_is_tested_promotes_the_candidate():
    """smoke.py: the candidate of a smoke test is waiting out its cold start; the user drops
    spec.smokeTest. The candidate serves (as it would have without a test) and nothing is imported again."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.set_faults({"cold_start_seconds": 50.0})  # the candidate does not answer for 50 s: it is being tested
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    until_5s(w, lambda: (body["status"].get("importJob") or {}).get("state") == "Testing", 120)
    c.edit_spec(body, smokeTest=None)
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 60)
    assert body["status"]["modelArn"] == body["status"]["importJob"]["modelArn"]
    assert condition(body, "SmokeTested")["reason"] == "SmokeTestNotRequested"
    with w.aws._lock:
        assert len(w.aws._jobs) == 1
    m.teardown()


def test_a_source_edited_while_a_candidate_is_tested_discards_the_candidate():
    """smoke.py: while a candidate is tested, the spec moves to another folder. That candidate is not what
    the spec asks for any more: it is deleted, never promoted, and the new revision is imported."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.set_faults({"cold_start_seconds": 50.0})  # the candidate does not answer for 50 s: it is being tested
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    until_5s(w, lambda: (body["status"].get("importJob") or {}).get("state") == "Testing", 120)
    candidate = body["status"]["importJob"]["modelArn"]
    c.edit_spec(body, source={"s3Uri": SOURCES[1]}, smokeTest=None)
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 120)
    assert body["status"]["modelArn"] != candidate
    until_5s(w, lambda: candidate not in {x["arn"] for x in w.models()}, 120)
    m.teardown()
