"""A named service role is read from IAM before an import job is spent on it: one that does not exist, or
that trusts no Bedrock principal, fails at once with what to fix, and the region's slot goes on to the next
model (Bedrock would have failed the job only after it ran: minutes, and a slot)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from controller.aws.clients import SupportClients
from controller.aws.role_check import trusts_bedrock
from controller.reconcile.context import RETRY_ANNOTATION
from controller.settings import Settings
from tests.support.world import World, condition, creates_for
from tests.unit.test_invariants import ROLE, spec

BEDROCK_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.mark.parametrize(
    "role_set,said",
    [("missing_roles", "does not exist"), ("untrusting_roles", "does not trust bedrock.amazonaws.com")],
)
def test_a_role_bedrock_cannot_assume_fails_before_any_job_and_frees_the_slot(role_set, said):
    w = World()
    w.aws.set_faults({"job_duration_seconds": 30})
    getattr(w, role_set).add(ROLE)
    c = w.cluster("east")
    bad = c.create("team-a", "bad", spec("s3://models/bad/", "us-east-1", "Delete", {}, None))
    other_role = {**spec("s3://models/next/", "us-east-1", "Delete", {}, None)}
    other_role["serviceRole"] = {"roleArn": ROLE + "B"}
    after = c.create("team-a", "next", other_role)
    w.advance(60.0)
    imported = condition(bad, "Imported")
    assert bad["status"]["phase"] == "Failed", bad["status"]
    assert imported["status"] == "False" and imported["reason"] == "ServiceRoleInvalid", imported
    assert said in imported["message"] and "no import job was started" in imported["message"]
    assert creates_for(w, "s3://models/bad/") == 0, "a job was spent on a role Bedrock cannot assume"
    assert after["status"]["phase"] == "Ready", "the failed model's turn went to the next one"
    # the role is fixed; the user asks for another try: the import goes ahead
    getattr(w, role_set).discard(ROLE)
    c.annotate(bad, RETRY_ANNOTATION, "1")
    w.advance(120.0)
    assert bad["status"]["phase"] == "Ready", bad["status"]
    assert creates_for(w, "s3://models/bad/") == 1


def test_a_created_role_is_not_read_before_use():
    """serviceRole.create: the operator makes the role with Bedrock's trust itself; nothing to pre-check."""
    w = World()
    c = w.cluster("east")
    body = c.create("team-a", "own", spec("s3://models/own/", "us-east-1", "Delete", {}, None, own_role=True))
    w.advance(60.0)
    assert body["status"]["phase"] == "Ready"


@pytest.mark.parametrize(
    "document,trusts",
    [
        (BEDROCK_TRUST, True),
        (quote(json.dumps(BEDROCK_TRUST)), True),  # as IAM's API returns it: URL-encoded JSON
        (
            {
                "Statement": {  # one statement, not a list; a list of services; an action list
                    "Effect": "Allow",
                    "Principal": {"Service": ["ec2.amazonaws.com", "bedrock.amazonaws.com"]},
                    "Action": ["sts:TagSession", "sts:AssumeRole"],
                    "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
                }
            },
            True,
        ),
        ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:*"}]}, True),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
            False,
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"Service": "bedrock.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
            False,
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "bedrock.amazonaws.com"},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                    }
                ]
            },
            False,
        ),
        ({"Statement": []}, False),
    ],
)
def test_which_trust_policies_let_bedrock_assume_the_role(document, trusts):
    assert trusts_bedrock(document) is trusts


def test_the_role_is_read_from_iam_in_the_operators_account_only(moto_endpoint, aws_env, monkeypatch):
    """Against IAM (moto's server: `mock_aws` here would reset the state other tests' buckets live in): a
    missing role and one without Bedrock's trust are problems; a good role, a role of another account (not
    readable here) and a role on another path of the same name are not judged."""
    import uuid

    for service in ("IAM", "STS"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", moto_endpoint)
    tag = uuid.uuid4().hex[:8]  # the server outlives this test: names of its own
    support = SupportClients(Settings(), "us-east-1")
    iam = support._iam
    account = support.account_id()
    iam.create_role(RoleName=f"good-{tag}", AssumeRolePolicyDocument=json.dumps(BEDROCK_TRUST))
    ec2_trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    iam.create_role(RoleName=f"ec2only-{tag}", AssumeRolePolicyDocument=json.dumps(ec2_trust))
    iam.create_role(Path="/teams/", RoleName=f"pathed-{tag}", AssumeRolePolicyDocument=json.dumps(ec2_trust))
    arn = f"arn:aws:iam::{account}:role"
    assert support.role_problem(f"{arn}/good-{tag}") is None
    assert "does not exist" in (support.role_problem(f"{arn}/nope-{tag}") or "")
    assert "does not trust" in (support.role_problem(f"{arn}/ec2only-{tag}") or "")
    assert support.role_problem(f"arn:aws:iam::999999999999:role/nope-{tag}") is None
    assert support.role_problem(f"{arn}/other/pathed-{tag}") is None
    assert "does not trust" in (support.role_problem(f"{arn}/teams/pathed-{tag}") or "")
