"""deploy/iam/: operator-policy.json allows every AWS call the operator really makes (against the emulators),
with its conditions evaluated as IAM would, grants nothing unused, and refuses what is not this cluster's;
the boundary caps created roles; the tenant trust policy admits one cluster for one namespace."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import boto3
import pytest

from controller.aws import session as aws_session
from controller.kube.status_store import status_patch
from controller.reconcile.memory import Memory
from controller.settings import Settings

IAM = Path(__file__).resolve().parents[2] / "deploy" / "iam"


def _drive(rec, body: dict, done, steps: int = 80) -> dict:
    """Passes as the operator runs them: each one's status written (as the apiserver merges it) first."""
    memory = Memory()
    for _ in range(steps):
        out = rec.reconcile(body, memory)
        patch = status_patch(out, body.get("status") or {}, body["metadata"]["generation"])
        body["status"] = {k: v for k, v in patch["status"].items() if v is not None}
        if done(body):
            return body
        if not out.again:
            time.sleep(0.25)
    raise AssertionError(f"not done: {json.dumps(body.get('status'), default=str)[:2000]}")


def _ready(body: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in body["status"]["conditions"])


CLUSTER_ID = "iam-test-cluster"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def _policy(name: str, **values: str) -> list[dict]:
    """A deploy/iam file with its placeholders filled in, as its statements."""
    from bmo_devtools.emulator import iam_eval

    text = (IAM / name).read_text()
    for key, value in {"ACCOUNT_ID": ACCOUNT, "CLUSTER_ID": CLUSTER_ID, **values}.items():
        text = text.replace(key, value)
    return iam_eval.parse(json.loads(text))


@pytest.fixture
def recorded_calls(local_aws, monkeypatch):
    """Every boto3 call the operator makes: (service, operation, parameters)."""
    for k, v in local_aws.credentials().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(aws_session, "_default", None)  # the operator's own session, made anew from this env
    calls: list[tuple[str, str, dict]] = []

    def record(model, params, **_):
        calls.append((model.service_model.service_name, model.name, dict(params)))

    aws_session.default_session().events.register("before-parameter-build", record)
    yield calls


