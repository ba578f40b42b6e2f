"""Render the CustomResourceDefinition from the pydantic models, so the two cannot disagree.

Pydantic's JSON Schema is close to a Kubernetes structural schema; this module inlines `$ref`s, turns
`Optional[X]` (anyOf X|null) into X, drops what structural schemas forbid (title, null defaults,
additionalProperties: false) and keeps descriptions, constraints and the x-kubernetes-* extensions.
"""

from __future__ import annotations

from typing import Any

import yaml

from controller.api import models as m
from controller.api import observed as o
from controller.api import policy as p

_DROP = {"title", "additionalProperties_false"}


def _to_structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_to_structural(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**target, **node}  # the referencing site's description wins
    if "anyOf" in node:
        variants = [v for v in node.pop("anyOf") if v != {"type": "null"}]
        if len(variants) != 1:
            raise ValueError(f"cannot express anyOf {variants} in a structural schema")
        inner = variants[0]
        if "$ref" in inner:
            inner = _to_structural(inner, defs)
        extra_rules = node.pop("x-kubernetes-validations", []) + inner.get("x-kubernetes-validations", [])
        node = {**inner, **node}
        if extra_rules:
            node["x-kubernetes-validations"] = extra_rules
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs"):
            continue
        if key == "default" and value is None:
            continue
        if key == "additionalProperties" and value is False:
            continue
        if key == "properties":
            out[key] = {k: _to_structural(v, defs) for k, v in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _to_structural(value, defs)
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def schema_of(model: type) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one pydantic model (aliases, i.e. camelCase, as field names)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _to_structural(raw, raw.get("$defs", {}))


_READY = '.status.conditions[?(@.type=="Ready")]'


def _awaiting_status(schema: dict[str, Any]) -> dict[str, Any]:
    """The status schema with a default the apiserver shows until the operator's first write: a new object
    has no status, and kstatus (Flux's `wait`, kpt) reads an object without status or conditions as
    Current, so a Kustomization was Ready before any model existed. With `Reconciling=True` it reads
    InProgress from the first read on (and stays so while no operator runs)."""
    waiting = {
        "type": "Reconciling",
        "status": "True",
        "reason": "AwaitingOperator",
        "message": "the operator has not looked at this object yet",
        "lastTransitionTime": "1970-01-01T00:00:00Z",
    }
    return {**schema, "default": {"conditions": [waiting]}}


def _root(description: str, **parts: dict[str, Any]) -> dict[str, Any]:
    """The object schema of a kind: the usual top-level fields, then `spec` (and `status`) as given."""
    return {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "Versioned schema of this representation."},
            "kind": {"type": "string", "description": "REST resource this object represents."},
            "metadata": {"type": "object"},
            **parts,
        },
    }


def _crd(
    plural: str,
    singular: str,
    kind: str,
    short_names: tuple[str, ...],
    scope: str,
    root: dict[str, Any],
    columns: list[dict[str, Any]],
    status: bool = False,
) -> dict[str, Any]:
    """One CustomResourceDefinition of the group: one served version, in the `bedrock` category."""
    version: dict[str, Any] = {"name": m.VERSION, "served": True, "storage": True}
    if status:
        version["subresources"] = {"status": {}}
    version |= {"additionalPrinterColumns": columns, "schema": {"openAPIV3Schema": root}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{m.GROUP}"},
        "spec": {
            "group": m.GROUP,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": singular,
                "kind": kind,
                "listKind": f"{kind}List",
                "shortNames": list(short_names),
                "categories": ["bedrock"],
            },
            "versions": [version],
        },
    }


def build_crd() -> dict[str, Any]:
    root = _root(
        "An Amazon Bedrock Custom Model Import, kept in step with this manifest: the operator "
        "validates the model files, runs the import job, reports the model ARN, and deletes or "
        "retains the model when the object goes away.",
        spec=schema_of(m.BedrockImportedModelSpec),
        status=_awaiting_status(schema_of(m.BedrockImportedModelStatus)),
    )
    columns = [
        {
            "name": "Architecture",
            "type": "string",
            "jsonPath": ".status.architecture",
            "description": "Model architecture (spec.architecture, else as validation detected it).",
        },
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": f"{_READY}.status",
            "description": "Whether the imported model is ready to serve.",
        },
        {
            "name": "Synced",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Synced")].status',
            "description": "Whether Bedrock holds what the spec asks for (Unknown: nothing sent yet; False: "
            "retrying, or failed).",
        },
        {
            "name": "Paused",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Paused")].status',
            "description": "True while the operator leaves the model alone (the bedrock.modelops.io/paused "
            "annotation), False once resumed; empty if it never was paused.",
        },
        {
            "name": "Phase",
            "type": "string",
            "jsonPath": ".status.phase",
            "description": "Where the model is: Validating, Queued, Importing, Ready, Failed...",
        },
        {
            "name": "Reason",
            "type": "string",
            "jsonPath": f"{_READY}.reason",
            "description": "Reason of the Ready condition.",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {
            "name": "Serving",
            "type": "string",
            "jsonPath": ".status.revision",
            "description": "Revision of the model that serves now (empty: none), whatever PHASE says the "
            "spec's revision is doing.",
        },
        {
            "name": "Since",
            "type": "date",
            "jsonPath": ".status.servingSince",
            "description": "How long the serving model has served.",
        },
        {
            "name": "Region",
            "type": "string",
            "jsonPath": ".status.region",
            "priority": 1,
            "description": "AWS region of the model (pinned at the first import).",
        },
        {
            "name": "Model-ARN",
            "type": "string",
            "jsonPath": ".status.modelArn",
            "priority": 1,
            "description": "Imported model ARN (the modelId for InvokeModel).",
        },
        {
            "name": "Smoke-Test",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="SmokeTested")].reason',
            "priority": 1,
            "description": "Reason of the SmokeTested condition (spec.smokeTest).",
        },
        {
            "name": "Message",
            "type": "string",
            "jsonPath": f"{_READY}.message",
            "priority": 1,
            "description": "Message of the Ready condition.",
        },
    ]
    return _crd(m.PLURAL, m.SINGULAR, m.KIND, m.SHORT_NAMES, "Namespaced", root, columns, status=True)


