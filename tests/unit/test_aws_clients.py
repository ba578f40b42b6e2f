"""The operator's AWS clients (`controller/aws/clients.py`) without servers: Bedrock's model listing and
tag writes, a SageMaker model's folder, and the service role the operator creates (IAM). AWS is moto
in-process, botocore's Stubber on the operator's own clients, or a fake standing where the client would be.
(How an AWS error is classified: test_errors.py.)"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.stub import Stubber
from moto import mock_aws

from controller.aws.clients import BedrockClient, SupportClients
from controller.errors import AwsError, Kind, SourceError
from controller.settings import Settings

ACCOUNT = "123456789012"  # moto's account


# in this file, for tests/conftest.py's session-wide aws_env: set for each test, undone after it
@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials so botocore signs (a Stubber answers before anything is sent)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


# ---- Bedrock -----------------------------------------------------------------------------------------------
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


def test_the_regions_listing_is_refreshed_once_it_is_older_than_asked(aws_env):
    client = BedrockClient(Settings(), "us-east-1")
    listed: list[float] = []
    client.list_models = lambda: listed.append(1) or {}  # type: ignore[method-assign]
    client.listed_model("arn:m", max_age=30, now=100.0)
    client.listed_model("arn:m", max_age=30, now=120.0)
    assert len(listed) == 1  # shared while fresh
    client.listed_model("arn:m", max_age=30, now=131.0)
    assert len(listed) == 2  # a model deleted outside is noticed at the next resync


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.listings = 0

    def tag_resource(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("tag", kw))
        return {}

    def untag_resource(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("untag", kw))
        return {}


def test_a_changed_tag_value_is_set_back(aws_env):
    client = BedrockClient(Settings(), "us-east-1")
    rec = _Recorder()
    client._bedrock = rec
    client.sync_tags("arn:m", {"team": "a", "keep": "1"}, actual={"team": "b", "keep": "1", "stray": "x"})
    assert rec.calls == [
        ("tag", {"resourceARN": "arn:m", "tags": [{"key": "team", "value": "a"}]}),
        ("untag", {"resourceARN": "arn:m", "tagKeys": ["stray"]}),
    ]


# ---- SageMaker sources -------------------------------------------------------------------------------------
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


@pytest.mark.parametrize(
    "data",
    [
        "s3://models/team-a/../team-b/llama/",
        "s3://models/team-a/./x/",
        "https://evil/x/",
        "s3://models/team-a/x",
    ],
)
def test_a_sagemaker_models_data_with_dot_segments_is_refused(data):
    """A SageMaker model's S3 folder was taken as written: `team-a/../team-b/` passes a prefix
    check on text yet names team B's folder."""
    from controller.errors import SourceError

    support = SupportClients(Settings(), "us-east-1")

    class FakeSageMaker:
        def describe_model(self, ModelName: str) -> dict[str, Any]:
            return {"PrimaryContainer": {"ModelDataSource": {"S3DataSource": {"S3Uri": data}}}}

    support._made["sagemaker"] = FakeSageMaker()
    if data == "s3://models/team-a/x":  # a plain folder: taken, as a folder
        assert support.sagemaker_s3_uri("m") == "s3://models/team-a/x/"
        return
    with pytest.raises(SourceError) as err:
        support.sagemaker_s3_uri("m")
    assert err.value.reason == "SourceNotAllowed"


# ---- the service role (IAM) --------------------------------------------------------------------------------
class _FakeIam:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_role(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("create_role", kw))
        return {"Role": {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{kw['RoleName']}"}}

    def put_role_policy(self, **kw: Any) -> None:
        self.calls.append(("put_role_policy", kw))


def _role_documents(s3_uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    support = SupportClients(Settings(), "us-east-1")
    iam = _FakeIam()
    support._made["iam"] = iam
    support.account_id = lambda: ACCOUNT  # type: ignore[method-assign]
    support.ensure_role("bmo-import-x", s3_uri, {"t": "v"})
    trust = json.loads(next(kw for op, kw in iam.calls if op == "create_role")["AssumeRolePolicyDocument"])
    policy = json.loads(next(kw for op, kw in iam.calls if op == "put_role_policy")["PolicyDocument"])
    return trust, policy


@pytest.mark.parametrize("s3_uri", ["s3://models/llama", "s3://models/llama/"])
def test_a_created_role_reads_the_source_folder_and_no_sibling(s3_uri):
    _, policy = _role_documents(s3_uri)
    resources = {s["Action"]: s for s in policy["Statement"]}
    assert resources["s3:GetObject"]["Resource"] == "arn:aws:s3:::models/llama/*"
    assert resources["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["llama/*"]}}


def test_a_created_roles_trust_names_the_account_and_only_import_jobs():
    trust, _ = _role_documents("s3://models/llama/")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-import-job/*"},
    }


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
