"""`bedrock-model-operator orphans` against the real apiserver and the local Bedrock: each kind of orphan is
found with its reason, age and CMUs, and nothing a live object serves, retains in status, or observes is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.support.helpers import wait_for
from tests.support.operator_process import LLAMA, ROLE, apply_model, get_obj, wait_condition

pytestmark = [pytest.mark.controlplane, pytest.mark.usefixtures("clean_faults")]
REGION = "us-west-2"
FORCE = '{"metadata":{"finalizers":null}}'


def _outside(local_aws, name: str, tags: dict[str, str] | None = None) -> str:
    """A model made without the operator (by hand, or by another cluster's operator)."""
    bedrock = local_aws.client("bedrock", region=REGION)
    bedrock.create_model_import_job(
        jobName=f"{name}-job",
        importedModelName=name,
        roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": LLAMA}},
        **({"importedModelTags": [{"key": k, "value": v} for k, v in tags.items()]} if tags else {}),
    )

    def made():
        listed = bedrock.list_imported_models()["modelSummaries"]
        return next((m["modelArn"] for m in listed if m["modelName"] == name), None)

    return wait_for(made, timeout=60, what=f"model {name}")


def _orphans(control_plane, local_aws) -> dict[str, dict]:
    env = {**os.environ, **control_plane.env(), **local_aws.env()}
    proc = subprocess.run(
        [sys.executable, "-m", "controller.cli", "orphans", "--region", REGION, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {o["arn"]: o for o in json.loads(proc.stdout)["orphans"]}


def test_every_kind_of_orphan_is_found_and_nothing_accounted_for(
    kubectl, control_plane, operator, local_aws, namespace
):
    hand_made = _outside(local_aws, f"{namespace}-by-hand")
    observed = _outside(local_aws, f"{namespace}-watched")
    theirs = _outside(
        local_aws,
        f"{namespace}-theirs",
        {
            "bedrock.modelops.io/cluster-id": "another-cluster",
            "bedrock.modelops.io/uid": "u-1",
            "bedrock.modelops.io/namespace": "team-x",
            "bedrock.modelops.io/name": "m",
        },
    )
    for name, policy in (("served", "Delete"), ("kept", "Retain"), ("forced", "Delete")):
        apply_model(kubectl, namespace, name, region=REGION, deletionPolicy=policy)
    arns = {
        name: wait_condition(kubectl, namespace, name, "Ready", "True", timeout=180)["status"]["modelArn"]
        for name in ("served", "kept", "forced")
    }
    kubectl("delete", "bedrockmodel", "kept", "-n", namespace, "--wait=true", "--timeout=120s")
    # the finalizer removed by hand while the deletion waits (paused: the operator leaves it alone)
    kubectl("annotate", "bedrockmodel", "forced", "-n", namespace, "bedrock.modelops.io/paused=true")
    kubectl("delete", "bedrockmodel", "forced", "-n", namespace, "--wait=false")
    wait_for(
        lambda: "deletionTimestamp" in get_obj(kubectl, namespace, "forced")["metadata"],
        timeout=30,
        what="the deletion to start",
    )
    kubectl("patch", "bedrockmodel", "forced", "-n", namespace, "--type=merge", "-p", FORCE)
    wait_for(
        lambda: kubectl("get", "bedrockmodel", "forced", "-n", namespace, check=False).returncode != 0,
        timeout=30,
        what="the object to go",
    )
    watch = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockObservedModel",
        "metadata": {"name": "watch", "namespace": namespace},
        "spec": {"modelArn": observed},
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(watch))

    found = _orphans(control_plane, local_aws)
    assert arns["served"] not in found and observed not in found
    kinds = {arn: found[arn]["kind"] for arn in (hand_made, theirs, arns["kept"], arns["forced"])}
    assert kinds == {
        hand_made: "unowned",
        theirs: "other-cluster",
        arns["kept"]: "retained",
        arns["forced"]: "object-gone",
    }
    assert (
        f"{namespace}/kept" in found[arns["kept"]]["why"]
        and f"{namespace}/forced" in found[arns["forced"]]["why"]
    )
    for arn in kinds:
        o = found[arn]
        assert o["custom_model_units"] >= 1 and o["age_days"] is not None and o["age_days"] < 1
        assert (
            o["delete_command"]
            == f"aws bedrock delete-imported-model --model-identifier {arn} --region {REGION}"
        )
    assert set(kinds) <= {m["modelArn"] for m in local_aws.state()["models"]}  # read-only: none deleted
