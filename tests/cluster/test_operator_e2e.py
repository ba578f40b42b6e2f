"""The operator end to end: real apiserver + kubectl + moto + the Bedrock emulator, operator as a process."""

from __future__ import annotations

import json

import pytest

from tests.support.helpers import wait_for
from tests.support.operator_process import (
    CANARY_SECRET,
    LLAMA,
    MISTRAL,
    ROLE,
    _of,
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


def apply(kubectl, ns: str, name: str, **spec) -> dict:
    return apply_model(kubectl, ns, name, **spec)


def models_named(aws, name: str) -> list[dict]:
    return [m for m in aws.state()["models"] if m["modelName"] == name]


def test_create_ready_then_delete_removes_the_model(kubectl, operator, local_aws, namespace):
    apply(kubectl, namespace, "m1", tags={"team": "ml"})
    obj = wait_condition(kubectl, namespace, "m1", "Ready", "True", "ModelReady")
    st = obj["status"]
    assert st["phase"] == "Ready" and st["observedGeneration"] == obj["metadata"]["generation"]
    assert st["modelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:imported-model/")
    assert st["modelArchitecture"] == "llama3" and st["instructSupported"] is True
    assert st["customModelUnits"]["customModelUnitsPerModelCopy"] >= 1
    assert condition(obj, "Validated")["status"] == "True" and condition(obj, "Imported")["status"] == "True"
    assert st["validation"]["verdict"] == "importable"
    name = st["modelName"]
    assert _of(namespace, "m1").match(name), name  # readable, plus the object's identity hash
    tags = tags_of(local_aws, st["modelArn"])
    assert tags["team"] == "ml"
    assert tags["bedrock.modelops.io/uid"] == obj["metadata"]["uid"]
    assert tags["bedrock.modelops.io/namespace"] == namespace and tags["bedrock.modelops.io/cluster"] == "e2e"
    kube_system = json.loads(kubectl("get", "namespace", "kube-system", "-o", "json").stdout)
    assert tags["bedrock.modelops.io/cluster-id"] == kube_system["metadata"]["uid"]  # unique per cluster
    reasons = [e["reason"] for e in events(kubectl, namespace, "m1")]
    assert {"Validated", "ImportStarted", "ModelReady"} <= set(reasons)
    assert st["region"] == "us-east-1" and st["architecture"] == "Llama3.1"
    row = kubectl("get", "bedrockmodels", "-n", namespace, "-o", "wide").stdout.splitlines()[1].split()
    assert row[1:6] == ["Llama3.1", "True", "True", "Ready", "ModelReady"] and "us-east-1" in row

    kubectl("delete", "bedrockmodel", "m1", "-n", namespace, "--timeout=60s")
    assert models_named(local_aws, name) == []


def test_retain_leaves_the_model(kubectl, operator, local_aws, namespace):
    apply(kubectl, namespace, "kept", deletionPolicy="Retain")
    arn = wait_condition(kubectl, namespace, "kept", "Ready", "True")["status"]["modelArn"]
    kubectl("delete", "bedrockmodel", "kept", "-n", namespace, "--timeout=60s")
    assert [m["modelArn"] for m in models_of(local_aws, namespace, "kept")] == [arn]
    tags = tags_of(local_aws, arn)  # no owner any more: another object may adopt it
    assert "bedrock.modelops.io/uid" not in tags
    assert tags["bedrock.modelops.io/retained-from"] == f"{namespace}/kept"


def test_tag_change_is_applied_in_place(kubectl, operator, local_aws, namespace):
    apply(kubectl, namespace, "tags", tags={"team": "a", "stage": "dev"})
    arn = wait_condition(kubectl, namespace, "tags", "Ready", "True")["status"]["modelArn"]
    apply(kubectl, namespace, "tags", tags={"team": "b"})
    bedrock = local_aws.client("bedrock")

    def user_tags():
        tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
        return {k: v for k, v in tags.items() if not k.startswith("bedrock.modelops.io/")}

    wait_for(lambda: user_tags() == {"team": "b"}, timeout=30, what="tags updated in Bedrock")
    obj = wait_condition(kubectl, namespace, "tags", "Ready", "True")
    assert obj["status"]["modelArn"] == arn  # same model: no new import
    assert len(jobs_of(local_aws, namespace, "tags")) == 1
    assert "TagsUpdated" in [e["reason"] for e in events(kubectl, namespace, "tags")]


def test_source_change_imports_a_new_revision_before_deleting_the_old(
    kubectl, operator, local_aws, namespace
):
    local_aws.set_faults(job_duration_seconds=3.0)
    apply(kubectl, namespace, "rev", architecture="Llama3.1")
    first = wait_condition(kubectl, namespace, "rev", "Ready", "True", timeout=90)["status"]
    apply(kubectl, namespace, "rev", source={"s3Uri": MISTRAL}, architecture="Mistral")

    def updating():
        st = get_obj(kubectl, namespace, "rev")["status"]
        return st if st.get("phase") == "Updating" else None

    during = wait_for(updating, timeout=30, what="the new revision to start importing")
    assert during["modelArn"] == first["modelArn"]  # the old model still serves
    # ...but Ready says the spec's revision does not serve yet, so Argo CD is not told Healthy too early
    ready = condition(get_obj(kubectl, namespace, "rev"), "Ready")
    assert ready["status"] == "False" and "keeps serving" in ready["message"], ready
    assert models_named(local_aws, first["modelName"]), "old model must exist while the new one imports"

    obj = wait_condition(kubectl, namespace, "rev", "Ready", "True", "ModelReady", timeout=90)
    st = obj["status"]
    assert st["modelArn"] != first["modelArn"] and st["modelArchitecture"] == "mistral"
    assert st["modelName"].startswith(first["modelName"]) and st["modelName"] != first["modelName"]
    wait_for(lambda: not models_named(local_aws, first["modelName"]), timeout=30, what="old revision deleted")
    assert models_named(local_aws, st["modelName"])
    reasons = [e["reason"] for e in events(kubectl, namespace, "rev")]
    assert "PreviousRevisionDeleted" in reasons


def test_failed_validation_creates_no_job(kubectl, operator, local_aws, namespace, tmp_path):
    from bmo_devtools.dev.model_factory import ModelSpec

    uri = local_aws.upload_model(
        "bmo-examples",
        f"{namespace}/quantized/",
        ModelSpec(config_overrides={"quantization_config": {"quant_method": "gptq"}}),
    )
    apply(kubectl, namespace, "bad", source={"s3Uri": uri})
    obj = wait_condition(kubectl, namespace, "bad", "Validated", "False", "QuantizedModel")
    assert condition(obj, "Ready")["status"] == "False"
    assert obj["status"]["phase"] == "Failed"
    assert "quantized" in condition(obj, "Validated")["message"].lower()
    assert jobs_of(local_aws, namespace, "bad") == []
    assert condition(obj, "Imported")["status"] == "False"  # says why no import started
    # fixing the spec (a good source) retries and succeeds
    apply(kubectl, namespace, "bad", source={"s3Uri": LLAMA})
    wait_condition(kubectl, namespace, "bad", "Ready", "True", "ModelReady")


def test_failed_job_is_reported_and_fixing_the_spec_recovers(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(fail_jobs=1, fail_message="The model weights could not be loaded.")
    apply(kubectl, namespace, "fails")
    obj = wait_condition(kubectl, namespace, "fails", "Imported", "False", "ImportFailed")
    assert "could not be loaded" in condition(obj, "Imported")["message"]
    assert condition(obj, "Ready")["status"] == "False" and obj["status"]["phase"] == "Failed"
    assert "ImportFailed" in [e["reason"] for e in events(kubectl, namespace, "fails")]
    apply_seen(kubectl, namespace, "fails", tags={"edit": "unrelated"})  # a tags edit does not retry it
    assert len(jobs_of(local_aws, namespace, "fails")) == 1
    assert condition(get_obj(kubectl, namespace, "fails"), "Imported")["reason"] == "ImportFailed"
    apply(kubectl, namespace, "fails", source={"s3Uri": MISTRAL})
    wait_condition(kubectl, namespace, "fails", "Ready", "True", "ModelReady")


def test_five_models_with_one_slot_queue_and_all_become_ready_in_order(
    kubectl, operator, local_aws, namespace
):
    local_aws.set_faults(job_duration_seconds=1.5)
    names = [f"q{i}" for i in range(5)]
    for name in names:
        apply_seen(kubectl, namespace, name)  # in line before the next one arrives

    seen_queued, seen_importing = set(), set()

    def all_ready():
        objs = json.loads(kubectl("get", "bedrockmodels", "-n", namespace, "-o", "json").stdout)["items"]
        for o in objs:
            st, name = o.get("status", {}), o["metadata"]["name"]
            assert st.get("phase") != "Failed", st
            ready = condition(o, "Ready")
            if st.get("phase") == "Queued":
                assert ready["reason"] == "Queued" and ready["status"] == "False", (name, ready)
                assert f"position {st['queuePosition']}" in ready["message"], (name, ready)
                seen_queued.add((name, st["queuePosition"]))
            if st.get("phase") == "Importing":
                assert ready["reason"] == "Importing" and ready["status"] == "False", (name, ready)
                assert condition(o, "Imported")["reason"] == "ImportJobRunning", name
                seen_importing.add(name)
        return len(objs) == 5 and all(condition(o, "Ready").get("status") == "True" for o in objs)

    wait_for(all_ready, timeout=120, what="all five models Ready")
    assert seen_queued, "some models were visibly Queued"
    assert all(pos >= 1 for _, pos in seen_queued)
    assert seen_importing, "some models were visibly Importing"
    jobs = [j for n in names for j in jobs_of(local_aws, namespace, n)]
    assert len(jobs) == 5 and all(j["status"] == "Completed" for j in jobs)
    order = [j["jobName"] for j in sorted(jobs, key=lambda j: j["creationTime"])]
    assert [next(n for n in names if _of(namespace, n).match(j)) for j in order] == names


def test_throttling_and_server_errors_are_ridden_out(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(throttle_rate=0.3, error_rate=0.05)
    names = ("t0", "t1", "t2")
    for name in names:
        apply(kubectl, namespace, name)

    def all_ready():
        objs = [get_obj(kubectl, namespace, n) for n in names]
        for o in objs:  # a transient error is retried: it never ends a revision
            assert o.get("status", {}).get("phase") != "Failed", o["status"]
            reason = condition(o, "Imported").get("reason")
            assert reason not in ("ImportFailed", "InvalidRequest"), o["status"]
        return all(condition(o, "Ready").get("status") == "True" for o in objs)

    wait_for(all_ready, timeout=150, what="all three Ready through throttling and 5xx")
    for name in names:  # a throttled or failed create was repeated, never doubled
        assert len(jobs_of(local_aws, namespace, name)) == 1, jobs_of(local_aws, namespace, name)
        assert len(models_of(local_aws, namespace, name)) == 1


def test_drift_deleted_or_retagged_outside_is_set_right(kubectl, operator, local_aws, namespace):
    apply(kubectl, namespace, "drift", tags={"team": "ml"})
    st = wait_condition(kubectl, namespace, "drift", "Ready", "True")["status"]
    bedrock = local_aws.client("bedrock")
    bedrock.tag_resource(resourceARN=st["modelArn"], tags=[{"key": "team", "value": "hacked"}])

    def team_tag():
        tags = {
            t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=st["modelArn"])["tags"]
        }
        return tags.get("team") == "ml"

    # nothing wakes the operator before the resync (300 s) but a touch: any annotation change makes it look
    kubectl("annotate", "bedrockmodel", "drift", "-n", namespace, "example.com/look=1")
    wait_for(team_tag, timeout=30, what="tag drift corrected")
    bedrock.delete_imported_model(modelIdentifier=st["modelArn"])
    kubectl("annotate", "bedrockmodel", "drift", "-n", namespace, "example.com/look=2", "--overwrite")
    obj = wait_for(
        lambda: (
            (o := get_obj(kubectl, namespace, "drift"))["status"].get("modelArn")
            not in (None, st["modelArn"])
            and condition(o, "Ready").get("status") == "True"
            and o
        ),
        timeout=60,
        what="model re-imported",
    )
    assert obj["status"]["modelName"] == st["modelName"]
    reasons = [e["reason"] for e in events(kubectl, namespace, "drift")]
    assert "ModelDeletedOutside" in reasons and "TagsDriftCorrected" in reasons
    assert "ModelMissing" in reasons  # looked at again after a grace period before importing again


def test_existing_model_conflicts_unless_adopted(kubectl, operator, local_aws, namespace):
    bedrock = local_aws.client("bedrock")
    bedrock.create_model_import_job(
        jobName=f"{namespace}-outside",
        importedModelName=f"{namespace}-legacy",
        roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": LLAMA}},
    )
    wait_for(lambda: models_named(local_aws, f"{namespace}-legacy"), timeout=30, what="outside model")
    apply(kubectl, namespace, "adopt", modelName=f"{namespace}-legacy")
    obj = wait_condition(kubectl, namespace, "adopt", "Imported", "False", "ModelNameConflict")
    assert "adoptExisting" in condition(obj, "Imported")["message"]
    apply(kubectl, namespace, "adopt", modelName=f"{namespace}-legacy", adoptExisting=True)
    obj = wait_condition(kubectl, namespace, "adopt", "Ready", "True")
    assert obj["status"]["modelArn"] == models_named(local_aws, f"{namespace}-legacy")[0]["modelArn"]


def test_pause_annotation_stops_reconciling(kubectl, operator, local_aws, namespace):
    apply(kubectl, namespace, "paused", tags={"team": "a"})
    arn = wait_condition(kubectl, namespace, "paused", "Ready", "True")["status"]["modelArn"]
    kubectl("annotate", "bedrockmodel", "paused", "-n", namespace, "bedrock.modelops.io/paused=true")
    wait_for(
        lambda: condition(get_obj(kubectl, namespace, "paused"), "Paused").get("status") == "True",
        timeout=30,
        what="Paused condition",
    )
    apply(kubectl, namespace, "paused", tags={"team": "b"})
    gen = get_obj(kubectl, namespace, "paused")["metadata"]["generation"]
    wait_for(  # the operator saw the edit and said it waits for the pause to end
        lambda: f"generation {gen} " in condition(get_obj(kubectl, namespace, "paused"), "Ready")["message"],
        timeout=30,
        what="Ready to say the edit waits for the pause to end",
    )
    tags = {
        t["key"]: t["value"]
        for t in local_aws.client("bedrock").list_tags_for_resource(resourceARN=arn)["tags"]
    }
    assert tags["team"] == "a"
    kubectl("annotate", "bedrockmodel", "paused", "-n", namespace, "bedrock.modelops.io/paused-")
    wait_for(
        lambda: (
            {
                t["key"]: t["value"]
                for t in local_aws.client("bedrock").list_tags_for_resource(resourceARN=arn)["tags"]
            }.get("team")
            == "b"
        ),
        timeout=30,
        what="tags applied after unpause",
    )
    reasons = [e["reason"] for e in events(kubectl, namespace, "paused")]
    assert "ReconcilePaused" in reasons and "ReconcileResumed" in reasons, reasons


def test_created_role_with_iam_propagation_delay(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(iam_propagation_failures=2)
    apply(kubectl, namespace, "role", serviceRole={"create": True})
    obj = wait_condition(kubectl, namespace, "role", "Ready", "True", timeout=90)
    role_arn = obj["status"]["serviceRoleArn"]
    iam = local_aws.client("iam")
    role_name = role_arn.rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    policy = iam.get_role_policy(RoleName=role_name, PolicyName="read-model-source")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    resources = [s["Resource"] for s in policy["Statement"]]
    assert resources == ["arn:aws:s3:::bmo-examples/llama3-8b-support/*", "arn:aws:s3:::bmo-examples"]
    assert local_aws.state()["errors"].get("CreateModelImportJob:ValidationException", 0) >= 2
    kubectl("delete", "bedrockmodel", "role", "-n", namespace, "--timeout=60s")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=role_name)


def test_a_created_role_may_use_the_models_key_and_vpc(kubectl, operator, local_aws, namespace):
    """The role the operator makes is judged by the local Bedrock as AWS would: with a KMS key (by alias)
    and a VPC in the spec, it must allow the key (by its alias, IAM matching kms:ResourceAliases) and the
    network interfaces, or the import fails."""
    vpc = {"subnetIds": ["subnet-0abc1234"], "securityGroupIds": ["sg-0abc1234"]}
    apply(
        kubectl, namespace, "sealed", serviceRole={"create": True}, kmsKeyId="alias/team-key", vpcConfig=vpc
    )
    obj = wait_condition(kubectl, namespace, "sealed", "Ready", "True", "ModelReady", timeout=90)
    iam = local_aws.client("iam")
    role_name = obj["status"]["serviceRoleArn"].rsplit("/", 1)[-1]
    policy = iam.get_role_policy(RoleName=role_name, PolicyName="read-model-source")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    kms = next(s for s in policy["Statement"] if "kms:Decrypt" in s["Action"])
    assert kms["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/team-key"]}}
    assert any("ec2:CreateNetworkInterface" in s["Action"] for s in policy["Statement"])


