"""deploy/: the kustomize overlays on the real control plane, and the operator running with the deployed
ServiceAccount's own token (not the admin certificate): as the deployed pod on the local node (the
cluster-wide install) and as a host process given that token (the single-namespace install). It reconciles
end to end and is refused what its RBAC does not grant; the metrics are scraped and match what happened."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.support.helpers import wait_for
from tests.support.operator_process import OperatorProcess, wait_condition

pytestmark = pytest.mark.controlplane

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROLE = "arn:aws:iam::123456789012:role/BedrockModelImport"
SA = "system:serviceaccount:bedrock-model-operator:bedrock-model-operator"


def token_kubeconfig(kubectl, control_plane, path: Path) -> Path:
    token = kubectl(
        "create", "token", "bedrock-model-operator", "-n", "bedrock-model-operator", "--duration=2h"
    ).stdout.strip()
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": admin["clusters"],
                "users": [{"name": "operator-sa", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "sa",
                        "context": {"cluster": admin["clusters"][0]["name"], "user": "operator-sa"},
                    }
                ],
                "current-context": "sa",
            }
        )
    )
    return path


def model(kubectl, ns: str, name: str) -> None:
    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "source": {"s3Uri": "s3://bmo-examples/llama3-8b-support/"},
            "serviceRole": {"roleArn": ROLE},
            "region": "us-east-1",
            "validation": {"mode": "Job"},
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))


def wait_until_no_model_is_being_deleted(kubectl) -> None:
    """Let the session's operator finish deleting other tests' models first, so counters are ours."""
    wait_for(
        lambda: (
            not [
                i
                for i in json.loads(kubectl("get", "bedrockmodels", "-A", "-o", "json").stdout)["items"]
                if i["metadata"].get("deletionTimestamp")
            ]
        ),
        timeout=90,
        what="leftover models finalized",
    )


@pytest.fixture
def sa_operator(control_plane, local_aws, operator, kubectl, tmp_path):
    """Swap the admin operator for one using the ServiceAccount token; put the admin one back after."""
    started: list[OperatorProcess] = []

    def start(*args: str, kubeconfig: Path) -> OperatorProcess:
        wait_until_no_model_is_being_deleted(kubectl)
        operator.stop()
        op = OperatorProcess(
            control_plane,
            local_aws,
            tmp_path,
            *args,
            kubeconfig=kubeconfig,
            BMO_METRICS_PORT=str(_free_port()),
            BMO_LOG_FORMAT="json",
        )
        op.start()
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()
    operator.start()


@pytest.fixture
def pod_operator(control_plane, local_aws, operator, node, node_images, kubectl):
    """Swap the session's operator (a host process) for the operator as users run it: the local overlay's
    Deployment, its pod on the node, in the image built from the Dockerfile, authenticated by its
    ServiceAccount's projected token. Afterwards the Deployment goes and the session's operator returns."""
    from bmo_devtools.dev import in_cluster

    def install(**env: str):
        wait_until_no_model_is_being_deleted(kubectl)
        operator.stop()
        return in_cluster.install(control_plane, local_aws, node_images.operator_image, **env)

    yield install
    kubectl(
        "delete",
        "deployment",
        in_cluster.DEPLOYMENT,
        "-n",
        in_cluster.NAMESPACE,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=60s",
    )
    wait_for(
        lambda: (
            not json.loads(kubectl("get", "pods", "-n", in_cluster.NAMESPACE, "-o", "json").stdout)["items"]
        ),
        timeout=60,
        what="the operator's pod gone",
    )
    operator.start()


#: What a cluster admin writes for the namespaces these tests use (the shipped default is restricted).
DEPLOY_POLICY = {
    "apiVersion": "bedrock.modelops.io/v1alpha1",
    "kind": "BedrockImportPolicy",
    "metadata": {"name": "deploy-tests"},
    "spec": {
        "namespaceSelector": {"matchLabels": {"bmo-test/deploy": "true"}},
        "sources": {"s3Prefixes": ["s3://bmo-examples/"]},
        "serviceRoles": {"roleArns": ["arn:aws:iam::123456789012:role/BedrockModelImport*"]},
        "validationModes": ["Job"],
    },
}


@pytest.fixture
def shipped_admission(kubectl):
    """The deployed manifests bring the admission policy and its binding (restricted: no policy, no model).
    This test's policy admits its namespaces; afterwards both go, so other tests run as before."""

    def admit(*namespaces: str) -> None:
        kubectl("apply", "-f", "-", input=yaml.safe_dump(DEPLOY_POLICY))
        for ns in namespaces:
            kubectl("label", "namespace", ns, "bmo-test/deploy=true", "--overwrite")
        probe = {
            "apiVersion": "bedrock.modelops.io/v1alpha1",
            "kind": "BedrockImportedModel",
            "metadata": {"name": "probe", "namespace": namespaces[0]},
            "spec": {
                "source": {"s3Uri": "s3://bmo-examples/llama3-8b-support/"},
                "serviceRole": {"roleArn": ROLE},
            },
        }
        # the apiserver loads policies and parameters asynchronously: wait until it admits by this one
        wait_for(
            lambda: (
                kubectl(
                    "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(probe), check=False
                ).returncode
                == 0
            ),
            timeout=30,
            what="the admission policy admits by deploy-tests",
        )

    yield admit
    for binding in ("bedrock-import-policy", "bedrock-import-policy-updates"):
        kubectl("delete", "validatingadmissionpolicybinding", binding, "--ignore-not-found")
    kubectl("delete", "validatingadmissionpolicy", "bedrock-import-policy", "--ignore-not-found")
    kubectl("delete", "bedrockimportpolicy", "deploy-tests", "--ignore-not-found")


