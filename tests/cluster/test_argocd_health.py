"""The Argo CD health check (real Lua 5.1, as Argo CD runs it) over real objects the operator produced."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.helpers import wait_for
from tests.support.operator_process import apply_model, condition, get_obj, wait_condition

pytestmark = pytest.mark.controlplane

ARGO = Path(__file__).resolve().parents[2] / "deploy" / "argocd"
ROLE = "arn:aws:iam::123456789012:role/BedrockModelImport"
LLAMA = "s3://bmo-examples/llama3-8b-support/"


def health(obj: dict) -> tuple[str, str]:
    from lupa.lua51 import LuaRuntime

    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute((ARGO / "health.lua").read_text())
    return result["status"], result["message"]


def apply(kubectl, ns: str, name: str, **spec) -> dict:
    return apply_model(kubectl, ns, name, **spec)


def test_configmap_patch_carries_the_same_lua():
    cm = yaml.safe_load((ARGO / "argocd-cm-patch.yaml").read_text())
    key = "resource.customizations.health.bedrock.modelops.io_BedrockImportedModel"
    assert cm["data"][key].strip() == (ARGO / "health.lua").read_text().strip()


def test_health_of_real_objects(kubectl, operator, local_aws, namespace):
    from bmo_devtools.dev.model_factory import ModelSpec

    # a manifest as Argo CD sees it before the operator wrote anything
    fresh = apply(kubectl, namespace, "h-new") | {"metadata": {"name": "h-new", "generation": 1}}
    assert health(fresh)[0] == "Progressing"

    ready = wait_condition(kubectl, namespace, "h-new", "Ready", "True", "ModelReady")
    status, message = health(ready)
    assert status == "Healthy" and "ModelReady" in message

    local_aws.set_faults(job_duration_seconds=6.0)
    apply(kubectl, namespace, "h-importing")
    importing = wait_for(
        lambda: (
            (o := get_obj(kubectl, namespace, "h-importing"))["status"].get("phase")
            in ("Importing", "Queued")
            and o["status"].get("observedGeneration") == 1
            and o
        ),
        timeout=30,
        what="importing",
    )
    assert health(importing)[0] == "Progressing"
    local_aws.set_faults(job_duration_seconds=1.0)

    uri = local_aws.upload_model(
        "bmo-examples",
        f"{namespace}/q/",
        ModelSpec(config_overrides={"quantization_config": {"quant_method": "awq"}}),
    )
    apply(kubectl, namespace, "h-bad", source={"s3Uri": uri})
    failed = wait_condition(kubectl, namespace, "h-bad", "Validated", "False", "QuantizedModel")
    status, message = health(failed)
    assert status == "Degraded" and "QuantizedModel" in message

    apply(kubectl, namespace, "h-new", source={"s3Uri": uri})  # a bad change to a serving model
    serving = wait_condition(kubectl, namespace, "h-new", "Ready", "False", "QuantizedModel")
    status, message = health(serving)
    assert status == "Degraded" and "keeps serving" in message
    assert serving["status"]["modelArn"] == ready["status"]["modelArn"]  # the old model still serves

    kubectl("annotate", "bedrockmodel", "h-bad", "-n", namespace, "bedrock.modelops.io/paused=true")
    paused = wait_for(
        lambda: (
            (o := get_obj(kubectl, namespace, "h-bad"))
            and condition(o, "Paused").get("status") == "True"
            and o
        ),
        timeout=30,
        what="paused",
    )
    assert health(paused)[0] == "Suspended"