def test_sagemaker_source_is_resolved(kubectl, operator, local_aws, namespace):
    apply(
        kubectl,
        namespace,
        "sm",
        source={"sageMakerModelName": "qwen2-5-7b-finetuned"},
        architecture="Qwen2.5",
    )
    obj = wait_condition(kubectl, namespace, "sm", "Ready", "True")
    assert obj["status"]["resolvedS3Uri"] == "s3://bmo-examples/qwen2.5-7b-finetuned/"
    assert obj["status"]["modelArchitecture"] == "qwen2"


def test_delete_during_import_waits_for_the_job_and_leaves_no_model(kubectl, operator, local_aws, namespace):
    local_aws.set_faults(job_duration_seconds=4.0)
    apply(kubectl, namespace, "early")
    wait_for(
        lambda: get_obj(kubectl, namespace, "early")["status"].get("phase") == "Importing",
        timeout=30,
        what="import running",
    )
    kubectl("delete", "bedrockmodel", "early", "-n", namespace, "--wait=false")
    kubectl("wait", "--for=delete", "bedrockmodel/early", "-n", namespace, "--timeout=60s")
    assert models_of(local_aws, namespace, "early") == []
    assert [j["status"] for j in jobs_of(local_aws, namespace, "early")] == ["Completed"]


