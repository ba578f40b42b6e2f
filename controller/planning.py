"""What applying a BedrockImportedModel manifest would do, decided without changing anything (`plan`).

Pure: the caller reads the cluster (the live object, the policies, the namespace's labels, the objects in
line) and AWS (the validator's report, whether the model name is taken), read-only, and this module says
what the operator would make of it: a new model, a new revision that replaces the serving one, a change
made in place, or nothing; whether the validator and the namespace's policies let it through; the model's
name and whether it collides; where it would wait in the import line; and an estimate of its Custom Model
Units and of one 5-minute billing window at a price the user gives (no price is hard-coded).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from controller.api.models import IN_FLIGHT, BedrockImportedModelSpec
from controller.naming import REVISION_FIELDS, revision

#: one CMU per this many bytes of weights, at least one: the local Bedrock's rule, and what AWS showed for
#: Llama 3.1 8B (16 GB of bf16 weights: 2 CMUs); larger models took fewer (70B: 8 CMUs). An estimate only:
#: the real figure is GetImportedModel's `customModelUnits` after the import.
CMU_BYTES = 8 * 10**9
#: Bedrock bills imported models in windows of this many minutes from the first successful call
BILLING_WINDOW_MINUTES = 5

CREATE, NEW_REVISION, IN_PLACE, NOTHING = "create", "new-revision", "in-place", "nothing"


@dataclass
class Plan:
    object: str
    action: str  # create | new-revision | in-place | nothing
    region: str
    changes: list[str] = field(default_factory=list)  # spec fields that differ from the live object's
    replaces: str | None = None  # the model a new revision retires once it serves
    model_name: str | None = None
    model_name_note: str = ""
    validation: dict[str, Any] | None = None  # the validator's verdict, codes, architecture, weight bytes
    policy: dict[str, Any] = field(default_factory=dict)  # allowed, policies, violations
    queue_ahead: int | None = None  # objects holding or waiting for the region's slot before this one
    cmus_estimate: int | None = None
    price_per_cmu_minute: float | None = None
    window_cost: float | None = None  # one 5-minute window of one copy at that price
    problems: list[str] = field(default_factory=list)  # why applying it would not import (exit 1)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_cmus(weight_bytes: int | None) -> int | None:
    if not weight_bytes:
        return None
    return max(1, math.ceil(weight_bytes / CMU_BYTES))


def action_of(
    spec: BedrockImportedModelSpec, live: Mapping[str, Any] | None, region: str
) -> tuple[str, list[str]]:
    """What the operator would do with `spec` given the live object (None: it does not exist yet)."""
    if live is None:
        return CREATE, []
    try:  # both as the API stores them (defaults applied), so that only a real difference counts
        old_model = BedrockImportedModelSpec.model_validate(live.get("spec") or {})
        old_spec = old_model.model_dump(by_alias=True, exclude_none=True, mode="json")
    except ValueError:
        old_spec = dict(live.get("spec") or {})
    new_doc = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    changes = sorted(k for k in set(old_spec) | set(new_doc) if old_spec.get(k) != new_doc.get(k))
    st = live.get("status") or {}
    serving_rev, serving_region = st.get("revision"), st.get("region")
    if not st.get("modelArn"):
        return (NEW_REVISION if changes else NOTHING), changes
    if serving_rev != revision(spec) or (serving_region and serving_region != region):
        return NEW_REVISION, changes
    return (IN_PLACE if changes else NOTHING), changes


def queue_ahead(
    bodies: Iterable[Mapping[str, Any]], region: str, account_role: str | None, uid: str = ""
) -> int:
    """How many objects hold or wait for the slot of (account, region) before a newcomer: Bedrock runs one
    import job per account and region, and the operator's line is in arrival order."""
    ahead = 0
    for body in bodies:
        if (body.get("metadata") or {}).get("uid") == uid:
            continue
        st = body.get("status") or {}
        if (st.get("accountRoleArn") or None) != (account_role or None):
            continue
        job = st.get("importJob") or {}
        if (job.get("state") in IN_FLIGHT and job.get("region") == region) or (
            st.get("queuedAt") and (st.get("region") or region) == region and st.get("phase") != "Ready"
        ):
            ahead += 1
    return ahead


def window_cost(cmus: int | None, price_per_cmu_minute: float | None) -> float | None:
    if cmus is None or price_per_cmu_minute is None:
        return None
    return round(cmus * price_per_cmu_minute * BILLING_WINDOW_MINUTES, 6)


def imports(action: str) -> bool:
    return action in (CREATE, NEW_REVISION)


def revision_fields() -> tuple[str, ...]:
    """The spec fields whose change imports a new revision (the rest change in place)."""
    return REVISION_FIELDS
