"""Branches of the AWS and Kubernetes adapters the coverage run never took (docs/coverage-branches.md,
`untested`, for controller/kube/validation_jobs.py, controller/aws/clients.py and
controller/runtime/leadership.py;
plus two of controller/tenancy/, classified in docs/coverage-branches.md). No servers: the Kubernetes
client is faked the way tests/unit/test_validation_trust.py does, AWS is moto in-process or botocore's Stubber
on the operator's own clients."""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
from typing import Any, ClassVar

import pytest
import urllib3
from botocore.stub import Stubber
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from moto import mock_aws

from controller.aws.clients import BedrockClient, SupportClients
from controller.errors import AwsError, Kind, SourceError
from controller.kube.validation_jobs import CONTAINER, ValidationJobs, foreign_pod
from controller.settings import Settings

OWNER = "0f9e8d7c-0000-4000-8000-000000000001"
ACCOUNT = "123456789012"  # moto's account


# ---- controller/kube/validation_jobs.py --------------------------------------------------------------------
def _built(jobs: ValidationJobs | None = None, architecture: str | None = None) -> client.V1Job:
    return (jobs or ValidationJobs(Settings(validator_image="bmo:1"))).build(
        namespace="team-a",
        owner_name="m",
        owner_uid=OWNER,
        rev="abcdef0123456789",
        s3_uri="s3://models/a/",
        region="us-east-1",
        architecture=architecture,
    )


def _stored(job: client.V1Job, *conditions: client.V1JobCondition) -> client.V1Job:
    """The Job as the API returns it: its own uid, and the job controller's conditions."""
    job = copy.deepcopy(job)
    job.metadata.uid = "job-uid-1"
    job.status = client.V1JobStatus(conditions=list(conditions) or None)
    return job


def _failed(reason: str = "BackoffLimitExceeded", message: str = "") -> client.V1JobCondition:
    return client.V1JobCondition(type="Failed", status="True", reason=reason, message=message)


