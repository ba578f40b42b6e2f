"""The Bedrock emulator, driven by plain boto3 (and once by the AWS CLI) over its real wire protocol."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.retries.standard import ExponentialBackoff

from bmo_devtools.dev.model_factory import ModelSpec, build_model
from tests.support.helpers import LineReader, wait_for

ROLE = "arn:aws:iam::123456789012:role/BedrockImport"
READ_MODELS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::models/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::models"},
    ],
}
BEDROCK_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@contextlib.contextmanager
def _running_emulator(moto_endpoint: str, *extra: str, env: dict[str, str] | None = None):
    """`bedrock-model-operator emulator` as its own process; yields its URL, stops it whatever happens."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller.cli",
            "emulator",
            "--s3-endpoint",
            moto_endpoint,
            "--iam-endpoint",
            moto_endpoint,
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = LineReader(proc.stdout).until(lambda line: "http://" in line, timeout=60, what="its address")
        yield url.split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def emulator(moto_endpoint, aws_env):
    with _running_emulator(moto_endpoint, "--job-duration", "0.3", "--seed", "7") as url:
        yield url


def _admin(url: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


@pytest.fixture
def bedrock(emulator):
    _admin(emulator, "/_emulator/reset", {})
    _admin(
        emulator,
        "/_emulator/faults",
        {"job_duration_seconds": 0.3, "imported_model_quota": 3, "concurrent_jobs": 1},
    )
    return boto3.client(
        "bedrock",
        endpoint_url=emulator,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def models_in_s3(s3, upload_folder, tmp_path_factory, moto_endpoint):
    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="BedrockImport", AssumeRolePolicyDocument=json.dumps(BEDROCK_TRUST))
    iam.put_role_policy(RoleName="BedrockImport", PolicyName="read", PolicyDocument=json.dumps(READ_MODELS))
    root = tmp_path_factory.mktemp("emu")
    return {
        "llama3": upload_folder(build_model(root / "a", ModelSpec(kind="llama3")), "emu/llama3/"),
        "mistral": upload_folder(
            build_model(root / "b", ModelSpec(kind="mistral", shards=2)), "emu/mistral/"
        ),
        "falcon": upload_folder(
            build_model(root / "c", ModelSpec(config_overrides={"model_type": "falcon"})), "emu/falcon/"
        ),
        "noconfig": upload_folder(build_model(root / "d", ModelSpec(drop={"config.json"})), "emu/noconfig/"),
    }


def _create(bedrock, name: str, uri: str, **kw):
    return bedrock.create_model_import_job(
        jobName=f"{name}-job",
        importedModelName=name,
        roleArn=kw.pop("roleArn", ROLE),
        modelDataSource={"s3DataSource": {"s3Uri": uri}},
        **kw,
    )["jobArn"]


def _wait_done(bedrock, arn: str) -> dict:
    return wait_for(
        lambda: (j := bedrock.get_model_import_job(jobIdentifier=arn))["status"] != "InProgress" and j,
        timeout=30,
        what="job to finish",
    )


def _once(url: str, **config) -> object:
    """A client that sends each request once (botocore's `max_attempts` counts retries, not attempts)."""
    return boto3.client(
        "bedrock",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def _code(exc_info) -> str:
    return exc_info.value.response["Error"]["Code"]


def test_job_runs_then_completes_with_a_model(bedrock, models_in_s3):
    arn = _create(
        bedrock, "llama", models_in_s3["llama3"], importedModelTags=[{"key": "team", "value": "ml"}]
    )
    assert arn.startswith("arn:aws:bedrock:us-east-1:123456789012:model-import-job/")
    assert bedrock.get_model_import_job(jobIdentifier=arn)["status"] == "InProgress"
    job = _wait_done(bedrock, arn)
    assert job["status"] == "Completed"
    model = bedrock.get_imported_model(modelIdentifier="llama")
    assert model["modelArn"] == job["importedModelArn"]
    assert model["modelArchitecture"] == "llama3"
    assert model["instructSupported"] is True
    assert model["customModelUnits"]["customModelUnitsPerModelCopy"] >= 1
    assert bedrock.get_imported_model(modelIdentifier=model["modelArn"])["modelName"] == "llama"
    assert bedrock.list_tags_for_resource(resourceARN=model["modelArn"])["tags"] == [
        {"key": "team", "value": "ml"}
    ]
    assert bedrock.get_model_import_job(jobIdentifier="llama-job")["jobArn"] == arn


@pytest.mark.parametrize(
    "source, message",
    [("falcon", "architecture falcon is not supported"), ("noconfig", "unable to read the model files")],
)
def test_job_fails_when_the_artifacts_cannot_import(bedrock, models_in_s3, source, message):
    job = _wait_done(bedrock, _create(bedrock, "bad", models_in_s3[source]))
    assert job["status"] == "Failed" and message in job["failureMessage"]
    assert bedrock.list_imported_models()["modelSummaries"] == []


def test_job_fails_when_the_role_does_not_exist(bedrock, models_in_s3):
    job = _wait_done(
        bedrock,
        _create(bedrock, "norole", models_in_s3["llama3"], roleArn="arn:aws:iam::123456789012:role/Missing"),
    )
    assert job["status"] == "Failed" and "could not assume the role" in job["failureMessage"]


def test_client_request_token_makes_create_idempotent(bedrock, models_in_s3):
    first = _create(bedrock, "idem", models_in_s3["llama3"], clientRequestToken="uid-1234-r1")
    again = _create(bedrock, "idem", models_in_s3["llama3"], clientRequestToken="uid-1234-r1")
    assert again == first
    assert len(bedrock.list_model_import_jobs()["modelImportJobSummaries"]) == 1
    # AWS: a matching token makes Bedrock ignore the request without an error, whatever it asks for
    changed = _create(bedrock, "idem", models_in_s3["mistral"], clientRequestToken="uid-1234-r1")
    assert changed == first
    assert len(bedrock.list_model_import_jobs()["modelImportJobSummaries"]) == 1


def test_name_conflicts(bedrock, models_in_s3):
    _wait_done(bedrock, _create(bedrock, "dup", models_in_s3["llama3"]))
    with pytest.raises(ClientError) as err:
        _create(bedrock, "dup", models_in_s3["llama3"])  # same job name: spent once used
    assert _code(err) == "ValidationException" and "job name is currently in use" in str(err.value)
    with pytest.raises(ClientError) as err:
        bedrock.create_model_import_job(
            jobName="other-job",
            importedModelName="dup",
            roleArn=ROLE,
            modelDataSource={"s3DataSource": {"s3Uri": models_in_s3["llama3"]}},
        )
    assert _code(err) == "ConflictException" and "dup" in str(err.value)


def test_one_import_job_per_region_at_a_time(bedrock, models_in_s3):
    _create(bedrock, "first", models_in_s3["llama3"])
    with pytest.raises(ClientError) as err:
        _create(bedrock, "second", models_in_s3["llama3"])
    assert _code(err) == "ServiceQuotaExceededException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # another region has its own slot
    west = boto3.client("bedrock", endpoint_url=bedrock.meta.endpoint_url, region_name="us-west-2")
    assert ":us-west-2:" in _create(west, "second", models_in_s3["llama3"])


def test_imported_model_quota(bedrock, models_in_s3, emulator):
    _admin(emulator, "/_emulator/faults", {"imported_model_quota": 2, "concurrent_jobs": 5})
    for name in ("q1", "q2"):
        _create(bedrock, name, models_in_s3["llama3"])
    with pytest.raises(ClientError) as err:
        _create(bedrock, "q3", models_in_s3["llama3"])
    assert _code(err) == "ServiceQuotaExceededException" and "imported models" in str(err.value)


def test_delete_model_and_not_found_errors(bedrock, models_in_s3):
    job = _wait_done(bedrock, _create(bedrock, "gone", models_in_s3["llama3"]))
    bedrock.delete_imported_model(modelIdentifier=job["importedModelArn"])
    for call, kw in [
        (bedrock.get_imported_model, {"modelIdentifier": "gone"}),
        (bedrock.delete_imported_model, {"modelIdentifier": "gone"}),
        (bedrock.get_model_import_job, {"jobIdentifier": "nope"}),
        (bedrock.list_tags_for_resource, {"resourceARN": job["importedModelArn"]}),
    ]:
        with pytest.raises(ClientError) as err:
            call(**kw)
        assert _code(err) == "ResourceNotFoundException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_tags_add_remove_and_limit(bedrock, models_in_s3):
    arn = _wait_done(bedrock, _create(bedrock, "tagged", models_in_s3["llama3"]))["importedModelArn"]
    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    bedrock.untag_resource(resourceARN=arn, tagKeys=["a"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(ClientError) as err:
        bedrock.tag_resource(resourceARN=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    assert _code(err) == "TooManyTagsException"
    assert err.value.response["resourceName"] == arn


@pytest.mark.parametrize(
    "kwargs, path",
    [
        ({"jobName": "bad name"}, "jobName"),
        ({"importedModelName": "x" * 64}, "importedModelName"),
        ({"roleArn": "arn:aws:iam::123:user/bob"}, "roleArn"),
        (
            {"modelDataSource": {"s3DataSource": {"s3Uri": "https://x/y"}}},
            "modelDataSource.s3DataSource.s3Uri",
        ),
        ({"clientRequestToken": "-bad-"}, "clientRequestToken"),
        ({"importedModelTags": [{"key": "k", "value": "bad*value"}]}, "importedModelTags.1.member.value"),
    ],
)
def test_constraints_from_the_service_model(bedrock, kwargs, path):
    params = {
        "jobName": "ok-job",
        "importedModelName": "ok",
        "roleArn": ROLE,
        "modelDataSource": {"s3DataSource": {"s3Uri": "s3://models/x/"}},
    } | kwargs
    with pytest.raises(ClientError) as err:
        bedrock.create_model_import_job(**params)
    assert _code(err) == "ValidationException"
    assert f"at '{path}'" in err.value.response["Error"]["Message"]


def test_pagination_filters_and_sorting(bedrock, models_in_s3, emulator):
    _admin(
        emulator,
        "/_emulator/faults",
        {"imported_model_quota": 100, "concurrent_jobs": 100, "job_duration_seconds": 0.05},
    )
    arns = [_create(bedrock, f"page{i}", models_in_s3["llama3"]) for i in range(7)]
    for arn in arns:
        _wait_done(bedrock, arn)
    pages = list(bedrock.get_paginator("list_model_import_jobs").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["modelImportJobSummaries"]) for p in pages] == [3, 3, 1]
    names = [s["jobName"] for p in pages for s in p["modelImportJobSummaries"]]
    assert names == [f"page{i}-job" for i in reversed(range(7))]  # newest first by default
    asc = bedrock.list_model_import_jobs(sortBy="CreationTime", sortOrder="Ascending")[
        "modelImportJobSummaries"
    ]
    assert asc[0]["jobName"] == "page0-job"
    assert len(bedrock.list_model_import_jobs(nameContains="page1")["modelImportJobSummaries"]) == 1
    assert len(bedrock.list_model_import_jobs(statusEquals="Failed")["modelImportJobSummaries"]) == 0
    model_pages = list(
        bedrock.get_paginator("list_imported_models").paginate(PaginationConfig={"PageSize": 4})
    )
    assert sum(len(p["modelSummaries"]) for p in model_pages) == 7
    listed = bedrock.list_model_import_jobs()["modelImportJobSummaries"]
    middle = listed[3]["creationTime"]
    after = bedrock.list_model_import_jobs(creationTimeAfter=middle)["modelImportJobSummaries"]
    assert 0 < len(after) == sum(1 for s in listed if s["creationTime"] > middle) < 7


def test_fault_throttling_and_server_errors(bedrock, emulator, monkeypatch):
    # botocore's jittered backoff (up to 20 s) is its own; what is tested is that the faults are retryable
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    _admin(emulator, "/_emulator/faults", {"throttle_rate": 1.0})
    with pytest.raises(ClientError) as err:
        bedrock.list_imported_models()
    assert _code(err) == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    _admin(emulator, "/_emulator/faults", {"throttle_rate": 0.0, "error_rate": 1.0})
    with pytest.raises(ClientError) as err:
        bedrock.list_imported_models()
    assert _code(err) == "InternalServerException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # botocore's standard retries ride out a 50% fault rate
    _admin(emulator, "/_emulator/faults", {"error_rate": 0.25, "throttle_rate": 0.25})
    retrying = boto3.client(
        "bedrock",
        endpoint_url=emulator,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    for _ in range(10):
        retrying.list_imported_models()
    state = _admin(emulator, "/_emulator/state")
    assert state["errors"].get("ListImportedModels:ThrottlingException", 0) >= 1


def test_fault_latency(bedrock, emulator):
    _admin(emulator, "/_emulator/faults", {"latency_ms": 300})
    start = time.monotonic()
    bedrock.list_imported_models()
    assert time.monotonic() - start >= 0.3


def test_fault_lost_response_after_the_create_went_through(bedrock, models_in_s3, emulator):
    _admin(emulator, "/_emulator/faults", {"drop_responses": {"CreateModelImportJob": 1}})
    with pytest.raises(BotoCoreError, match=r"Connection was closed|aborted"):
        _create(_once(emulator), "lost", models_in_s3["llama3"], clientRequestToken="token-1")
    jobs = bedrock.list_model_import_jobs()["modelImportJobSummaries"]
    assert [j["jobName"] for j in jobs] == ["lost-job"]  # applied, though the caller heard nothing
    # repeating the create with its token is answered with the job it made: nothing new, no error
    assert _create(bedrock, "lost", models_in_s3["llama3"], clientRequestToken="token-1") == jobs[0]["jobArn"]
    assert len(bedrock.list_model_import_jobs()["modelImportJobSummaries"]) == 1
    assert _admin(emulator, "/_emulator/state")["errors"]["CreateModelImportJob:ResponseLost"] == 1


def test_fault_timeout_after_the_change(bedrock, models_in_s3, emulator):
    arn = bedrock.get_model_import_job(
        jobIdentifier=_wait_done(bedrock, _create(bedrock, "late", models_in_s3["llama3"]))["jobArn"]
    )["importedModelArn"]
    _admin(emulator, "/_emulator/faults", {"hold_responses": {"TagResource": 2.0}})
    with pytest.raises(ReadTimeoutError):
        _once(emulator, read_timeout=0.5).tag_resource(resourceARN=arn, tags=[{"key": "team", "value": "ml"}])
    tags = bedrock.list_tags_for_resource(resourceARN=arn)["tags"]
    assert {"key": "team", "value": "ml"} in tags  # the timed-out call was applied


def test_fault_request_held_before_the_change(bedrock, models_in_s3, emulator):
    _wait_done(bedrock, _create(bedrock, "slow-delete", models_in_s3["llama3"]))
    _admin(emulator, "/_emulator/faults", {"hold_requests": {"DeleteImportedModel": 1.5}})
    deleting = threading.Thread(
        target=bedrock.delete_imported_model, kwargs={"modelIdentifier": "slow-delete"}
    )
    deletes = _admin(emulator, "/_emulator/state")["calls"].get("DeleteImportedModel", 0)
    deleting.start()
    wait_for(  # the delete has arrived and waits
        lambda: _admin(emulator, "/_emulator/state")["calls"].get("DeleteImportedModel", 0) > deletes,
        timeout=10,
        what="the delete to arrive",
    )
    assert deleting.is_alive()
    assert [m["modelName"] for m in bedrock.list_imported_models()["modelSummaries"]] == ["slow-delete"]
    deleting.join(timeout=10)
    assert not deleting.is_alive()
    assert bedrock.list_imported_models()["modelSummaries"] == []


def test_fault_forced_job_failure(bedrock, models_in_s3, emulator):
    _admin(emulator, "/_emulator/faults", {"fail_jobs": 1, "fail_message": "Injected: weights corrupt"})
    job = _wait_done(bedrock, _create(bedrock, "forced", models_in_s3["llama3"]))
    assert job["status"] == "Failed" and job["failureMessage"] == "Injected: weights corrupt"
    assert _wait_done(bedrock, _create(bedrock, "after", models_in_s3["llama3"]))["status"] == "Completed"


def test_fault_iam_propagation(bedrock, models_in_s3, emulator):
    _admin(emulator, "/_emulator/faults", {"iam_propagation_failures": 2})
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            _create(bedrock, "fresh-role", models_in_s3["llama3"])
        assert _code(err) == "ValidationException" and "role ARN is invalid" in str(err.value)
    assert _create(bedrock, "fresh-role", models_in_s3["llama3"])


def test_unsigned_request_is_refused(emulator):
    req = urllib.request.Request(emulator + "/imported-models")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 403
    assert err.value.headers["x-amzn-ErrorType"].startswith("AccessDeniedException")


def test_aws_cli_works_against_it(bedrock, models_in_s3, emulator):
    _wait_done(bedrock, _create(bedrock, "cli", models_in_s3["mistral"]))
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run(
        ["aws", "bedrock", "list-imported-models", "--endpoint-url", emulator, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert [m["modelName"] for m in json.loads(out.stdout)["modelSummaries"]] == ["cli"]


def _role(moto_endpoint: str, name: str, trust: dict, *policies: dict) -> str:
    iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1")
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    for i, policy in enumerate(policies):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(policy))
    return f"arn:aws:iam::123456789012:role/{name}"


def _allow(*statements: tuple[str, str]) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements],
    }


KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
VPC = {"subnetIds": ["subnet-0abc"], "securityGroupIds": ["sg-0abc"]}


@pytest.mark.parametrize(
    ("case", "trust", "policies", "extra", "message"),
    [
        (
            "trusts-another-service",
            {
                **BEDROCK_TRUST,
                "Statement": [
                    BEDROCK_TRUST["Statement"][0] | {"Principal": {"Service": "ec2.amazonaws.com"}}
                ],
            },
            [READ_MODELS],
            {},
            "could not assume the role",
        ),
        (
            "trust-condition-for-another-account",
            {
                **BEDROCK_TRUST,
                "Statement": [
                    BEDROCK_TRUST["Statement"][0]
                    | {"Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}}}
                ],
            },
            [READ_MODELS],
            {},
            "could not assume the role",
        ),
        ("no-s3-permission", BEDROCK_TRUST, [], {}, "not authorized to perform s3:ListBucket"),
        (
            "another-prefix-only",
            BEDROCK_TRUST,
            [
                _allow(
                    ("s3:ListBucket", "arn:aws:s3:::models"), ("s3:GetObject", "arn:aws:s3:::models/other/*")
                )
            ],
            {},
            "not authorized to perform s3:GetObject on resource arn:aws:s3:::models/emu/llama3/config.json",
        ),
        (
            "explicit-deny-wins",
            BEDROCK_TRUST,
            [
                READ_MODELS,
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}],
                },
            ],
            {},
            "not authorized to perform s3:ListBucket",
        ),
        (
            "model-kms-key-without-decrypt",
            BEDROCK_TRUST,
            [READ_MODELS],
            {"importedModelKmsKeyId": KMS_KEY},
            f"not authorized to perform kms:Decrypt on resource {KMS_KEY}",
        ),
        (
            "model-kms-key-without-create-grant",
            BEDROCK_TRUST,
            [
                READ_MODELS,
                _allow(*((a, KMS_KEY) for a in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"))),
            ],
            {"importedModelKmsKeyId": KMS_KEY},
            f"not authorized to perform kms:CreateGrant on resource {KMS_KEY}",
        ),
        (
            "vpc-without-network-interfaces",
            BEDROCK_TRUST,
            [READ_MODELS],
            {"vpcConfig": VPC},
            "not authorized to perform ec2:CreateNetworkInterface",
        ),
    ],
)
def test_the_role_is_judged_by_its_real_policies(
    bedrock, models_in_s3, moto_endpoint, case, trust, policies, extra, message
):
    role = _role(moto_endpoint, f"defect-{case}", trust, *policies)
    job = _wait_done(bedrock, _create(bedrock, case, models_in_s3["llama3"], roleArn=role, **extra))
    assert job["status"] == "Failed" and message in job["failureMessage"], job.get("failureMessage")


def test_a_role_with_everything_it_needs_imports(bedrock, models_in_s3, moto_endpoint):
    """Trust limited to this account and Bedrock import jobs, read on exactly the prefix, the KMS key and
    the VPC permissions: the shape the operator's created role and deploy/iam/ document."""
    trust = {
        **BEDROCK_TRUST,
        "Statement": [
            BEDROCK_TRUST["Statement"][0]
            | {
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                    "ArnEquals": {
                        "aws:SourceArn": "arn:aws:bedrock:us-east-1:123456789012:model-import-job/*"
                    },
                }
            }
        ],
    }
    policy = _allow(
        ("s3:GetObject", "arn:aws:s3:::models/emu/llama3/*"),
        ("s3:ListBucket", "arn:aws:s3:::models"),
        ("kms:Decrypt", KMS_KEY),
        ("kms:GenerateDataKey", KMS_KEY),
        ("kms:DescribeKey", KMS_KEY),
        ("kms:CreateGrant", KMS_KEY),
        ("ec2:*NetworkInterface*", "*"),
        ("ec2:Describe*", "*"),
    )
    role = _role(moto_endpoint, "complete", trust, policy)
    job = _wait_done(
        bedrock,
        _create(
            bedrock,
            "complete",
            models_in_s3["llama3"],
            roleArn=role,
            importedModelKmsKeyId=KMS_KEY,
            vpcConfig=VPC,
        ),
    )
    assert job["status"] == "Completed", job.get("failureMessage")


def test_a_check_that_breaks_fails_the_job_instead_of_hanging():
    from bmo_devtools.emulator.state import BedrockState

    def broken(s3_uri, role_arn, job=None):
        raise RuntimeError("NoCredentialsError: Unable to locate credentials")

    state = BedrockState(broken, ticker=False)
    state.set_faults({"job_duration_seconds": 0})
    arn = state.create_job(
        "us-east-1",
        {
            "jobName": "j",
            "importedModelName": "m",
            "roleArn": ROLE,
            "modelDataSource": {"s3DataSource": {"s3Uri": "s3://models/x/"}},
        },
    )["jobArn"]
    state.tick()
    job = state.get_job("us-east-1", {"jobIdentifier": arn})
    assert job["status"] == "Failed" and "internal error" in job["failureMessage"]


def test_the_emulator_needs_no_aws_credentials(tmp_path, moto_endpoint, models_in_s3):
    """Started with no credentials anywhere in its environment, its jobs still complete."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    with _running_emulator(moto_endpoint, "--job-duration", "0.2", env=env) as url:
        client = _once(url)
        job = _wait_done(client, _create(client, "nocreds", models_in_s3["llama3"]))
        assert job["status"] == "Completed", job.get("failureMessage")


def test_a_kms_encrypted_source_needs_kms_decrypt(bedrock, s3, moto_endpoint, tmp_path):
    """Objects stored with SSE-KMS are read through their key: the role needs kms:Decrypt on it."""
    folder = build_model(tmp_path / "enc", ModelSpec(kind="mistral"))
    for path in folder.iterdir():
        s3.put_object(
            Bucket="models",
            Key=f"emu/encrypted/{path.name}",
            Body=path.read_bytes(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=KMS_KEY,
        )
    source = "s3://models/emu/encrypted/"
    without = _role(moto_endpoint, "kms-source-no-decrypt", BEDROCK_TRUST, READ_MODELS)
    job = _wait_done(bedrock, _create(bedrock, "enc-no-kms", source, roleArn=without))
    assert job["status"] == "Failed" and f"kms:Decrypt on resource {KMS_KEY}" in job["failureMessage"]
    with_key = _role(
        moto_endpoint, "kms-source-decrypt", BEDROCK_TRUST, READ_MODELS, _allow(("kms:Decrypt", KMS_KEY))
    )
    job = _wait_done(bedrock, _create(bedrock, "enc-kms", source, roleArn=with_key))
    assert job["status"] == "Completed", job.get("failureMessage")


def test_a_key_named_by_alias_is_granted_through_its_alias(bedrock, models_in_s3, moto_endpoint):
    """IAM does not match an alias ARN as a key resource: a role grants the key behind an alias with
    kms:ResourceAliases, and only that alias."""

    def by_alias(alias: str) -> dict:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                    "Resource": "arn:aws:kms:us-east-1:123456789012:key/*",
                    "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}},
                }
            ],
        }

    right = _role(moto_endpoint, "alias-right", BEDROCK_TRUST, READ_MODELS, by_alias("alias/team-key"))
    wrong = _role(moto_endpoint, "alias-wrong", BEDROCK_TRUST, READ_MODELS, by_alias("alias/other-key"))
    ok = _wait_done(
        bedrock,
        _create(
            bedrock, "alias-ok", models_in_s3["llama3"], roleArn=right, importedModelKmsKeyId="alias/team-key"
        ),
    )
    assert ok["status"] == "Completed", ok.get("failureMessage")
    refused = _wait_done(
        bedrock,
        _create(
            bedrock, "alias-no", models_in_s3["llama3"], roleArn=wrong, importedModelKmsKeyId="alias/team-key"
        ),
    )
    assert refused["status"] == "Failed" and "kms:Decrypt" in refused["failureMessage"]


def test_the_trace_records_answered_calls_only_when_asked(moto_endpoint, aws_env, emulator, models_in_s3):
    """`--trace` (what bench/control_loop.py reads to split a handover's time): each call answered, with
    its time and the job or model it names; a refused call is not in it, and without the flag nothing is."""
    assert _admin(emulator, "/_emulator/trace") == []
    with _running_emulator(moto_endpoint, "--trace") as url:
        client = _once(url)
        client.list_model_import_jobs(statusEquals="InProgress")
        with pytest.raises(ClientError):
            client.get_model_import_job(jobIdentifier="no-such-job")
        _create(client, "traced", models_in_s3["llama3"])
        trace = _admin(url, "/_emulator/trace")
    assert [(op, named) for _, op, named in trace] == [
        ("ListModelImportJobs", ""),
        ("CreateModelImportJob", "traced-job"),
    ]
    assert abs(trace[0][0] - time.time()) < 60
