"""Names, tokens and ownership tags: every Bedrock resource this operator creates carries the identity of
the object incarnation that owns it, in its tags and (as a short hash) in its name.

Deterministic: the same object, revision and attempt always give the same job name and
clientRequestToken, so any create is safe to repeat after a crash. Unique: two objects (or two
incarnations of one, or the same manifest in two clusters) never compute the same job name, and default
model names cannot collide.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from controller.api.models import RESERVED_TAG_PREFIX, BedrockImportedModelSpec, default_model_name

#: Spec fields whose change needs a new import (everything else is changed in place).
REVISION_FIELDS = ("source", "architecture", "kms_key_id", "vpc_config")

TAG_CLUSTER = f"{RESERVED_TAG_PREFIX}cluster"
TAG_CLUSTER_ID = f"{RESERVED_TAG_PREFIX}cluster-id"
TAG_NAMESPACE = f"{RESERVED_TAG_PREFIX}namespace"
TAG_NAME = f"{RESERVED_TAG_PREFIX}name"
TAG_UID = f"{RESERVED_TAG_PREFIX}uid"
#: Left on a model kept by deletionPolicy Retain: it has no owner any more and may be adopted.
TAG_RETAINED_FROM = f"{RESERVED_TAG_PREFIX}retained-from"
TAG_RETAINED_BY_CLUSTER = f"{RESERVED_TAG_PREFIX}retained-by-cluster-id"
OWNER_KEYS = (TAG_CLUSTER_ID, TAG_UID)


@dataclass(frozen=True)
class Identity:
    """One incarnation of one object in one cluster."""

    cluster_id: str
    cluster_name: str
    namespace: str
    name: str
    uid: str

    @property
    def hash(self) -> str:
        """8 hex characters of the whole identity: goes into job and default model names."""
        raw = "/".join((self.cluster_id, self.namespace, self.name, self.uid))
        return hashlib.sha256(raw.encode()).hexdigest()[:8]

    def tags(self) -> dict[str, str]:
        """Tags that find a resource's owner from Bedrock alone (and let no one else act on it)."""
        return {
            TAG_CLUSTER: (self.cluster_name or self.cluster_id)[:256],
            TAG_CLUSTER_ID: self.cluster_id[:256],
            TAG_NAMESPACE: self.namespace,
            TAG_NAME: self.name[:256],
            TAG_UID: self.uid,
        }

    def describe(self) -> str:
        return (
            f"{self.namespace}/{self.name} (uid {self.uid}) in cluster {self.cluster_name or self.cluster_id}"
        )


def released(tags: dict[str, str]) -> bool:
    """Whether the owner tags are those of the object that released the model (deletionPolicy Retain wrote
    its retained-from marker): the release removes them, so owner tags beside that marker come from a tag
    write of the same object that Bedrock applied late (TagResource is not conditional). The model is
    released all the same; otherwise a dead object would own it and nobody could adopt it."""
    return (
        tags.get(TAG_RETAINED_FROM) is not None
        and tags.get(TAG_RETAINED_FROM) == f"{tags.get(TAG_NAMESPACE)}/{tags.get(TAG_NAME)}"[:256]
        and tags.get(TAG_RETAINED_BY_CLUSTER) == tags.get(TAG_CLUSTER_ID)
    )


def owner_in(tags: dict[str, str]) -> str | None:
    """Who the tags say owns a resource, for messages; None when they name no owner."""
    if not any(k in tags for k in OWNER_KEYS) or released(tags):
        return None
    return (
        f"{tags.get(TAG_NAMESPACE, '?')}/{tags.get(TAG_NAME, '?')} (uid {tags.get(TAG_UID, '?')}) in cluster "
        f"{tags.get(TAG_CLUSTER) or tags.get(TAG_CLUSTER_ID, '?')}"
    )


def managed_by(tags: dict[str, str]) -> str:
    """Who manages a model, in a phrase, from its tags alone (observe-only objects, `orphans`)."""
    owner = owner_in(tags)
    if owner is not None:
        return f"BedrockImportedModel {owner}"
    retained = tags.get(TAG_RETAINED_FROM)
    if retained:
        cluster = tags.get(TAG_RETAINED_BY_CLUSTER) or "?"
        return f"nobody: retained from BedrockImportedModel {retained} in cluster {cluster}"
    return "nobody: no bedrock.modelops.io owner tags (made by hand, or elsewhere)"


def ownership(tags: dict[str, str], me: Identity) -> str:
    """'mine', 'unowned' or 'other' by the ownership tags a resource carries."""
    if not any(k in tags for k in OWNER_KEYS) or released(tags):
        return "unowned"
    cluster = tags.get(TAG_CLUSTER_ID)
    # models tagged before cluster ids existed carry only the uid (unique per incarnation): still ours
    if tags.get(TAG_UID) == me.uid and cluster in (me.cluster_id, None):
        return "mine"
    return "other"


def revision(spec: BedrockImportedModelSpec) -> str:
    """Hash of the import-relevant spec: a new value means a new model revision."""
    doc = spec.model_dump(include=set(REVISION_FIELDS), by_alias=True, exclude_none=True)
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


def import_inputs(rev: str, region: str, spec: BedrockImportedModelSpec, retry: str) -> str:
    """Everything an import attempt depends on: a failure is retried only when this changes (not on a
    tags or deletionPolicy edit)."""
    doc = {
        "revision": rev,
        "region": region,
        "role": spec.service_role.model_dump(by_alias=True, exclude_none=True),
        "model": spec.model_name,
        "adopt": bool(spec.adopt_existing),
        "retry": retry,
    }
    if spec.smoke_test is not None:  # a fixed smoke test retries a revision that failed it
        doc["smoke"] = spec.smoke_test.model_dump(by_alias=True, exclude_none=True)
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def base_model_name(me: Identity, spec: BedrockImportedModelSpec) -> str:
    return spec.model_name or default_model_name(me.namespace, me.name, me.hash)


def model_name_candidates(base: str, rev: str, attempt: int) -> list[str]:
    """Names a new import may use, in order of preference: the base name, then one per revision, then
    one per attempt (the first that no model of this object uses in the region is taken)."""
    return [
        base,
        f"{base[:54].rstrip('_-')}-{rev[:8]}",
        f"{base[:45].rstrip('_-')}-{rev[:8]}-{attempt}",
    ]


def job_name(me: Identity, rev: str, attempt: int) -> str:
    """Letters, digits and '-'; unique per object incarnation (identity hash), revision and attempt."""
    tail = f"-{me.hash}-{rev[:8]}-{attempt}"
    stem = re.sub(r"[^a-zA-Z0-9-]+", "-", f"{me.namespace}-{me.name}").strip("-")
    stem = stem[: 63 - len(tail)].rstrip("-") or "model"
    return f"{stem}{tail}"


def client_token(me: Identity, rev: str, attempt: int) -> str:
    """The same (incarnation, revision, attempt) always sends the same token: Bedrock answers a repeated
    create with the original job instead of starting a second one."""
    return f"{me.uid}-{rev}-{attempt}"[:256]