def _pod_of(job: client.V1Job, status: client.V1PodStatus | None = None) -> client.V1Pod:
    """A pod the job controller made from `job` (its labels, its controller reference, its template)."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=f"{job.metadata.name}-x1",
            labels={"batch.kubernetes.io/controller-uid": job.metadata.uid},
            owner_references=[
                client.V1OwnerReference(
                    api_version="batch/v1",
                    kind="Job",
                    name=job.metadata.name,
                    uid=job.metadata.uid,
                    controller=True,
                )
            ],
        ),
        spec=copy.deepcopy(job.spec.template.spec),
        status=status,
    )


def _container(name: str = CONTAINER, **state: Any) -> client.V1ContainerStatus:
    return client.V1ContainerStatus(
        name=name,
        image="bmo:1",
        image_id="",
        ready=False,
        restart_count=0,
        state=client.V1ContainerState(**state),
    )


def _terminated(
    exit_code: int, reason: str = "Error", message: str | None = None
) -> client.V1ContainerStatus:
    return _container(
        terminated=client.V1ContainerStateTerminated(exit_code=exit_code, reason=reason, message=message)
    )


class _FakeCore:
    """CoreV1Api as `read` and `ensure` use it: the Job's pods, the job controller's Events, the SA."""

    pods: ClassVar[list[client.V1Pod]] = []

    def __init__(self, *_: object) -> None:
        pass

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> client.V1PodList:
        key, _, value = label_selector.partition("=")
        return client.V1PodList(items=[p for p in self.pods if (p.metadata.labels or {}).get(key) == value])

    def list_namespaced_event(self, namespace: str, field_selector: str) -> client.CoreV1EventList:
        return client.CoreV1EventList(items=[])

    def read_namespaced_service_account(self, name: str, namespace: str) -> client.V1ServiceAccount:
        return client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name, namespace=namespace))


@pytest.fixture
def kube(monkeypatch):
    """The Kubernetes API as ValidationJobs sees it, faked: set `.pods`, patch BatchV1Api per test."""
    from controller.kube import validation_jobs as vj

    core = type("Core", (_FakeCore,), {"pods": []})
    monkeypatch.setattr(vj.client, "CoreV1Api", core)
    monkeypatch.setattr(ValidationJobs, "_client", lambda self: None)
    return core


def test_the_declared_architecture_reaches_the_validation_pod_and_decides_its_verdict(tmp_path, capsys):
    """validation_jobs.py `if architecture: args += ["--architecture", ...]`: in Job mode the validator
    pod is the only place spec.architecture can be checked. Run the built container's own command line
    (its source swapped for a local Llama 3 folder): declared Mistral, the verdict is ArchitectureMismatch
    naming spec.architecture; undeclared, the same folder is importable."""
    from bmo_devtools.dev.model_factory import ModelSpec, build_model
    from controller.cli import commands as cli

    folder = build_model(tmp_path / "llama", ModelSpec(kind="llama3"))

    def verdict(architecture: str | None) -> dict[str, Any]:
        container = _built(architecture=architecture).spec.template.spec.containers[0]
        assert container.command == ["bedrock-model-operator", "validate"]
        args = list(container.args)
        args[0] = str(folder)
        term = tmp_path / f"termination-{architecture}"
        args[args.index("--termination-log") + 1] = str(term)
        assert cli.main(["validate", *args]) == 0  # --exit-zero-on-verdict: the pod succeeds either way
        capsys.readouterr()
        return json.loads(term.read_text())

    declared = verdict("Mistral")
    assert declared["v"] == "not-importable"
    ((_code, message),) = [e for e in declared["e"] if e[0] == "ArchitectureMismatch"]
    assert "spec.architecture" in message and "Mistral" in message
    assert verdict(None)["v"] == "importable"


def test_a_refused_validation_job_create_is_retried_with_the_apiservers_reason(kube, monkeypatch):
    """validation_jobs.py `if exc2.status != 409: raise` (creating the Job): a `count/jobs.batch`
    ResourceQuota or an admission webhook refuses the Job. That must not read as "ValidationJobCreated"
    (the object would wait for a Job that does not exist): the error goes up, and the reconciler's
    handler turns it into Synced False "Kubernetes API error 403 on validation Jobs"."""
    from controller.kube import validation_jobs as vj
    from controller.kube.client import KUBE_ERRORS, api_error

    created: list[str] = []

    class RefusingBatch:
        def __init__(self, *_: object) -> None:
            pass

        def read_namespaced_job(self, name: str, namespace: str) -> client.V1Job:
            raise ApiException(status=404, reason="Not Found")

        def list_namespaced_job(self, namespace: str, label_selector: str) -> client.V1JobList:
            return client.V1JobList(items=[])

        def create_namespaced_job(self, namespace: str, body: client.V1Job) -> client.V1Job:
            created.append(body.metadata.name)
            raise ApiException(status=403, reason="Forbidden")  # exceeded quota: count/jobs.batch=5

    monkeypatch.setattr(vj.client, "BatchV1Api", RefusingBatch)
    jobs = ValidationJobs(Settings(validator_image="bmo:1"))
    kw = dict(
        namespace="team-a",
        owner_name="m",
        owner_uid=OWNER,
        rev="abcdef0123456789",
        s3_uri="s3://models/a/",
        region="us-east-1",
        architecture=None,
    )
    with pytest.raises(KUBE_ERRORS) as refused:
        jobs.ensure(**kw)
    assert len(created) == 1
    assert api_error(refused.value, "on validation Jobs").message == (
        "Kubernetes API error 403 on validation Jobs: Forbidden"
    )


def test_a_validation_pod_stuck_on_a_missing_secret_fails_as_a_config_error(kube):
    """validation_jobs.py `if waiting and waiting.reason in _CONFIG_ERRORS:`: the pod template names a
    Secret that is missing, so the kubelet never starts the validator. The Job would otherwise sit
    "Pending" until its deadline; instead the revision fails at once with ValidationJobConfigError and the
    kubelet's words."""
    built = _built()
    job = _stored(built)  # running: no condition yet
    waiting = client.V1ContainerStateWaiting(
        reason="CreateContainerConfigError", message='secret "aws-config" not found'
    )
    kube.pods = [
        _pod_of(job, client.V1PodStatus(phase="Pending", container_statuses=[_container(waiting=waiting)]))
    ]
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", "ValidationJobConfigError")
    assert result.message == 'CreateContainerConfigError: secret "aws-config" not found'


