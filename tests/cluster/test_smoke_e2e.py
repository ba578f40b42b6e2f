"""The smoke test, end to end: the operator calls each new model once (InvokeModel on the local Bedrock's
runtime) before it serves. A cold start is waited out; a wrong answer, an error or the deadline fails the
revision, deletes the candidate and leaves the previous model serving; Argo CD reads each case."""

from __future__ import annotations

import pytest

from controller.api.models import SmokeTest
from controller.reconcile.smoke import answer_text, request_body
from tests.cluster.test_argocd_health import health
from tests.support.operator_process import MISTRAL, apply_model, condition, models_of, wait_condition

SECRET = "AKIAIOSFODNN7EXAMPLE"


def test_request_bodies_and_answers_of_each_format():
    bodies = {
        f: request_body(SmokeTest(prompt="hi", format=f, maxTokens=5))
        for f in ("BedrockCompletion", "OpenAICompletion", "OpenAIChatCompletion")
    }
    assert (
        b'"max_gen_len": 5' in bodies["BedrockCompletion"]
        and b'"prompt": "hi"' in bodies["BedrockCompletion"]
    )
    assert b'"max_tokens": 5' in bodies["OpenAICompletion"]
    assert b'"messages": [{"role": "user", "content": "hi"}]' in bodies["OpenAIChatCompletion"]
    assert request_body(SmokeTest(body='{"prompt": "raw"}')) == b'{"prompt": "raw"}'
    assert answer_text({"generation": "a"}) == "a"
    assert answer_text({"choices": [{"text": "b"}]}) == "b"
    assert answer_text({"choices": [{"message": {"role": "assistant", "content": "c"}}]}) == "c"
    with pytest.raises(ValueError):
        SmokeTest(prompt="x", expect="(unclosed")


