"""spec.validation.mode: Job through the operator: the real job controller creates the validation Jobs'
pods, the scheduler places them on the local node, and its kubelet runs them with containerd and runc in
the image built from the Dockerfile. Failures that are not verdicts (OOMKilled, deadline, image pull, a
crash, eviction) are produced for real in tests/node/test_node.py."""

from __future__ import annotations

import json

import pytest

from tests.support.helpers import wait_for
from tests.support.operator_process import apply_model, condition, events, get_obj, wait_condition

pytestmark = [pytest.mark.controlplane, pytest.mark.node]

ROLE = "arn:aws:iam::123456789012:role/BedrockModelImport"
LLAMA = "s3://bmo-examples/llama3-8b-support/"
MISTRAL = "s3://bmo-examples/mistral-7b-summarizer/"


def apply(kubectl, ns: str, name: str, **spec) -> dict:
    return apply_model(kubectl, ns, name, **({"validation": {"mode": "Job"}} | spec))


@pytest.fixture
def validator_sa(kubectl, namespace):
    """What an installer does per namespace: the validation Jobs' ServiceAccount (IRSA-annotated in EKS)."""
    kubectl("create", "serviceaccount", "bedrock-model-validator", "-n", namespace)
    return "bedrock-model-validator"


def jobs(kubectl, ns: str) -> list[dict]:
    return json.loads(kubectl("get", "jobs", "-n", ns, "-o", "json").stdout)["items"]


def test_importable_model_validated_in_a_hardened_job(
    kubectl, operator, node, node_images, validator_sa, local_aws, namespace
):
    apply(kubectl, namespace, "ok")
    obj = wait_condition(kubectl, namespace, "ok", "Ready", "True", "ModelReady", timeout=90)
    assert condition(obj, "Validated")["reason"] == "ArtifactsImportable"
    assert obj["status"]["validation"]["verdict"] == "importable"
    assert obj["status"]["validation"]["architecture"] == "Llama3.1"
    # the Job watch wakes the model in the operator's own queue: nothing is written to the model for it
    annotations = get_obj(kubectl, namespace, "ok")["metadata"].get("annotations") or {}
    assert not [k for k in annotations if k.startswith("bedrock.modelops.io/validation")], annotations
    (job,) = jobs(kubectl, namespace)
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "BedrockImportedModel",
        "ok",
        obj["metadata"]["uid"],
    )
    spec = job["spec"]
    assert (
        spec["backoffLimit"] == 0
        and spec["activeDeadlineSeconds"] == 60
        and spec["ttlSecondsAfterFinished"] == 3600
    )
    pod = spec["template"]["spec"]
    assert (
        pod["serviceAccountName"] == "bedrock-model-validator"
        and pod["automountServiceAccountToken"] is False
    )
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = pod["containers"]
    assert c["image"] == node_images.operator_image
    assert c["command"] == ["bedrock-model-operator", "validate"] and c["args"][0] == LLAMA
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert c["resources"]["requests"] == {"cpu": "100m", "memory": "512Mi"}
    assert pod["hostNetwork"] is True  # the operator's validation pod template (see conftest)
    # it really ran on the node, and its verdict came back as the container's termination message
    (ran,) = json.loads(
        kubectl(
            "get", "pods", "-n", namespace, "-l", f"job-name={job['metadata']['name']}", "-o", "json"
        ).stdout
    )["items"]
    assert ran["spec"]["nodeName"] == "localhost"
    (status,) = ran["status"]["containerStatuses"]
    assert status["imageID"] and status["state"]["terminated"]["exitCode"] == 0
    assert json.loads(status["state"]["terminated"]["message"])["v"] == "importable"


def test_refused_model_reports_the_validators_reason(kubectl, operator, validator_sa, local_aws, namespace):
    from bmo_devtools.dev.model_factory import ModelSpec

    uri = local_aws.upload_model("bmo-examples", f"{namespace}/bad/", ModelSpec(kind="llama2", dtype="I8"))
    apply(kubectl, namespace, "bad", source={"s3Uri": uri})
    obj = wait_condition(kubectl, namespace, "bad", "Validated", "False", "QuantizedWeights", timeout=90)
    assert obj["status"]["validation"]["verdict"] == "not-importable"
    assert obj["status"]["phase"] == "Failed"
    assert [j for j in local_aws.state()["jobs"] if j["importedModelName"] == f"{namespace}-bad"] == []


def test_spec_change_replaces_the_stale_job_and_deletion_removes_it(
    kubectl, operator, validator_sa, namespace
):
    apply(kubectl, namespace, "moving")
    first = wait_for(lambda: jobs(kubectl, namespace), timeout=30, what="validation Job")[0]["metadata"][
        "name"
    ]
    apply(kubectl, namespace, "moving", source={"s3Uri": MISTRAL})

    def replaced():
        names = [
            j["metadata"]["name"]
            for j in jobs(kubectl, namespace)
            if not j["metadata"].get("deletionTimestamp")
        ]
        return names if names and first not in names else None

    (second,) = wait_for(replaced, timeout=30, what="stale Job replaced")
    assert second != first
    kubectl("delete", "bedrockmodel", "moving", "-n", namespace, "--timeout=60s")
    wait_for(lambda: not jobs(kubectl, namespace), timeout=60, what="validation Job deleted with its model")