def test_an_eviction_seen_only_after_the_job_failed_is_still_reported_as_an_eviction(kube):
    """validation_jobs.py `if any(... p.status.reason == "Evicted" for p in pods):` in `_failure`: the
    wake comes from the Job's watch event, so the operator usually first looks once the job controller
    has marked the Job Failed. The evicted pod's container was killed (exit 137); the user must read
    ValidationJobEvicted (the node was short of memory), not "raise the validation Job memory"."""
    built = _built()
    job = _stored(built, _failed())
    kube.pods = [
        _pod_of(
            job,
            client.V1PodStatus(
                phase="Failed",
                reason="Evicted",
                message="The node was low on resource: memory.",
                container_statuses=[_terminated(137)],
            ),
        )
    ]
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", "ValidationJobEvicted")
    assert "evicted" in result.message


def test_a_job_that_failed_without_a_validator_container_is_reported_with_the_jobs_own_reason(kube):
    """validation_jobs.py `if term is not None:` false (in `_failure`): the Job failed but no validator
    container ever terminated (its pod was deleted, or never started). The revision fails with the generic
    ValidationJobFailed, and the message carries the job controller's reason and message: the only clue."""
    built = _built()
    job = _stored(built, _failed("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    kube.pods = []
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", "ValidationJobFailed")
    assert "BackoffLimitExceeded" in result.message
    assert "Job has reached the specified backoff limit" in result.message


@pytest.mark.parametrize(
    "code,reason",
    [
        ("AccessDenied", "SourceAccessDenied"),
        ("NoSuchBucket", "SourceNotFound"),
        ("SlowDown", "SourceUnreadable"),
    ],
)
def test_a_validator_that_cannot_read_the_source_reports_why(kube, code, reason):
    """validation_jobs.py `if doc and doc.get("v") == "error":`: the validator pod cannot read the
    bucket (its ServiceAccount has no S3 access, the bucket is gone) and exits 2 with an error record in
    its termination message. The user reads SourceAccessDenied / SourceNotFound / SourceUnreadable with
    the S3 code and a hint at the ServiceAccount, not a "validator crashed, see the logs"."""
    built = _built()
    job = _stored(built, _failed())
    term = json.dumps({"v": "error", "code": code, "message": "Access Denied"}, separators=(",", ":"))
    kube.pods = [
        _pod_of(job, client.V1PodStatus(phase="Failed", container_statuses=[_terminated(2, message=term)]))
    ]
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", reason)
    assert f"could not read the source: {code}" in result.message
    assert "ServiceAccount's S3 access" in result.message


def test_a_tenants_job_under_the_name_without_a_validator_container_is_reported_as_foreign(kube, monkeypatch):
    """validation_jobs.py `if container is None: return {}` (in `_runs`): a tenant made a Job under the
    revision's name, with the right owner reference and label, whose one container is not named
    `validate`. The object waits with ValidationJobForeign ("delete it so the operator can run its own")
    instead of its pass failing on that Job."""
    from controller.kube import validation_jobs as vj

    built = _built()
    theirs = _stored(built)
    theirs.spec.template.spec.containers[0].name = "main"

    class Batch:
        def __init__(self, *_: object) -> None:
            pass

        def read_namespaced_job(self, name: str, namespace: str) -> client.V1Job:
            assert name == built.metadata.name
            return theirs

    monkeypatch.setattr(vj.client, "BatchV1Api", Batch)
    result = ValidationJobs(Settings(validator_image="bmo:1")).ensure(
        namespace="team-a",
        owner_name="m",
        owner_uid=OWNER,
        rev="abcdef0123456789",
        s3_uri="s3://models/a/",
        region="us-east-1",
        architecture=None,
    )
    assert (result.kind, result.reason) == ("running", "ValidationJobForeign")
    assert "not the one the operator builds" in result.message


def test_a_stray_pod_of_the_operators_job_without_a_validator_container_cannot_fail_the_revision(kube):
    """validation_jobs.py `if not theirs: return "it has no validator container"` (in `foreign_pod`): a
    tenant creates a pod with the Job's controller-uid label and controller reference but no `validate`
    container, and leaves it stuck in CreateContainerConfigError. It must be ignored: the revision keeps
    waiting for the real pod instead of failing with ValidationJobConfigError."""
    built = _built()
    job = _stored(built)
    stray = _pod_of(job)
    stray.spec.containers[0].name = "main"
    waiting = client.V1ContainerStateWaiting(reason="CreateContainerConfigError", message="forged")
    stray.status = client.V1PodStatus(
        phase="Pending", container_statuses=[_container("main", waiting=waiting)]
    )
    kube.pods = [stray]
    result = ValidationJobs(Settings()).read(job, built=built, now=dt.datetime.now(dt.UTC))
    assert (result.kind, result.reason) == ("running", "ValidationPodPending")
    assert foreign_pod(stray, job, built) == "it has no validator container"


# ---- controller/aws/clients.py: Bedrock --------------------------------------------------------------
@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials so botocore signs (a Stubber answers before anything is sent)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _summary(i: int) -> dict[str, Any]:
    return {
        "modelArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:imported-model/m{i:04d}",
        "modelName": f"model-{i}",
        "creationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "instructSupported": True,
        "modelArchitecture": "llama3",
    }


def test_a_regions_models_past_the_first_listing_page_are_found_without_a_call_each(aws_env):
    """bedrock_client.py `if not token: return models` false (next page of ListImportedModels): a region
    with more than 1,000 imported models. The resync's one listing must hold every page; a model on page 2
    missing from it would be read by ARN on every resync (a GetImportedModel each, against the rate
    limit). The Stubber allows the two listing calls and nothing else."""
    bedrock = BedrockClient(Settings(), "us-east-1")
    with Stubber(bedrock._bedrock) as stub:
        stub.add_response(
            "list_imported_models",
            {"modelSummaries": [_summary(i) for i in range(1000)], "nextToken": "page-2"},
            {"maxResults": 1000},
        )
        stub.add_response(
            "list_imported_models",
            {"modelSummaries": [_summary(1000), _summary(1001)]},
            {"maxResults": 1000, "nextToken": "page-2"},
        )
        late = bedrock.listed_model(_summary(1001)["modelArn"], max_age=60, now=100.0)
        assert late is not None and late.name == "model-1001"
        assert bedrock.listed_model(_summary(0)["modelArn"], max_age=60, now=101.0) is not None
        stub.assert_no_pending_responses()  # two pages, two calls: no GetImportedModel for model-1001


# ---- controller/aws/clients.py: SageMaker sources ------------------------------------------------------
def _sagemaker(support: SupportClients) -> Stubber:
    return Stubber(support._sm)


def _described(**containers: Any) -> dict[str, Any]:
    return {
        "ModelName": "team-llama",
        "ModelArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/team-llama",
        "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        **containers,
    }


def test_a_sagemaker_model_that_does_not_exist_fails_the_revision_with_a_clear_reason(aws_env):
    """bedrock_client.py `if err.kind is Kind.NOT_FOUND or (...ValidationException... "not find")`:
    spec.source.sageMakerModelName names no model. SageMaker answers a ValidationException "Could not find
    model", which the classifier alone reads as an invalid request. The revision must fail for good with
    SageMakerModelNotFound and a message that says which field to fix."""
    support = SupportClients(Settings(), "us-east-1")
    with _sagemaker(support) as stub:
        stub.add_client_error(
            "describe_model",
            service_error_code="ValidationException",
            service_message=f'Could not find model "arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/team-llama".',
            http_status_code=400,
            expected_params={"ModelName": "team-llama"},
        )
        with pytest.raises(SourceError) as missing:
            support.sagemaker_s3_uri("team-llama")
    assert (missing.value.kind, missing.value.reason) == (Kind.TERMINAL, "SageMakerModelNotFound")
    assert "team-llama does not exist in us-east-1" in missing.value.message
    assert "spec.source.sageMakerModelName" in missing.value.message


@pytest.mark.parametrize(
    "code,status,kind,reason",
    [
        ("AccessDeniedException", 400, Kind.TERMINAL, "AccessDenied"),
        ("ThrottlingException", 400, Kind.RETRYABLE, "Throttled"),
    ],
)
def test_a_denied_or_throttled_sagemaker_lookup_is_not_taken_for_a_missing_model(
    aws_env, code, status, kind, reason
):
    """bedrock_client.py `raise err` after SageMaker DescribeModel (the error is not "model missing"):
    a denied DescribeModel tells the user to grant sagemaker:DescribeModel (AccessDenied), and a throttled
    one is retried; neither may fail the revision as SageMakerModelNotFound."""
    support = SupportClients(Settings(), "us-east-1")
    with _sagemaker(support) as stub:
        stub.add_client_error(
            "describe_model", service_error_code=code, service_message="nope", http_status_code=status
        )
        with pytest.raises(AwsError) as err:
            support.sagemaker_s3_uri("team-llama")
    assert not isinstance(err.value, SourceError)
    assert (err.value.kind, err.value.reason) == (kind, reason)


def test_a_sagemaker_model_packed_as_model_tar_gz_is_refused_as_unsupported(aws_env):
    """bedrock_client.py `for c in containers:` exhausted (NoS3DataSource): the most common SageMaker
    model only has a ModelDataUrl to a model.tar.gz, which Bedrock cannot import. The revision fails with
    SageMakerSourceUnsupported saying so, rather than importing from the archive's path."""
    support = SupportClients(Settings(), "us-east-1")
    with _sagemaker(support) as stub:
        stub.add_response(
            "describe_model",
            _described(
                PrimaryContainer={
                    "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tgi:2",
                    "ModelDataUrl": "s3://models/team-a/llama/model.tar.gz",
                }
            ),
            {"ModelName": "team-llama"},
        )
        with pytest.raises(SourceError) as refused:
            support.sagemaker_s3_uri("team-llama")
    assert (refused.value.kind, refused.value.reason) == (Kind.TERMINAL, "SageMakerSourceUnsupported")
    assert "model.tar.gz" in refused.value.message


def test_a_multi_container_sagemaker_models_folder_is_found_past_the_first_container(aws_env):
    """bedrock_client.py `if uri:` false (a container without S3DataSource, look at the next): an
    inference-pipeline model lists its containers under `Containers`; the first (a preprocessor) has no
    uncompressed data, the second holds the model folder. That folder is what gets imported."""
    support = SupportClients(Settings(), "us-east-1")
    with _sagemaker(support) as stub:
        stub.add_response(
            "describe_model",
            _described(
                Containers=[
                    {
                        "Image": "1.dkr.ecr.us-east-1.amazonaws.com/pre:1",
                        "ModelDataUrl": "s3://models/pre.tar.gz",
                    },
                    {
                        "Image": "1.dkr.ecr.us-east-1.amazonaws.com/tgi:2",
                        "ModelDataSource": {
                            "S3DataSource": {
                                "S3Uri": "s3://models/team-a/llama",
                                "S3DataType": "S3Prefix",
                                "CompressionType": "None",
                            }
                        },
                    },
                ]
            ),
            {"ModelName": "team-llama"},
        )
        assert support.sagemaker_s3_uri("team-llama") == "s3://models/team-a/llama/"


# ---- controller/aws/clients.py: the service role (IAM) -------------------------------------------------
def test_a_refused_create_role_is_reported_with_its_own_reason(aws_env):
    """bedrock_client.py `if ...Code != "EntityAlreadyExists": raise` (CreateRole): with serviceRole.create,
    IAM refuses the role (the operator lacks iam:CreateRole, or the boundary policy is missing). The user
    reads AccessDenied on the role; the refusal is not taken for "the role exists" (which would go on to
    read a role that is not there and report a missing entity instead)."""
    support = SupportClients(Settings(), "us-east-1")
    support.account_id = lambda: ACCOUNT  # type: ignore[method-assign]
    with Stubber(support._iam) as stub:
        stub.add_client_error(
            "create_role",
            service_error_code="AccessDenied",
            service_message=f"User: arn:aws:sts::{ACCOUNT}:assumed-role/bmo is not authorized to perform: "
            "iam:CreateRole",
            http_status_code=403,
        )
        with pytest.raises(AwsError) as refused:
            support.ensure_role("bmo-import-team-a-m-abc", "s3://models/a/", {"t": "v"})
        stub.assert_no_pending_responses()
    assert (refused.value.kind, refused.value.reason) == (Kind.TERMINAL, "AccessDenied")
    assert refused.value.message.startswith("IAM role bmo-import-team-a-m-abc: User:")


def _inline_policy(support: SupportClients, role: str) -> dict[str, Any]:
    return support._iam.get_role_policy(RoleName=role, PolicyName="read-model-source")["PolicyDocument"]


def test_a_second_import_reuses_the_objects_role_and_points_it_at_the_new_folder():
    """bedrock_client.py `if wanted and have != wanted:` false (the role exists under the right boundary):
    every later import of an object with serviceRole.create (a new revision, a retry) keeps its role (same
    RoleId: no delete and re-create, no new IAM propagation wait), restores its trust policy and points the
    read policy at the new revision's folder."""
    role = "bmo-import-team-a-m-abc"
    with mock_aws():
        support = SupportClients(Settings(), "us-east-1")
        arn = support.ensure_role(role, "s3://models/a/v1/", {"t": "v"})
        first = support._iam.get_role(RoleName=role)["Role"]
        support._iam.update_assume_role_policy(
            RoleName=role,
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
                }
            ),
        )
        assert support.ensure_role(role, "s3://models/a/v2/", {"t": "v"}) == arn
        again = support._iam.get_role(RoleName=role)["Role"]
        assert again["RoleId"] == first["RoleId"]
        trust = again["AssumeRolePolicyDocument"]
        assert trust["Statement"][0]["Principal"] == {"Service": "bedrock.amazonaws.com"}
        reads = {s["Action"]: s["Resource"] for s in _inline_policy(support, role)["Statement"]}
        assert reads["s3:GetObject"] == "arn:aws:s3:::models/a/v2/*"