class Judge:
    """What IAM would see of each recorded call: the action, the resource and the condition keys (request
    tags, the resource's tags as they were at that moment, the boundary, the service a role is passed to).
    The resource's tags are read with clients outside the recorded session."""

    def __init__(self, local_aws) -> None:
        session = boto3.session.Session(
            **{
                k.lower(): v
                for k, v in local_aws.credentials().items()
                if k.startswith("AWS_") and "REGION" not in k
            }
        )
        self.bedrock = session.client("bedrock", REGION, endpoint_url=local_aws.bedrock_url)
        self.iam = session.client("iam", REGION, endpoint_url=local_aws.moto_url)

    def _model_arn(self, ident: str) -> str:
        if ident.startswith("arn:"):
            return ident
        try:
            return self.bedrock.get_imported_model(modelIdentifier=ident)["modelArn"]
        except Exception:
            return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:imported-model/{ident}"

    def _resource_tags(self, arn: str) -> dict[str, str]:
        try:
            tags = self.bedrock.list_tags_for_resource(resourceARN=arn)["tags"]
        except Exception:
            return {}  # not there (yet): no resource tags
        return {f"aws:ResourceTag/{t['key']}": t["value"] for t in tags}

    def _role(self, name: str) -> dict:
        try:
            return self.iam.get_role(RoleName=name)["Role"]
        except Exception:
            return {}

    def requests(self, service: str, op: str, p: dict) -> list[tuple[str, str, dict]]:
        role_arn = lambda name: f"arn:aws:iam::{ACCOUNT}:role/{name}"  # noqa: E731
        if service == "bedrock-runtime":  # its actions are bedrock:*, on the model
            return [(f"bedrock:{op}", p["modelId"], self._resource_tags(p["modelId"]))]
        if service == "bedrock":
            action = f"bedrock:{op}"
            if op == "CreateModelImportJob":
                tags = {t["key"]: t["value"] for t in p.get("jobTags", []) + p.get("importedModelTags", [])}
                ctx = {f"aws:RequestTag/{k}": v for k, v in tags.items()} | {"aws:TagKeys": sorted(tags)}
                job = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-import-job/{p['jobName']}"
                passed = {"iam:PassedToService": "bedrock.amazonaws.com"}
                return [(action, job, ctx), ("iam:PassRole", p["roleArn"], passed)]
            if op in ("TagResource", "UntagResource", "ListTagsForResource"):
                return [(action, p["resourceARN"], self._resource_tags(p["resourceARN"]))]
            if op in ("DeleteImportedModel", "GetImportedModel"):
                arn = self._model_arn(p["modelIdentifier"])
                return [(action, arn, self._resource_tags(arn))]
            if op == "GetModelImportJob":
                ident = p["jobIdentifier"]
                arn = (
                    ident
                    if ident.startswith("arn:")
                    else f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-import-job/{ident}"
                )
                return [(action, arn, {})]
            return [(action, "*", {})]
        if service == "iam":
            role = self._role(p["RoleName"])
            ctx = {f"aws:ResourceTag/{t['Key']}": t["Value"] for t in role.get("Tags", [])}
            if op == "CreateRole":
                ctx = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in p.get("Tags", [])}
                if p.get("PermissionsBoundary"):
                    ctx["iam:PermissionsBoundary"] = p["PermissionsBoundary"]
            elif boundary := (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"):
                ctx["iam:PermissionsBoundary"] = boundary
            return [(f"iam:{op}", role_arn(p["RoleName"]), ctx)]
        if service == "sagemaker":
            return [
                (
                    f"sagemaker:{op}",
                    f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{p['ModelName'].lower()}",
                    {},
                )
            ]
        if service == "s3":
            if op == "ListObjectsV2":
                return [("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}", {"s3:prefix": p.get("Prefix", "")})]
            return [("s3:GetObject", f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", {})]
        return []  # sts:GetCallerIdentity needs no permission


def test_operator_policy_allows_every_call_with_its_conditions_and_nothing_unused(
    local_aws, recorded_calls, monkeypatch
):
    """The operator runs in-process against the emulators (a created role under the boundary, a
    SageMaker source, a tag change, a deletion); each call is judged against operator-policy.json with
    its condition keys, as IAM would: every create carries this cluster's tag, every delete and untag
    targets a resource tagged with this cluster, roles are created only under the boundary."""
    from bmo_devtools.emulator import iam_eval
    from controller.reconcile import Reconciler

    judge = Judge(local_aws)
    statements = _policy("operator-policy.json", MODEL_BUCKET="bmo-examples")
    verdicts: list[tuple[str, str, bool]] = []

    def judged(service, op, params, **_):
        for action, resource, ctx in judge.requests(service, op, params):
            verdicts.append((action, resource, iam_eval.allowed(statements, action, resource, ctx)))

    for k, v in local_aws.endpoints().items():
        monkeypatch.setenv(k, v)
    settings = Settings(
        validation_mode="Inline",
        resync_seconds=0,
    )
    aws_session.default_session().events.register(
        "before-parameter-build",
        lambda model, params, **kw: judged(model.service_model.service_name, model.name, params),
    )
    rec = Reconciler(settings.model_copy(update={"cluster_id": CLUSTER_ID}))
    uid = str(uuid.uuid4())
    body = {
        "metadata": {"name": f"iam-{uid[:6]}", "namespace": "iam", "uid": uid, "generation": 1},
        "spec": {
            "source": {"sageMakerModelName": "qwen2-5-7b-finetuned"},
            "region": REGION,
            "serviceRole": {"create": True},
            "tags": {"team": "a", "stage": "dev"},
            "smokeTest": {"prompt": "Say hello"},  # InvokeModel, judged like every other call
        },
    }
    _drive(rec, body, _ready)
    body["spec"]["tags"] = {"team": "b"}
    body["metadata"]["generation"] = 2
    _drive(rec, body, lambda b: b["status"].get("observedGeneration") == 2 and _ready(b))
    assert rec.finalize(body).done

    refused = sorted({(a, r) for a, r, ok in verdicts if not ok})
    assert refused == [], (
        f"operator-policy.json (with its conditions) refuses calls the operator makes: {refused}"
    )
    made = {a for a, _, _ in verdicts}
    assert {"bedrock:CreateModelImportJob", "bedrock:DeleteImportedModel", "bedrock:UntagResource"} <= made
    assert {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRole",
        "iam:PassRole",
        "bedrock:InvokeModel",
    } <= made

    allowed = [
        a
        for s in json.loads((IAM / "operator-policy.json").read_text())["Statement"]
        if s["Effect"] == "Allow"
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    # nothing granted that the operator never uses, apart from calls this flow does not reach: GetRole and
    # UpdateAssumeRolePolicy (the role already exists, e.g. after a crash), TagRole (CreateRole with tags
    # needs it on AWS), the two List calls (listing what the operator owns), and AssumeRole (a policy's
    # account: tests/cluster/test_cross_account.py)
    unused = sorted(
        set(allowed)
        - made
        - {
            "bedrock:ListImportedModels",
            "bedrock:ListModelImportJobs",
            "iam:TagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:GetRole",
            "sts:AssumeRole",
        }
    )
    assert unused == []


def test_operator_policy_lets_it_read_each_role_it_may_pass_before_an_import():
    """The role pre-flight (controller/aws/role_check.py) reads a named role with iam:GetRole: allowed on
    exactly the roles the operator may pass to Bedrock, and on no other role of the account."""
    from bmo_devtools.emulator import iam_eval

    statements = _policy("operator-policy.json", MODEL_BUCKET="bmo-examples")
    passable = [
        s
        for s in json.loads((IAM / "operator-policy.json").read_text())["Statement"]
        if "iam:PassRole" in s["Action"]
    ]
    for role in ("BedrockModelImport", "BedrockModelImportTeamA", "bmo-import-team-a-m-abc"):
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        assert iam_eval.allowed(statements, "iam:GetRole", arn, {}), arn
        context = {"iam:PassedToService": "bedrock.amazonaws.com"}
        assert iam_eval.allowed(statements, "iam:PassRole", arn, context) and passable
    assert not iam_eval.allowed(statements, "iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {})


@pytest.mark.parametrize(
    "action,resource,context",
    [
        # a model of another cluster sharing the account: neither deleted, untagged nor retagged
        (
            "bedrock:DeleteImportedModel",
            "imported-model/m",
            {"aws:ResourceTag/bedrock.modelops.io/cluster-id": "other"},
        ),
        (
            "bedrock:UntagResource",
            "imported-model/m",
            {"aws:ResourceTag/bedrock.modelops.io/cluster-id": "other"},
        ),
        (
            "bedrock:TagResource",
            "imported-model/m",
            {"aws:ResourceTag/bedrock.modelops.io/cluster-id": "other"},
        ),
        # an untagged model (someone's by hand) is never deleted
        ("bedrock:DeleteImportedModel", "imported-model/m", {}),
        # a job without this cluster's tag, or with another's
        ("bedrock:CreateModelImportJob", "model-import-job/j", {}),
        (
            "bedrock:CreateModelImportJob",
            "model-import-job/j",
            {"aws:RequestTag/bedrock.modelops.io/cluster-id": "other"},
        ),
        # a role without the boundary (or with another), or not tagged for this cluster
        (
            "iam:CreateRole",
            "role/bmo-import-x",
            {"aws:RequestTag/bedrock.modelops.io/cluster-id": CLUSTER_ID},
        ),
        (
            "iam:CreateRole",
            "role/bmo-import-x",
            {
                "aws:RequestTag/bedrock.modelops.io/cluster-id": CLUSTER_ID,
                "iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/AdministratorAccess",
            },
        ),
        ("iam:PutRolePolicy", "role/bmo-import-x", {}),
        ("iam:DeleteRolePermissionsBoundary", "role/bmo-import-x", {}),
        (
            "iam:CreateRole",
            "role/admin",
            {
                "aws:RequestTag/bedrock.modelops.io/cluster-id": CLUSTER_ID,
                "iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/bmo-import-role-boundary",
            },
        ),
        ("iam:PassRole", "role/OtherTeamsRole", {"iam:PassedToService": "bedrock.amazonaws.com"}),
        ("iam:PassRole", "role/bmo-import-x", {"iam:PassedToService": "ec2.amazonaws.com"}),
    ],
)
def test_operator_policy_refuses_what_is_not_this_clusters(action, resource, context):
    """The conditions bite: each request here is one a compromised or confused operator might make."""
    from bmo_devtools.emulator import iam_eval

    service = action.split(":")[0]
    arn = (
        f"arn:aws:{service}::{ACCOUNT}:{resource}"
        if service == "iam"
        else f"arn:aws:bedrock:{REGION}:{ACCOUNT}:{resource}"
    )
    assert not iam_eval.allowed(_policy("operator-policy.json", MODEL_BUCKET="b"), action, arn, context)


def test_the_boundary_caps_a_created_role_even_if_its_policy_is_wider():
    """What `serviceRole.create` can make is bounded by service-role-boundary.json: reading model files, this
    account's keys and VPC interfaces; nothing else, whatever policy the role is given."""
    from bmo_devtools.emulator import iam_eval

    boundary = _policy("service-role-boundary.json", MODEL_BUCKET="models")
    assert iam_eval.allowed(boundary, "s3:GetObject", "arn:aws:s3:::models/team-a/config.json", {})
    assert iam_eval.allowed(boundary, "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc", {})
    assert iam_eval.allowed(boundary, "ec2:CreateNetworkInterface", "*", {})
    for action, resource in [
        ("s3:GetObject", "arn:aws:s3:::other-bucket/x"),
        ("s3:PutObject", "arn:aws:s3:::models/x"),
        ("iam:CreateRole", "*"),
        ("kms:Decrypt", "arn:aws:kms:us-east-1:999999999999:key/abc"),
        ("bedrock:InvokeModel", "*"),
    ]:
        assert not iam_eval.allowed(boundary, action, resource, {}), action


def test_tenant_access_trust_admits_only_this_cluster_for_its_namespace():
    """The external ID the operator sends (`<cluster id>/<namespace>`) is what the team's trust policy
    requires: another namespace of the same cluster, or another cluster, cannot assume the team's role."""
    from bmo_devtools.emulator import iam_eval
    from controller.aws.session import external_id

    trust = _policy(
        "tenant-access-trust.json",
        OPERATOR_ACCOUNT_ID=ACCOUNT,
        OPERATOR_ROLE="bmo-operator",
        NAMESPACE="team-a",
    )
    assert iam_eval.allowed(
        trust, "sts:AssumeRole", "*", {"sts:ExternalId": external_id(CLUSTER_ID, "team-a")}
    )
    for other in (external_id(CLUSTER_ID, "team-b"), external_id("other-cluster", "team-a")):
        assert not iam_eval.allowed(trust, "sts:AssumeRole", "*", {"sts:ExternalId": other})


def test_a_team_with_several_namespaces_lists_each_in_its_trust():
    """One account role for a team's namespaces (team-a-dev, team-a-prod): the trust
    lists one external ID per namespace; any other namespace of the cluster still cannot assume it."""
    from bmo_devtools.emulator import iam_eval
    from controller.aws.session import external_id

    trust = _policy(
        "tenant-access-trust.json",
        OPERATOR_ACCOUNT_ID=ACCOUNT,
        OPERATOR_ROLE="bmo-operator",
        NAMESPACE="team-a-dev",
    )
    text = (IAM / "tenant-access-trust.json").read_text()
    for key, value in {"OPERATOR_ACCOUNT_ID": ACCOUNT, "OPERATOR_ROLE": "bmo-operator"}.items():
        text = text.replace(key, value)
    text = text.replace('["CLUSTER_ID/NAMESPACE"]', '["CLUSTER_ID/team-a-dev", "CLUSTER_ID/team-a-prod"]')
    trust = iam_eval.parse(json.loads(text.replace("CLUSTER_ID", CLUSTER_ID)))
    for ns in ("team-a-dev", "team-a-prod"):
        assert iam_eval.allowed(trust, "sts:AssumeRole", "*", {"sts:ExternalId": external_id(CLUSTER_ID, ns)})
    assert not iam_eval.allowed(
        trust, "sts:AssumeRole", "*", {"sts:ExternalId": external_id(CLUSTER_ID, "team-b")}
    )


def test_policy_files_are_valid_json_with_placeholders():
    """docs/install.md tells users which words to replace; each file uses only those, and no real value
    (an account id, a bucket) is baked in where a placeholder belongs."""
    import re

    readme = (IAM.parents[1] / "docs" / "install.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("Replace `ACCOUNT_ID`"))
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", line))
    assert documented == {
        "ACCOUNT_ID",
        "REGION",
        "MODEL_BUCKET",
        "MODEL_PREFIX",
        "CLUSTER_ID",
        "NAMESPACE",
        "OPERATOR_ACCOUNT_ID",
        "OPERATOR_ROLE",
    }
    used: set[str] = set()
    for path in IAM.glob("*.json"):
        text = path.read_text()
        doc = json.loads(text)
        assert doc["Version"] == "2012-10-17" and doc["Statement"], path
        arns = re.findall(r'"(arn:aws:[^"]*)"', text)
        for arn in arns:
            service, region, account, resource = arn.split(":", 5)[2:6]
            assert region in ("", "*", "REGION"), (path.name, arn)
            # never a literal account id; any account only for the teams' access roles (their trust decides)
            assert account in ("", "ACCOUNT_ID", "OPERATOR_ACCOUNT_ID") or arn.endswith(
                ":role/bmo-tenant-access"
            ), (path.name, arn)
            if service == "s3":
                assert resource.split("/")[0] == "MODEL_BUCKET", (path.name, arn)
        words = set(re.findall(r"\b[A-Z][A-Z]+(?:_[A-Z]+)+\b|\bREGION\b|\bNAMESPACE\b", text))
        assert words <= documented, (path.name, words - documented)  # only what the README names
        used |= words
    assert used == documented  # and every placeholder the README names is used somewhere


def test_a_role_made_before_the_boundary_is_made_again_under_it(local_aws, monkeypatch):
    """A `bmo-import-*` role from an earlier version has no boundary; the shipped policy lets no policy be
    put on such a role, so the operator deletes and re-creates it under the boundary (never stuck)."""
    from controller.aws.clients import SupportClients

    for k, v in local_aws.credentials().items():
        monkeypatch.setenv(k, v)
    iam = local_aws.client("iam")
    name = f"bmo-import-old-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    old_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="read-model-source", PolicyDocument=json.dumps(old_policy))
    for k, v in local_aws.endpoints().items():
        monkeypatch.setenv(k, v)
    settings = Settings()
    support = SupportClients(settings, REGION)
    arn = support.ensure_role(
        name, "s3://bmo-examples/llama3-8b-support/", {"bedrock.modelops.io/cluster-id": CLUSTER_ID}
    )
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Arn"] == arn
    assert (
        role["PermissionsBoundary"]["PermissionsBoundaryArn"]
        == f"arn:aws:iam::{ACCOUNT}:policy/bmo-import-role-boundary"
    )
    support.delete_role(name)
