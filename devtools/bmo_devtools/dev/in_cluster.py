"""The operator installed as users install it: `deploy/overlays/local` applied to a cluster with a local
node, the image built here from the project's Dockerfile, running as a Deployment's pod.

What differs from a real install is only what this machine needs, and is said where it is set: the
image's tag (its content hash), host networking with the apiserver and AWS endpoints on 127.0.0.1 (in the
ConfigMap `bedrock-model-operator-local`), fake AWS credentials for the emulators, and free ports for the
probes and metrics (a host-network pod shares the machine's ports).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import yaml

from bmo_devtools.dev.aws import LocalAws
from bmo_devtools.dev.controlplane import REPO_ROOT, ControlPlane, ControlPlaneError, free_port

OVERLAY = REPO_ROOT / "deploy" / "overlays" / "local"
NAMESPACE = "bedrock-model-operator"
DEPLOYMENT = "bedrock-model-operator"
LOCAL_CONFIG = "bedrock-model-operator-local"


@dataclass
class InClusterOperator:
    """The installed operator: where its probes and metrics answer, and how to read its pod."""

    cp: ControlPlane
    image: str
    liveness_port: int
    metrics_port: int

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["kubectl", *args], env=self.cp.env(), capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def pods(self) -> list[dict[str, Any]]:
        out = self.kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout
        return json.loads(out)["items"]

    def logs(self, tail: int = 80) -> str:
        proc = self.kubectl(
            "logs", "-n", NAMESPACE, f"deployment/{DEPLOYMENT}", f"--tail={tail}", check=False
        )
        return proc.stdout + proc.stderr

    def wait_ready(self, timeout: float = 180) -> None:
        """Until the Deployment is available: its pod Running and its readiness probe answered."""
        proc = self.kubectl(
            "rollout",
            "status",
            "-n",
            NAMESPACE,
            f"deployment/{DEPLOYMENT}",
            f"--timeout={int(timeout)}s",
            check=False,
        )
        if proc.returncode != 0:
            pods = json.dumps([p.get("status") for p in self.pods()], indent=1)[:4000]
            raise ControlPlaneError(
                f"the operator Deployment is not ready: {proc.stderr}\n{pods}\n{self.logs()}"
            )


def manifests(
    cp: ControlPlane, aws: LocalAws, image: str, liveness_port: int, metrics_port: int, **env: str
) -> list[dict[str, Any]]:
    """The overlay, rendered, with this run's image, ports and endpoints filled in; `env` is set on the
    container itself (it wins over the overlay's values and the ConfigMap's)."""
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAY)], capture_output=True, text=True, check=False
    )
    if rendered.returncode != 0:
        raise ControlPlaneError(f"kubectl kustomize {OVERLAY} failed: {rendered.stderr}")
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == DEPLOYMENT:
            _fill_deployment(doc, image, liveness_port, metrics_port, env)
    config = {
        **local_endpoints(cp, aws),
        "BMO_LIVENESS": f"http://127.0.0.1:{liveness_port}/healthz",
        "BMO_METRICS_PORT": str(metrics_port),
        "BMO_METRICS_ADDRESS": "127.0.0.1",
    }
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": LOCAL_CONFIG, "namespace": NAMESPACE},
            "data": config,
        }
    )
    return docs


def local_endpoints(cp: ControlPlane, aws: LocalAws) -> dict[str, str]:
    """What a host-network pod on this machine needs to reach the apiserver and the AWS emulators (all on
    127.0.0.1), and its validation pods the same: the environment of a ConfigMap the install reads."""
    api = urlparse(cp.server)
    return {
        "KUBERNETES_SERVICE_HOST": api.hostname or "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(api.port),
        **aws.env(),
        "BMO_VALIDATION_POD_TEMPLATE": LocalAws.validation_pod_template(),
    }


def _fill_deployment(
    doc: dict[str, Any], image: str, liveness_port: int, metrics_port: int, env: dict[str, str]
) -> None:
    pod = doc["spec"]["template"]
    pod["metadata"].setdefault("annotations", {})["prometheus.io/port"] = str(metrics_port)
    (container,) = pod["spec"]["containers"]
    container["image"] = image
    wanted = {"BMO_VALIDATOR_IMAGE": image, **env}
    kept = [v for v in container.get("env", []) if v["name"] not in wanted]
    container["env"] = kept + [{"name": k, "value": v} for k, v in wanted.items()]
    # a host-network pod's ports are the machine's: this run's free ones, probed on loopback
    container["ports"] = [
        {"name": "health", "containerPort": liveness_port},
        {"name": "metrics", "containerPort": metrics_port},
    ]
    for probe in ("livenessProbe", "readinessProbe"):
        container[probe]["httpGet"] = {"host": "127.0.0.1", "path": "/healthz", "port": liveness_port}


def install(
    cp: ControlPlane, aws: LocalAws, image: str, wait: bool = True, timeout: float = 180, **env: str
) -> InClusterOperator:
    """Apply the local overlay (CRDs, RBAC, admission policy, Deployment) and wait for the operator."""
    live, metrics = free_port(), free_port()
    docs = manifests(cp, aws, image, live, metrics, **env)
    text = yaml.safe_dump_all(docs)
    op = InClusterOperator(cp, image, live, metrics)
    # the namespace and CRDs first: the rest names them
    first = [d for d in docs if d["kind"] in ("Namespace", "CustomResourceDefinition")]
    _apply(cp, yaml.safe_dump_all(first))
    op.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    # an earlier install's Deployment (another overlay, other ports) is replaced, not merged into: a
    # server-side apply would keep its port list entries beside this run's
    op.kubectl("delete", "deployment", DEPLOYMENT, "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
    _apply(cp, text)
    if wait:
        op.wait_ready(timeout)
    return op


def _apply(cp: ControlPlane, text: str) -> None:
    proc = subprocess.run(
        ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", "-"],
        input=text,
        env=cp.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ControlPlaneError(f"applying {OVERLAY} failed: {proc.stderr}")
