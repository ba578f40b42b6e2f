"""Kubernetes-style conditions: set one without disturbing the others, keep lastTransitionTime honest."""

from __future__ import annotations

from typing import Any

from controller import rfc3339
from controller.api.reasons import CONDITION_ORDER

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
