"""Operator settings, from environment variables (BMO_*) and `bedrock-model-operator run` flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass
class Settings:
    region: str = "us-east-1"  # default when spec.region is unset
    namespaces: list[str] = field(default_factory=list)  # empty: the whole cluster
    resync_seconds: float = 300.0  # drift check of Ready models (deleted / re-tagged outside)
    poll_seconds: float = 10.0  # how often in-flight work (queue, import job) is looked at
    max_workers: int = 20  # reconciles running at once
    backoff_base_seconds: float = 2.0  # retryable errors: base * 2^n, capped
    backoff_cap_seconds: float = 120.0
    cluster_name: str = "default"  # written into ownership tags
    validation_mode: str = "Inline"  # default spec.validation.mode: Inline | Job | Skip
    import_slots: int = 1  # concurrent import jobs per region (Bedrock's quota: 1, not adjustable)
    validator_image: str = "bedrock-model-operator:dev"  # image of the validation Job (the operator's own)
    validation_service_account: str = "bedrock-model-validator"
    validation_job_deadline_seconds: float = 900.0
    validation_job_memory: str = "512Mi"
    bedrock_endpoint: str | None = None
    s3_endpoint: str | None = None
    iam_endpoint: str | None = None
    sts_endpoint: str | None = None
    sagemaker_endpoint: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        ns = _env("BMO_NAMESPACES", "") or ""
        return cls(
            region=_env("BMO_REGION", _env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")))
            or "us-east-1",
            namespaces=[n.strip() for n in ns.split(",") if n.strip()],
            resync_seconds=float(_env("BMO_RESYNC_SECONDS", "300") or 300),
            poll_seconds=float(_env("BMO_POLL_SECONDS", "10") or 10),
            max_workers=int(_env("BMO_MAX_WORKERS", "20") or 20),
            backoff_base_seconds=float(_env("BMO_BACKOFF_BASE_SECONDS", "2") or 2),
            backoff_cap_seconds=float(_env("BMO_BACKOFF_CAP_SECONDS", "120") or 120),
            cluster_name=_env("BMO_CLUSTER_NAME", "default") or "default",
            # in a cluster, validation runs in Job pods by default; elsewhere (dev stack) inline
            validation_mode=_env(
                "BMO_VALIDATION_MODE", "Job" if os.environ.get("KUBERNETES_SERVICE_HOST") else "Inline"
            )
            or "Inline",
            validator_image=_env("BMO_VALIDATOR_IMAGE", "bedrock-model-operator:dev") or "",
            validation_service_account=_env("BMO_VALIDATION_SERVICE_ACCOUNT", "bedrock-model-validator")
            or "",
            validation_job_deadline_seconds=float(_env("BMO_VALIDATION_JOB_DEADLINE_SECONDS", "900") or 900),
            validation_job_memory=_env("BMO_VALIDATION_JOB_MEMORY", "512Mi") or "512Mi",
            import_slots=int(_env("BMO_IMPORT_SLOTS_PER_REGION", "1") or 1),
            bedrock_endpoint=_env("BMO_BEDROCK_ENDPOINT_URL"),
            s3_endpoint=_env("BMO_S3_ENDPOINT_URL"),
            iam_endpoint=_env("BMO_IAM_ENDPOINT_URL"),
            sts_endpoint=_env("BMO_STS_ENDPOINT_URL"),
            sagemaker_endpoint=_env("BMO_SAGEMAKER_ENDPOINT_URL"),
        )