def test_an_install_without_a_permissions_boundary_creates_and_reuses_roles_without_one():
    """bedrock_client.py `if not name: return {}` (BMO_SERVICE_ROLE_PERMISSIONS_BOUNDARY empty): an
    install whose account has no boundary policy (the setting's documented "empty: none") creates roles
    with no PermissionsBoundary (a boundary naming no policy would make IAM refuse every CreateRole), and
    a later import reuses that role rather than deleting it for lacking a boundary."""
    role = "bmo-import-team-a-m-abc"
    with mock_aws():
        support = SupportClients(Settings(service_role_permissions_boundary=""), "us-east-1")
        support.ensure_role(role, "s3://models/a/", {"t": "v"})
        made = support._iam.get_role(RoleName=role)["Role"]
        assert "PermissionsBoundary" not in made
        support.ensure_role(role, "s3://models/a/v2/", {"t": "v"})
        assert support._iam.get_role(RoleName=role)["Role"]["RoleId"] == made["RoleId"]


def _kms_statement(kms_key_id: str) -> dict[str, Any]:
    role = "bmo-import-team-a-m-abc"
    with mock_aws():
        support = SupportClients(Settings(), "us-east-1")
        support.ensure_role(role, "s3://models/a/", {"t": "v"}, kms_key_id=kms_key_id)
        statements = _inline_policy(support, role)["Statement"]
    (kms,) = [s for s in statements if "kms:Decrypt" in s["Action"]]
    return kms


