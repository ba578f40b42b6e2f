"""The API without a server: the committed CRD is the one the models generate, and it teaches the API."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from bmo_devtools.dev.controlplane import CRD_FILE, OBSERVED_CRD_FILE, POLICY_CRD_FILE
from controller.api import crd
from controller.api.models import BedrockImportedModelSpec, BedrockImportedModelStatus, default_model_name
from tests.support.manifests import INVALID, example_docs


def test_committed_crds_are_generated_from_the_models():
    assert yaml.safe_load(CRD_FILE.read_text()) == crd.build_crd(), "run `make crds` and commit the result"
    assert yaml.safe_load(POLICY_CRD_FILE.read_text()) == crd.build_policy_crd(), "run `make crds`"
    assert yaml.safe_load(OBSERVED_CRD_FILE.read_text()) == crd.build_observed_crd(), "run `make crds`"


def _walk(schema: dict, path: str):
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}{{}}")


def test_every_spec_and_status_field_has_a_description():
    root = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    missing = [
        path
        for part in ("spec", "status")
        for path, node in _walk(root["properties"][part], part)
        if not path.endswith(("[]", "{}")) and not node.get("description")
    ]
    assert missing == []


def _field_tree(model) -> dict:
    """Field names (camelCase aliases) of a pydantic model, nested."""
    tree = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        sub = None
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            for inner in (candidate, *getattr(candidate, "__args__", ())):
                if isinstance(inner, type) and hasattr(inner, "model_fields"):
                    sub = _field_tree(inner)
        tree[alias] = sub
    return tree


def _schema_tree(schema: dict) -> dict:
    tree = {}
    for name, sub in schema.get("properties", {}).items():
        node = sub.get("items", sub)
        tree[name] = _schema_tree(node) if "properties" in node else None
    return tree


def test_crd_schema_and_models_have_the_same_fields():
    root = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert _schema_tree(root["spec"]) == _field_tree(BedrockImportedModelSpec)
    assert _schema_tree(root["status"]) == _field_tree(BedrockImportedModelStatus)


@pytest.mark.parametrize("name, doc", example_docs().items())
def test_examples_are_valid_specs(name, doc):
    BedrockImportedModelSpec.model_validate(doc["spec"])


# Every rule (field patterns and the CEL cross-field rules alike) is enforced by the models too, so the
# operator never trusts a spec the apiserver would refuse. Only "no spec at all" is the apiserver's alone.
_APISERVER_ONLY = {"no-spec"}


@pytest.mark.parametrize(
    "case, spec, field",
    [c for c in INVALID if c[0] not in _APISERVER_ONLY],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_models_refuse_what_the_schema_refuses(case, spec, field):
    with pytest.raises(ValidationError):
        BedrockImportedModelSpec.model_validate(spec)


@pytest.mark.parametrize(
    "namespace, name",
    [("team-a", "llama3"), ("ns", "a.b.c"), ("x" * 63, "y" * 200), ("n", "-weird_-name-")],
)
def test_default_model_name_fits_bedrock(namespace, name):
    import re

    from controller.api.models import MODEL_NAME_PATTERN

    got = default_model_name(namespace, name, "0a1b2c3d")
    assert 1 <= len(got) <= 63
    assert re.fullmatch(MODEL_NAME_PATTERN, got)
    assert got.endswith("-0a1b2c3d")
    assert default_model_name(namespace, name, "0a1b2c3d") == got
