"""`spec.exportTo`: the serving model's ARN (and name, region, CMUs, revision) in a ConfigMap of the
object's namespace, so a Deployment takes it from `envFrom`/`valueFrom` without Bedrock or cluster-wide
rights. Published when the model that serves changes (a new revision is promoted, not when it starts
importing) and checked on every event of the object; `status.exported` records what was published.
"""

from __future__ import annotations

from typing import Protocol

from controller.api.models import ExportRecord
from controller.api.reasons import ConditionType, Reason
from controller.kube.client import KUBE_ERRORS, api_error
from controller.reconcile.context import Pass


class Exports(Protocol):
    def publish(
        self, namespace: str, name: str, owner_name: str, owner_uid: str, data: dict[str, str]
    ) -> str: ...

    def withdraw(self, namespace: str, name: str, owner_uid: str) -> bool: ...


def data_of(p: Pass) -> dict[str, str]:
    """What the apps read: the model that serves now."""
    st = p.st
    return {
        "BEDROCK_MODEL_ARN": st.model_arn or "",
        "BEDROCK_MODEL_NAME": st.model_name or "",
        "BEDROCK_REGION": st.region or "",
        "BEDROCK_CUSTOM_MODEL_UNITS": str(st.custom_model_units.custom_model_units_per_model_copy)
        if st.custom_model_units and st.custom_model_units.custom_model_units_per_model_copy
        else "",
        "BEDROCK_MODEL_REVISION": st.revision or "",
    }


def publish(p: Pass, exports: Exports, event: bool) -> None:
    """Publish (or withdraw) at the end of a pass: when the model that serves or the ConfigMap's name
    changed since the last publication, and on every event (a ConfigMap deleted by hand comes back)."""
    st, target = p.st, p.spec.export_to
    record = st.exported
    ns, uid = p.view.namespace, p.view.uid
    try:
        if record is not None and (target is None or target.config_map_name != record.config_map_name):
            exports.withdraw(ns, record.config_map_name, uid)
            st.exported = None
            record = None
        if target is None:
            p.out.drop_condition(ConditionType.EXPORTED)
            return
        if not st.model_arn:
            p.out.condition(
                ConditionType.EXPORTED,
                "False",
                Reason.RECONCILING,
                f"ConfigMap {target.config_map_name} is written once a model serves",
            )
            return
        due = event or record is None or record.model_arn != st.model_arn
        if not due:
            return
        outcome = exports.publish(ns, target.config_map_name, p.view.name, uid, data_of(p))
    except KUBE_ERRORS as exc:
        err = api_error(exc, f"writing ConfigMap {target.config_map_name if target else ''}")
        p.out.retry_error = p.out.retry_error or err
        p.out.condition(ConditionType.EXPORTED, "False", err.reason, f"{err.message} (retrying)")
        return
    if outcome == "conflict":
        p.out.condition(
            ConditionType.EXPORTED,
            "False",
            Reason.EXPORT_CONFLICT,
            f"ConfigMap {target.config_map_name} exists and was not created by this object: it is left as it "
            "is; choose another spec.exportTo.configMapName, or delete that ConfigMap",
        )
        return
    st.exported = ExportRecord(config_map_name=target.config_map_name, model_arn=st.model_arn)
    message = f"ConfigMap {target.config_map_name} holds model {st.model_name} ({st.model_arn})"
    p.out.condition(ConditionType.EXPORTED, "True", Reason.MODEL_EXPORTED, message)
    if outcome == "written":
        p.out.event("Normal", Reason.MODEL_EXPORTED, message)
