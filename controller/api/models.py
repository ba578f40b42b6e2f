"""Pydantic models of the BedrockImportedModel spec and status: the single source of the CRD schema.

Field constraints copy Bedrock's own (botocore's service model for CreateModelImportJob), so a manifest
the apiserver accepts is one Bedrock will accept. `controller.api.crd` renders these models into the
CRD's structural OpenAPI schema; a test keeps `crds/` in step with them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from controller import tenant_regex
from controller.architectures import ARCHITECTURE_NAMES, BY_NAME, IMPORT_REGIONS, region_restricted

GROUP = "bedrock.modelops.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "BedrockImportedModel"
PLURAL = "bedrockimportedmodels"
SINGULAR = "bedrockimportedmodel"
SHORT_NAMES = ("bedrockmodels", "bedrockmodel", "bim")

#: Tag keys under this prefix are written by the operator (ownership); users may not set them.
RESERVED_TAG_PREFIX = "bedrock.modelops.io/"
#: Bedrock allows 50 tags per resource; the operator keeps some for its ownership tags.
MAX_USER_TAGS = 40

# Bedrock's patterns (botocore service model), anchored as AWS applies them.
S3_URI_PATTERN = (
    r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?$"
)
S3_URI_SCHEME_MESSAGE = "must be an S3 URI, s3://bucket/prefix/ (not an https:// URL, an ARN or a local path)"
S3_URI_SHAPE_MESSAGE = (
    "must be s3://bucket/prefix/: a lowercase bucket name (3-63 of a-z, 0-9, '.', '-') and a prefix of "
    "letters, digits and !-_.*'() between slashes"
)
#: A `.` or `..` path segment: S3 keys are literal, but a folder rule (a policy's prefix, a role's
#: resource) must never meet a path something could normalise out of the folder.
DOT_SEGMENT = "/[.][.]?(/|$)"
DOT_SEGMENT_MESSAGE = "must not contain '.' or '..' path segments"
MODEL_NAME_PATTERN = r"^([0-9a-zA-Z][_-]?)+$"
ROLE_ARN_PATTERN = r"^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$"
#: Roles `serviceRole.create` makes (one per object): naming one would pass another object's (another
#: team's) role to Bedrock, so no spec may.
OPERATOR_ROLE_PATTERN = r"^arn:[^:]+:iam::[0-9]*:role/(.*/)?bmo-import-"
OPERATOR_ROLE_MESSAGE = (
    "roles named bmo-import-* are made by the operator, each for one object (serviceRole.create); name a "
    "role of your own"
)
KMS_KEY_PATTERN = (
    r"^((arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9_/-]+)))"
    r"|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9_/-]+))$"
)
#: a space, not `\s`: Unicode-aware in pydantic's engine, ASCII in the apiserver's (RE2)
TAG_PATTERN = r"^[a-zA-Z0-9 ._:/=+@-]*$"
VPC_ID_PATTERN = r"^[-0-9a-zA-Z]+$"
# SageMaker's ModelName: 1-63, alphanumerics and hyphens, not starting or ending with a hyphen.
SAGEMAKER_MODEL_NAME_PATTERN = r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"

Architecture = Literal[ARCHITECTURE_NAMES]  # type: ignore[valid-type]
Region = Literal[IMPORT_REGIONS]  # type: ignore[valid-type]


def _rules(*rules: tuple[str, str] | tuple[str, str, str]) -> dict:
    """x-kubernetes-validations entries: (CEL rule, message[, fieldPath])."""
    out = []
    for rule in rules:
        entry = {"rule": rule[0], "message": rule[1]}
        if len(rule) == 3:
            entry["fieldPath"] = rule[2]
        out.append(entry)
    return {"x-kubernetes-validations": out}


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Source(_Model):
    """Where the Hugging Face model files are. Exactly one of s3Uri or sageMakerModelName."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "[has(self.s3Uri), has(self.sageMakerModelName)].filter(x, x).size() == 1",
                "set exactly one of source.s3Uri or source.sageMakerModelName",
            )
        )
    )

    s3_uri: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        None,
        description=(
            "S3 folder holding the model in Hugging Face format (.safetensors weights, config.json, "
            "tokenizer files), e.g. s3://my-bucket/models/llama3-8b-ft/. Lowercase bucket name; "
            "characters allowed by Bedrock only."
        ),
        # two rules, each with its own words and never both for one mistake (a bare pattern's error only
        # quotes the regular expression)
        json_schema_extra=_rules(
            ("self.startsWith('s3://')", S3_URI_SCHEME_MESSAGE),
            (f"!self.startsWith('s3://') || self.matches(r\"{S3_URI_PATTERN}\")", S3_URI_SHAPE_MESSAGE),
            (f"!self.matches('{DOT_SEGMENT}')", DOT_SEGMENT_MESSAGE),
        ),
    )
    sage_maker_model_name: (
        Annotated[str, Field(min_length=1, max_length=63, pattern=SAGEMAKER_MODEL_NAME_PATTERN)] | None
    ) = Field(
        None,
        description=(
            "Name of an existing SageMaker model (same account and region) whose primary container's "
            "S3 artifacts are imported, as the Bedrock console's SageMaker option does."
        ),
    )

    @field_validator("s3_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:  # mirrors the CEL rules
        if value is None:
            return value
        if not value.startswith("s3://"):
            raise ValueError(S3_URI_SCHEME_MESSAGE)
        if not re.match(S3_URI_PATTERN, value):
            raise ValueError(S3_URI_SHAPE_MESSAGE)
        if re.search(DOT_SEGMENT, value):
            raise ValueError(DOT_SEGMENT_MESSAGE)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:  # mirrors the CEL rule
        if (self.s3_uri is None) == (self.sage_maker_model_name is None):
            raise ValueError("set exactly one of source.s3Uri or source.sageMakerModelName")
        return self


class ServiceRole(_Model):
    """The IAM role Bedrock assumes to read the source. Give roleArn, or set create: true."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (
                "has(self.roleArn) != (has(self.create) && self.create)",
                "set exactly one of serviceRole.roleArn or serviceRole.create: true",
            )
        )
    )

    role_arn: Annotated[str, Field(min_length=1, max_length=2048, pattern=ROLE_ARN_PATTERN)] | None = Field(
        None,
        description=(
            "ARN of an existing role that trusts bedrock.amazonaws.com and may s3:GetObject and "
            "s3:ListBucket on the source, e.g. arn:aws:iam::123456789012:role/BedrockModelImport. Not a "
            "bmo-import-* role: those are made by the operator, each for one object."
        ),
        json_schema_extra=_rules((f"!self.matches('{OPERATOR_ROLE_PATTERN}')", OPERATOR_ROLE_MESSAGE)),
    )
    create: bool | None = Field(
        None,
        description=(
            "When true, the operator creates a role for this model with least privilege: read-only on "
            "exactly the source prefix, trust limited to bedrock.amazonaws.com in this account."
        ),
    )

    @field_validator("role_arn")
    @classmethod
    def _not_an_operator_role(cls, value: str | None) -> str | None:  # mirrors the CEL rule
        if value is not None and re.search(OPERATOR_ROLE_PATTERN, value):
            raise ValueError(OPERATOR_ROLE_MESSAGE)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ServiceRole:  # mirrors the CEL rule
        if (self.role_arn is not None) == bool(self.create):
            raise ValueError("set exactly one of serviceRole.roleArn or serviceRole.create: true")
        return self


class VpcConfig(_Model):
    """VPC the import job uses to reach the S3 source (Bedrock's vpcConfig)."""

    subnet_ids: list[Annotated[str, Field(min_length=1, max_length=32, pattern=VPC_ID_PATTERN)]] = Field(
        ..., min_length=1, max_length=16, description="Subnet IDs (1-16), e.g. subnet-0abc1234."
    )
    security_group_ids: list[Annotated[str, Field(min_length=1, max_length=32, pattern=VPC_ID_PATTERN)]] = (
        Field(..., min_length=1, max_length=5, description="Security group IDs (1-5), e.g. sg-0abc1234.")
    )


class Validation(_Model):
    """How the operator checks the artifacts before it starts (and pays for) an import job."""

    mode: Literal["Job", "Inline", "Skip"] | None = Field(
        None,
        description=(
            "Job: validate in a Job pod with its own ServiceAccount (in-cluster default). Inline: inside "
            "the operator process (dev stack, small installs). Skip: no validation (not recommended: "
            "Bedrock reports problems only after a job of several minutes). Unset: the operator's default."
        ),
    )
    warnings_as_errors: bool | None = Field(
        None, description="Refuse the model when validation finds warnings (e.g. no chat template)."
    )


#: A quantified group that contains a quantifier, like `(a+)+` or `(a|aa)*`: exponential backtracking.


class SmokeTest(_Model):
    """After an import, call the new model once before it serves (InvokeModel on its ARN)."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            ("has(self.prompt) != has(self.body)", "set exactly one of smokeTest.prompt or smokeTest.body")
        )
    )

    prompt: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        None, description="A prompt, wrapped in the request format below (max 4096 characters)."
    )
    format: Literal["BedrockCompletion", "OpenAICompletion", "OpenAIChatCompletion"] = Field(
        "BedrockCompletion",
        description="Request format the prompt is wrapped in (imported models accept all three since late "
        "2025): BedrockCompletion {prompt, max_gen_len}, OpenAICompletion {prompt, max_tokens}, "
        "OpenAIChatCompletion {messages, max_tokens}.",
    )
    body: Annotated[str, Field(min_length=2, max_length=16384)] | None = Field(
        None, description="The whole InvokeModel request body, as JSON text (instead of prompt and format)."
    )
    max_tokens: int = Field(32, ge=1, le=4096, description="Tokens to generate (keeps the test cheap).")
    expect: Annotated[str, Field(min_length=1, max_length=1024)] | None = Field(
        None,
        description="A regular expression (RE2 syntax, matched in linear time) the answer's text must match "
        "(search).",
    )
    deadline_seconds: int = Field(
        600,
        ge=10,
        le=3600,
        description="How long the model may take to answer, cold start included (ModelNotReadyException is "
        "waited out until then).",
    )

    @model_validator(mode="after")
    def _one(self) -> SmokeTest:  # mirrors the CEL rule
        if (self.prompt is None) == (self.body is None):
            raise ValueError("set exactly one of smokeTest.prompt or smokeTest.body")
        if self.expect is not None:
            try:
                tenant_regex.compile_pattern(self.expect)
            except tenant_regex.PatternError as exc:
                raise ValueError(
                    f"smokeTest.expect is not a regular expression RE2 runs ({exc}): write it in RE2 syntax "
                    "(no backreferences or lookaround)"
                ) from None
        return self


_TAG_VALUE = Annotated[str, Field(max_length=256, pattern=TAG_PATTERN)]


def _region_rules() -> list[tuple[str, str, str]]:
    rules = []
    for name, regions in region_restricted().items():
        allowed = ", ".join(f"'{r}'" for r in regions)
        rules.append(
            (
                f"!has(self.architecture) || self.architecture != '{name}' || !has(self.region) || "
                f"self.region in [{allowed}]",
                f"architecture {name} can only be imported in {', '.join(regions)}",
                ".region",
            )
        )
    return rules


#: a ConfigMap name: a DNS-1123 subdomain
CONFIG_MAP_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


_CONFIG_MAP_NAME = Annotated[str, Field(min_length=1, max_length=253, pattern=CONFIG_MAP_NAME_PATTERN)]


class ExportTo(_Model):
    """Where the serving model's ARN is published for the apps of the namespace."""

    config_map_name: _CONFIG_MAP_NAME = Field(
        ...,
        description="ConfigMap in this object's namespace that the operator creates and keeps: "
        "BEDROCK_MODEL_ARN, BEDROCK_MODEL_NAME, BEDROCK_REGION, BEDROCK_CUSTOM_MODEL_UNITS and "
        "BEDROCK_MODEL_REVISION of the model that serves (updated only when a new revision serves). A "
        "ConfigMap of that name the operator did not create is never touched.",
    )


class BedrockImportedModelSpec(_Model):
    """Desired state: which model files to import into Amazon Bedrock, and how."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            *_region_rules(),
            (
                # the field's own `self == oldSelf` only sees a change of a value that was there before
                "has(self.modelName) == has(oldSelf.modelName)",
                "modelName is immutable: it can only be set when the object is created (the serving model "
                "keeps its name); create a new object instead",
                ".modelName",
            ),
        )
    )

    source: Source = Field(
        ...,
        description=(
            "Where the model files are. Exactly one of s3Uri (an S3 folder in Hugging Face format) or "
            "sageMakerModelName (a SageMaker model whose artifacts are imported)."
        ),
    )
    architecture: Architecture | None = Field(  # type: ignore[valid-type]
        None,
        description=(
            "Expected model architecture. Optional: when set, the artifacts' config.json must match it, "
            f"else validation fails. One of: {', '.join(ARCHITECTURE_NAMES)}."
        ),
    )
    model_name: Annotated[str, Field(min_length=1, max_length=63, pattern=MODEL_NAME_PATTERN)] | None = Field(
        None,
        description=(
            "Name of the imported model in Bedrock (letters, digits, single '-' or '_' between them, at "
            "most 63). Default: derived from the namespace and name, plus a hash of the object's identity. "
            "Immutable."
        ),
        json_schema_extra=_rules(("self == oldSelf", "modelName is immutable; create a new object instead")),
    )
    region: Region | None = Field(  # type: ignore[valid-type]
        None,
        description=(
            f"AWS region to import into: one of {', '.join(IMPORT_REGIONS)}. Default: the operator's "
            "region at the first import, then pinned (status.region). Changing it migrates: the model is "
            "imported in the new region and the old one is deleted once the new one is Ready."
        ),
    )
    service_role: ServiceRole = Field(..., description="IAM role Bedrock uses to read the model files.")
    tags: dict[str, _TAG_VALUE] | None = Field(
        None,
        max_length=MAX_USER_TAGS,
        description=(
            f"Tags for the imported model (at most {MAX_USER_TAGS}; key 1-128 and value 0-256 characters "
            "of letters, digits, spaces and . _ : / = + @ -). Changed in place, without a new import. "
            f"Keys starting with 'aws:' or '{RESERVED_TAG_PREFIX}' are reserved."
        ),
        json_schema_extra=_rules(
            (
                "self.all(k, k.size() >= 1 && k.size() <= 128)",
                "tag keys must be 1-128 characters",
            ),
            (
                r"self.all(k, k.matches('^[a-zA-Z0-9 ._:/=+@-]*$'))",
                "tag keys may only contain letters, digits, spaces and . _ : / = + @ -",
            ),
            (
                f"self.all(k, !k.startsWith('aws:') && !k.startsWith('{RESERVED_TAG_PREFIX}'))",
                f"tag keys starting with 'aws:' or '{RESERVED_TAG_PREFIX}' are reserved",
            ),
        ),
    )
    kms_key_id: Annotated[str, Field(min_length=1, max_length=2048, pattern=KMS_KEY_PATTERN)] | None = Field(
        None,
        description=(
            "Customer-managed KMS key (ID, ARN or alias) that encrypts the imported model. Changing it "
            "imports a new revision. Revoking the key makes the model unusable."
        ),
    )
    vpc_config: VpcConfig | None = Field(None, description="Run the import job inside this VPC.")
    validation: Validation | None = Field(None, description="Artifact validation before the import job.")
    smoke_test: SmokeTest | None = Field(
        None,
        description="Call each newly imported model once (InvokeModel) before it serves; a revision is "
        "promoted, and the previous model deleted, only when it answers. Opt-in: the first successful call "
        "starts a 5-minute billing window of the model's Custom Model Units.",
    )
    deletion_policy: Literal["Delete", "Retain"] = Field(
        "Delete",
        description=(
            "What happens to the imported model when this object is deleted: Delete removes it from "
            "Bedrock (it is billed monthly while it exists); Retain leaves it."
        ),
    )

    @field_validator("tags")
    @classmethod
    def _tag_keys(cls, tags: dict[str, str] | None) -> dict[str, str] | None:  # mirrors the CEL rules
        for key in tags or {}:
            if not 1 <= len(key) <= 128 or not re.fullmatch(TAG_PATTERN, key):
                raise ValueError(f"tag key {key!r}: 1-128 letters, digits, spaces and . _ : / = + @ -")
            if key.startswith(("aws:", RESERVED_TAG_PREFIX)):
                raise ValueError(f"tag key {key!r} is reserved")
        return tags

    @model_validator(mode="after")
    def _region_allowed(self) -> BedrockImportedModelSpec:  # mirrors the CEL rule
        if self.architecture and self.region and self.region not in BY_NAME[self.architecture].regions:
            raise ValueError(
                f"architecture {self.architecture} can only be imported in "
                f"{', '.join(BY_NAME[self.architecture].regions)}"
            )
        return self

    export_to: ExportTo | None = Field(
        None, description="Publish the serving model's ARN in a ConfigMap for the namespace's apps."
    )
    adopt_existing: bool | None = Field(
        None,
        description=(
            "Adopt an imported model that already exists under modelName instead of reporting a conflict. "
            "Only a model that no other object owns (no other owner's bedrock.modelops.io/ tags) is adopted."
        ),
    )


# ---- status ------------------------------------------------------------------------------------


class Condition(BaseModel):
    """A Kubernetes-style condition (type, status, reason, message, times)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    type: str = Field(..., max_length=316, description="Validated, Imported, Ready, ...")
    status: Literal["True", "False", "Unknown"] = Field(..., description="True, False or Unknown.")
    reason: str = Field(..., max_length=1024, description="CamelCase reason for the last transition.")
    message: str = Field("", max_length=32768, description="What happened, and what to do about it.")
    last_transition_time: str = Field(
        ..., json_schema_extra={"format": "date-time"}, description="When status last changed (RFC 3339)."
    )
    observed_generation: int | None = Field(None, ge=0, description="metadata.generation this describes.")


class Finding(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    code: str = Field(..., description="Stable reason code, e.g. QuantizedWeights.")
    message: str = Field(..., description="What is wrong and how to fix it.")


class ValidationSummary(BaseModel):
    """What artifact validation found (errors and warnings, and facts about the model)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    verdict: Literal["importable", "not-importable"] | None = Field(None, description="The decision.")
    architecture: str | None = Field(None, description="Architecture detected from config.json.")
    model_type: str | None = Field(None, description="config.json model_type.")
    files: int | None = Field(None, ge=0, description="Files in the source folder.")
    weight_bytes: int | None = Field(None, ge=0, description="Total size of the .safetensors weights.")
    parameter_count: int | None = Field(None, ge=0, description="Parameters counted from the headers.")
    dtypes: list[str] | None = Field(None, description="Weight dtypes found (F32, F16, BF16).")
    context_length: int | None = Field(None, ge=0, description="Context length from config.json.")
    bytes_read: int | None = Field(None, ge=0, description="Bytes read to decide.")
    source_digest: str | None = Field(
        None,
        max_length=80,
        description="Fingerprint of the folder's files (names, sizes, ETags) as validated: listed again "
        "before the import job is created; if it differs, the files are validated again first.",
    )
    errors: list[Finding] | None = Field(None, description="Why the model cannot be imported.")
    warnings: list[Finding] | None = Field(None, description="Worth fixing, but does not block import.")


class CustomModelUnits(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    custom_model_units_per_model_copy: int | None = Field(None, description="CMUs one model copy uses.")
    custom_model_units_version: str | None = Field(None, description="CMU pricing version.")


#: Import job states in which the job may be running in Bedrock.
IN_FLIGHT = ("Creating", "InProgress")


class ImportJobRecord(BaseModel):
    """The import this object started last: written *before* CreateModelImportJob is sent, so a job that
    exists in Bedrock is always known to status, whatever crashes or spec edits come in between."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    revision: str = Field(..., description="Revision (hash of the import-relevant spec) this job imports.")
    region: str = Field(..., description="Region the job runs in.")
    attempt: int = Field(..., ge=1, description="This object's import count; part of the job name and token.")
    job_name: str = Field(..., description="Bedrock model import job name.")
    model_name: str = Field(..., description="Name of the model the job creates.")
    state: Literal["Creating", "InProgress", "Testing", "Completed", "Failed", "Adopting"] = Field(
        ...,
        description="Creating: the create call may or may not have reached Bedrock yet. Testing: the job "
        "completed and its model (modelArn) is being smoke-tested before it serves. Adopting: the existing "
        "model named by modelArn is being taken over (its tags may already name this object).",
    )
    job_arn: str | None = Field(None, description="Bedrock model import job ARN.")
    model_arn: str | None = Field(None, description="ARN of the model the job created.")
    inputs: str | None = Field(None, description="Hash of what the attempt depends on (see failure.inputs).")
    s3_uri: str | None = Field(None, description="Source the job imports.")
    role_arn: str | None = Field(None, description="Service role the job uses.")
    started_at: str | None = Field(None, description="When the operator decided to start it (RFC 3339).")
    sent_at: str | None = Field(None, description="When the create was last sent (RFC 3339).")
    unseen_since: str | None = Field(
        None,
        description="When the operator, no longer meaning to send the create (the spec changed), first "
        "looked for the job and did not find it (RFC 3339). The intent is given up only once the job has "
        "stayed unseen for the grace period after both this and the last send.",
    )
    claimed_at: str | None = Field(
        None,
        description="Adopting: when this object tagged the model as its own (RFC 3339). TagResource is not "
        "conditional, so the adoption is confirmed only once the tags still name this object a few seconds "
        "later; another adopter's tags winning means the model is theirs.",
    )
    completed_at: str | None = Field(None, description="When the operator saw it end (RFC 3339).")
    source_digest: str | None = Field(
        None, max_length=80, description="Fingerprint of the source files as validated (see validation)."
    )

    @property
    def in_flight(self) -> bool:
        """Its job may run (or its create may have reached Bedrock): it holds the region's slot."""
        return self.state in IN_FLIGHT


class SmokeTestResult(BaseModel):
    """The last smoke test of this object's models."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    revision: str = Field(..., description="Revision whose model was tested.")
    model_arn: str = Field(..., description="The model tested.")
    passed: bool | None = Field(None, description="Whether it answered as expected (unset: still trying).")
    started_at: str | None = Field(None, description="When the first call was made (RFC 3339).")
    last_attempt_at: str | None = Field(None, description="When the last call was made (RFC 3339).")
    waited_seconds: float | None = Field(
        None, description="Time spent trying so far (gaps over a minute, e.g. a pause, not counted)."
    )
    answered_at: str | None = Field(None, description="When it answered (RFC 3339).")
    cold_start_seconds: float | None = Field(None, description="Time spent trying until the model answered.")
    latency_ms: int | None = Field(None, description="Time of the call that answered.")
    excerpt: str | None = Field(
        None, description="The start of the answer (redacted, at most 200 characters)."
    )
    message: str | None = Field(None, description="Why it failed, or what it waits for.")


class ExportRecord(BaseModel):
    """The ConfigMap the serving model's ARN was last published to, and that ARN."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    config_map_name: str = Field(..., description="The ConfigMap.")
    model_arn: str = Field(..., description="The ARN it holds.")


class SupersededModel(BaseModel):
    """A model this object imported and no longer serves: deleted as soon as Bedrock allows."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    arn: str = Field(..., description="Model ARN.")
    name: str | None = Field(None, description="Model name.")
    region: str = Field(..., description="Region of the model.")
    revision: str | None = Field(None, description="Revision the model was imported from.")
    last_error: str | None = Field(None, description="Why the last delete attempt failed.")
    missing_since: str | None = Field(
        None, description="When Bedrock first answered NotFound for it (dropped after a second look)."
    )


class GivenUpCreate(BaseModel):
    """A create this object stopped waiting for (its job was not shown within the grace period): Bedrock may
    still apply it late, so its job is looked up for a while and a model it made is retired, not leaked."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    job_name: str = Field(..., description="Bedrock model import job name the create used.")
    region: str = Field(..., description="Region the create was sent to.")
    revision: str | None = Field(None, description="Revision the create was for.")
    given_up_at: str = Field(..., description="When the operator stopped waiting for it (RFC 3339).")
    looked_at: str | None = Field(None, description="When its job was last looked up (RFC 3339).")


class SourceWait(BaseModel):
    """A source not (fully) there yet, waited for since `since` for the revision `inputs`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    inputs: str = Field(..., description="Hash of what the wait is for (revision, region, role, retry).")
    since: str = Field(..., description="When the operator first found the source missing (RFC 3339).")


class FailureRecord(BaseModel):
    """A revision that failed for good: not retried until something that affects the import changes."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    revision: str = Field(..., description="The failed revision.")
    inputs: str = Field(
        ..., description="Hash of what the attempt depended on (revision, region, role, retry annotation)."
    )
    reason: str = Field(..., description="CamelCase reason, as on the failed condition.")
    condition: str = Field(..., description="The condition the failure is reported on.")
    message: str = Field("", description="What failed and what to fix.")


class BedrockImportedModelStatus(BaseModel):
    """Observed state, written by the operator. Conditions are the truth; phase is for humans."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    observed_generation: int | None = Field(None, ge=0, description="Last metadata.generation acted on.")
    phase: (
        Literal[
            "Pending",
            "Validating",
            "Queued",
            "Importing",
            "Testing",
            "Ready",
            "Updating",
            "Failed",
            "Blocked",
            "Paused",
            "Deleting",
        ]
        | None
    ) = Field(None, description="One-word summary for humans and printer columns; read conditions instead.")
    conditions: list[Condition] | None = Field(
        None,
        description="Validated, Imported and Ready, each with a reason and message.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    region: str | None = Field(
        None, description="Region the serving model lives in, pinned at the first import (spec.region wins)."
    )
    architecture: str | None = Field(
        None,
        description="Architecture in the spec's spelling (spec.architecture, else as validation found it).",
    )
    revision: str | None = Field(None, description="Revision the serving model was imported from.")
    serving_since: str | None = Field(None, description="When the serving model began to serve (RFC 3339).")
    model_name: str | None = Field(None, description="Serving imported model's name in Bedrock.")
    model_arn: str | None = Field(
        None, description="Serving imported model ARN: the modelId for InvokeModel."
    )
    model_architecture: str | None = Field(None, description="Architecture Bedrock reports.")
    instruct_supported: bool | None = Field(None, description="Whether the model supports Converse.")
    custom_model_units: CustomModelUnits | None = Field(None, description="Custom Model Units per copy.")
    model_missing_since: str | None = Field(
        None, description="When Bedrock first answered NotFound for the serving model (looked at again)."
    )
    resolved_s3_uri: str | None = Field(None, description="S3 folder imported (resolved from SageMaker).")
    source_digest: str | None = Field(
        None,
        max_length=80,
        description="Fingerprint of the source files the serving model was imported from (names, sizes, "
        "ETags); the SourceInSync condition says when the folder no longer matches it.",
    )
    service_role_arn: str | None = Field(None, description="Role Bedrock used for the import.")
    account_role_arn: str | None = Field(
        None,
        description="Role assumed to reach the account the models live in (a BedrockImportPolicy's "
        "account), pinned at the first import; unset: the operator's own account.",
    )
    import_job: ImportJobRecord | None = Field(None, description="The last import job this object started.")
    last_attempt: int | None = Field(
        None, ge=0, description="Imports this object has started (job names are never reused)."
    )
    superseded: list[SupersededModel] | None = Field(
        None, description="Models of earlier revisions still to be deleted."
    )
    exported: ExportRecord | None = Field(
        None, description="What was last published to spec.exportTo's ConfigMap."
    )
    adopted: list[str] | None = Field(
        None,
        max_length=16,
        description="ARNs of models this object adopted (spec.adoptExisting): its own, though no job of it "
        "made them, so never retired as another revision's.",
    )
    given_up_creates: list[GivenUpCreate] | None = Field(
        None,
        max_length=8,
        description="Creates this object gave up waiting for, whose jobs Bedrock may still show late: looked "
        "up for a while, and a model one of them made is deleted like a previous revision's.",
    )
    failure: FailureRecord | None = Field(None, description="The revision that failed for good, and why.")
    source_wait: SourceWait | None = Field(
        None,
        description="The spec's source is not there yet (no bucket, no files, files missing): waited for "
        "with backoff until BMO_SOURCE_WAIT_SECONDS after `since`, then a failure.",
    )
    smoke_test: SmokeTestResult | None = Field(None, description="The last smoke test (spec.smokeTest).")
    queue_position: int | None = Field(
        None, ge=0, description="Place in the region's import queue (Bedrock runs one import at a time)."
    )
    queued_at: str | None = Field(None, description="When the object joined the region's import queue.")
    queued_order: int | None = Field(
        None,
        ge=0,
        description="Among objects that joined the queue within the same second, the order the operator saw "
        "them (kept so a restart or a new leader keeps the line as it was).",
    )
    validation: ValidationSummary | None = Field(None, description="Artifact validation summary.")
    validated_inputs: str | None = Field(
        None,
        description="Hash of the inputs (revision, region, role, retry annotation) the validation summary "
        "is for, like failure.inputs; status.revision alone is the hash of the import-relevant spec.",
    )
    failure_message: str | None = Field(None, description="Why the last attempt failed, and what to fix.")
    last_sync_time: str | None = Field(
        None,
        description="Last time the operator changed the model in Bedrock (import, tags set right); a check "
        "that finds nothing to change writes nothing, so watches print a row only when something changed.",
    )


# ---- names -------------------------------------------------------------------------------------


def default_model_name(namespace: str, name: str, identity_hash: str) -> str:
    """Bedrock model name for an object without spec.modelName: readable, and unique to the object.

    `<namespace>-<name>` with characters Bedrock refuses turned into '-', runs collapsed, cut to fit, then
    a hash of the object's identity (cluster, namespace, name, uid): `team-a/b` and `team/a-b` flatten to
    the same text, two clusters can apply the same manifest to one account, and a re-created object is a
    new incarnation; none of them may share a model name.
    """
    clean = re.sub(r"[^0-9a-zA-Z]+", "-", f"{namespace}-{name}").strip("-_") or "model"
    return f"{clean[: 62 - len(identity_hash)].rstrip('-_')}-{identity_hash}"
