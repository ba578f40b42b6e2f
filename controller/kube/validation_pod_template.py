"""The validation pod template: what a cluster's owner adds to every validation Job's pod.

Validation pods must land where the cluster allows them (a node pool for batch work, tolerations, a
priority class), carry the labels and annotations its policies ask for (cost allocation, a service mesh
opting out), pull the image with the cluster's pull secret, and on some clusters reach AWS through host
networking or an env-configured proxy. The operator's own choices stay fixed: the hardened security
context, the command, the termination message, the memory (BMO_VALIDATION_JOB_MEMORY, which its OOMKilled
message names) and the labels it and the job controller find the pods by.

Everything is checked when the operator starts (the setting's validator parses it): a template that the API
would refuse, or a field that would be dropped, stops the operator there instead of failing every Job.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import yaml
from kubernetes import client
from kubernetes.utils import parse_quantity
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Labels the job controller sets and checks (a user value for them makes the API refuse the Job), and the
#: operator's own (it selects its Jobs and their pods by them).
_RESERVED_LABEL = re.compile(
    r"^(batch\.kubernetes\.io/.*|job-name|controller-uid|app\.kubernetes\.io/managed-by"
    r"|app\.kubernetes\.io/component|bedrock\.modelops\.io/.*)$"
)
#: Env the validator is started with and that the template may not replace.
_OPERATOR_ENV = {"AWS_REGION", "HOME"}
#: The validation container's CPU request and limit; a template may change them (request within limit).
DEFAULT_CPU = {"requests": "100m", "limits": "1"}


class _Strict(BaseModel):
    # numbers in YAML (`cpu: 2`, `value: 8080`, `team: 123`) are the strings Kubernetes reads them as
    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


class EnvVar(_Strict):
    name: str = Field(min_length=1)
    value: str = ""

    @field_validator("name")
    @classmethod
    def _not_the_operators(cls, name: str) -> str:
        if name in _OPERATOR_ENV:
            raise ValueError(f"{name} is set by the operator for the validator and cannot be replaced")
        return name


class CpuResources(_Strict):
    """CPU only: memory is BMO_VALIDATION_JOB_MEMORY (request = limit, and the OOMKilled message names it)."""

    cpu: str

    @field_validator("cpu")
    @classmethod
    def _quantity(cls, value: str) -> str:
        try:
            parse_quantity(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a Kubernetes quantity") from None
        return value


class Resources(_Strict):
    requests: CpuResources | None = None
    limits: CpuResources | None = None

    @model_validator(mode="after")
    def _request_within_limit(self) -> Resources:
        request = self.requests.cpu if self.requests else DEFAULT_CPU["requests"]
        limit = self.limits.cpu if self.limits else DEFAULT_CPU["limits"]
        if parse_quantity(request) > parse_quantity(limit):
            raise ValueError(f"the cpu request {request} is above the cpu limit {limit}")
        return self


class ValidationPodTemplate(_Strict):
    """Every field is optional; unknown fields are refused so a typo is not silently ignored."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    affinity: dict[str, Any] = Field(default_factory=dict)
    priority_class_name: str = Field("", alias="priorityClassName")
    image_pull_secrets: list[str] = Field(default_factory=list, alias="imagePullSecrets")
    resources: Resources = Field(default_factory=Resources)
    host_network: bool = Field(False, alias="hostNetwork")
    env: list[EnvVar] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _not_reserved(cls, labels: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in labels if _RESERVED_LABEL.match(k))
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)}: set by the job controller or the operator, which find the pods by it"
            )
        return labels

    @field_validator("tolerations")
    @classmethod
    def _tolerations(cls, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [_exactly(client.V1Toleration, item, "toleration") for item in items]

    @field_validator("affinity")
    @classmethod
    def _affinity(cls, doc: dict[str, Any]) -> dict[str, Any]:
        return _exactly(client.V1Affinity, doc, "affinity") if doc else doc

    @field_validator("image_pull_secrets")
    @classmethod
    def _secret_names(cls, names: list[str]) -> list[str]:
        if any(not n for n in names):
            raise ValueError("each image pull secret needs a name")
        return names


def _exactly(kind: type, doc: dict[str, Any], what: str) -> dict[str, Any]:
    """`doc` as the API reads it: the client's model drops fields it does not know, so a field that does not
    come back from a round trip is a typo (refused), as is a missing required one."""
    api = client.ApiClient()
    try:
        typed = api.deserialize(json.dumps(doc), kind.__name__, "application/json")
    except (ValueError, TypeError) as exc:  # the client's models are pydantic: say its first complaint
        problem = " ".join(str(exc).split("\n")[1:3]) or str(exc)
        raise ValueError(f"{what} {json.dumps(doc)}: {' '.join(problem.split())}") from None
    back = api.sanitize_for_serialization(typed)
    dropped = _dropped(doc, back)
    if dropped:
        raise ValueError(f"{what}: unknown field {dropped}")
    return back


def _dropped(sent: Any, kept: Any, path: str = "") -> str:
    if isinstance(sent, dict):
        for key, value in sent.items():
            here = f"{path}.{key}" if path else key
            if not isinstance(kept, dict) or key not in kept:
                return here
            inner = _dropped(value, kept[key], here)
            if inner:
                return inner
    elif isinstance(sent, list) and isinstance(kept, list):
        for i, (a, b) in enumerate(zip(sent, kept, strict=False)):
            inner = _dropped(a, b, f"{path}[{i}]")
            if inner:
                return inner
    return ""


@functools.lru_cache(maxsize=8)
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


def apply(template: ValidationPodTemplate, job: client.V1Job) -> client.V1Job:
    """Merge `template` into the Job the operator built (parse() has refused what would override it)."""
    pod_meta = job.spec.template.metadata
    pod = job.spec.template.spec
    container = pod.containers[0]
    pod_meta.labels = {**template.labels, **(pod_meta.labels or {})}
    pod_meta.annotations = {**template.annotations, **(pod_meta.annotations or {})}
    if template.node_selector:
        pod.node_selector = dict(template.node_selector)
    if template.tolerations:  # the round-tripped API form (the client's models take it as it is)
        pod.tolerations = [dict(t) for t in template.tolerations]
    if template.affinity:
        pod.affinity = dict(template.affinity)
    if template.priority_class_name:
        pod.priority_class_name = template.priority_class_name
    if template.image_pull_secrets:
        pod.image_pull_secrets = [client.V1LocalObjectReference(name=n) for n in template.image_pull_secrets]
    if template.host_network:
        pod.host_network = True
        pod.dns_policy = "ClusterFirstWithHostNet"
    for kind in ("requests", "limits"):
        cpu = getattr(template.resources, kind)
        if cpu is not None:
            current = dict(getattr(container.resources, kind) or {})
            setattr(container.resources, kind, {**current, "cpu": cpu.cpu})
    container.env = [
        *(container.env or []),
        *(client.V1EnvVar(name=e.name, value=e.value) for e in template.env),
    ]
    return job
