"""A BedrockImportPolicy that names a team's account: the operator assumes the team's role (external ID
bound to cluster and namespace) and the team's models, jobs and created roles live in the team's account.
The local Bedrock scopes jobs and models by the caller's account (the account of its access key), so the
operator's own account is shown to hold nothing of the team's."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import yaml

from tests.support.operator_process import LLAMA, apply_model, condition, wait_condition

pytestmark = pytest.mark.controlplane

TEAM_ACCOUNT = "222222222222"
ACCESS_ROLE = f"arn:aws:iam::{TEAM_ACCOUNT}:role/bmo-tenant-access"
IAM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "iam"


def _team_session(local_aws) -> boto3.Session:
    """The team's admin, in the team's account (moto: an assumed role's keys act in the role's account)."""
    sts = local_aws.client("sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{TEAM_ACCOUNT}:role/admin", RoleSessionName="team-admin")
    c = creds["Credentials"]
    return boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name="us-east-1",
    )


def test_a_teams_models_land_in_the_teams_account(kubectl, operator, local_aws, namespace):
    team_iam = _team_session(local_aws).client("iam", endpoint_url=local_aws.moto_url)
    boundary = (IAM_DIR / "service-role-boundary.json").read_text()
    boundary = boundary.replace("ACCOUNT_ID", TEAM_ACCOUNT).replace("MODEL_BUCKET", "bmo-examples")
    team_iam.create_policy(PolicyName="bmo-import-role-boundary", PolicyDocument=boundary)

    kubectl("label", "namespace", namespace, f"team={namespace}")
    policy = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportPolicy",
        "metadata": {"name": f"acct-{namespace}"},
        "spec": {
            "namespaceSelector": {"matchLabels": {"team": namespace}},
            "sources": {"s3Prefixes": ["s3://bmo-examples/"]},
            "serviceRoles": {"allowCreate": True},
            "validationModes": ["Inline"],
            "account": {"roleArn": ACCESS_ROLE},
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(policy))
    try:
        apply_model(kubectl, namespace, "m", serviceRole={"create": True}, validation={"mode": "Inline"})
        obj = wait_condition(kubectl, namespace, "m", "Ready", "True", "ModelReady", timeout=120)
        status = obj["status"]
        assert status["accountRoleArn"] == ACCESS_ROLE
        assert f":{TEAM_ACCOUNT}:imported-model/" in status["modelArn"]
        assert status["serviceRoleArn"].startswith(f"arn:aws:iam::{TEAM_ACCOUNT}:role/bmo-import-")
        assert condition(obj, "Allowed")["reason"] == "PolicyAllows"

        state = local_aws.state()
        team = state["accounts"][TEAM_ACCOUNT]
        mine = [m for m in team["models"] if m["modelArn"] == status["modelArn"]]
        assert (
            len(mine) == 1
            and len([j for j in team["jobs"] if j["importedModelArn"] == status["modelArn"]]) == 1
        )
        # the operator's own account holds nothing of this object
        assert not [m for m in state["models"] if namespace in m["modelName"]]
        assert not [j for j in state["jobs"] if namespace in j["jobName"]]
        role = team_iam.get_role(RoleName=status["serviceRoleArn"].rsplit("/", 1)[1])["Role"]
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(
            f":{TEAM_ACCOUNT}:policy/bmo-import-role-boundary"
        )
        source = json.dumps(status)
        assert LLAMA in source

        kubectl("delete", "bedrockmodel", "m", "-n", namespace, "--timeout=60s")
        team = local_aws.state()["accounts"][TEAM_ACCOUNT]
        assert not [m for m in team["models"] if m["modelArn"] == status["modelArn"]]
        assert not [r for r in team_iam.list_roles()["Roles"] if r["RoleName"].startswith("bmo-import-")]
    finally:
        kubectl("delete", "bedrockimportpolicy", f"acct-{namespace}", "--ignore-not-found")
        team_iam.delete_policy(PolicyArn=f"arn:aws:iam::{TEAM_ACCOUNT}:policy/bmo-import-role-boundary")
