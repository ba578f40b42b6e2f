"""The validation pod template: what a cluster's owner adds to every validation Job's pod.

Validation pods must land where the cluster allows them (a node pool for batch work, tolerations, a
priority class), carry the labels and annotations its policies ask for (cost allocation, a service mesh
opting out), pull the image with the cluster's pull secret, get the resources the largest model's headers
need, and on some clusters reach AWS through host networking or an env-configured proxy. The operator's
own choices stay fixed: the hardened security context, the command, the termination message and the
labels the operator finds its Jobs by (a template cannot override those).
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from kubernetes import client
from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EnvVar(_Strict):
    name: str = Field(min_length=1)
    value: str = ""


class ValidationPodTemplate(_Strict):
    """Every field is optional; unknown fields are refused so a typo is not silently ignored."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    affinity: dict[str, Any] = Field(default_factory=dict)
    priority_class_name: str = Field("", alias="priorityClassName")
    image_pull_secrets: list[str] = Field(default_factory=list, alias="imagePullSecrets")
    resources: dict[str, dict[str, str]] = Field(default_factory=dict)
    host_network: bool = Field(False, alias="hostNetwork")
    env: list[EnvVar] = Field(default_factory=list)


def parse(text: str) -> ValidationPodTemplate:
    """YAML or JSON text (empty: nothing added). Raises ValueError naming what is wrong."""
    if not text.strip():
        return ValidationPodTemplate()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML or JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise ValueError("must be a mapping (labels, nodeSelector, tolerations, ...)")
    doc = dict(doc)
    secrets = doc.get("imagePullSecrets")
    if isinstance(secrets, list):  # the Kubernetes form ({name: x}) and plain names are both taken
        doc["imagePullSecrets"] = [s.get("name", "") if isinstance(s, dict) else s for s in secrets]
    return ValidationPodTemplate.model_validate(doc)


def apply(template: ValidationPodTemplate, job: client.V1Job, protected_env: set[str]) -> client.V1Job:
    """Merge `template` into the Job the operator built; the operator's labels and env names win."""
    pod_meta = job.spec.template.metadata
    pod = job.spec.template.spec
    container = pod.containers[0]
    pod_meta.labels = {**template.labels, **(pod_meta.labels or {})}
    pod_meta.annotations = {**template.annotations, **(pod_meta.annotations or {})}
    if template.node_selector:
        pod.node_selector = dict(template.node_selector)
    if template.tolerations:
        pod.tolerations = [_k8s(client.V1Toleration, t) for t in template.tolerations]
    if template.affinity:
        pod.affinity = _k8s(client.V1Affinity, template.affinity)
    if template.priority_class_name:
        pod.priority_class_name = template.priority_class_name
    if template.image_pull_secrets:
        pod.image_pull_secrets = [client.V1LocalObjectReference(name=n) for n in template.image_pull_secrets]
    if template.host_network:
        pod.host_network = True
        pod.dns_policy = "ClusterFirstWithHostNet"
    for kind in ("requests", "limits"):
        if template.resources.get(kind):
            current = dict(getattr(container.resources, kind) or {})
            setattr(container.resources, kind, {**current, **template.resources[kind]})
    extra = [client.V1EnvVar(name=e.name, value=e.value) for e in template.env if e.name not in protected_env]
    container.env = [*(container.env or []), *extra]
    return job


def _k8s(kind: type, doc: dict[str, Any]) -> Any:
    """A dict in the API's camelCase as the client's typed object (what the API server will see)."""
    return client.ApiClient().deserialize(json.dumps(doc), kind.__name__, "application/json")
