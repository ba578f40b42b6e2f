"""Manifests shared by the API tests: a valid base and a table of invalid variants."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_docs() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))}


def valid_spec() -> dict[str, Any]:
    return {
        "source": {"s3Uri": "s3://my-models/llama3-8b/"},
        "architecture": "Llama3",
        "region": "us-east-1",
        "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/BedrockImport"},
        "tags": {"team": "ml"},
    }


def manifest(name: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": name},
    }
    if spec is not None:
        doc["spec"] = spec
    return doc


def _with(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(valid_spec())
    for key, value in changes.items():
        path = key.split("__")
        target = spec
        for part in path[:-1]:
            target = target.setdefault(part, {})
        if value is _DELETE:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    return spec


_DELETE = object()

# (case id, spec (None = no spec at all), text the apiserver's error must contain: the field path)
INVALID: list[tuple[str, dict[str, Any] | None, str]] = [
    ("s3-uri-not-s3-scheme", _with(source={"s3Uri": "https://my-models/llama3/"}), "spec.source.s3Uri"),
    ("s3-uri-uppercase-bucket", _with(source={"s3Uri": "s3://My-Models/llama3/"}), "spec.source.s3Uri"),
    ("s3-uri-space", _with(source={"s3Uri": "s3://my-models/llama 3/"}), "spec.source.s3Uri"),
    ("s3-uri-dot-dot", _with(source={"s3Uri": "s3://my-models/team-a/../team-b/"}), "spec.source.s3Uri"),
    ("s3-uri-too-long", _with(source={"s3Uri": "s3://my-models/" + "a" * 1020}), "spec.source.s3Uri"),
    ("two-sources", _with(source={"s3Uri": "s3://my-models/x/", "sageMakerModelName": "m1"}), "spec.source"),
    ("empty-source", _with(source={}), "spec.source"),
    ("no-source", _with(source=_DELETE), "spec.source"),
    (
        "sagemaker-name-bad-chars",
        _with(source={"sageMakerModelName": "my_model"}),
        "spec.source.sageMakerModelName",
    ),
    ("model-name-too-long", _with(modelName="m" * 64), "spec.modelName"),
    ("model-name-bad-chars", _with(modelName="my model"), "spec.modelName"),
    ("model-name-double-dash", _with(modelName="my--model"), "spec.modelName"),
    (
        "role-arn-malformed",
        _with(serviceRole={"roleArn": "arn:aws:iam::12345:user/bob"}),
        "spec.serviceRole.roleArn",
    ),
    (
        "role-arn-and-create",
        _with(serviceRole={"roleArn": "arn:aws:iam::123456789012:role/r", "create": True}),
        "spec.serviceRole",
    ),
    (
        "role-made-by-the-operator-for-another-object",
        _with(serviceRole={"roleArn": "arn:aws:iam::123456789012:role/bmo-import-team-b-m-1a2b3c4d"}),
        "spec.serviceRole.roleArn",
    ),
    ("no-role", _with(serviceRole={}), "spec.serviceRole"),
    ("role-create-false", _with(serviceRole={"create": False}), "spec.serviceRole"),
    ("too-many-tags", _with(tags={f"k{i}": "v" for i in range(41)}), "spec.tags"),
    ("tag-value-bad-chars", _with(tags={"team": "ml*ops"}), "spec.tags"),
    ("tag-key-bad-chars", _with(tags={"team!": "ml"}), "spec.tags"),
    ("tag-key-too-long", _with(tags={"k" * 129: "v"}), "spec.tags"),
    ("tag-key-reserved-aws", _with(tags={"aws:createdBy": "me"}), "spec.tags"),
    ("tag-key-reserved-operator", _with(tags={"bedrock.modelops.io/uid": "x"}), "spec.tags"),
    ("tag-value-too-long", _with(tags={"team": "v" * 257}), "spec.tags"),
    ("unknown-architecture", _with(architecture="Llama4"), "spec.architecture"),
    ("unknown-region", _with(region="eu-west-9"), "spec.region"),
    ("gpt-oss-outside-us-east-1", _with(architecture="GPTOSS", region="us-west-2"), "spec.region"),
    ("kms-key-malformed", _with(kmsKeyId="my key"), "spec.kmsKeyId"),
    (
        "vpc-no-subnets",
        _with(vpcConfig={"subnetIds": [], "securityGroupIds": ["sg-1"]}),
        "spec.vpcConfig.subnetIds",
    ),
    (
        "vpc-17-subnets",
        _with(vpcConfig={"subnetIds": [f"subnet-{i}" for i in range(17)], "securityGroupIds": ["sg-1"]}),
        "spec.vpcConfig.subnetIds",
    ),
    (
        "vpc-6-security-groups",
        _with(vpcConfig={"subnetIds": ["subnet-1"], "securityGroupIds": [f"sg-{i}" for i in range(6)]}),
        "spec.vpcConfig.securityGroupIds",
    ),
    (
        "vpc-missing-security-groups",
        _with(vpcConfig={"subnetIds": ["subnet-1"]}),
        "spec.vpcConfig.securityGroupIds",
    ),
    (
        "vpc-subnet-bad-chars",
        _with(vpcConfig={"subnetIds": ["subnet_1"], "securityGroupIds": ["sg-1"]}),
        "spec.vpcConfig.subnetIds",
    ),
    ("deletion-policy-unknown", _with(deletionPolicy="Orphan"), "spec.deletionPolicy"),
    ("validation-mode-unknown", _with(validation={"mode": "Always"}), "spec.validation.mode"),
    ("unknown-field", _with(sourceUri="s3://my-models/x/"), "sourceUri"),
    ("no-spec", None, "spec"),
]
