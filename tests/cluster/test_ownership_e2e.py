"""Ownership, no leak, no stall: one end-to-end test per defect a review found, on the real control plane
with the operator as a process and the local Bedrock.

The shared operator runs with the production resync (300 s): whatever these tests see happens because an
event or an in-flight import made the operator look, not because a short resync hid a missed event.
"""

from __future__ import annotations

import pytest
import yaml

from tests.support.helpers import wait_for
from tests.support.operator_process import (
    LLAMA,
    MISTRAL,
    ROLE,
    apply_model,
    apply_seen,
    condition,
    events,
    get_obj,
    jobs_of,
    models_of,
    tags_of,
    wait_condition,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.usefixtures("clean_faults")]

UID_TAG = "bedrock.modelops.io/uid"


@pytest.fixture
def second_namespace(kubectl, namespace):
    name = f"{namespace}-x"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def model_doc(ns: str, name: str, **spec) -> dict:
    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"source": {"s3Uri": LLAMA}, "serviceRole": {"roleArn": ROLE}} | spec,
    }
    return doc


def ready(kubectl, ns: str, name: str, timeout: float = 60) -> dict:
    return wait_condition(kubectl, ns, name, "Ready", "True", "ModelReady", timeout=timeout)


def test_names_that_flatten_alike_get_their_own_models(
    kubectl, operator, local_aws, namespace, second_namespace
):
    # "<ns>/x-b" and "<ns>-x/b" both flatten to "<ns>-x-b"
    apply_model(kubectl, namespace, "x-b")
    apply_model(kubectl, second_namespace, "b")
    one, two = ready(kubectl, namespace, "x-b"), ready(kubectl, second_namespace, "b")
    assert one["status"]["modelArn"] != two["status"]["modelArn"]
    assert one["status"]["modelName"] != two["status"]["modelName"]
    assert tags_of(local_aws, two["status"]["modelArn"])[UID_TAG] == two["metadata"]["uid"]

    kubectl("delete", "bedrockmodel", "x-b", "-n", namespace, "--timeout=60s")
    arns = {m["modelArn"] for m in local_aws.state()["models"]}
    assert one["status"]["modelArn"] not in arns and two["status"]["modelArn"] in arns
    assert condition(get_obj(kubectl, second_namespace, "b"), "Ready")["status"] == "True"


def test_adopt_existing_never_takes_another_objects_model(
    kubectl, operator, local_aws, namespace, second_namespace
):
    shared = f"{namespace}-shared"
    apply_model(kubectl, namespace, "owner", modelName=shared)
    owner = ready(kubectl, namespace, "owner")
    apply_model(kubectl, second_namespace, "thief", modelName=shared, adoptExisting=True)
    thief = wait_condition(kubectl, second_namespace, "thief", "Imported", "False", "ModelNameConflict")
    assert f"{namespace}/owner" in condition(thief, "Imported")["message"]  # names the owner
    assert tags_of(local_aws, owner["status"]["modelArn"])[UID_TAG] == owner["metadata"]["uid"]

    kubectl("delete", "bedrockmodel", "thief", "-n", second_namespace, "--timeout=60s")
    assert owner["status"]["modelArn"] in {m["modelArn"] for m in local_aws.state()["models"]}


def test_a_source_edited_and_reverted_mid_import_leaves_no_model(kubectl, operator, local_aws, namespace):
    apply_model(kubectl, namespace, "rev")
    first = ready(kubectl, namespace, "rev")
    local_aws.set_faults(job_duration_seconds=4.0)
    apply_model(kubectl, namespace, "rev", source={"s3Uri": MISTRAL})
    wait_for(
        lambda: (
            (get_obj(kubectl, namespace, "rev")["status"].get("importJob") or {}).get("state") == "InProgress"
        ),
        timeout=30,
        what="the new revision's job running",
    )
    apply_model(kubectl, namespace, "rev")  # revert while it imports
    back = ready(kubectl, namespace, "rev")
    assert back["status"]["modelArn"] == first["status"]["modelArn"]

    def settled():
        st = get_obj(kubectl, namespace, "rev")["status"]
        return (st.get("importJob") or {}).get("state") == "Completed" and not st.get("superseded")

    wait_for(settled, timeout=60, what="the reverted revision's model deleted")
    assert [m["modelArn"] for m in models_of(local_aws, namespace, "rev")] == [first["status"]["modelArn"]]
    assert len(jobs_of(local_aws, namespace, "rev")) == 2  # both jobs ran; only the serving model is left


