"""Which imported models no live object accounts for, and why: the models that cost storage every month and
count against the account's quota while nobody's manifest says they should exist.

The caller lists the objects (BedrockImportedModels and BedrockObservedModels) and gives a region's
Bedrock client (`cli/orphans.py`, and the operator's `bmo_orphaned_models` gauge); only reads are made.
A model is accounted for when a live object serves it, supersedes it (waiting to delete it), tests it,
adopted it, holds its import job's result, observes it, or its owner tags name a live object of this
cluster (its status not written yet). Every other model is an orphan, with the reason read from its tags.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from controller.naming import (
    OWNER_KEYS,
    TAG_CLUSTER,
    TAG_CLUSTER_ID,
    TAG_NAME,
    TAG_NAMESPACE,
    TAG_RETAINED_BY_CLUSTER,
    TAG_RETAINED_FROM,
    TAG_UID,
    released,
)

#: why a model is an orphan, most actionable first
GONE_OBJECT = "object-gone"  # tagged by this cluster for an object that no longer exists
RETAINED = "retained"  # kept by deletionPolicy Retain when its object was deleted
OTHER_CLUSTER = "other-cluster"  # another cluster's (that cluster may well account for it)
UNOWNED = "unowned"  # no owner tags: made by hand, or by another tool
KINDS = (GONE_OBJECT, RETAINED, OTHER_CLUSTER, UNOWNED)


@dataclass(frozen=True)
class Orphan:
    arn: str
    name: str
    region: str
    kind: str
    why: str
    created: str | None
    age_days: float | None
    custom_model_units: int | None
    delete_command: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def accounted_for(
    imported: Iterable[Mapping[str, Any]], observed: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """ARN -> which live object accounts for it (and how), from the objects' status and spec."""
    refs: dict[str, str] = {}
    for body in imported:
        meta, st = body.get("metadata") or {}, body.get("status") or {}
        who = f"BedrockImportedModel {meta.get('namespace')}/{meta.get('name')}"
        if st.get("modelArn"):
            refs[st["modelArn"]] = f"served by {who}"
        for old in st.get("superseded") or []:
            if old.get("arn"):
                refs.setdefault(old["arn"], f"superseded, to be deleted by {who}")
        job = st.get("importJob") or {}
        if job.get("modelArn"):
            refs.setdefault(job["modelArn"], f"imported (or tested) by {who}")
        for arn in st.get("adopted") or []:
            refs.setdefault(arn, f"adopted by {who}")
    for body in observed:
        meta, st, spec = body.get("metadata") or {}, body.get("status") or {}, body.get("spec") or {}
        arn = st.get("modelArn") or spec.get("modelArn")
        if arn:
            refs.setdefault(
                arn, f"observed by BedrockObservedModel {meta.get('namespace')}/{meta.get('name')}"
            )
    return refs


#: the status fields `accounted_for` reads, and the few `scan` needs besides
_KEPT_STATUS = ("modelArn", "superseded", "importJob", "adopted", "region")


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """What accounting for a model needs of an object: a few hundred bytes where a whole body (managed
    fields, kopf's annotations, conditions) is tens of KiB once parsed; 1,000 whole bodies at once were
    ~50 MiB."""
    meta, st = body.get("metadata") or {}, body.get("status") or {}
    job = st.get("importJob") or {}
    status = {k: st[k] for k in _KEPT_STATUS if k in st and k != "importJob" and k != "superseded"}
    if job.get("modelArn"):
        status["importJob"] = {"modelArn": job["modelArn"]}
    if st.get("superseded"):
        status["superseded"] = [{"arn": old.get("arn")} for old in st["superseded"]]
    return {
        "metadata": {k: meta.get(k) for k in ("uid", "namespace", "name")},
        "spec": {k: v for k, v in (body.get("spec") or {}).items() if k == "modelArn"},
        "status": status,
    }


