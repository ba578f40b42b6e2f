"""The local Bedrock's runtime, spoken to with plain boto3 (`bedrock-runtime`, unmodified): the three bodies
imported models accept, the event stream, Converse where Bedrock allows it, a cold start, an idle
eviction, and the errors AWS gives for an unknown model or a bad body."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from tests.support.helpers import wait_for

REGION = "us-west-2"  # no other test imports here


@pytest.fixture(scope="module")
def imported(local_aws):
    """Two imported models: the Llama 3 example (instruct) and the Qwen 2.5 one (no Converse)."""
    bedrock = local_aws.client("bedrock", REGION)
    arns = {}
    for key, prefix in (("llama", "llama3-8b-support/"), ("qwen", "qwen2.5-7b-finetuned/")):
        name = f"rt-{key}-{uuid.uuid4().hex[:6]}"
        job = bedrock.create_model_import_job(
            jobName=name,
            importedModelName=name,
            roleArn="arn:aws:iam::123456789012:role/BedrockModelImport",
            modelDataSource={"s3DataSource": {"s3Uri": f"s3://bmo-examples/{prefix}"}},
        )["jobArn"]
        done = wait_for(
            lambda j=job: (
                (s := bedrock.get_model_import_job(jobIdentifier=j))["status"] != "InProgress" and s
            ),
            timeout=60,
            what=f"import of {name}",
        )
        assert done["status"] == "Completed", done
        arns[key] = done["importedModelArn"]
    return arns


@pytest.fixture
def runtime(local_aws, clean_faults):
    # one attempt: the test sees each ModelNotReadyException the SDK would otherwise retry
    return local_aws.client(
        "bedrock-runtime", REGION, config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )


def _invoke(runtime, arn: str, body: dict) -> dict:
    out = runtime.invoke_model(
        modelId=arn, body=json.dumps(body), contentType="application/json", accept="application/json"
    )
    assert out["contentType"] == "application/json"
    return json.loads(out["body"].read())


def test_each_body_an_imported_model_accepts(runtime, imported):
    arn = imported["llama"]
    bedrock_completion = _invoke(runtime, arn, {"prompt": "Say hello to the team", "max_gen_len": 64})
    assert bedrock_completion["stop_reason"] == "stop" and bedrock_completion["generation_token_count"] > 0
    assert 'read 21 characters: "Say hello to the team"' in bedrock_completion["generation"]
    assert _invoke(runtime, arn, {"prompt": "Say hello to the team", "max_gen_len": 64}) == bedrock_completion
    openai = _invoke(runtime, arn, {"prompt": "Say hello", "max_tokens": 16})
    assert openai["object"] == "text_completion" and "Say hello" in openai["choices"][0]["text"]
    chat = _invoke(runtime, arn, {"messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 16})
    assert (
        chat["choices"][0]["message"]["role"] == "assistant"
        and "Say hello" in chat["choices"][0]["message"]["content"]
    )


def test_the_event_stream_decodes_with_botocore(runtime, imported):
    out = runtime.invoke_model_with_response_stream(
        modelId=imported["llama"], body=json.dumps({"prompt": "Stream it"})
    )
    chunks = [json.loads(e["chunk"]["bytes"]) for e in out["body"]]
    assert len(chunks) > 1 and chunks[-1]["stop_reason"] == "stop"
    whole = "".join(c["generation"] for c in chunks)
    assert whole == _invoke(runtime, imported["llama"], {"prompt": "Stream it"})["generation"]


def test_converse_where_bedrock_allows_it(runtime, imported):
    out = runtime.converse(
        modelId=imported["llama"], messages=[{"role": "user", "content": [{"text": "Hi there"}]}]
    )
    assert out["stopReason"] == "end_turn" and "Hi there" in out["output"]["message"]["content"][0]["text"]
    with pytest.raises(runtime.exceptions.ValidationException, match="doesn't support the model"):
        runtime.converse(modelId=imported["qwen"], messages=[{"role": "user", "content": [{"text": "Hi"}]}])


def test_a_cold_start_then_an_idle_eviction(local_aws, runtime, imported):
    local_aws.set_faults(cold_start_seconds=0.5, idle_evict_seconds=1)
    arn = imported["qwen"]
    wait_for(lambda: _invoke(runtime, arn, {"prompt": "warm up"}), timeout=10, what="warm")  # loaded first
    time.sleep(1.2)  # idle past the eviction: the next call loads it again
    with pytest.raises(runtime.exceptions.ModelNotReadyException) as err:
        _invoke(runtime, arn, {"prompt": "are you there"})
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    answered = wait_for(
        lambda: _invoke(runtime, arn, {"prompt": "are you there"}), timeout=10, what="warm again"
    )
    assert "are you there" in answered["generation"]


@pytest.mark.parametrize(
    "model,body,error",
    [
        (
            "arn:aws:bedrock:us-west-2:123456789012:imported-model/nosuchmodel1",
            {"prompt": "x"},
            "ResourceNotFoundException",
        ),
        (None, {"text": "no prompt"}, "ValidationException"),
        (None, ["not", "an", "object"], "ValidationException"),
    ],
)
def test_errors_as_aws_gives_them(runtime, imported, model, body, error):
    with pytest.raises(getattr(runtime.exceptions, error)):
        _invoke(runtime, model or imported["llama"], body)


def test_fault_knobs_always_cold_and_model_errors(local_aws, runtime, imported):
    local_aws.set_faults(always_cold=True)
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        _invoke(runtime, imported["llama"], {"prompt": "x"})
    local_aws.set_faults(always_cold=False, invoke_errors=1)
    with pytest.raises(runtime.exceptions.ModelErrorException):
        _invoke(runtime, imported["llama"], {"prompt": "x"})
    assert _invoke(runtime, imported["llama"], {"prompt": "x"})["stop_reason"] == "stop"


def test_plain_boto3_default_session_works_too(local_aws, imported, monkeypatch):
    for k, v in local_aws.credentials().items():
        monkeypatch.setenv(k, v)
    client = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=local_aws.bedrock_url)
    out = client.invoke_model(modelId=imported["llama"], body=b'{"prompt": "plain"}')
    assert "plain" in json.loads(out["body"].read())["generation"]