def test_region_is_pinned_and_a_change_migrates_without_a_leak(kubectl, operator, local_aws, namespace):
    kubectl("apply", "-f", "-", input=yaml.safe_dump(model_doc(namespace, "pin")))  # no spec.region
    first = ready(kubectl, namespace, "pin")["status"]
    assert first["region"] == "us-east-1"  # the operator's default, now pinned
    row = kubectl("get", "bedrockmodel", "pin", "-n", namespace, "-o", "wide").stdout.splitlines()[1]
    assert "us-east-1" in row.split()

    kubectl("apply", "-f", "-", input=yaml.safe_dump(model_doc(namespace, "pin", region="us-east-1")))
    same = ready(kubectl, namespace, "pin")["status"]
    assert same["modelArn"] == first["modelArn"] and len(jobs_of(local_aws, namespace, "pin")) == 1

    kubectl("apply", "-f", "-", input=yaml.safe_dump(model_doc(namespace, "pin", region="us-west-2")))
    moved = wait_for(
        lambda: (o := ready(kubectl, namespace, "pin"))["status"]["region"] == "us-west-2" and o,
        timeout=90,
        what="the model migrated to us-west-2",
    )["status"]
    assert ":us-west-2:" in moved["modelArn"]
    wait_for(
        lambda: [m["region"] for m in models_of(local_aws, namespace, "pin")] == ["us-west-2"],
        timeout=60,
        what="the us-east-1 model deleted",
    )
    assert "RegionMigration" in [e["reason"] for e in events(kubectl, namespace, "pin")]


