"""Whether Bedrock could use a service role, read before an import job is spent on it: a role that does not
exist, or whose trust policy lets no Bedrock principal assume it, fails the job after minutes of queueing.
Only what IAM says for sure is reported; a role the operator may not read is left to Bedrock to judge."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

BEDROCK = "bedrock.amazonaws.com"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _names_assume_role(actions: Any) -> bool:
    return any(a in ("sts:AssumeRole", "sts:*", "*") for a in _as_list(actions))


def trusts_bedrock(document: Any) -> bool:
    """Whether some Allow statement of a trust policy lets bedrock.amazonaws.com call sts:AssumeRole.
    Conditions are not judged (they name the job, which does not exist yet): a conditional trust counts."""
    if isinstance(document, str):  # IAM returns it URL-encoded; boto3 usually decodes it to a dict
        document = json.loads(unquote(document))
    for statement in _as_list((document or {}).get("Statement") or []):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement or not _names_assume_role(statement.get("Action")):
            continue
        principal = statement.get("Principal")
        if principal == "*" or (
            isinstance(principal, dict)
            and (principal.get("AWS") == "*" or BEDROCK in _as_list(principal.get("Service") or []))
        ):
            return True
    return False


def problem(role_arn: str, role: dict[str, Any] | None) -> str | None:
    """What is wrong with the role as IAM returned it (None: the role was not found), or None when nothing."""
    if role is None:
        return (
            f"service role {role_arn} does not exist: create it (deploy/iam/service-role-trust.json and "
            "service-role-policy.json) or fix spec.serviceRole.roleArn; no import job was started"
        )
    if not trusts_bedrock(role.get("AssumeRolePolicyDocument")):
        return (
            f"service role {role_arn} does not trust {BEDROCK}: its trust policy must let that service call "
            "sts:AssumeRole (deploy/iam/service-role-trust.json); no import job was started"
        )
    return None