def test_no_secret_in_logs_events_or_status(kubectl, operator, local_aws, namespace):
    """Secrets reach the operator two ways: its own credentials (the canary in its environment) and text
    AWS sends back (a failure message quoting a presigned URL and a key). Neither may reach a log line, an
    Event or status, yet the message itself must still be shown."""
    leaked_key = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYzz"
    signature = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    local_aws.set_faults(
        fail_jobs=1,
        fail_message=(
            "Could not read https://bmo-examples.s3.amazonaws.com/llama3/model.safetensors?X-Amz-Algorithm="
            f"AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261129&X-Amz-Signature={signature} "
            f"(aws_secret_access_key={leaked_key})"
        ),
    )
    apply(kubectl, namespace, "secret")
    obj = wait_condition(kubectl, namespace, "secret", "Imported", "False", "ImportFailed")
    shown = condition(obj, "Imported")["message"]
    assert "Could not read" in shown and "[REDACTED" in shown, shown
    apply(kubectl, namespace, "secret", source={"s3Uri": MISTRAL})  # and a good import, all the way
    wait_condition(kubectl, namespace, "secret", "Ready", "True")
    everything = (
        operator.log.read_text()
        + kubectl("get", "events", "-A", "-o", "json").stdout
        + kubectl("get", "bedrockmodels", "-A", "-o", "json").stdout
    )
    assert "ImportFailed" in everything  # the failure was written everywhere it is searched
    for secret in (CANARY_SECRET, leaked_key, signature, "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in everything, secret
    assert "Authorization: AWS4" not in everything


def test_events_act_without_a_tick(kubectl, control_plane, local_aws, operator, namespace, tmp_path):
    """Creation, edits, annotations and deletion act on the watch event: with a poll and a resync that
    never come within this test (600 s, 300 s), each still shows at once."""
    from tests.support.operator_process import OperatorProcess

    operator.stop()
    slow = OperatorProcess(control_plane, local_aws, tmp_path, BMO_POLL_SECONDS="600")
    slow.start()
    try:
        local_aws.set_faults(job_duration_seconds=0.5)
        apply(kubectl, namespace, "evt")
        wait_for(
            lambda: get_obj(kubectl, namespace, "evt")["status"].get("phase") == "Importing",
            timeout=20,
            what="the create event to start an import",
        )
        kubectl("annotate", "bedrockmodel", "evt", "-n", namespace, "bedrock.modelops.io/paused=true")
        wait_condition(kubectl, namespace, "evt", "Paused", "True", timeout=10)
        apply(kubectl, namespace, "evt", tags={"team": "b"})
        gen = get_obj(kubectl, namespace, "evt")["metadata"]["generation"]
        wait_for(
            lambda: f"generation {gen} " in condition(get_obj(kubectl, namespace, "evt"), "Ready")["message"],
            timeout=10,
            what="the edit seen while paused",
        )
        wait_for(
            lambda: [j["status"] for j in jobs_of(local_aws, namespace, "evt")] == ["Completed"],
            timeout=20,
            what="the job to end in Bedrock",
        )
        # unpausing looks at the finished job at once: no tick needed to become Ready
        kubectl("annotate", "bedrockmodel", "evt", "-n", namespace, "bedrock.modelops.io/paused-")
        wait_condition(kubectl, namespace, "evt", "Ready", "True", "ModelReady", timeout=10)
        kubectl("delete", "bedrockmodel", "evt", "-n", namespace, "--timeout=15s")
        assert models_of(local_aws, namespace, "evt") == []
    finally:
        slow.stop()
        operator.start()


def test_a_manifest_applied_before_its_upload_waits_for_it_then_imports(
    kubectl, operator, local_aws, namespace
):
    """The usual GitOps order: the manifest is merged while the weights upload (here: before any file is
    there). Said as a wait, not a failure; imported once the files are there, with no retry annotation."""
    from bmo_devtools.dev.model_factory import ModelSpec

    apply(kubectl, namespace, "later", source={"s3Uri": f"s3://bmo-examples/{namespace}/later/"})
    obj = wait_condition(kubectl, namespace, "later", "Validated", "Unknown", "WaitingForSource")
    message = condition(obj, "Validated")["message"]
    assert "is not there yet (no files)" in message and "waiting for the upload" in message, message
    assert obj["status"]["phase"] == "Validating"
    assert condition(obj, "Reconciling")["status"] == "True"  # kstatus InProgress: Flux and kubectl wait on
    assert jobs_of(local_aws, namespace, "later") == []
    local_aws.upload_model("bmo-examples", f"{namespace}/later/", ModelSpec(kind="llama3"))
    obj = wait_condition(kubectl, namespace, "later", "Ready", "True", "ModelReady", timeout=180)
    assert len(jobs_of(local_aws, namespace, "later")) == 1
    assert not obj["status"].get("sourceWait")
