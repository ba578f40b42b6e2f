"""The CRD on a real apiserver with the real kubectl: examples apply, bad manifests are refused at
apply time naming the field, `kubectl get bedrockmodels` shows the columns, `kubectl explain` teaches."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.helpers import wait_for
from tests.support.manifests import EXAMPLES, INVALID, manifest, valid_spec

pytestmark = pytest.mark.controlplane


def test_every_example_applies_and_is_listed_with_columns(kubectl, crd_installed, namespace):
    kubectl("apply", "-n", namespace, "--dry-run=server", "-f", str(EXAMPLES))
    assert kubectl("get", "bedrockmodels", "-n", namespace, "-o", "name").stdout.strip() == ""

    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES))
    names = {yaml.safe_load(p.read_text())["metadata"]["name"] for p in EXAMPLES.glob("*.yaml")}

    table = kubectl("get", "bedrockmodels", "-n", namespace).stdout.splitlines()
    assert table[0].split() == [
        *["NAME", "ARCHITECTURE", "READY", "SYNCED", "PAUSED", "PHASE", "REASON", "AGE", "SERVING", "SINCE"]
    ]
    assert {line.split()[0] for line in table[1:]} == names

    wide = kubectl("get", "bedrockmodel", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert wide[-4:] == ["REGION", "MODEL-ARN", "SMOKE-TEST", "MESSAGE"]
    # the category works too (it also lists the cluster's BedrockImportPolicies)
    listed = kubectl("get", "bedrock", "-n", namespace, "-o", "name").stdout.split()
    assert len([n for n in listed if n.startswith("bedrockimportedmodel")]) == len(names)


def _patch_status(kubectl, namespace: str, status: dict) -> None:
    """Write llama3-support-bot's status as the operator would (no operator involved)."""
    kubectl(
        "patch",
        "bedrockmodel",
        "llama3-support-bot",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )


def test_printer_columns_read_the_ready_condition(kubectl, crd_installed, namespace):
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "llama3.yaml"))
    status = {
        "status": {
            "phase": "Ready",
            "architecture": "Llama3.1",
            "region": "us-west-2",
            "modelArchitecture": "llama3",
            "modelArn": "arn:aws:bedrock:us-east-1:123456789012:imported-model/abcdef123456",
            "revision": "5ba1e4aa21df",
            "servingSince": "2026-11-29T00:00:00Z",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "ModelReady",
                    "message": "serving",
                    "lastTransitionTime": "2026-11-29T00:00:00Z",
                    "observedGeneration": 1,
                },
                {
                    "type": "Synced",
                    "status": "False",
                    "reason": "Throttled",
                    "message": "retrying",
                    "lastTransitionTime": "2026-11-29T00:00:00Z",
                    "observedGeneration": 1,
                },
            ],
        }
    }
    _patch_status(kubectl, namespace, status)
    table = kubectl("get", "bedrockmodels", "-n", namespace, "-o", "wide").stdout.splitlines()
    header, row = table[0].split(), table[1].split()
    assert header[:7] == ["NAME", "ARCHITECTURE", "READY", "SYNCED", "PAUSED", "PHASE", "REASON"]
    # the spec's spelling of the architecture, and the pinned region (shown even when spec.region is unset);
    # PAUSED is empty unless the annotation is set
    assert row[:6] == ["llama3-support-bot", "Llama3.1", "True", "False", "Ready", "ModelReady"]
    assert "us-west-2" in row
    assert "5ba1e4aa21df" in row  # SERVING: what serves, apart from what PHASE says the spec's revision does
    assert "arn:aws:bedrock:us-east-1:123456789012:imported-model/abcdef123456" in row
    paused = {  # as the operator writes it for the bedrock.modelops.io/paused annotation: True, as READY is
        "type": "Paused",
        "status": "True",
        "reason": "ReconcilePaused",
        "message": "paused",
        "lastTransitionTime": "2026-11-29T00:00:00Z",
    }
    status["status"]["conditions"].append(paused)
    _patch_status(kubectl, namespace, status)
    row = kubectl("get", "bedrockmodels", "-n", namespace).stdout.splitlines()[1].split()
    assert row[:7] == ["llama3-support-bot", "Llama3.1", "True", "False", "True", "Ready", "ModelReady"]


