"""Kubernetes-style conditions: set one without disturbing the others, keep lastTransitionTime honest."""

from __future__ import annotations

from typing import Any

from controller import rfc3339
from controller.api.reasons import CONDITION_ORDER, ConditionType, Phase

#: The order conditions appear in; unknown types follow.
CONDITION_TYPES = tuple(str(t) for t in CONDITION_ORDER)


def now_rfc3339() -> str:
    return rfc3339.now()


def set_conditions(
    current: list[dict[str, Any]] | None,
    updates: dict[str, tuple[str, str, str] | None],
    generation: int | None,
    now: str | None = None,
) -> list[dict[str, Any]]:
    """Return the condition list with `updates` ({type: (status, reason, message)}) applied.

    lastTransitionTime changes only when a condition's status changes, as the API conventions ask.
    """
    now = now or now_rfc3339()
    by_type = {c["type"]: dict(c) for c in current or [] if isinstance(c, dict) and "type" in c}
    for ctype, update in updates.items():
        if update is None:  # a condition that no longer applies (e.g. SourceInSync of a replaced model)
            by_type.pop(ctype, None)
            continue
        status, reason, message = update
        old = by_type.get(ctype)
        by_type[ctype] = {
            "type": ctype,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == status else now,
            "observedGeneration": generation,
        }
    order = {t: i for i, t in enumerate(CONDITION_TYPES)}
    return sorted(by_type.values(), key=lambda c: (order.get(c["type"], len(order)), c["type"]))


#: phases in which the spec's revision cannot go on until something changes (kstatus: Failed)
_STALLED_PHASES = (str(Phase.FAILED), str(Phase.BLOCKED))


def progress_updates(
    conditions: list[dict[str, Any]], phase: str | None
) -> dict[str, tuple[str, str, str] | None]:
    """kstatus's conditions from the rest of status, so that every tool that reads kstatus (Flux's health
    checks and `wait: true`, `kpt live status`, `kubectl wait --for=condition=Stalled`) reads it right.

    Ready True (the spec's revision serves): neither. Paused, a revision that failed for good, a spec the
    operator or a policy refuses: `Stalled=True`, with Ready's reason and message (or the pause's). Else
    work is under way: `Reconciling=True`, with Ready's reason and message (what it is doing or waiting for).
    """
    by_type = {c.get("type"): c for c in conditions if isinstance(c, dict)}
    ready = by_type.get(str(ConditionType.READY)) or {}
    paused = by_type.get(str(ConditionType.PAUSED)) or {}
    gone: dict[str, tuple[str, str, str] | None] = {
        str(ConditionType.RECONCILING): None,
        str(ConditionType.STALLED): None,
    }
    if ready.get("status") == "True":
        return gone
    if paused.get("status") == "True":
        cause = paused
    elif phase in _STALLED_PHASES:
        cause = ready
    else:
        why = (str(ready.get("reason") or "Reconciling"), str(ready.get("message") or ""))
        return {**gone, str(ConditionType.RECONCILING): ("True", *why)}
    why = (str(cause.get("reason") or "Stalled"), str(cause.get("message") or ""))
    return {**gone, str(ConditionType.STALLED): ("True", *why)}