def _column(name: str, path: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "type": kind, "jsonPath": path, "description": description}


def build_policy_crd() -> dict[str, Any]:
    """The cluster-scoped BedrockImportPolicy: `kubectl get bedrockimportpolicies` shows what each allows."""
    root = _root(
        "What the BedrockImportedModels of the selected namespaces may use: sources, service roles, "
        "regions, validation modes, tags, size, KMS, how many models, and which AWS account. Enforced at "
        "kubectl apply (ValidatingAdmissionPolicy) and again by the operator at every import.",
        spec=schema_of(p.BedrockImportPolicySpec),
    )
    columns = [
        _column("Namespaces", ".spec.namespaceSelector.matchLabels", "Labels of the selected namespaces."),
        _column("S3-Prefixes", ".spec.sources.s3Prefixes", "S3 folders sources must lie in."),
        _column("Create-Role", ".spec.serviceRoles.allowCreate", "Whether serviceRole.create is allowed."),
        _column("Validation", ".spec.validationModes", "Validation modes allowed."),
        _column("Max-Models", ".spec.maxModels", "Most models per namespace.", "integer"),
        _column("Account", ".spec.account.roleArn", "Role assumed to import into another account."),
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {**_column("Roles", ".spec.serviceRoles.roleArns", "Existing service roles allowed."), "priority": 1},
        {**_column("Regions", ".spec.regions", "Regions allowed (empty: any)."), "priority": 1},
        {**_column("Max-Size", ".spec.maxModelSize", "Largest weights allowed."), "priority": 1},
    ]
    return _crd(
        p.POLICY_PLURAL, p.POLICY_SINGULAR, p.POLICY_KIND, p.POLICY_SHORT_NAMES, "Cluster", root, columns
    )


def build_observed_crd() -> dict[str, Any]:
    """BedrockObservedModel: an existing model reported on, never changed."""
    root = _root(
        "An existing Amazon Bedrock imported model, observed only: the operator reports what Bedrock says "
        "about it (ARN, architecture, Custom Model Units, tags, KMS key, source, who manages it) and whether "
        "it still exists, and never tags, deletes or imports anything for it.",
        spec=schema_of(o.BedrockObservedModelSpec),
        status=_awaiting_status(schema_of(o.ObservedModelStatus)),
    )
    columns = [
        _column("Exists", ".status.exists", "Whether Bedrock shows the model.", "boolean"),
        _column("Ready", f"{_READY}.status", "The model exists and was read."),
        _column("Architecture", ".status.architecture", "modelArchitecture, as Bedrock reports it."),
        _column("CMUs", ".status.customModelUnits", "Custom Model Units per model copy.", "integer"),
        _column("Managed-By", ".status.managedBy", "Who manages it, from its tags."),
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {**_column("Model-ARN", ".status.modelArn", "The model's ARN."), "priority": 1},
        {**_column("Region", ".status.region", "Region of the model."), "priority": 1},
        {**_column("Message", f"{_READY}.message", "Message of the Ready condition."), "priority": 1},
    ]
    return _crd(
        o.OBSERVED_PLURAL,
        o.OBSERVED_SINGULAR,
        o.OBSERVED_KIND,
        o.OBSERVED_SHORT_NAMES,
        "Namespaced",
        root,
        columns,
        status=True,
    )


#: crds/ file name -> its CRD; `make crds` writes each.
CRD_FILES = {
    f"{m.GROUP}_{m.PLURAL}.yaml": build_crd,
    f"{m.GROUP}_{p.POLICY_PLURAL}.yaml": build_policy_crd,
    f"{m.GROUP}_{o.OBSERVED_PLURAL}.yaml": build_observed_crd,
}


def render_crd_yaml(file_name: str | None = None) -> str:
    """One CRD file's text (default: the models' CRD); `crd --all` prints every file, separated."""
    header = (
        "# Generated from controller/api/ by `bedrock-model-operator crd`; do not edit by hand.\n"
        "# Regenerate with: make crds\n"
    )
    build = CRD_FILES[file_name or f"{m.GROUP}_{m.PLURAL}.yaml"]
    return header + yaml.safe_dump(build(), sort_keys=False, width=100)
