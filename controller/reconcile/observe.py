"""Observe-only (BedrockObservedModel): what Bedrock says about an existing model, and nothing changed.

The pass only reads: GetImportedModel and ListTagsForResource, through a `ModelReader`, which has no other
method (the Bedrock client behind it has them; this module never sees it). The namespace's policies decide
whether it may look at all, in which region and in which account (`tenancy.rules.decide_observation`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller import rfc3339
from controller.api.models import IMPORT_REGIONS
from controller.api.observed import ObservedModelStatus
from controller.api.reasons import ConditionType, Reason
from controller.aws.clients import ModelInfo
from controller.conditions import set_conditions
from controller.errors import AwsError, Kind, OperatorError
from controller.kube.client import KUBE_ERRORS, api_error
from controller.naming import managed_by
from controller.redact import redact
from controller.tenancy.rules import Decision


class ModelReader(Protocol):
    """The two reads an observation makes; nothing that changes a model."""

    def find_model(self, name_or_arn: str) -> ModelInfo | None: ...

    def tags(self, arn: str) -> dict[str, str]: ...


@dataclass
class Observation:
    status: dict[str, Any]  # the whole status to write
    events: list[tuple[str, str, str]] = field(default_factory=list)
    retry_error: OperatorError | None = None  # transient: looked at again sooner than the resync


def region_of(spec: Mapping[str, Any], default: str) -> str:
    """spec.region, else the ARN's, else the operator's."""
    if spec.get("region"):
        return str(spec["region"])
    arn = spec.get("modelArn") or ""
    parts = arn.split(":")
    if len(parts) > 3 and parts[3] in IMPORT_REGIONS:
        return parts[3]
    return default


def _time(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return rfc3339.format_time(value)
    return str(value) if value else None


def observe(
    body: Mapping[str, Any],
    decide: Callable[[str, str], Decision],
    reader_for: Callable[[str, str | None, str], ModelReader],
    default_region: str,
    now: dt.datetime,
) -> Observation:
    """One look at the model `body` names. `decide(namespace, region)`: the policies' decision;
    `reader_for(region, account_role, namespace)`: the reads, in the account the decision names."""
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    namespace, generation = meta.get("namespace", ""), meta.get("generation")
    old = body.get("status") or {}
    region = region_of(spec, default_region)
    wanted = spec.get("modelArn") or spec.get("modelName") or ""
    checked = rfc3339.format_time(now)
    st = ObservedModelStatus(observed_generation=generation, region=region, last_checked=checked)
    updates: dict[str, tuple[str, str, str] | None] = {}
    out = Observation(status={})
    try:
        decision = decide(namespace, region)
    except KUBE_ERRORS as exc:  # the policies could not be read: nothing is decided, looked at again soon
        err = api_error(exc, "reading BedrockImportPolicies")
        out.retry_error = err
        updates[str(ConditionType.SYNCED)] = ("False", err.reason, f"{err.message} (retrying)")
        st = _as_before(old, st)
        return _finish(out, st, old, updates, generation, stalled=False)
    if not decision.allowed:
        v = decision.violations[0]
        message = redact(f"not observed: {decision.summary()}")
        updates[str(ConditionType.ALLOWED)] = ("False", v.rule, message)
        updates[str(ConditionType.READY)] = ("False", v.rule, message)
        updates[str(ConditionType.SYNCED)] = ("False", v.rule, "nothing was asked of Bedrock")
        st.exists = old.get("exists")  # what an earlier look saw stays; nothing new is read
        return _finish(out, st, old, updates, generation, stalled=True)
    allowed = Reason.POLICY_ALLOWS if decision.policies else Reason.NO_POLICY_OPEN
    updates[str(ConditionType.ALLOWED)] = ("True", allowed, decision.summary())
    try:
        reader = reader_for(region, decision.account_role, namespace)
        model = reader.find_model(wanted)
        tags = reader.tags(model.arn) if model is not None else None
    except AwsError as err:
        transient = err.kind is Kind.RETRYABLE
        out.retry_error = err if transient else None
        message = f"{err.message}" + (" (retrying)" if transient else "")
        updates[str(ConditionType.SYNCED)] = ("False", err.reason, message)
        if str(ConditionType.READY) not in {c.get("type") for c in old.get("conditions") or []}:
            updates[str(ConditionType.READY)] = ("Unknown", err.reason, message)
        st = _as_before(old, st)
        return _finish(out, st, old, updates, generation, stalled=not transient)
    updates[str(ConditionType.SYNCED)] = ("True", Reason.RECONCILE_SUCCEEDED, "Bedrock was read")
    if model is None:
        st.exists = False
        message = (
            f"Bedrock shows no imported model {wanted} in {region} (deleted, or in another region or account)"
        )
        updates[str(ConditionType.READY)] = ("False", Reason.MODEL_NOT_FOUND, message)
        if old.get("exists"):
            out.events.append(("Warning", Reason.MODEL_NOT_FOUND, message))
        return _finish(out, st, old, updates, generation, stalled=True)
    st.exists = True
    st.model_arn, st.model_name = model.arn, model.name
    st.architecture, st.instruct_supported = model.architecture, model.instruct_supported
    st.custom_model_units, st.custom_model_units_version = model.cmu_per_copy, model.cmu_version
    st.creation_time, st.kms_key_arn = _time(model.created), model.kms_key_arn
    st.source_s3_uri, st.job_name = model.source_s3_uri, model.job_name
    st.tags = dict(tags or {})
    st.managed_by = managed_by(st.tags)
    cmus = f", {model.cmu_per_copy} CMUs per copy" if model.cmu_per_copy else ""
    architecture = model.architecture or "architecture not reported"
    message = f"model {model.name} exists ({architecture}{cmus}); observed only"
    updates[str(ConditionType.READY)] = ("True", Reason.MODEL_FOUND, message)
    if old.get("exists") is False:
        out.events.append(("Normal", Reason.MODEL_FOUND, message))
    return _finish(out, st, old, updates, generation, stalled=False)


def _as_before(old: Mapping[str, Any], st: ObservedModelStatus) -> ObservedModelStatus:
    """What the last look saw, kept when this one could not look (its generation and time are this one's)."""
    seen = {k: v for k, v in old.items() if k not in ("conditions", "observedGeneration", "lastChecked")}
    kept = ObservedModelStatus.model_validate(seen).model_dump(exclude_none=True)
    return st.model_copy(update=kept)


def _finish(
    out: Observation,
    st: ObservedModelStatus,
    old: Mapping[str, Any],
    updates: dict[str, tuple[str, str, str] | None],
    generation: int | None,
    stalled: bool,
) -> Observation:
    """The status to write: every field (None removes one), the conditions merged, and kstatus's pair."""
    conditions = set_conditions(old.get("conditions"), updates, generation)
    ready = next((c for c in conditions if c["type"] == str(ConditionType.READY)), {})
    pair: dict[str, tuple[str, str, str] | None] = {
        str(ConditionType.RECONCILING): None,
        str(ConditionType.STALLED): None,
    }
    if ready.get("status") != "True":
        kind = ConditionType.STALLED if stalled else ConditionType.RECONCILING
        pair[str(kind)] = ("True", str(ready.get("reason") or "Observing"), str(ready.get("message") or ""))
    status = st.model_dump(by_alias=True, mode="json", exclude={"conditions"})
    status["conditions"] = set_conditions(conditions, pair, generation)
    out.status = status
    return out