def test_a_kms_alias_arn_is_granted_through_the_alias_condition():
    """bedrock_client.py `if key.startswith("arn:") and ":alias/" in key:`: spec.kmsKeyId given as an
    alias ARN. IAM never matches an alias ARN as the key resource, so the role may use any key of the
    account that carries the alias; granted on the alias ARN, the import could not decrypt."""
    kms = _kms_statement(f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/models")
    assert kms["Resource"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"
    assert kms["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/models"]}}


@pytest.mark.parametrize(
    "key,resource",
    [
        (
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        (
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
    ],
)
def test_a_kms_key_id_or_key_arn_is_granted_on_that_key(key, resource):
    """bedrock_client.py `if alias:` false (a key id or key ARN): the most common form of spec.kmsKeyId.
    The role may use exactly that key (its ARN), with no alias condition."""
    kms = _kms_statement(key)
    assert kms["Resource"] == resource
    assert "Condition" not in kms


def test_a_refused_delete_role_keeps_the_deletion_pending():
    """bedrock_client.py `if err.kind is not Kind.NOT_FOUND: raise err` (DeleteRole): deleting an object
    with serviceRole.create, IAM refuses to delete its role (here DeleteConflict: someone attached a
    managed policy; or AccessDenied). The error must reach the finalizer (kept, retried with a "deleting:
    ...; retrying" Event): taken for done, the role would leak. A role already gone is done."""
    role = "bmo-import-team-a-m-abc"
    with mock_aws():
        support = SupportClients(Settings(), "us-east-1")
        support.ensure_role(role, "s3://models/a/", {"t": "v"})
        policy = support._iam.create_policy(
            PolicyName="extra",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
                }
            ),
        )["Policy"]["Arn"]
        support._iam.attach_role_policy(RoleName=role, PolicyArn=policy)
        with pytest.raises(AwsError) as refused:
            support.delete_role(role)
        assert refused.value.code == "DeleteConflict" and refused.value.kind is Kind.TERMINAL
        assert support._iam.get_role(RoleName=role)["Role"]["RoleName"] == role  # still there: not done
        support._iam.detach_role_policy(RoleName=role, PolicyArn=policy)
        support.delete_role(role)
        support.delete_role(role)  # already gone: done, no error


