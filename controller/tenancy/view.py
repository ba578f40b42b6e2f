"""The operator's picture of tenancy: policies, namespace labels and each namespace's models.

Kept in memory and fed by watch events (no API call per reconcile). Each part is listed once from the API
before it is first used, so a pass made right after a start never decides on a half-filled picture (an
`open` default must not let a model through because its namespace's policy was not read yet).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from controller.api.models import IN_FLIGHT, BedrockImportedModelSpec
from controller.api.policy import BedrockImportPolicy, BedrockImportPolicySpec, NamespaceSelector
from controller.tenancy.rules import Decision, Member, decide, decide_observation

LOG = logging.getLogger("bmo.tenancy")

#: Reads every policy body; the labels of one namespace; the model bodies of one namespace.
PolicyLister = Callable[[], Iterable[dict[str, Any]]]
LabelReader = Callable[[str], dict[str, str]]
ModelLister = Callable[[str], Iterable[dict[str, Any]]]


def member_of(body: dict[str, Any]) -> Member | None:
    """How a model object counts against a namespace's limit (None: it does not count)."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    job = status.get("importJob") or {}
    holds = bool(status.get("modelArn")) or job.get("state") in IN_FLIGHT
    annotations = meta.get("annotations") or {}
    allowed = next((c for c in status.get("conditions") or [] if c.get("type") == "Allowed"), {})
    blocked_otherwise = status.get("phase") == "Blocked" and allowed.get("reason") != "ModelLimitReached"
    if not holds and (
        status.get("phase") == "Failed"
        or blocked_otherwise
        or meta.get("deletionTimestamp")
        or annotations.get("bedrock.modelops.io/paused", "").lower() == "true"
    ):
        return None  # waits for nothing (or for another rule): it must not keep a place from others
    return Member(meta.get("uid", ""), meta.get("creationTimestamp") or "", holds)


class TenancyView:
    def __init__(
        self,
        default: str,
        *,
        list_policies: PolicyLister | None = None,
        read_labels: LabelReader | None = None,
        list_models: ModelLister | None = None,
    ) -> None:
        self.default = default
        self._list_policies = list_policies
        self._read_labels = read_labels
        self._list_models = list_models
        self._lock = threading.Lock()
        self._policies: dict[str, BedrockImportPolicy] = {}
        self._policies_listed = list_policies is None
        # what watch events said before the first list was applied: name -> policy (None: deleted); they
        # are newer than that list, so they win over it
        self._policy_events: dict[str, BedrockImportPolicy | None] = {}
        self._labels: dict[str, dict[str, str]] = {}
        self._members: dict[str, dict[str, Member]] = {}
        self._listed: set[str] = set()  # namespaces whose models were listed once
        # uids dropped (deleted, failed...) in a namespace whose models were not listed yet
        self._gone: dict[str, set[str]] = {}
        self.version = 0  # bumped when a policy or a namespace's labels change

    # ---- watch events ------------------------------------------------------------------------
    def policy_changed(self, body: dict[str, Any], deleted: bool = False) -> None:
        name = body["metadata"]["name"]
        parsed = None if deleted else self._parse(body)
        with self._lock:
            if parsed is None:
                self._policies.pop(name, None)
            else:
                self._policies[name] = parsed
            if not self._policies_listed:
                self._policy_events[name] = parsed
            self.version += 1

    def namespace_changed(self, name: str, labels: dict[str, str] | None) -> None:
        with self._lock:
            if labels is None:
                self._labels.pop(name, None)
                self._members.pop(name, None)
                self._listed.discard(name)
                self._gone.pop(name, None)
            elif self._labels.get(name) != labels:
                self._labels[name] = dict(labels)
                self.version += 1

    def model_changed(self, body: dict[str, Any], deleted: bool = False) -> None:
        meta = body.get("metadata") or {}
        ns, uid = meta.get("namespace", ""), meta.get("uid", "")
        member = None if deleted else member_of(body)
        with self._lock:
            members = self._members.setdefault(ns, {})
            if member is None:
                members.pop(uid, None)
            else:
                members[uid] = member
            if member is None and ns not in self._listed:  # the list may still hold its older state
                self._gone.setdefault(ns, set()).add(uid)

    # ---- what a pass asks -------------------------------------------------------------------
    def decide(self, namespace: str, spec: BedrockImportedModelSpec, mode: str, region: str) -> Decision:
        return decide(self.policies(), self.labels(namespace), spec, mode, region, self.default)

    def decide_observation(self, namespace: str, region: str) -> Decision:
        return decide_observation(self.policies(), self.labels(namespace), region, self.default)

    def policies(self) -> list[BedrockImportPolicy]:
        with self._lock:
            if self._policies_listed:
                return list(self._policies.values())
        assert self._list_policies is not None
        listed = {p.name: p for p in (self._parse(b) for b in self._list_policies()) if p is not None}
        with self._lock:
            if not self._policies_listed:
                for name, policy in self._policy_events.items():  # newer than the list
                    if policy is None:
                        listed.pop(name, None)
                    else:
                        listed[name] = policy
                self._policies = listed
                self._policy_events.clear()
                self._policies_listed = True
            return list(self._policies.values())

    def labels(self, namespace: str) -> dict[str, str]:
        with self._lock:
            if namespace in self._labels or self._read_labels is None:
                return dict(self._labels.get(namespace, {}))
        labels = self._read_labels(namespace)
        with self._lock:
            return dict(self._labels.setdefault(namespace, dict(labels)))

    def members(self, namespace: str) -> list[Member]:
        if self._list_models is not None and namespace not in self._listed:
            found = [m for m in (member_of(b) for b in self._list_models(namespace)) if m is not None]
            with self._lock:
                members = self._members.setdefault(namespace, {})
                gone = self._gone.pop(namespace, set())
                for m in found:
                    if m.uid not in gone:  # deleted while the list was on its way
                        members.setdefault(m.uid, m)  # an event's view is newer than the list's
                self._listed.add(namespace)
        with self._lock:
            return list(self._members.get(namespace, {}).values())

    @staticmethod
    def _parse(body: dict[str, Any]) -> BedrockImportPolicy | None:
        try:
            return BedrockImportPolicy.from_body(body)
        except (ValidationError, KeyError, TypeError) as exc:
            # the CRD's schema makes this rare (an older or newer schema, a hand-edited object): fail closed.
            # It allows nothing in the namespaces its selector names, or in every one if that is unreadable.
            name = str((body.get("metadata") or {}).get("name") or "?")
            why = " ".join(str(exc).split())[:300]
            LOG.warning(f"BedrockImportPolicy {name} cannot be read, so it allows nothing: {why}")
            try:
                selector = NamespaceSelector.model_validate((body.get("spec") or {}).get("namespaceSelector"))
            except (ValidationError, TypeError):
                selector = NamespaceSelector()
            return BedrockImportPolicy(
                name=name, spec=BedrockImportPolicySpec(namespace_selector=selector), unreadable=why
            )