@pytest.mark.usefixtures("clean_faults")
@pytest.mark.controlplane
def test_a_cold_start_is_waited_out_and_the_result_recorded(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(cold_start_seconds=4)
    apply_model(
        kubectl, namespace, "warm", smokeTest={"prompt": f"Say hello {SECRET}", "expect": "canned answer"}
    )
    obj = wait_condition(kubectl, namespace, "warm", "Ready", "True", "ModelReady", timeout=120)
    smoke = obj["status"]["smokeTest"]
    assert smoke.get("passed") is True and smoke["modelArn"] == obj["status"]["modelArn"], smoke
    assert smoke["coldStartSeconds"] >= 3 and smoke["latencyMs"] >= 0
    assert "Say hello" in smoke["excerpt"] and SECRET not in smoke["excerpt"]  # redacted
    assert condition(obj, "SmokeTested")["reason"] == "SmokeTestPassed"
    assert health(obj)[0] == "Healthy"
    assert SECRET not in operator.log.read_text()  # neither prompt nor answer is logged
    wide = kubectl("get", "bedrockmodels", "warm", "-n", namespace, "-o", "wide").stdout
    assert "SMOKE-TEST" in wide and "SmokeTestPassed" in wide


@pytest.mark.usefixtures("clean_faults")
@pytest.mark.controlplane
def test_a_first_revision_that_fails_is_not_ready_and_its_model_is_deleted(
    kubectl, operator, local_aws, namespace
):
    apply_model(kubectl, namespace, "wrong", smokeTest={"prompt": "Say hello", "expect": "^Bonjour"})
    obj = wait_condition(kubectl, namespace, "wrong", "Ready", "False", "SmokeTestMismatch", timeout=120)
    assert "does not match '^Bonjour'" in condition(obj, "Ready")["message"]
    assert obj["status"].get("modelArn") is None and obj["status"]["smokeTest"]["passed"] is False
    assert health(obj)[0] == "Degraded"
    from tests.support.helpers import wait_for

    wait_for(lambda: models_of(local_aws, namespace, "wrong") == [], timeout=60, what="the candidate deleted")


@pytest.mark.usefixtures("clean_faults")
@pytest.mark.controlplane
def test_a_later_revision_that_fails_leaves_the_previous_model_serving(
    kubectl, operator, local_aws, namespace
):
    apply_model(kubectl, namespace, "rev", smokeTest={"prompt": "Say hello"})
    first = wait_condition(kubectl, namespace, "rev", "Ready", "True", "ModelReady", timeout=120)
    arn = first["status"]["modelArn"]
    local_aws.set_faults(invoke_errors=1)  # the new model errors on its smoke test
    apply_model(kubectl, namespace, "rev", source={"s3Uri": MISTRAL}, smokeTest={"prompt": "Say hello"})
    obj = wait_condition(kubectl, namespace, "rev", "Ready", "False", "SmokeTestFailed", timeout=120)
    assert obj["status"]["modelArn"] == arn and "keeps serving" in condition(obj, "Ready")["message"]
    assert "ModelErrorException" in condition(obj, "SmokeTested")["message"]
    assert health(obj)[0] == "Degraded"
    from tests.support.helpers import wait_for

    wait_for(
        lambda: [m["modelArn"] for m in models_of(local_aws, namespace, "rev")] == [arn],
        timeout=60,
        what="only the serving model left",
    )


@pytest.mark.usefixtures("clean_faults")
@pytest.mark.controlplane
def test_a_model_still_loading_past_the_deadline_is_not_failed(kubectl, operator, local_aws, namespace):
    """A model that loads (a cold start, or again after an eviction) is not a broken model: past the smoke
    test's deadline it is still waited for (SmokeTestModelStillLoading), nothing is deleted, and a GitOps
    tool reads it as in progress, not failed. (The bound, an hour, is tested on the World's clock.)"""
    local_aws.set_faults(always_cold=True)
    apply_model(kubectl, namespace, "cold", smokeTest={"prompt": "hi", "deadlineSeconds": 10})
    waiting = wait_condition(
        kubectl, namespace, "cold", "SmokeTested", "Unknown", "SmokeTestWaiting", timeout=60
    )
    assert waiting["status"]["phase"] == "Testing" and health(waiting)[0] == "Progressing"
    obj = wait_condition(
        kubectl, namespace, "cold", "SmokeTested", "Unknown", "SmokeTestModelStillLoading", timeout=90
    )
    assert "past the test's deadline of 10s" in condition(obj, "Ready")["message"]
    assert obj["status"].get("failure") is None and obj["status"]["phase"] == "Testing"
    assert condition(obj, "Reconciling")["status"] == "True" and not condition(obj, "Stalled")
    candidate = obj["status"]["importJob"]["modelArn"]
    assert candidate in {m["modelArn"] for m in models_of(local_aws, namespace, "cold")}  # not deleted
    local_aws.set_faults(always_cold=False)
    ready = wait_condition(kubectl, namespace, "cold", "Ready", "True", timeout=90)
    assert ready["status"]["modelArn"] == candidate


@pytest.mark.controlplane
def test_invoke_resolves_the_object_and_calls_its_model(
    kubectl, operator, local_aws, control_plane, namespace
):
    import os
    import subprocess
    import sys

    apply_model(kubectl, namespace, "talk")
    obj = wait_condition(kubectl, namespace, "talk", "Ready", "True", "ModelReady", timeout=120)
    env = {**os.environ, **control_plane.env(), **local_aws.env()}

    def invoke(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "controller.cli", "invoke", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)

    out = invoke(f"{namespace}/talk", "--prompt", "What is our refund policy?")
    assert out.returncode == 0, out.stderr
    assert obj["status"]["modelName"] in out.stdout and "What is our refund policy?" in out.stdout
    chat = invoke(f"{namespace}/talk", "--prompt", "Hi", "--format", "OpenAIChatCompletion", "--raw")
    assert chat.returncode == 0 and '"chat.completion"' in chat.stdout
    missing = invoke(f"{namespace}/nothing", "--prompt", "Hi")
    assert missing.returncode == 2 and f"no BedrockImportedModel {namespace}/nothing" in missing.stderr