# ---- controller/runtime/leadership.py ------------------------------------------------------------
def test_a_failed_lease_write_is_not_a_renewal_so_the_watchdog_fires_on_time(monkeypatch):
    """leadership.py `if ok:` false (in `_Lock._done`): a Lease create that loses a conflict (two replicas
    starting together) or a renewal that times out is a failed round. It must not refresh the last
    renewal: a leader whose writes keep failing is told to stop once the renew deadline has passed, before
    a standby may take the Lease (two leaders otherwise)."""
    from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    class FailingCoordination:
        def create_namespaced_lease(self, namespace: str, body: Any, **kw: Any) -> Any:
            raise ApiException(status=409, reason="Conflict")

        def replace_namespaced_lease(self, name: str, namespace: str, body: Any, **kw: Any) -> Any:
            raise urllib3.exceptions.ReadTimeoutError(None, "/apis/coordination.k8s.io", "read timed out")

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())  # no call is made
    lead = Leadership(Settings(leader_lease_seconds=15))
    lock = lead._lock
    lock.api_instance = leadership._TimedApi(FailingCoordination(), 1)
    stale = time.monotonic() - lead.deadline - 1  # the last good renewal is past the deadline
    lock.renewed_at = stale
    now = str(dt.datetime.now())  # as the library's election loop writes its times
    record = LeaderElectionRecord(lead.me, str(lead.duration), now, now)
    assert lock.create(lead.name, lead.namespace, record) is False
    lock.lease_reference = client.V1Lease(spec=client.V1LeaseSpec())
    assert lock.update(lead.name, lead.namespace, record) is False
    assert lock.renewed_at == stale
    told = threading.Event()
    lead.watchdog(told.set)
    try:
        assert told.wait(2.0), "a leader whose Lease writes fail kept reconciling"
    finally:
        lead.lost.set()


