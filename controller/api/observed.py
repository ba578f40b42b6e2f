"""The BedrockObservedModel API: an existing imported model, reported and never changed.

Observe-only (Crossplane's `managementPolicies: ["Observe"]`, ACK's read-only resources): a team brings a
hand-made model under git before it lets the operator manage it, or watches another team's model. The
operator only reads (GetImportedModel, ListTagsForResource): it never tags, deletes or imports for it, and
puts no finalizer on it. Managing the model is an explicit step: a BedrockImportedModel with
`adoptExisting: true` and the same `modelName`, which the namespace's BedrockImportPolicy decides.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from controller.api.models import GROUP, IMPORT_REGIONS, MODEL_NAME_PATTERN, VERSION, Condition

OBSERVED_KIND = "BedrockObservedModel"
OBSERVED_PLURAL = "bedrockobservedmodels"
OBSERVED_SINGULAR = "bedrockobservedmodel"
OBSERVED_SHORT_NAMES = ("bedrockobserved", "bom")
OBSERVED_API_VERSION = f"{GROUP}/{VERSION}"

#: an imported model's ARN (any partition), as GetImportedModel takes it
IMPORTED_MODEL_ARN_PATTERN = r"^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]+:[0-9]{12}:imported-model/[a-z0-9]{12}$"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def _rules(*rules: tuple[str, str]) -> dict:
    return {"x-kubernetes-validations": [{"rule": r, "message": msg} for r, msg in rules]}


class BedrockObservedModelSpec(_Model):
    """Which existing imported model to report on."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            ("has(self.modelName) != has(self.modelArn)", "set exactly one of modelName and modelArn"),
        )
    )

    model_name: Annotated[str, Field(min_length=1, max_length=63, pattern=MODEL_NAME_PATTERN)] | None = Field(
        None, description="Name of the imported model in Bedrock. Exactly one of modelName and modelArn."
    )
    model_arn: Annotated[str, Field(max_length=2048, pattern=IMPORTED_MODEL_ARN_PATTERN)] | None = Field(
        None, description="ARN of the imported model. Exactly one of modelName and modelArn."
    )
    region: Literal[IMPORT_REGIONS] | None = Field(  # type: ignore[valid-type]
        None, description="Region of the model (default: the ARN's region, else the operator's region)."
    )


class ObservedModelStatus(_Model):
    """What Bedrock says about the model, as of `lastChecked`."""

    observed_generation: int | None = Field(None, description="metadata.generation this status describes.")
    exists: bool | None = Field(None, description="Whether Bedrock shows the model (None: not asked yet).")
    model_arn: str | None = Field(None, description="The model's ARN (the modelId for InvokeModel).")
    model_name: str | None = Field(None, description="The model's name in Bedrock.")
    region: str | None = Field(None, description="The region it was looked up in.")
    architecture: str | None = Field(None, description="modelArchitecture, as Bedrock reports it.")
    instruct_supported: bool | None = Field(None, description="Whether it takes chat-style requests.")
    custom_model_units: int | None = Field(None, description="Custom Model Units per model copy.")
    custom_model_units_version: str | None = Field(None, description="Version of the CMU measure.")
    creation_time: str | None = Field(None, description="When the model was imported (RFC 3339).")
    kms_key_arn: str | None = Field(None, description="KMS key that encrypts the model, if any.")
    source_s3_uri: str | None = Field(None, description="The S3 folder it was imported from.")
    job_name: str | None = Field(None, description="The import job that made it.")
    tags: dict[str, str] | None = Field(None, description="Its tags.")
    managed_by: str | None = Field(
        None,
        description="Who manages it, from its tags: a BedrockImportedModel (cluster/namespace/name), "
        "retained from one, or nobody (made by hand or elsewhere).",
    )
    last_checked: str | None = Field(None, description="When Bedrock was last asked (RFC 3339).")
    conditions: list[Condition] | None = Field(
        None, description="Ready (True: the model exists and was read); Synced (the last look reached it)."
    )
