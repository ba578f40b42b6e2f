"""Operator settings: one pydantic-settings model, read from `BMO_*` environment variables, with
`bedrock-model-operator run` flags layered on top (flags never go through os.environ)."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_validation_mode() -> str:
    # in a cluster, validation runs in Job pods by default; elsewhere (dev stack) inline
    return "Job" if os.environ.get("KUBERNETES_SERVICE_HOST") else "Inline"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BMO_", extra="ignore", validate_default=True)

    region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices("BMO_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "region"),
        description="region of objects without spec.region, at their first import (then pinned)",
    )
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="watch only these namespaces (comma-separated; empty: all)"
    )
    resync_seconds: float = Field(
        300.0,
        ge=0,
        description="drift check period of Ready models: whether each still exists, from one "
        "ListImportedModels per region (at most half a period old) for the whole fleet",
    )
    tag_check_seconds: float = Field(
        21600.0,
        ge=0,
        description="how often a Ready model's tags are read and set right when nothing happens to it (any "
        "edit or annotation of the object checks them at once)",
    )
    poll_seconds: float = Field(10.0, gt=0, description="how often in-flight work is looked at")
    job_poll_seconds: float = Field(
        0.5,
        gt=0,
        description="how often running import jobs are looked at: each account and region's listing of "
        "running jobs is read once per this while any job runs there (one call, however many jobs), "
        "and a job it no longer shows wakes its object at once; none when nothing runs",
    )
    max_workers: int = Field(20, ge=1, description="reconciles running at once")
    backoff_base_seconds: float = Field(2.0, gt=0, description="retryable errors: base * 2^n, capped")
    backoff_cap_seconds: float = Field(120.0, gt=0, description="longest backoff")
    price_per_cmu_minute: float | None = Field(
        None,
        gt=0,
        description="your price of one Custom Model Unit-minute (AWS bills active copies in 5-minute "
        "windows): a Ready model's message then says what an active copy costs per hour; unset: no cost line",
    )
    source_wait_seconds: float = Field(
        1800.0,
        ge=0,
        description="how long a source that is not there yet (no bucket, an empty folder, a file the model "
        "needs missing) is waited for, looked at again with backoff, before the revision fails (GitOps "
        "merges the manifest while the weights upload); 0: fail at once",
    )
    model_missing_grace_seconds: float = Field(
        30.0,
        ge=0,
        description="a model Bedrock says is NotFound is looked at again after this long before it counts "
        "as deleted (Bedrock is eventually consistent)",
    )
    iam_propagation_seconds: float = Field(
        300.0,
        ge=0,
        description="how long Bedrock may answer 'role ARN is invalid' (a new role not visible yet) before "
        "the role counts as wrong and the revision fails",
    )
    cluster_name: str = Field(
        "", description="readable cluster name in ownership tags (default: the cluster id)"
    )
    cluster_id: str = Field(
        "",
        description="unique cluster identity in ownership tags (default: the uid of the kube-system "
        "namespace, read at start-up)",
    )
    inline_validations: int = Field(
        1,
        ge=1,
        le=16,
        description="Inline validations run at once in the operator's process (each one's memory peaks "
        "under 96 MiB whatever the folder holds; the others wait their turn and are woken when it frees)",
    )
    validation_mode: Literal["Inline", "Job", "Skip"] = Field(
        default_factory=_default_validation_mode,
        description="default spec.validation.mode (Job in a cluster, Inline elsewhere)",
    )
    import_policy_default: Literal["open", "restricted"] = Field(
        "restricted",
        description="namespaces no BedrockImportPolicy selects: restricted imports nothing (a shared "
        "cluster's default), open imports anything (the dev stack)",
    )
    service_role_permissions_boundary: str = Field(
        "bmo-import-role-boundary",
        description="permissions boundary of the roles serviceRole.create makes: a policy name in the "
        "account (deploy/iam/service-role-boundary.json) or an ARN; empty: none (the shipped operator "
        "policy then refuses CreateRole)",
    )
    import_slots: int = Field(
        1,
        ge=1,
        validation_alias=AliasChoices("BMO_IMPORT_SLOTS_PER_REGION", "import_slots"),
        description="concurrent import jobs per region (Bedrock's quota: 1, not adjustable)",
    )
    validator_image: str = Field("bedrock-model-operator:dev", description="image of the validation Job")
    validation_service_account: str = Field(
        "bedrock-model-validator", description="ServiceAccount the validation Job runs as"
    )
    validation_job_deadline_seconds: float = Field(900.0, gt=0, description="validation Job deadline")
    validation_job_memory: str = Field("512Mi", description="validation Job memory request and limit")
    validation_pod_template: str = Field(
        "",
        description="YAML or JSON merged into every validation Job's pod: labels, annotations, "
        "nodeSelector, tolerations, affinity, priorityClassName, imagePullSecrets, resources, hostNetwork, "
        'env (docs/api.md, "Validation pods")',
    )
    bedrock_rate_limits: str = Field(
        "default=5,CreateModelImportJob=1,DeleteImportedModel=2,TagResource=2,UntagResource=2",
        description="requests per second per region and operation sent to Bedrock's control plane "
        "(Operation=rate,...; default= for the rest); a throttled answer pauses the whole region",
    )
    smoke_test_default_prompt: str = Field(
        "",
        description="smoke-test every new model with this prompt when its spec has no smokeTest (empty: only "
        "objects that ask; each test bills a 5-minute window of the model's CMUs)",
    )
    liveness: str = Field(
        "",
        description="serve kopf's liveness probe at this URL, e.g. http://0.0.0.0:8080/healthz (empty: off)",
    )
    metrics_port: int = Field(0, ge=0, le=65535, description="serve Prometheus metrics on this port (0: off)")
    metrics_address: str = Field(
        "0.0.0.0", description="address the metrics server binds (127.0.0.1 on a host-network pod)"
    )
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per log line")
    leader_election: bool = Field(
        False,
        description="run as one of several replicas: only the holder of a Lease reconciles, a standby takes "
        "over when it stops renewing (the shipped Deployment: true, 2 replicas)",
    )
    leader_election_namespace: str = Field(
        "bedrock-model-operator", description="namespace of the leader-election Lease"
    )
    leader_election_lease: str = Field(
        "",
        description="name of the Lease (empty: bedrock-model-operator); shards installed in one namespace "
        "each need their own (Helm: the release name)",
    )
    leader_lease_seconds: float = Field(
        10.0,
        ge=5,
        description="a standby takes over once the Lease has not changed for this long; the leader exits "
        "when it has not renewed for this minus two retry periods (10 s: 6 s, retries every 2 s)",
    )

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [n.strip() for n in value.split(",") if n.strip()]
        return value

    @field_validator("bedrock_rate_limits")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        from controller.aws.rate_limit import parse_limits

        parse_limits(value)
        return value

    @field_validator("validation_pod_template")
    @classmethod
    def _pod_template(cls, value: str) -> str:
        from controller.kube.validation_pod_template import parse

        parse(value)  # a template that cannot be applied stops the operator at start, not each Job
        return value

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Environment first, then `overrides` (flags that were given; None means not given)."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})

    @staticmethod
    def env_name(name: str) -> str:
        """The environment variable of a field (its BMO_ alias, else BMO_<NAME>)."""
        alias = Settings.model_fields[name].validation_alias
        for choice in getattr(alias, "choices", ()):
            if isinstance(choice, str) and choice.startswith("BMO_"):
                return choice
        return f"BMO_{name.upper()}"

    @staticmethod
    def flag_name(name: str) -> str:
        return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))

    @staticmethod
    def default_text(name: str) -> str:
        field = Settings.model_fields[name]
        if field.default_factory is not None:
            return "see description" if name != "namespaces" else "all"
        if field.default in (None, ""):
            return "unset"
        return str(field.default)

    @property
    def readable_cluster_name(self) -> str:
        return self.cluster_name or self.cluster_id


#: `run` flags whose name is not the field's (kept from earlier versions, or clearer).
FLAG_NAMES = {
    "namespaces": "--namespace",
    "import_slots": "--import-slots-per-region",
}


def settings_markdown() -> str:
    """docs/settings.md's table of settings: generated from the model, so it cannot drift from the code."""
    rows = ["| Variable | `run` flag | Default | What it does |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        what = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{Settings.env_name(name)}` | `{Settings.flag_name(name)}` | {Settings.default_text(name)} | "
            f"{what} |"
        )
    return "\n".join(rows) + "\n"