def _free_port() -> int:
    from bmo_devtools.dev.controlplane import free_port

    return free_port()


def _metrics(port: int | str) -> dict[str, float]:
    text = wait_for(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode(),
        timeout=30,
        what="metrics endpoint",
    )
    out = {}
    for line in text.splitlines():
        if line.startswith("bmo_") and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def test_single_namespace_overlay_limits_the_operator(
    kubectl, control_plane, sa_operator, shipped_admission, tmp_path
):
    kubectl("apply", "-k", str(DEPLOY / "overlays" / "single-namespace"))
    shipped_admission("ml-models")
    kc = token_kubeconfig(kubectl, control_plane, tmp_path / "sa.kubeconfig")
    as_sa = ["--kubeconfig", str(kc)]
    denied = kubectl(*as_sa, "get", "secrets", "-n", "ml-models", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    other = kubectl(*as_sa, "get", "bedrockmodels", "-n", "default", check=False)
    assert other.returncode != 0 and "forbidden" in other.stderr.lower()
    assert kubectl(*as_sa, "get", "bedrockmodels", "-n", "ml-models").returncode == 0
    assert (
        kubectl("auth", "can-i", "create", "jobs.batch", "-n", "ml-models", f"--as={SA}").stdout.strip()
        == "yes"
    )
    assert (
        kubectl(
            "auth", "can-i", "create", "jobs.batch", "-n", "default", f"--as={SA}", check=False
        ).stdout.strip()
        == "no"
    )

    op = sa_operator("--namespace", "ml-models", "--import-policy-default=restricted", kubeconfig=kc)
    model(kubectl, "ml-models", "scoped")
    obj = wait_condition(kubectl, "ml-models", "scoped", "Ready", "True", "ModelReady", timeout=120)
    assert [c["status"] for c in obj["status"]["conditions"] if c["type"] == "Synced"] == ["True"]
    assert obj["status"]["validation"]["verdict"] == "importable"  # validated by a Job, under the SA's RBAC
    kubectl("delete", "bedrockmodel", "scoped", "-n", "ml-models", "--timeout=60s")
    assert "KubernetesApiError" not in op.log.read_text()  # its RBAC was enough for everything it did


@pytest.mark.node
def test_the_operator_runs_as_the_deployed_pod_reconciles_and_metrics_match(
    kubectl, pod_operator, shipped_admission, local_aws, namespace
):
    """deploy/overlays/local (the cluster-wide install plus what this machine needs) on the real node: the
    Deployment becomes Available (its readiness probe answered by kopf's /healthz), the pod runs as the
    non-root user, and it reconciles a model validated by a real Job pod, with its own RBAC only."""
    op = pod_operator(
        BMO_IMPORT_POLICY_DEFAULT="restricted",
        BMO_LOG_FORMAT="json",
        BMO_POLL_SECONDS="2",
        BMO_VALIDATION_JOB_DEADLINE_SECONDS="60",
    )
    shipped_admission(namespace)  # after the install: it waits until the installed policy admits by it
    kubectl("create", "serviceaccount", "bedrock-model-validator", "-n", namespace)
    (pod,) = op.pods()
    assert pod["status"]["phase"] == "Running"
    assert all(c["ready"] for c in pod["status"]["containerStatuses"])
    assert (
        pod["spec"]["nodeName"] == "localhost"
        and pod["spec"]["serviceAccountName"] == "bedrock-model-operator"
    )
    assert pod["spec"]["securityContext"]["runAsUser"] == 65532
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    probe = urllib.request.urlopen(f"http://127.0.0.1:{op.liveness_port}/healthz", timeout=5).status
    assert probe == 200
    before = _metrics(op.metrics_port)  # it also resumes other tests' objects: count only this one's

    def added(key: str) -> float:
        return _metrics(op.metrics_port).get(key, 0) - before.get(key, 0)

    model(kubectl, namespace, "wide")
    obj = wait_condition(kubectl, namespace, "wide", "Ready", "True", "ModelReady", timeout=120)
    assert obj["status"]["validation"]["verdict"] == "importable"
    (job,) = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    assert job["spec"]["nodeName"] == "localhost" and job["status"]["phase"] == "Succeeded"
    assert added('bmo_import_jobs_total{outcome="started"}') == 1
    assert added('bmo_import_jobs_total{outcome="completed"}') == 1
    assert added('bmo_validations_total{outcome="importable",reason="ArtifactsImportable"}') == 1
    assert added('bmo_aws_api_calls_total{operation="CreateModelImportJob",service="bedrock"}') == 1
    assert added("bmo_import_job_duration_seconds_count") == 1
    reconciles = [k for k in _metrics(op.metrics_port) if k.startswith("bmo_reconciles_total")]
    assert sum(added(k) for k in reconciles) >= 2
    lines = [line for line in op.logs(tail=2000).splitlines() if line.startswith("{")]
    events = [yaml.safe_load(line) for line in lines if '"logger": "bmo.events"' in line]
    events = [e for e in events if e["object"] == f"{namespace}/wide"]
    assert {e["reason"] for e in events} >= {"Validated", "ImportStarted", "ModelReady"}
    assert all(e["revision"] for e in events)
    kubectl("delete", "bedrockmodel", "wide", "-n", namespace, "--timeout=60s")
    assert added('bmo_aws_api_calls_total{operation="DeleteImportedModel",service="bedrock"}') == 1
    assert "KubernetesApiError" not in op.logs(tail=2000)  # its RBAC was enough for everything it did
