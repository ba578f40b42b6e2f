"""The import policies, enforced again at reconcile: a policy may change after `kubectl apply`, and a model's
size and a namespace's count are known only now. A refusal imports nothing new; what serves keeps serving.

The `Allowed` condition says on every pass whether the spec is within the namespace's policies, naming the
policy, the field and the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.api.reasons import ConditionType, Phase, Reason
from controller.reconcile.context import Pass
from controller.tenancy.rules import (
    Decision,
    Member,
    Violation,
    check_count,
    check_resolved_source,
    check_size,
)


def show(p: Pass, decision: Decision) -> None:
    """The Allowed condition, for every object (also those whose model serves and needs nothing new)."""
    if decision.violations:
        text = decision.summary()
        if p.up_to_date:
            text = f"the serving model is left serving; a new revision would be refused: {text}"
        p.out.condition(ConditionType.ALLOWED, "False", decision.violations[0].rule, text)
    elif decision.policies:
        p.out.condition(ConditionType.ALLOWED, "True", Reason.POLICY_ALLOWS, decision.summary())
    else:
        p.out.condition(ConditionType.ALLOWED, "True", Reason.NO_POLICY_OPEN, decision.summary())


def may_import(p: Pass, decision: Decision, members: list[Member], resolve: Callable[[Pass], str]) -> bool:
    """Before anything is read: the spec's rules, where a SageMaker source's files really are (`resolve`:
    DescribeModel, nothing of the files), and the namespace's count. False: the pass says why and stops."""
    if decision.violations:
        refuse(p, decision.violations[0], decision.summary())
        return False
    sagemaker = p.spec.source.sage_maker_model_name and decision.policies
    if sagemaker and (v := check_resolved_source(decision, resolve(p))) is not None:
        refuse(p, v, v.text())
        return False
    if (v := check_count(decision, p.view.uid, members)) is not None:
        refuse(p, v, v.text())
        return False
    return True


def may_start(p: Pass, decision: Decision) -> bool:
    """After validating: the size of the weights, which only validation measures."""
    if (v := check_size(decision, p.st.validation.weight_bytes if p.st.validation else None)) is not None:
        refuse(p, v, v.text())
        return False
    return True


def refuse(p: Pass, v: Violation, message: str) -> None:
    """Nothing new is imported; a serving model keeps serving. Looked at again on every poll: a policy may
    be loosened, a namespace relabelled, or a place freed."""
    p.out.condition(ConditionType.ALLOWED, "False", v.rule, message)
    p.out.condition(ConditionType.READY, "False", v.rule, p.keeps_serving(message))
    if not p.serving:
        p.out.condition(ConditionType.IMPORTED, "False", v.rule, f"no import job was started: {message}")
    if p.st.validated_inputs != p.inputs:  # not "the operator is working on it": nothing is, until allowed
        p.out.condition(ConditionType.VALIDATED, "Unknown", v.rule, f"not validated while refused: {message}")
    p.out.condition(
        ConditionType.SYNCED, "False", v.rule, f"nothing is sent to Bedrock while refused: {message}"
    )
    p.st.phase = Phase.BLOCKED
    p.st.queue_position = None
    p.st.queued_at = p.st.queued_order = None