def test_kubectl_explain_teaches_the_source(kubectl, crd_installed):
    # the apiserver publishes a new CRD's OpenAPI a few seconds after it is Established
    out = wait_for(
        lambda: kubectl("explain", "bedrockimportedmodel.spec.source").stdout, what="CRD OpenAPI to publish"
    )
    text = " ".join(out.split())  # kubectl wraps descriptions
    assert "Exactly one of s3Uri (an S3 folder in Hugging Face format) or sageMakerModelName" in text
    assert "s3Uri" in out and "sageMakerModelName" in out
    assert "Hugging Face format" in kubectl("explain", "bedrockmodel.spec.source.s3Uri").stdout


@pytest.mark.parametrize("case, spec, field", INVALID, ids=[c[0] for c in INVALID])
def test_bad_manifest_is_refused_at_apply_naming_the_field(
    kubectl, crd_installed, namespace, case, spec, field
):
    doc = manifest(case, spec)
    proc = kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc), check=False)
    assert proc.returncode != 0, f"{case} was accepted"
    assert field in proc.stderr, proc.stderr
    assert kubectl("get", "bedrockmodels", "-n", namespace, "-o", "name").stdout.strip() == ""


@pytest.mark.parametrize("field, old, new", [("modelName", "llama-a", "llama-b")])
def test_identity_fields_are_immutable(kubectl, crd_installed, namespace, field, old, new):
    spec = valid_spec() | {field: old}
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest("immutable", spec)))
    proc = kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        check=False,
        input=yaml.safe_dump(manifest("immutable", spec | {field: new})),
    )
    assert proc.returncode != 0
    assert f"spec.{field}" in proc.stderr and "immutable" in proc.stderr


@pytest.mark.parametrize("change", ["set", "removed"])
def test_model_name_cannot_be_set_or_removed_after_creation(kubectl, crd_installed, namespace, change):
    """Setting modelName on an object created without one would be accepted and ignored (its model keeps
    the default name): refused, like changing it. Removing it likewise."""
    before, after = (valid_spec(), valid_spec() | {"modelName": "llama-b"})
    if change == "removed":
        before, after = after, before
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest("named", before)))
    proc = kubectl(
        "apply", "-n", namespace, "-f", "-", check=False, input=yaml.safe_dump(manifest("named", after))
    )
    assert proc.returncode != 0, f"modelName {change} after creation was accepted"
    assert "spec.modelName" in proc.stderr and "only be set when the object is created" in proc.stderr
    # other edits still go through
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump(manifest("named", before | {"tags": {"a": "b"}})),
    )


def test_region_may_change_the_operator_migrates(kubectl, crd_installed, namespace):
    """A region change is accepted at apply time: the operator imports in the new region and deletes the
    old model once the new one serves (end to end in tests/cluster/test_ownership_e2e.py)."""
    spec = valid_spec() | {"region": "us-east-1"}
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest("moves", spec)))
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump(manifest("moves", spec | {"region": "us-west-2"})),
    )
    got = json.loads(kubectl("get", "bedrockmodel", "moves", "-n", namespace, "-o", "json").stdout)
    assert got["spec"]["region"] == "us-west-2"


def test_deletion_policy_defaults_to_delete(kubectl, crd_installed, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest("defaults", valid_spec())))
    got = json.loads(kubectl("get", "bedrockmodel", "defaults", "-n", namespace, "-o", "json").stdout)
    assert got["spec"]["deletionPolicy"] == "Delete"


def test_an_https_source_is_refused_once_with_what_to_write(kubectl, crd_installed, namespace):
    """One mistake, one error, in words: an https:// URL is not an S3 URI."""
    spec = valid_spec() | {"source": {"s3Uri": "https://my-models.s3.amazonaws.com/llama3/"}}
    proc = kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest("web", spec)), check=False
    )
    assert proc.returncode != 0
    assert proc.stderr.count("spec.source.s3Uri") == 1, proc.stderr
    assert "must be an S3 URI, s3://bucket/prefix/" in proc.stderr
    bad_bucket = valid_spec() | {"source": {"s3Uri": "s3://My_Models/llama3/"}}
    proc = kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest("web", bad_bucket)), check=False
    )
    assert proc.stderr.count("spec.source.s3Uri") == 1 and "lowercase bucket name" in proc.stderr
