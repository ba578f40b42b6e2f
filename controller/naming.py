"""Deterministic names, tokens and tags: the same object and revision always map to the same job,
model and clientRequestToken, so any create is safe to repeat after a crash."""

from __future__ import annotations

import hashlib
import json
import re

from controller.api.models import RESERVED_TAG_PREFIX, BedrockImportedModelSpec, default_model_name

#: Spec fields whose change needs a new import (everything else is changed in place).
REVISION_FIELDS = ("source", "architecture", "kms_key_id", "vpc_config")


def revision(spec: BedrockImportedModelSpec) -> str:
    """Hash of the import-relevant spec: a new value means a new model revision."""
    doc = spec.model_dump(include=set(REVISION_FIELDS), by_alias=True, exclude_none=True)
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


def base_model_name(namespace: str, name: str, spec: BedrockImportedModelSpec) -> str:
    return spec.model_name or default_model_name(namespace, name)


def revision_model_name(base: str, rev: str) -> str:
    """Name of a later revision's model (the first revision uses the base name itself)."""
    return f"{base[:54].rstrip('_-')}-{rev[:8]}"


def job_name(base: str, rev: str, attempt: int) -> str:
    """Job names allow letters, digits, '-', '+', '.'; unique per revision and attempt."""
    stem = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-")[:45].rstrip("-") or "model"
    return f"{stem}-{rev[:8]}-{attempt}"


def client_token(uid: str, rev: str, attempt: int) -> str:
    return f"{uid}-{rev}-{attempt}"


def ownership_tags(cluster: str, namespace: str, name: str, uid: str) -> dict[str, str]:
    """Tags that find a model's owner from Bedrock alone (to spot leaked, still-billed models)."""
    return {
        f"{RESERVED_TAG_PREFIX}cluster": cluster[:256],
        f"{RESERVED_TAG_PREFIX}namespace": namespace,
        f"{RESERVED_TAG_PREFIX}name": name[:256],
        f"{RESERVED_TAG_PREFIX}uid": uid,
    }