def test_missing_service_account_is_said_and_picked_up_when_created(kubectl, operator, namespace):
    apply(kubectl, namespace, "nosa")
    obj = wait_condition(
        kubectl, namespace, "nosa", "Validated", "Unknown", "ValidationServiceAccountMissing"
    )
    assert "bedrock-model-validator" in condition(obj, "Validated")["message"]
    missing = [
        e for e in events(kubectl, namespace, "nosa") if e["reason"] == "ValidationServiceAccountMissing"
    ]
    assert len(missing) == 1 and missing[0]["type"] == "Warning", missing  # one Event, counted, not a flood
    kubectl("create", "serviceaccount", "bedrock-model-validator", "-n", namespace)
    wait_condition(kubectl, namespace, "nosa", "Ready", "True", "ModelReady", timeout=90)


def _pod(phase: str, **status) -> object:
    from kubernetes import client

    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="bmo-validate-x-abcde"),
        spec=client.V1PodSpec(containers=[], node_name=status.pop("node", None)),
        status=client.V1PodStatus(phase=phase, **status),
    )


def test_a_pending_pod_says_what_it_waits_for_and_the_time_left():
    """The validation Job said "running" while its pod could not be scheduled or pulled its image: the
    condition now says what the pod waits for, in the scheduler's or kubelet's words, and the time left."""
    import datetime as dt

    from kubernetes import client

    from controller.kube.validation_jobs import _deadline_left, pending_reason

    unschedulable = _pod(
        "Pending",
        conditions=[
            client.V1PodCondition(
                type="PodScheduled",
                status="False",
                reason="Unschedulable",
                message="0/3 nodes are available: 3 Insufficient memory.",
            )
        ],
    )
    assert pending_reason(unschedulable) == (
        "validation pod bmo-validate-x-abcde cannot be scheduled: Unschedulable: 0/3 nodes are available: 3 "
        "Insufficient memory."
    )
    creating = _pod(
        "Pending",
        node="node-1",
        container_statuses=[
            client.V1ContainerStatus(
                name="validate",
                image="i",
                image_id="",
                ready=False,
                restart_count=0,
                state=client.V1ContainerState(
                    waiting=client.V1ContainerStateWaiting(reason="ContainerCreating")
                ),
            )
        ],
    )
    assert pending_reason(creating) == "validation pod bmo-validate-x-abcde is waiting: ContainerCreating"
    assert pending_reason(_pod("Pending")) == "validation pod bmo-validate-x-abcde is waiting to be scheduled"
    assert pending_reason(_pod("Running", node="node-1")) is None
    start = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
    job = client.V1Job(
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(), active_deadline_seconds=900),
        status=client.V1JobStatus(start_time=start),
    )
    assert _deadline_left(job, start + dt.timedelta(seconds=60)) == "; 840s left before the Job's deadline"
    assert _deadline_left(job, start + dt.timedelta(seconds=2000)) == "; 0s left before the Job's deadline"


def test_a_verdict_forged_by_a_tenant_job_is_not_taken(kubectl, operator, node_images, local_aws, namespace):
    """On the real node: a tenant with edit rights learns the model's uid, creates the
    revision's validation Job first (right name, the owner label, a controller reference to the model), and
    its pod writes an `importable` verdict for a quantized model. The operator takes no verdict from it
    (ValidationJobForeign), imports nothing; once the forged Job is gone its own Job refuses the model."""
    import yaml

    from bmo_devtools.dev.model_factory import ModelSpec
    from controller.api.models import BedrockImportedModelSpec
    from controller.kube.validation_jobs import LABEL_OWNER, job_name
    from controller.naming import revision

    uri = local_aws.upload_model("bmo-examples", f"{namespace}/forged/", ModelSpec(kind="llama2", dtype="I8"))
    doc = apply(
        kubectl, namespace, "forged", source={"s3Uri": uri}
    )  # no validator ServiceAccount yet: no Job
    obj = wait_condition(
        kubectl, namespace, "forged", "Validated", "Unknown", "ValidationServiceAccountMissing"
    )
    name = job_name(
        "forged", obj["metadata"]["uid"], revision(BedrockImportedModelSpec.model_validate(doc["spec"]))
    )
    verdict = json.dumps({"v": "importable", "s": {"weightBytes": 1}, "e": [], "w": []})
    forged = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {LABEL_OWNER: obj["metadata"]["uid"]},
            "ownerReferences": [
                {
                    "apiVersion": "bedrock.modelops.io/v1alpha1",
                    "kind": "BedrockImportedModel",
                    "name": "forged",
                    "uid": obj["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "hostNetwork": True,
                    "containers": [
                        {
                            "name": "validate",
                            "image": node_images.operator_image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", f"echo '{verdict}' > /dev/termination-log"],
                        }
                    ],
                }
            },
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(forged))
    wait_for(
        lambda: any(
            c["type"] == "Complete" and c["status"] == "True"
            for j in jobs(kubectl, namespace)
            for c in (j.get("status") or {}).get("conditions") or []
        ),
        timeout=90,
        what="the forged Job to complete",
    )
    kubectl("create", "serviceaccount", "bedrock-model-validator", "-n", namespace)
    obj = wait_condition(
        kubectl, namespace, "forged", "Validated", "Unknown", "ValidationJobForeign", timeout=60
    )
    assert "delete it" in condition(obj, "Validated")["message"]
    assert not [j for j in local_aws.state()["jobs"] if namespace in j["importedModelName"]], "imported"
    kubectl("delete", "job", name, "-n", namespace, "--wait=true", "--timeout=60s")
    obj = wait_condition(kubectl, namespace, "forged", "Validated", "False", "QuantizedWeights", timeout=120)
    assert obj["status"]["validation"]["verdict"] == "not-importable"
    assert not [j for j in local_aws.state()["jobs"] if namespace in j["importedModelName"]]
