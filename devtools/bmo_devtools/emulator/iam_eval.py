"""Just enough of IAM's policy evaluation to judge a service role the way Bedrock meets it.

Bedrock assumes the job's role (the trust policy must let `bedrock.amazonaws.com` do `sts:AssumeRole`, its
conditions met for this account and job), then reads the source with it (`s3:ListBucket`, `s3:GetObject`),
decrypts a KMS-encrypted source or model key (`kms:Decrypt`, `kms:GenerateDataKey`) and, for a VPC import,
manages network interfaces. Rules followed (IAM's documented evaluation logic, reduced): an explicit Deny
wins, otherwise an Allow is needed; `*` and `?` wildcards in actions (case-insensitive) and resources;
NotAction/NotResource; condition operators StringEquals, StringLike, ArnEquals, ArnLike (any value of a
list matches; all keys and operators of a statement must match) and their IfExists forms. An operator it
does not know makes the statement not apply (an Allow is not granted on a guess).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

Context = dict[str, Any]  # condition key -> a value, or a list for multi-valued keys


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse(document: Any) -> list[dict[str, Any]]:
    """Statements of a policy document (IAM returns it URL-encoded JSON, moto as text or a dict)."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    return [s for s in _as_list((document or {}).get("Statement")) if isinstance(s, dict)]


def _matches(pattern: str, value: str, *, case: bool) -> bool:
    if case:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _any(patterns: Iterable[str], value: str, *, case: bool) -> bool:
    return any(_matches(str(p), value, case=case) for p in patterns)


_OPERATORS = {
    "StringEquals": lambda want, got: got == want,
    "StringLike": lambda want, got: fnmatch.fnmatchcase(got, want),
    "ArnEquals": lambda want, got: fnmatch.fnmatchcase(got, want),  # IAM: the same as ArnLike
    "ArnLike": lambda want, got: fnmatch.fnmatchcase(got, want),
}


def _conditions_hold(conditions: dict[str, Any], context: Context) -> bool:
    for operator, tests in (conditions or {}).items():
        qualifier, _, base = operator.rpartition(":")  # ForAnyValue:/ForAllValues: for multi-valued keys
        if_exists = base.endswith("IfExists")
        compare = _OPERATORS.get(base.removesuffix("IfExists"))
        if (
            compare is None
            or qualifier not in ("", "ForAnyValue", "ForAllValues")
            or not isinstance(tests, dict)
        ):
            return False
        for key, wanted in tests.items():
            got = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if got is None:
                if if_exists:
                    continue
                return False
            values = [str(g) for g in _as_list(got)]
            hit = [any(compare(str(w), g) for w in _as_list(wanted)) for g in values]
            if not (all(hit) if qualifier == "ForAllValues" else any(hit)):
                return False
    return True


def _applies(statement: dict[str, Any], action: str, resource: str, context: Context) -> bool:
    if "Action" in statement and not _any(_as_list(statement["Action"]), action, case=False):
        return False
    if "NotAction" in statement and _any(_as_list(statement["NotAction"]), action, case=False):
        return False
    if "Resource" in statement and not _any(_as_list(statement["Resource"]), resource, case=True):
        return False
    if "NotResource" in statement and _any(_as_list(statement["NotResource"]), resource, case=True):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


def allowed(statements: list[dict[str, Any]], action: str, resource: str, context: Context) -> bool:
    """Identity-policy evaluation: an explicit Deny wins; otherwise some Allow must apply."""
    hits = [s for s in statements if _applies(s, action, resource, context)]
    if any(s.get("Effect") == "Deny" for s in hits):
        return False
    return any(s.get("Effect") == "Allow" for s in hits)


def trusts(statements: list[dict[str, Any]], service: str, context: Context) -> bool:
    """Whether a trust policy lets `service` assume the role under `context`."""

    def principal_matches(statement: dict[str, Any]) -> bool:
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if not isinstance(principal, dict):
            return False
        return service in _as_list(principal.get("Service")) or "*" in _as_list(principal.get("AWS"))

    hits = [
        s
        for s in statements
        if principal_matches(s)
        and _any(_as_list(s.get("Action")), "sts:AssumeRole", case=False)
        and _conditions_hold(s.get("Condition") or {}, context)
    ]
    if any(s.get("Effect") == "Deny" for s in hits):
        return False
    return any(s.get("Effect") == "Allow" for s in hits)
