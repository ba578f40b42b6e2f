"""Branches the whole-suite coverage run never took (docs/coverage-branches.md, "untested") in
reconcile/smoke.py, reconcile/source_pin.py, reconcile/validation.py and runtime/operator.py, each driven
through the in-process World (or, for the answer shapes and the start-up listing, the function that
decides)."""

from __future__ import annotations

import copy
import logging
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bmo_devtools.emulator.protocol import ApiError
from controller import tenant_regex
from controller.api.reasons import Reason
from controller.aws.clients import classify
from controller.kube.validation_jobs import JobResult
from controller.reconcile import Reconciler
from controller.reconcile.smoke import MAX_MATCHED, answer_text
from controller.reconcile.validation import INLINE_GATE
from controller.runtime import operator as runtime
from controller.settings import Settings
from tests.support.inprocess_bedrock import FakeS3, FakeSupport, client_error
from tests.support.world import World, condition, until
from tests.unit.test_invariants import SOURCES, Operators, spec

_until = partial(until, tick=5.0)  # this file's steps: the timer's own 5 s


def _creates_for(w: World, uri: str) -> int:
    with w.aws._lock:
        return sum(1 for j in w.aws._jobs.values() if j.s3_uri == uri)


def _listing_of(w: World, uri: str) -> dict[str, str | None]:
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


def _invoke_answers(monkeypatch: pytest.MonkeyPatch, code: str) -> dict[str, bool]:
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


# ---- smoke.py: the answer shapes `expect` is matched against ------------------------------------------


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


# ---- smoke.py: the InvokeModel call's errors ----------------------------------------------------------


