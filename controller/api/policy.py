"""The BedrockImportPolicy API: what a cluster admin lets the models of some namespaces use.

Cluster-scoped, selected by namespace labels. Whatever reads or spends on a team's behalf (sources, roles,
the AWS account, validation that runs in the operator) is allowed only when listed: an empty policy allows
no import. Several policies may select one namespace: a model must satisfy every one of them (the same
rule the ValidatingAdmissionPolicy applies, which evaluates each policy on its own).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from controller.api.models import (
    DOT_SEGMENT,
    DOT_SEGMENT_MESSAGE,
    GROUP,
    IMPORT_REGIONS,
    ROLE_ARN_PATTERN,
    S3_URI_PATTERN,
    VERSION,
)

POLICY_KIND = "BedrockImportPolicy"
POLICY_PLURAL = "bedrockimportpolicies"
POLICY_SINGULAR = "bedrockimportpolicy"
POLICY_SHORT_NAMES = ("bedrockpolicy", "bip")
POLICY_API_VERSION = f"{GROUP}/{VERSION}"

#: A name or ARN pattern: the exact value, or a prefix followed by one trailing `*`.
PATTERN_DESCRIPTION = "exact value, or a prefix ending in '*' (e.g. team-a-*); no other wildcards"


#: A byte quantity as Kubernetes writes one (binary or decimal suffixes; no exponents or milli).
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_UNITS |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}


def quantity_bytes(text: str) -> int:
    """`20Gi` -> 21474836480 (the subset of Kubernetes quantities QUANTITY_PATTERN admits)."""
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text).groups()  # type: ignore[union-attr]
    return int(float(number) * _UNITS[unit])


def pattern_matches(pattern: str, value: str) -> bool:
    """The one wildcard rule, the same as the admission policy's CEL (`startsWith` on the prefix)."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def folder(s3_uri: str) -> str:
    """An S3 source as a folder (`/` at the end): `s3://b/team-a` must not match the prefix `s3://b/team-ab/`."""
    return s3_uri if s3_uri.endswith("/") else s3_uri + "/"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class LabelSelectorRequirement(_Model):
    key: str = Field(..., min_length=1, max_length=317, description="Label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(..., description="How to compare.")
    values: list[str] | None = Field(None, description="Values for In and NotIn.")


class NamespaceSelector(_Model):
    """A Kubernetes label selector on namespaces. Empty: every namespace."""

    match_labels: dict[str, str] | None = Field(None, description="Labels the namespace must have.")
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        None, description="Requirements on the namespace's labels (In, NotIn, Exists, DoesNotExist)."
    )


class PolicySources(_Model):
    """Where the models' files may come from. Unlisted: not allowed."""

    s3_prefixes: list[Annotated[str, Field(min_length=6, max_length=1024, pattern=S3_URI_PATTERN)]] | None = (
        Field(
            None,
            max_length=64,
            description=(
                "S3 folders (s3://bucket/prefix/, ending in '/') the source must lie in. A SageMaker "
                "source's "
                "artifacts must lie in them too."
            ),
            json_schema_extra={
                "x-kubernetes-validations": [
                    {
                        "rule": "self.all(p, p.endsWith('/'))",
                        "message": "each s3Prefixes entry must end in '/'",
                    },
                    {
                        "rule": f"self.all(p, !p.matches('{DOT_SEGMENT}'))",
                        "message": f"s3Prefixes entries {DOT_SEGMENT_MESSAGE}",
                    },
                ]
            },
        )
    )
    sage_maker_model_names: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=64, description=f"SageMaker model names the source may name: {PATTERN_DESCRIPTION}."
    )

    @field_validator("s3_prefixes")
    @classmethod
    def _folders(cls, value: list[str] | None) -> list[str] | None:  # mirrors the CEL rule
        for prefix in value or []:
            if not prefix.endswith("/"):
                raise ValueError(f"s3Prefixes entry {prefix!r} must end in '/'")
            if re.search(DOT_SEGMENT, prefix):
                raise ValueError(f"s3Prefixes entry {prefix!r} {DOT_SEGMENT_MESSAGE}")
        return value


class PolicyServiceRoles(_Model):
    """Which IAM role Bedrock may be given to read the files."""

    role_arns: list[Annotated[str, Field(min_length=1, max_length=2048)]] | None = Field(
        None,
        max_length=64,
        description=f"Existing role ARNs spec.serviceRole.roleArn may name: {PATTERN_DESCRIPTION}.",
    )
    allow_create: bool = Field(
        False,
        description=(
            "Whether spec.serviceRole.create is allowed (the operator creates a role that reads exactly the "
            "source folder, which the s3Prefixes above bound)."
        ),
    )