def test_a_paused_head_of_line_does_not_block_the_queue(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(job_duration_seconds=3.0)
    for name in ("running", "head", "next"):
        apply_seen(kubectl, namespace, name)  # in line before the next arrives
    wait_for(
        lambda: get_obj(kubectl, namespace, "head")["status"].get("queuePosition") == 1,
        timeout=30,
        what="head first in line",
    )
    kubectl("annotate", "bedrockmodel", "head", "-n", namespace, "bedrock.modelops.io/paused=true")
    ready(kubectl, namespace, "running", timeout=60)
    ready(kubectl, namespace, "next", timeout=60)  # started although `head` was before it in line
    assert jobs_of(local_aws, namespace, "head") == []
    kubectl("annotate", "bedrockmodel", "head", "-n", namespace, "bedrock.modelops.io/paused-")
    ready(kubectl, namespace, "head", timeout=60)


def test_a_failed_head_of_line_releases_the_slot(kubectl, operator, local_aws, namespace):
    from bmo_devtools.dev.model_factory import ModelSpec

    local_aws.set_faults(job_duration_seconds=2.0)
    broken = local_aws.upload_model(
        "bmo-examples",
        f"{namespace}/quantized/",
        ModelSpec(config_overrides={"quantization_config": {"quant_method": "gptq"}}),
    )
    apply_seen(kubectl, namespace, "busy")
    apply_seen(kubectl, namespace, "broken", source={"s3Uri": broken})
    apply_seen(kubectl, namespace, "nobucket", source={"s3Uri": "s3://no-such-bucket-anywhere/m/"})
    apply_seen(kubectl, namespace, "after")
    wait_condition(kubectl, namespace, "broken", "Validated", "False", "QuantizedModel")
    wait_condition(kubectl, namespace, "nobucket", "Validated", "Unknown", "WaitingForSource")
    ready(kubectl, namespace, "after", timeout=60)  # neither the failed nor the waiting one holds a slot


def test_a_recreated_object_does_not_inherit_the_old_job(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(fail_jobs=1)
    apply_model(kubectl, namespace, "again")
    old = wait_condition(kubectl, namespace, "again", "Imported", "False", "ImportFailed")
    kubectl("delete", "bedrockmodel", "again", "-n", namespace, "--timeout=60s")
    apply_model(kubectl, namespace, "again")
    new = ready(kubectl, namespace, "again")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert len(jobs_of(local_aws, namespace, "again")) == 2


def test_the_retry_annotation_retries_a_failed_revision_at_once(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(fail_jobs=1)
    apply_model(kubectl, namespace, "retry")
    wait_condition(kubectl, namespace, "retry", "Imported", "False", "ImportFailed")
    kubectl("annotate", "bedrockmodel", "retry", "-n", namespace, "bedrock.modelops.io/retry=1")
    ready(kubectl, namespace, "retry", timeout=30)  # the production resync is 300 s: this is the event
    assert len(jobs_of(local_aws, namespace, "retry")) == 2


def test_pause_covers_deletion(kubectl, operator, local_aws, namespace):
    apply_model(kubectl, namespace, "keep")
    arn = ready(kubectl, namespace, "keep")["status"]["modelArn"]
    kubectl("annotate", "bedrockmodel", "keep", "-n", namespace, "bedrock.modelops.io/paused=true")
    wait_condition(kubectl, namespace, "keep", "Paused", "True")
    kubectl("delete", "bedrockmodel", "keep", "-n", namespace, "--wait=false")
    wait_for(
        lambda: "DeletionPaused" in [e["reason"] for e in events(kubectl, namespace, "keep")],
        timeout=30,
        what="deletion waits, saying why",
    )
    assert arn in {m["modelArn"] for m in local_aws.state()["models"]}
    assert get_obj(kubectl, namespace, "keep")["metadata"].get("deletionTimestamp")
    kubectl("annotate", "bedrockmodel", "keep", "-n", namespace, "bedrock.modelops.io/paused-")
    kubectl("wait", "--for=delete", "bedrockmodel/keep", "-n", namespace, "--timeout=60s")
    assert arn not in {m["modelArn"] for m in local_aws.state()["models"]}


def test_a_model_that_shows_up_late_is_not_imported_twice(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(model_visibility_delay_seconds=2.0)
    apply_model(kubectl, namespace, "late")
    ready(kubectl, namespace, "late", timeout=60)
    assert len(jobs_of(local_aws, namespace, "late")) == 1
    assert len(models_of(local_aws, namespace, "late")) == 1


def test_a_failed_delete_of_the_old_revision_never_fails_the_new_one(kubectl, operator, local_aws, namespace):
    apply_model(kubectl, namespace, "old")
    first = ready(kubectl, namespace, "old")["status"]
    local_aws.set_faults(delete_conflicts=2)
    apply_model(kubectl, namespace, "old", source={"s3Uri": MISTRAL})

    def promoted_and_cleaned():
        obj = get_obj(kubectl, namespace, "old")
        assert obj["status"].get("phase") != "Failed", obj["status"]
        return obj["status"]["modelArn"] != first["modelArn"] and not obj["status"].get("superseded") and obj

    obj = wait_for(promoted_and_cleaned, timeout=90, what="new revision serving, old one deleted")
    assert condition(obj, "Ready")["status"] == "True"
    assert first["modelArn"] not in {m["modelArn"] for m in local_aws.state()["models"]}
    reasons = [e["reason"] for e in events(kubectl, namespace, "old")]
    assert "PreviousRevisionDeleted" in reasons
    assert local_aws.state()["errors"].get("DeleteImportedModel:ConflictException", 0) >= 2


def test_a_model_retagged_to_another_owner_is_not_deleted_with_the_object(
    kubectl, operator, local_aws, namespace
):
    """Between two looks the model's tags came to name another object (someone moved it over by hand):
    deleting this object must leave that model alone and say so."""
    apply_model(kubectl, namespace, "moved")
    arn = ready(kubectl, namespace, "moved")["status"]["modelArn"]
    bedrock = local_aws.client("bedrock")
    bedrock.tag_resource(
        resourceARN=arn, tags=[{"key": "bedrock.modelops.io/uid", "value": "another-object-uid"}]
    )
    kubectl("delete", "bedrockmodel", "moved", "-n", namespace, "--timeout=60s")
    assert [m["modelArn"] for m in models_of(local_aws, namespace, "moved")] == [arn]
    assert "SupersededModelNotOwned" in [e["reason"] for e in events(kubectl, namespace, "moved")]
    bedrock.delete_imported_model(modelIdentifier=arn)  # the test's own clean-up