def classify(
    arn: str,
    name: str,
    region: str,
    tags: Mapping[str, str],
    refs: Mapping[str, str],
    live_uids: set[str],
    cluster_id: str,
    *,
    created: dt.datetime | None = None,
    cmus: int | None = None,
    now: dt.datetime | None = None,
) -> Orphan | None:
    """The model as an orphan, or None when a live object accounts for it."""
    if arn in refs:
        return None
    owned = any(k in tags for k in OWNER_KEYS) and not released(dict(tags))
    if owned and tags.get(TAG_UID) in live_uids and tags.get(TAG_CLUSTER_ID) in (cluster_id, None):
        return None  # its object is alive (a status not written yet, or an import job's model on its way)
    obj = f"{tags.get(TAG_NAMESPACE, '?')}/{tags.get(TAG_NAME, '?')}"
    if owned and tags.get(TAG_CLUSTER_ID) in (cluster_id, None):
        uid = tags.get(TAG_UID)
        kind = GONE_OBJECT
        why = f"tagged by this cluster for BedrockImportedModel {obj} (uid {uid}), which no longer exists "
        why += "(its finalizer removed by hand, or its namespace force-deleted)"
    elif owned:
        cluster = tags.get(TAG_CLUSTER) or tags.get(TAG_CLUSTER_ID)
        kind, why = OTHER_CLUSTER, f"owned by BedrockImportedModel {obj} of cluster {cluster}"
    elif tags.get(TAG_RETAINED_FROM):
        cluster = tags.get(TAG_RETAINED_BY_CLUSTER) or "?"
        here = " (this cluster)" if cluster == cluster_id else ""
        kind, why = (
            RETAINED,
            f"retained from BedrockImportedModel {tags[TAG_RETAINED_FROM]} of cluster {cluster}{here}",
        )
    else:
        kind, why = UNOWNED, "no bedrock.modelops.io owner tags: made by hand, or by another tool"
    now = now or dt.datetime.now(dt.UTC)
    age = (now - created).total_seconds() / 86400 if created is not None else None
    return Orphan(
        arn=arn,
        name=name,
        region=region,
        kind=kind,
        why=why,
        created=created.isoformat() if created is not None else None,
        age_days=round(age, 1) if age is not None else None,
        custom_model_units=cmus,
        delete_command=f"aws bedrock delete-imported-model --model-identifier {arn} --region {region}",
    )


def scan(
    imported: list[Mapping[str, Any]],
    observed: list[Mapping[str, Any]],
    regions: Iterable[str],
    bedrock_for: Callable[[str], Any],
    cluster_id: str,
    *,
    details: bool = True,
    now: dt.datetime | None = None,
) -> list[Orphan]:
    """Every orphan in `regions`, oldest first: ListImportedModels, the tags of each model no object names,
    and (with `details`) GetImportedModel of each orphan for its CMUs and age."""
    refs = accounted_for(imported, observed)
    live = {str((b.get("metadata") or {}).get("uid", "")) for b in imported}
    found: list[Orphan] = []
    for region in regions:
        bedrock = bedrock_for(region)
        for arn, model in sorted(bedrock.list_models().items()):
            if arn in refs:
                continue
            tags = bedrock.tags(arn)
            orphan = classify(arn, model.name, region, tags, refs, live, cluster_id, now=now)
            if orphan is None or not details:
                found += [orphan] if orphan is not None else []
                continue
            detail = bedrock.find_model(arn)  # CMUs and creation time are not in the listing
            if detail is None:  # deleted meanwhile
                continue
            created = detail.created if isinstance(detail.created, dt.datetime) else None
            orphan = classify(
                arn,
                model.name,
                region,
                tags,
                refs,
                live,
                cluster_id,
                created=created,
                cmus=detail.cmu_per_copy,
                now=now,
            )
            found += [orphan] if orphan is not None else []
    return sorted(found, key=lambda o: (o.created or "", o.arn))
