"""`spec.exportTo` on the real apiserver: the ConfigMap the operator creates holds the serving model's ARN
(an app's `envFrom` reads it), is owned by the object (garbage-collected with it), and a ConfigMap of that
name the operator did not create is left exactly as it was."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.helpers import wait_for
from tests.support.operator_process import apply_model, wait_condition

pytestmark = [pytest.mark.controlplane, pytest.mark.usefixtures("clean_faults")]


def _cm(kubectl, ns: str, name: str) -> dict | None:
    got = kubectl("get", "configmap", name, "-n", ns, "-o", "json", check=False)
    return json.loads(got.stdout) if got.returncode == 0 else None


def test_the_serving_arn_is_published_for_the_apps_and_goes_with_the_object(
    kubectl, operator, local_aws, namespace
):
    apply_model(kubectl, namespace, "m", exportTo={"configMapName": "llm"})
    obj = wait_condition(kubectl, namespace, "m", "Exported", "True", "ModelExported", timeout=120)
    cm = _cm(kubectl, namespace, "llm")
    assert cm is not None and cm["data"]["BEDROCK_MODEL_ARN"] == obj["status"]["modelArn"]
    assert cm["data"]["BEDROCK_REGION"] == "us-east-1" and cm["data"]["BEDROCK_MODEL_NAME"]
    owner = cm["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "BedrockImportedModel",
        obj["metadata"]["uid"],
        True,
    )
    kubectl("delete", "bedrockmodel", "m", "-n", namespace, "--wait=true", "--timeout=120s")
    wait_for(lambda: _cm(kubectl, namespace, "llm") is None, timeout=60, what="the ConfigMap to be collected")


def test_a_configmap_the_operator_did_not_create_is_left_alone(kubectl, operator, local_aws, namespace):
    mine = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": namespace},
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump({**mine, "data": {"KEEP": "me"}}))
    apply_model(kubectl, namespace, "m2", exportTo={"configMapName": "app-config"})
    wait_condition(kubectl, namespace, "m2", "Ready", "True", timeout=120)
    wait_condition(kubectl, namespace, "m2", "Exported", "False", "ExportConflict")
    assert _cm(kubectl, namespace, "app-config")["data"] == {"KEEP": "me"}