def test_a_throttled_smoke_test_call_is_retried_and_the_candidate_then_serves(monkeypatch):
    """smoke.py `step`: `if err.kind is Kind.RETRYABLE: raise`. InvokeModel throttled (or a 5xx) is the
    weather, not the model's fault: the pass backs off (Synced False, Throttled) and calls again; the
    candidate is neither failed nor deleted, and serves once the call goes through."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    throttled = _invoke_answers(monkeypatch, "ThrottlingException")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    _until(w, lambda: condition(body, "Synced").get("reason") == Reason.THROTTLED, 60)
    assert body["status"]["importJob"]["state"] == "Testing"
    assert body["status"].get("failure") is None
    assert condition(body, "SmokeTested").get("status") != "False"
    candidate = body["status"]["importJob"]["modelArn"]
    assert candidate in {x["arn"] for x in w.models()}, "the candidate is kept while the call is retried"
    throttled["on"] = False
    _until(w, lambda: body["status"].get("phase") == "Ready", 60)
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
    denied = _invoke_answers(monkeypatch, "AccessDeniedException")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    _until(w, lambda: "grant bedrock:InvokeModel" in condition(body, "SmokeTested").get("message", ""), 60)
    assert condition(body, "SmokeTested")["status"] == "Unknown"
    assert condition(body, "SmokeTested")["reason"] == Reason.SMOKE_TEST_WAITING
    assert condition(body, "Ready")["status"] == "False" and body["status"].get("failure") is None
    candidate = body["status"]["importJob"]["modelArn"]
    assert candidate in {x["arn"] for x in w.models()}, "the candidate is not judged as bad"
    denied["on"] = False
    _until(w, lambda: body["status"].get("phase") == "Ready", 60)
    assert body["status"]["modelArn"] == candidate
    assert condition(body, "SmokeTested")["reason"] == Reason.SMOKE_TEST_PASSED
    m.teardown()


# ---- source_pin.py: the listing before the create ----------------------------------------------------


def _validated_and_queued(m: Operators) -> tuple[dict, dict]:
    """`first` imports (a long job); `second`, validated Inline, waits in line behind it."""
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"job_duration_seconds": 60})
    first = c.create("team-a", "first", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    doc = spec(SOURCES[1], "us-east-1", "Delete", {"team": "a"}, None, validation="Inline")
    second = c.create("team-a", "second", doc)
    _until(w, lambda: second["status"].get("phase") == "Queued", 60)
    assert condition(second, "Validated")["reason"] == Reason.ARTIFACTS_IMPORTABLE
    return first, second


def test_a_folder_that_can_no_longer_be_listed_after_validation_fails_before_the_import():
    """source_pin.py `listed_digest`: `if reason is not None: raise SourceError(Kind.TERMINAL ...`. The
    folder was validated, then (while the object waited in line) its bucket policy stopped the operator
    from listing it. Nothing unjudged is imported: the revision fails on Validated with
    SourceAccessDenied, and the import job is never created."""
    m = Operators()
    w = m.world
    first, second = _validated_and_queued(m)
    listing = _listing_of(w, SOURCES[1])
    listing["code"] = "AccessDenied"
    _until(w, lambda: condition(second, "Validated").get("status") == "False", 180)
    assert condition(second, "Validated")["reason"] == "SourceAccessDenied"
    assert second["status"]["failure"]["reason"] == "SourceAccessDenied"
    assert second["status"]["phase"] == "Failed"
    assert _creates_for(w, SOURCES[1]) == 0
    assert first["status"]["phase"] == "Ready"
    listing["code"] = None
    m.teardown()


def test_a_folder_listing_that_fails_for_a_moment_before_the_import_is_retried():
    """source_pin.py `listed_digest`: the same `if`, false: `raise SourceError(Kind.RETRYABLE ...
    SOURCE_UNREACHABLE)`. S3 answers SlowDown (throttling) to the listing that checks the folder is as
    validated: the object retries (Synced False, SourceUnreachable), fails nothing, and imports once S3
    answers again."""
    m = Operators()
    w = m.world
    first, second = _validated_and_queued(m)
    listing = _listing_of(w, SOURCES[1])
    listing["code"] = "SlowDown"
    _until(w, lambda: condition(second, "Synced").get("reason") == Reason.SOURCE_UNREACHABLE, 180)
    assert first["status"]["phase"] == "Ready"
    assert second["status"].get("failure") is None and _creates_for(w, SOURCES[1]) == 0
    assert condition(second, "Validated")["status"] == "True", "the validation stands"
    listing["code"] = None
    _until(w, lambda: second["status"].get("phase") == "Ready", 180)
    assert _creates_for(w, SOURCES[1]) == 1
    m.teardown()


# ---- validation.py -----------------------------------------------------------------------------------


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
    _until(w, lambda: condition(body, "Validated").get("status") == "False", 120)
    assert condition(body, "Validated")["reason"] == "ValidationJobOOMKilled"
    assert (
        body["status"]["phase"] == "Failed"
        and body["status"]["failure"]["reason"] == "ValidationJobOOMKilled"
    )
    assert condition(body, "Ready")["status"] == "False"
    _until(w, lambda: behind["status"].get("phase") == "Ready", 120)
    assert _creates_for(w, SOURCES[0]) == 0
    m.teardown()


def test_an_inline_validation_waits_while_the_operator_validates_another_model():
    """validation.py `validated`: `if not INLINE_GATE.acquire(timeout=INLINE_WAIT_SECONDS):`. One Inline
    validation at a time per process (its memory is bounded, the reconcile threads are not). Here the
    test holds the gate, as another object's validation would: this object says it is waiting for the
    inline validator, holds no worker, and validates once the gate is free."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    assert INLINE_GATE.acquire(timeout=5)
    try:
        body = c.create(
            "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Inline")
        )
        w.advance(10.0, tick=5.0)
        validated = condition(body, "Validated")
        assert validated.get("status") == "Unknown", validated
        assert "waiting for the operator's inline validator" in validated.get("message", "")
        assert condition(body, "Ready")["status"] == "False" and _creates_for(w, SOURCES[0]) == 0
    finally:
        if INLINE_GATE.locked():
            INLINE_GATE.release()
    _until(w, lambda: body["status"].get("phase") == "Ready", 120)
    assert condition(body, "Validated")["reason"] == Reason.ARTIFACTS_IMPORTABLE
    m.teardown()


