"""`helm install` of the shipped chart on the local node, as an admin would run it: the image built from the
Dockerfile (`image.repository`, which the chart requires), the operator's pod Ready, a model validated by a
real Job pod and imported, its metrics served. What this machine needs is set through the chart's own values
(`hostNetwork`, `envFrom` a ConfigMap of the loopback endpoints, free ports), not by editing its output."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cluster.test_deploy import ROLE, wait_until_no_model_is_being_deleted
from tests.support.helpers import wait_for
from tests.support.operator_process import wait_condition

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "bedrock-model-operator"
RELEASE, RELEASE_NS, TEAM_NS = "bmo-node", "bmo-helm-node", "bmo-helm-team"


@pytest.fixture(scope="module")
def helm() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "hack" / "build-helm.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def release(helm, kubectl, control_plane, local_aws, operator, node) -> Iterator[None]:
    """The session's operator steps aside while the chart's runs; afterwards the release and its
    namespaces go and the session's operator comes back."""
    from bmo_devtools.dev import in_cluster

    wait_until_no_model_is_being_deleted(kubectl)
    operator.stop()
    for ns in (RELEASE_NS, TEAM_NS):
        kubectl("create", "namespace", ns, check=False)
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "loopback-endpoints", "namespace": RELEASE_NS},
        "data": in_cluster.local_endpoints(control_plane, local_aws),
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(config))
    try:
        yield
    finally:
        subprocess.run(
            [helm, "uninstall", RELEASE, "-n", RELEASE_NS, "--wait", "--timeout", "90s"],
            env=control_plane.env(),
            capture_output=True,
        )
        for ns in (TEAM_NS, RELEASE_NS):
            kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false")
        wait_for(
            lambda: not json.loads(kubectl("get", "pods", "-n", RELEASE_NS, "-o", "json").stdout)["items"],
            timeout=90,
            what="the chart's operator pod gone",
        )
        operator.start()


def _metric(port: int, key: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = [line.rpartition(" ")[2] for line in text.splitlines() if line.startswith(key + " ")]
    return float(values[0]) if values else None


def test_helm_install_runs_the_operator_and_imports_a_model(
    helm, release, kubectl, control_plane, node_images
):
    from bmo_devtools.dev.controlplane import free_port

    repository, tag = node_images.operator_image.rsplit(":", 1)
    health, metrics = free_port(), free_port()
    values = {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},  # built here, never pulled
        "replicas": 1,  # one node, host networking: a second replica would want the same ports
        "hostNetwork": True,
        "healthPort": health,
        "metricsPort": metrics,
        "envFrom": [{"configMapRef": {"name": "loopback-endpoints"}}],
        "extraEnv": [{"name": "BMO_POLL_SECONDS", "value": "2"}],
        "clusterName": "dev",
        "watchNamespaces": [TEAM_NS],
        "importPolicy": {"default": "open"},
        "validation": {"deadlineSeconds": 90},
    }
    values_file = Path(control_plane.workdir) / "helm-node-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    # --take-ownership: the cluster-wide objects another test applied with kustomize become the release's
    command = [helm, "install", RELEASE, str(CHART), "-n", RELEASE_NS, "-f", str(values_file)]
    install = subprocess.run(
        [*command, "--take-ownership", "--wait", "--timeout", "180s"],
        env=control_plane.env(),
        capture_output=True,
        text=True,
    )
    pods = kubectl("get", "pods", "-n", RELEASE_NS, "-o", "wide").stdout
    assert install.returncode == 0, install.stdout + install.stderr + pods
    # helm's --wait counts a Deployment ready at replicas - maxUnavailable (here 0): wait for the pod itself
    rollout = kubectl(
        "rollout",
        "status",
        "-n",
        RELEASE_NS,
        "deployment/bedrock-model-operator",
        "--timeout=180s",
        check=False,
    )
    assert rollout.returncode == 0, (
        rollout.stderr + kubectl("get", "pods", "-n", RELEASE_NS, "-o", "yaml").stdout
    )
    (pod,) = json.loads(kubectl("get", "pods", "-n", RELEASE_NS, "-o", "json").stdout)["items"]
    assert pod["spec"]["nodeName"] == "localhost" and pod["status"]["phase"] == "Running"
    assert pod["spec"]["securityContext"]["runAsUser"] == 65532
    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": "charted", "namespace": TEAM_NS},
        "spec": {
            "source": {"s3Uri": "s3://bmo-examples/llama3-8b-support/"},
            "serviceRole": {"roleArn": ROLE},
            "region": "us-east-1",
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))
    obj = wait_condition(kubectl, TEAM_NS, "charted", "Ready", "True", "ModelReady", timeout=150)
    # validated in a Job pod (the chart's default mode), with the validator ServiceAccount the chart made
    assert obj["status"]["validation"]["verdict"] == "importable"
    (job_pod,) = json.loads(kubectl("get", "pods", "-n", TEAM_NS, "-o", "json").stdout)["items"]
    assert job_pod["spec"]["serviceAccountName"] == "bedrock-model-validator"
    assert job_pod["status"]["phase"] == "Succeeded"
    assert _metric(metrics, 'bmo_models{phase="Ready"}') == 1
    assert _metric(metrics, 'bmo_import_jobs_total{outcome="completed"}') == 1
    kubectl("delete", "bedrockmodel", "charted", "-n", TEAM_NS, "--timeout=60s")
    assert _metric(metrics, 'bmo_models{phase="Ready"}') == 0
