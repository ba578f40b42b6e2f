"""The local control plane is a real Kubernetes: CRDs, namespaces and Jobs behave as in a cluster."""

from __future__ import annotations

import textwrap

import pytest
from kubernetes import client

from tests.support.helpers import wait_for

pytestmark = pytest.mark.controlplane

WIDGET_CRD = textwrap.dedent(
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.smoke.example.com
    spec:
      group: smoke.example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget}
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties:
                    size: {type: integer, minimum: 1}
    """
)


def test_crd_applied_with_kubectl_is_served_and_enforces_its_schema(kubectl, api_client, namespace):
    kubectl("apply", "-f", "-", input=WIDGET_CRD)
    kubectl("wait", "--for=condition=Established", "crd/widgets.smoke.example.com", "--timeout=60s")

    custom = client.CustomObjectsApi(api_client)
    body = {
        "apiVersion": "smoke.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    wait_for(
        lambda: custom.create_namespaced_custom_object("smoke.example.com", "v1", namespace, "widgets", body),
        what="the new CRD to be served",
    )
    got = custom.get_namespaced_custom_object("smoke.example.com", "v1", namespace, "widgets", "w1")
    assert got["spec"] == {"size": 3}

    bad = kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        check=False,
        input=textwrap.dedent(
            """
        apiVersion: smoke.example.com/v1
        kind: Widget
        metadata: {name: w2}
        spec: {size: 0}
        """
        ),
    )
    assert bad.returncode != 0
    assert "spec.size" in bad.stderr


def test_deleted_namespace_actually_goes_away(api_client):
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="doomed")))
    core.create_namespaced_config_map("doomed", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm")))
    core.delete_namespace("doomed")

    def gone() -> bool:
        try:
            core.read_namespace("doomed")
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, timeout=90, what="namespace 'doomed' to be finalized by the namespace controller")


def test_job_controller_creates_the_jobs_pod(api_client, namespace):
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    # The serviceaccount controller must create "default" before the ServiceAccount admission lets pods in.
    wait_for(
        lambda: core.read_namespaced_service_account("default", namespace), what="default ServiceAccount"
    )
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="hello"),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[
                        # built here (tests/conftest.py `node`): a node in this session never pulls
                        client.V1Container(
                            name="main",
                            image="localhost/pause:local",
                            image_pull_policy="Never",
                            command=["true"],
                        )
                    ],
                )
            ),
        ),
    )
    batch.create_namespaced_job(namespace, job)
    pods = wait_for(
        lambda: core.list_namespaced_pod(namespace, label_selector="job-name=hello").items,
        what="the job controller to create the Job's pod",
    )
    assert pods[0].metadata.owner_references[0].kind == "Job"
    assert pods[0].spec.containers[0].command == ["true"]


def test_a_killed_owner_leaves_no_control_plane_behind(tmp_path):
    """A test session or dev stack killed with -9 (or a crash) must not leave a kube-apiserver running: its
    etcd dies with it, and an apiserver told to stop gracefully then waits for etcd forever."""
    import subprocess
    import sys

    from tests.support.helpers import LineReader

    script = (
        "from bmo_devtools.dev.controlplane import ControlPlane\n"
        f"cp = ControlPlane(workdir=__import__('pathlib').Path({str(tmp_path / 'cp')!r}))\n"
        "cp.start()\n"
        "print('pids', *[p.popen.pid for p in cp._procs], flush=True)\n"
        "__import__('time').sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = LineReader(owner.stdout).until(lambda s: s.startswith("pids"), timeout=120, what="the cluster")
    pids = [int(p) for p in line.split()[1:]]
    owner.kill()
    owner.wait(timeout=10)

    def gone(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/status") as fh:
                return "zombie" in fh.read().lower()
        except FileNotFoundError:
            return True

    wait_for(lambda: all(gone(p) for p in pids), timeout=30, what="the whole control plane gone")


def test_a_status_patch_with_a_stale_resource_version_is_refused(api_client, crd_installed, namespace):
    """What the operator's status writes rely on (runtime.pass_runner.PassRunner.write): a merge patch of the
    status subresource that names the resourceVersion it was decided from is refused (409) once the object
    moved on, so an older leader's late write never overwrites a newer status; one that names the current
    resourceVersion is applied. (An operator of this session may write the object too: the object is paused,
    the marker is a free-text field, and the current write is retried over its writes.)"""
    from kubernetes.client.exceptions import ApiException

    from controller.api.models import GROUP, PLURAL, VERSION
    from controller.reconcile import PAUSE_ANNOTATION

    api = client.CustomObjectsApi(api_client)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "BedrockImportedModel",
        "metadata": {"name": "rv", "annotations": {PAUSE_ANNOTATION: "true"}},
        "spec": {
            "source": {"s3Uri": "s3://models/rv/"},
            "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/BedrockModelImport"},
        },
    }
    made = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    stale = made["metadata"]["resourceVersion"]
    api.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "rv", {"metadata": {"annotations": {"edited": "yes"}}}
    )

    def patch_status(rv: str, marker: str) -> dict:
        patch = {"metadata": {"resourceVersion": rv}, "status": {"failureMessage": marker}}
        return api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, "rv", patch)

    with pytest.raises(ApiException) as refused:
        patch_status(stale, "stale write")
    assert refused.value.status == 409
    fresh = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "rv")
    assert (fresh.get("status") or {}).get("failureMessage") != "stale write"
    for _ in range(10):  # over the current resourceVersion: applied (unless someone wrote just before)
        try:
            written = patch_status(fresh["metadata"]["resourceVersion"], "current write")
            break
        except ApiException as exc:
            assert exc.status == 409, exc
            fresh = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "rv")
    else:
        raise AssertionError("a write over the current resourceVersion was never applied")
    assert written["status"]["failureMessage"] == "current write"
