"""Observe-only end to end: a BedrockObservedModel on the real apiserver, the operator as a process, the
local Bedrock. It reports the model another object manages, changes nothing, and deleting it leaves the
model as it is."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.helpers import wait_for
from tests.support.operator_process import apply_model, condition, tags_of, wait_condition

pytestmark = [pytest.mark.controlplane, pytest.mark.usefixtures("clean_faults")]


def _observed(kubectl, ns: str, name: str) -> dict:
    return json.loads(kubectl("get", "bedrockobservedmodel", name, "-n", ns, "-o", "json").stdout)


def test_an_observed_model_is_reported_and_left_alone(kubectl, operator, local_aws, namespace):
    apply_model(kubectl, namespace, "served", tags={"team": "ml"})
    managed = wait_condition(kubectl, namespace, "served", "Ready", "True", "ModelReady")
    arn = managed["status"]["modelArn"]
    tags_before = tags_of(local_aws, arn)
    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockObservedModel",
        "metadata": {"name": "watch", "namespace": namespace},
        "spec": {"modelArn": arn},
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))

    def reported():
        obj = _observed(kubectl, namespace, "watch")
        return obj if condition(obj, "Ready").get("status") == "True" else None

    obj = wait_for(reported, timeout=60, what="the observed model's status")
    st = obj["status"]
    assert (
        st["exists"] is True and st["modelArn"] == arn and st["modelName"] == managed["status"]["modelName"]
    )
    assert st["architecture"] == "llama3" and st["customModelUnits"] >= 1 and st["tags"]["team"] == "ml"
    assert st["managedBy"].startswith(f"BedrockImportedModel {namespace}/served ")
    assert "finalizers" not in obj["metadata"]  # deleting it waits for nothing and deletes nothing
    row = kubectl("get", "bedrockobserved", "-n", namespace).stdout.splitlines()[1].split()
    assert row[:3] == ["watch", "true", "True"], row

    kubectl("delete", "bedrockobservedmodel", "watch", "-n", namespace, "--wait=true")
    assert tags_of(local_aws, arn) == tags_before
    assert arn in {m["modelArn"] for m in local_aws.state()["models"]}
    wait_condition(kubectl, namespace, "served", "Ready", "True")  # the managed object goes on serving

    bad = {
        **doc,
        "metadata": {"name": "both", "namespace": namespace},
        "spec": {"modelArn": arn, "modelName": "x"},
    }
    refused = kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert refused.returncode != 0 and "set exactly one of modelName and modelArn" in refused.stderr
