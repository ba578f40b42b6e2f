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
from controller.api.policy import BedrockImportPolicy
from controller.tenancy.rules import Decision, Member, decide

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
    if not holds and (
        status.get("phase") == "Failed"
        or meta.get("deletionTimestamp")
        or annotations.get("bedrock.modelops.io/paused", "").lower() == "true"
    ):
        return None  # waits for nothing: it must not keep a place from the objects behind it
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
        self._policies: dict[str, BedrockImportPolicy] | None = None if list_policies else {}
        self._labels: dict[str, dict[str, str]] = {}
        self._members: dict[str, dict[str, Member]] = {}
        self._listed: set[str] = set()  # namespaces whose models were listed once
        self.version = 0  # bumped when a policy or a namespace's labels change

    # ---- watch events ------------------------------------------------------------------------
    def policy_changed(self, body: dict[str, Any], deleted: bool = False) -> None:
        name = body["metadata"]["name"]
        with self._lock:
            policies = self._policies if self._policies is not None else {}
            if deleted:
                policies.pop(name, None)
            else:
                parsed = self._parse(body)
                if parsed is None:
                    policies.pop(name, None)
                else:
                    policies[name] = parsed
            if self._policies is not None:
                self._policies = policies
            self.version += 1

    def namespace_changed(self, name: str, labels: dict[str, str] | None) -> None:
        with self._lock:
            if labels is None:
                self._labels.pop(name, None)
                self._members.pop(name, None)
                self._listed.discard(name)
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

    # ---- what a pass asks -------------------------------------------------------------------
    def decide(self, namespace: str, spec: BedrockImportedModelSpec, mode: str, region: str) -> Decision:
        return decide(self.policies(), self.labels(namespace), spec, mode, region, self.default)

    def policies(self) -> list[BedrockImportPolicy]:
        with self._lock:
            if self._policies is not None:
                return list(self._policies.values())
        assert self._list_policies is not None
        listed = {p.name: p for p in (self._parse(b) for b in self._list_policies()) if p is not None}
        with self._lock:
            if self._policies is None:  # events that came meanwhile are newer than the list: keep them
                self._policies = listed
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
                for m in found:
                    members.setdefault(m.uid, m)
                self._listed.add(namespace)
        with self._lock:
            return list(self._members.get(namespace, {}).values())

    @staticmethod
    def _parse(body: dict[str, Any]) -> BedrockImportPolicy | None:
        try:
            return BedrockImportPolicy.from_body(body)
        except (ValidationError, KeyError) as exc:  # the CRD's schema makes this rare: say it, ignore it
            LOG.warning(f"BedrockImportPolicy {body.get('metadata', {}).get('name')} is ignored: {exc}")
            return None