class PolicyAccount(_Model):
    """Import into another AWS account: the operator assumes this role for the selected namespaces."""

    role_arn: Annotated[str, Field(min_length=1, max_length=2048, pattern=ROLE_ARN_PATTERN)] = Field(
        ...,
        description=(
            "Role in the team's account the operator assumes (sts:AssumeRole with external ID "
            "'<cluster id>/<namespace>'); the models, jobs and created roles live in that account. The "
            "shipped operator policy may assume roles named bmo-tenant-access."
        ),
    )


class PolicyAdoption(_Model):
    """Which existing models no object owns the selected namespaces may take over (spec.adoptExisting)."""

    retained_from_namespace: bool = Field(
        False,
        description="Models an object of the same namespace in this cluster kept with deletionPolicy Retain.",
    )
    model_names: list[Annotated[str, Field(min_length=1, max_length=63)]] | None = Field(
        None,
        max_length=64,
        description="Names of other unowned models (hand-imported ones) that may be adopted: "
        f"{PATTERN_DESCRIPTION}.",
    )


class PolicyNetwork(_Model):
    """Which VPC subnets and security groups spec.vpcConfig may name (each one listed)."""

    subnet_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=64, description=f"Subnet IDs the import job may run in: {PATTERN_DESCRIPTION}."
    )
    security_group_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=64, description=f"Security group IDs it may use: {PATTERN_DESCRIPTION}."
    )


class BedrockImportPolicySpec(_Model):
    """What the models of the selected namespaces may use. Every field that grants access is opt-in."""

    namespace_selector: NamespaceSelector = Field(
        ..., description="Namespaces this policy applies to, by label. {} selects every namespace."
    )
    sources: PolicySources | None = Field(None, description="Allowed sources. Unset: none.")
    service_roles: PolicyServiceRoles | None = Field(None, description="Allowed service roles. Unset: none.")
    regions: list[Literal[IMPORT_REGIONS]] | None = Field(  # type: ignore[valid-type]
        None,
        min_length=1,
        description="Regions models may be imported into (at least one). Unset: any region Bedrock offers.",
    )
    validation_modes: list[Literal["Job", "Inline", "Skip"]] = Field(
        ["Job"],
        min_length=1,
        description=(
            "Validation modes allowed (spec.validation.mode, else the operator's default). Default: Job only "
            "(Inline runs the tenant's files inside the operator; Skip checks nothing)."
        ),
    )
    required_tags: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        None, max_length=40, description="Tag keys every model must set in spec.tags (e.g. cost-center)."
    )
    max_model_size: Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=32)] | None = Field(
        None,
        description="Largest total size of the weights, as a Kubernetes quantity (e.g. 20Gi, 500Mi). Known "
        "after validation, so a policy with a limit refuses validation mode Skip.",
    )
    require_kms_key: bool = Field(
        False,
        description="Whether every model must be encrypted with a customer-managed key (spec.kmsKeyId).",
    )
    kms_keys: list[Annotated[str, Field(min_length=1, max_length=2048)]] | None = Field(
        None,
        max_length=64,
        description="Customer-managed keys spec.kmsKeyId may name, as the spec writes them (key ID, key ARN, "
        f"alias/name or alias ARN): {PATTERN_DESCRIPTION}. Unset: none; another team's key is not usable "
        "by naming it.",
    )
    network: PolicyNetwork | None = Field(
        None,
        description="Subnets and security groups spec.vpcConfig may name. Unset: no spec.vpcConfig.",
    )
    max_models: int | None = Field(
        None,
        ge=0,
        description=(
            "Most models per namespace (objects that serve or import). Beyond it, newer objects wait; "
            "nothing that serves is touched."
        ),
    )
    account: PolicyAccount | None = Field(
        None, description="Import into another AWS account. Unset: this one."
    )
    adoption: PolicyAdoption | None = Field(
        None,
        description="Existing models spec.adoptExisting may take over (and so later delete). Unset: none; "
        "a model another namespace or cluster retained, or someone imported by hand, stays theirs.",
    )


class BedrockImportPolicy(_Model):
    """A whole policy object, as read from the API (metadata reduced to its name)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    spec: BedrockImportPolicySpec
    #: why the policy as stored could not be read (then it allows nothing where it may apply: fail closed)
    unreadable: str | None = None

    @classmethod
    def from_body(cls, body: dict) -> BedrockImportPolicy:
        return cls(name=body["metadata"]["name"], spec=BedrockImportPolicySpec.model_validate(body["spec"]))
