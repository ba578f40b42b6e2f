"""A real GitOps engine end to end: Flux's source-controller and kustomize-controller (v1.7.3, built from
the Go module proxy) sync BedrockImportedModels from a git server on 127.0.0.1 into the real apiserver,
with the operator and the local Bedrock. `wait: true` (kstatus) reports Ready only once every model serves,
reports a model's own reason as soon as it fails for good (not a timeout), and a commit that removes a
manifest deletes (or, with Retain, retains) its model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.operator_process import LLAMA, ROLE, get_obj

pytestmark = [pytest.mark.controlplane, pytest.mark.usefixtures("clean_faults")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flux(control_plane, crd_installed) -> Iterator:
    from bmo_devtools.dev.flux import LocalFlux

    with LocalFlux(control_plane) as running:
        yield running


def _model(name: str, source: str, **spec) -> str:
    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": name},
        "spec": {"source": {"s3Uri": source}, "serviceRole": {"roleArn": ROLE}, "region": "us-east-1"} | spec,
    }
    return yaml.safe_dump(doc)


def _ready(flux, name: str) -> dict:
    out = flux.kubectl("get", "kustomization", name, "-n", "flux-system", "-o", "json")
    obj = json.loads(out.stdout)
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {})


def _gone(kubectl, ns: str, name: str) -> bool:
    return kubectl("get", "bedrockmodel", name, "-n", ns, check=False).returncode != 0


def test_flux_syncs_waits_reports_and_prunes_the_examples_from_git(
    kubectl, flux, operator, local_aws, namespace
):
    repo = f"examples-{namespace}"
    files = {f"models/{p.name}": p.read_text() for p in sorted((ROOT / "examples").glob("*.yaml"))}
    names = [yaml.safe_load(text)["metadata"]["name"] for text in files.values()]
    assert len(names) == 5
    commit = flux.push(repo, files, "the examples")
    flux.sync(repo, namespace, repo, "./models")

    # wait: true is Ready only once every model serves, and names the commit it applied
    ready = flux.wait_until(
        lambda: (r := _ready(flux, repo)).get("status") == "True" and r, 300, "Kustomization Ready"
    )
    assert commit in ready["message"], ready
    for name in names:
        obj = get_obj(kubectl, namespace, name)
        serving = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        assert serving["status"] == "True", (name, obj["status"])
    retained_arn = get_obj(kubectl, namespace, "llama3-prod-retained")["status"]["modelArn"]
    deleted_arn = get_obj(kubectl, namespace, "llama3-support-bot")["status"]["modelArn"]

    # a revision that fails for good is reported with the model, long before the 2-minute timeout
    # (a folder not there yet is waited for, as an upload: this one is there, and quantized)
    from bmo_devtools.dev.model_factory import ModelSpec

    broken = local_aws.upload_model(
        "bmo-examples",
        f"{namespace}/quantized/",
        ModelSpec(config_overrides={"quantization_config": {"quant_method": "gptq"}}),
    )
    files["models/broken.yaml"] = _model("broken", broken)
    flux.push(repo, files, "a model whose weights are quantized")
    started = time.monotonic()
    failed = flux.wait_until(
        lambda: (r := _ready(flux, repo)).get("status") == "False" and "broken" in r.get("message", "") and r,
        110,
        "the Kustomization to report the failed model",
    )
    assert time.monotonic() - started < 100, "reported by a timeout, not by kstatus's Failed"
    assert "BedrockImportedModel" in failed["message"], failed

    # a commit that removes manifests prunes them: Delete deletes the model, Retain keeps it
    for gone in ("models/broken.yaml", "models/llama3.yaml", "models/retained.yaml"):
        files.pop(gone)
    flux.push(repo, files, "three fewer")
    flux.wait_until(
        lambda: all(
            _gone(kubectl, namespace, n) for n in ("broken", "llama3-support-bot", "llama3-prod-retained")
        ),
        120,
        "pruned",
    )
    flux.wait_until(lambda: (r := _ready(flux, repo)).get("status") == "True" and r, 120, "Ready again")
    models = {m["modelArn"] for m in local_aws.state()["models"]}
    assert retained_arn in models and deleted_arn not in models

    # deleting the Kustomization prunes what it applied (prune: true); the examples' fixed model names are
    # free again for the rest of the session (another test plans the same examples)
    flux.kubectl("delete", "kustomization", repo, "-n", "flux-system", "--wait=true", "--timeout=120s")
    flux.wait_until(
        lambda: all(_gone(kubectl, namespace, n) for n in names), 120, "the synced models deleted"
    )
    local_aws.client("bedrock").delete_imported_model(modelIdentifier=retained_arn)


def test_a_new_object_reads_in_progress_before_the_operator_has_looked(kubectl, crd_installed, namespace):
    """kstatus reads an object without status as Current: Flux's `wait` passed before any model existed.
    The CRD's default status says Reconciling=True (AwaitingOperator) from the first read on."""
    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": "fresh", "namespace": namespace},
        "spec": {"source": {"s3Uri": LLAMA}, "serviceRole": {"roleArn": ROLE}},
    }
    created = json.loads(
        kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=yaml.safe_dump(doc)).stdout
    )
    [waiting] = created["status"]["conditions"]
    assert (waiting["type"], waiting["status"], waiting["reason"]) == (
        "Reconciling",
        "True",
        "AwaitingOperator",
    )