# ---- controller/tenancy (Task 2: classified.md) -----------------------------------------------------------
def test_a_policy_selecting_namespaces_with_a_label_leaves_namespaces_without_it_alone():
    """tenancy/rules.py `if req.operator == "Exists" and not present: return False`: a policy whose
    namespaceSelector is `matchExpressions: [{key: team, operator: Exists}]` governs namespaces labelled
    `team` only. A namespace without the label is not bound by it: under the restricted default it has no
    policy (NoImportPolicy), and a labelled one gets the policy's own rules."""
    from controller.api.models import BedrockImportedModelSpec
    from controller.api.policy import BedrockImportPolicy
    from controller.tenancy.rules import Rule, decide

    policy = BedrockImportPolicy.model_validate(
        {
            "name": "teams",
            "spec": {
                "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
                "sources": {"s3Prefixes": ["s3://models/"]},
                "serviceRoles": {"allowCreate": True},
                "validationModes": ["Job"],
            },
        }
    )
    spec = BedrockImportedModelSpec.model_validate(
        {"source": {"s3Uri": "s3://elsewhere/llama/"}, "serviceRole": {"create": True}}
    )
    unlabelled = decide([policy], {"env": "dev"}, spec, "Job", "us-east-1", "restricted")
    assert unlabelled.policies == () and [v.rule for v in unlabelled.violations] == [Rule.NO_POLICY]
    labelled = decide([policy], {"team": "a"}, spec, "Job", "us-east-1", "restricted")
    assert [p.name for p in labelled.policies] == ["teams"]
    assert [v.rule for v in labelled.violations] == [Rule.SOURCE]


def test_a_policy_deleted_while_two_first_passes_list_policies_stays_deleted():
    """tenancy/view.py `if not self._policies_listed:` false (in `policies()`): at start-up several
    workers' first passes list the policies at once. The one that finishes last must not replace what the
    first applied: a policy deleted (watch event) after the first list was applied would come back from
    the slower, older list and keep restricting (or allowing) a namespace it no longer governs."""
    from controller.tenancy.view import TenancyView

    def body(name: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {},
                "sources": {"s3Prefixes": ["s3://models/"]},
                "validationModes": ["Job"],
            },
        }

    calls = 0

    def list_policies() -> list[dict[str, Any]]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the slow worker: while its list is on the way, another pass lists and applies
            assert [p.name for p in view.policies()] == ["old", "keep"]
            view.policy_changed(body("old"), deleted=True)  # then the watch says `old` is gone
        return [body("old"), body("keep")]

    view = TenancyView("restricted", list_policies=list_policies)
    assert [p.name for p in view.policies()] == ["keep"]
    assert [p.name for p in view.policies()] == ["keep"] and calls == 2