def test_an_inline_validation_that_cannot_reach_s3_is_retried_not_failed():
    """validation.py `validated`: `if reason is not None:` false, so `raise SourceError(Kind.RETRYABLE,
    ... SOURCE_UNREACHABLE)`. S3 throttles (SlowDown) the inline validator's listing: that says nothing of
    the model. The object retries (Synced False, SourceUnreachable), then validates and imports."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    listing = _listing_of(w, SOURCES[0])
    listing["code"] = "SlowDown"
    body = c.create(
        "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Inline")
    )
    _until(w, lambda: condition(body, "Synced").get("reason") == Reason.SOURCE_UNREACHABLE, 60)
    assert body["status"].get("failure") is None
    assert condition(body, "Validated").get("status") != "False"
    listing["code"] = None
    _until(w, lambda: body["status"].get("phase") == "Ready", 120)
    assert condition(body, "Validated")["reason"] == Reason.ARTIFACTS_IMPORTABLE
    m.teardown()


# ---- runtime/operator.py: the start-up listing ---------------------------------------------------------


def test_the_import_queue_is_rebuilt_from_every_page_of_the_start_up_listing(monkeypatch):
    """`Operator.model_pages`: `if not token: break` false (a `continue` token: the next page). With
    more than 100 models, the LIST at start-up is paged: an object on page 3 whose import job runs keeps
    its region's slot, and the line keeps its order, instead of the first page deciding who starts."""

    def body(i: int, status: dict[str, Any]) -> dict[str, Any]:
        return {
            "metadata": {"uid": f"u{i}", "namespace": "team", "name": f"m{i}", "generation": 1},
            "spec": {
                "source": {"s3Uri": f"s3://models/m{i}/"},
                "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/r"},
                "region": "us-east-1",
            },
            "status": status,
        }

    running = {
        "importJob": {
            "revision": "r",
            "region": "us-east-1",
            "attempt": 1,
            "jobName": "j",
            "modelName": "m",
            "state": "InProgress",
        }
    }
    bodies = [body(i, {"phase": "Ready"}) for i in range(250)]
    bodies[0] = body(0, {"phase": "Queued", "queuedAt": "2026-01-01T10:00:09Z/000000000009"})  # page 1
    bodies[120] = body(120, {"phase": "Queued", "queuedAt": "2026-01-01T10:00:01Z/000000000001"})  # page 2
    bodies[249] = body(249, running)  # page 3

    class Api:
        def list_cluster_custom_object(self, group, version, plural, limit, _continue=None):
            start = int(_continue or 0)
            more = start + limit < len(bodies)
            meta = {"continue": str(start + limit)} if more else {}
            return {"items": copy.deepcopy(bodies[start : start + limit]), "metadata": meta}

    monkeypatch.setattr(runtime.client, "CustomObjectsApi", lambda _api=None: Api())
    monkeypatch.setattr(runtime, "api_client", lambda settings: None)
    settings = Settings(cluster_id="c")
    rec = Reconciler(settings)
    op = runtime.Operator(settings, reconciler=rec)
    seed = next(h.fn for h in op.registry()._activities.get_all_handlers() if h.fn.__name__ == "seed_queue")
    seed(logger=logging.getLogger("test"))
    assert rec.queue.holders("us-east-1") == {"u249"}, "the running job on page 3 holds the slot"
    assert not rec.queue.may_start("us-east-1", "u0")
    rec.queue.forget("u249")  # its job ended
    assert rec.queue.may_start("us-east-1", "u120") and not rec.queue.may_start("us-east-1", "u0")
    assert op.work.find("u249") is not None, "its turn can wake it before its own first pass"
    op.executor.shutdown(wait=False)
