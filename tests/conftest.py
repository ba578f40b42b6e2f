"""Shared fixtures: one real control plane per test session, a fresh namespace per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from bmo_devtools.dev.controlplane import ControlPlane
from controller.api.models import GROUP, PLURAL, VERSION
from controller.reconcile import PAUSE_ANNOTATION
from tests.support.helpers import Kubectl

_CONTROL_PLANE: ControlPlane | None = None
_NODE = None  # the LocalNode, once a test has asked for it

# Settings built by tests (and operators they start) import without a BedrockImportPolicy unless a test says
# otherwise; the shipped default, restricted, is tested on its own (tests/test_tenancy*.py).
os.environ.setdefault("BMO_IMPORT_POLICY_DEFAULT", "open")


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    global _CONTROL_PLANE
    with ControlPlane() as cp:
        _CONTROL_PLANE = cp
        try:
            yield cp
        finally:
            _CONTROL_PLANE = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Attach the control-plane logs to any failing test that used it."""
    report = yield
    names = getattr(item, "fixturenames", ())
    if report.failed and _CONTROL_PLANE is not None and "control_plane" in names:
        report.sections.append(("control plane logs", _CONTROL_PLANE.logs(60)))
    if report.failed and _NODE is not None and "node" in names:
        report.sections.append(("node logs", _NODE.logs(40)))
    if report.failed and "operator" in names:
        op = item.funcargs.get("operator")
        if op is not None:
            report.sections.append(("operator log", op.tail(80)))
    return report


@pytest.fixture(scope="session")
def api_client(control_plane: ControlPlane) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(control_plane.kubeconfig))


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlane) -> Kubectl:
    return Kubectl(control_plane)


@pytest.fixture
def namespace(api_client: client.ApiClient) -> Iterator[str]:
    """A namespace of its own for each test; deleted afterwards without waiting on finalizers."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    # a paused model keeps its Bedrock model and blocks its deletion (pause covers deletion): unpause
    # whatever a test left paused, so deleting the namespace cleans up
    custom = client.CustomObjectsApi(api_client)
    try:
        for item in custom.list_namespaced_custom_object(GROUP, VERSION, name, PLURAL)["items"]:
            if PAUSE_ANNOTATION in (item["metadata"].get("annotations") or {}):
                patch = {"metadata": {"annotations": {PAUSE_ANNOTATION: None}}}
                custom.patch_namespaced_custom_object(
                    GROUP, VERSION, name, PLURAL, item["metadata"]["name"], patch
                )
    except client.ApiException as exc:
        if exc.status != 404:  # no CRD in this session: nothing to unpause
            raise
    try:
        core.delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


# ---- AWS: moto speaking the real S3 wire protocol on loopback --------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def aws_env() -> None:
    """Fake credentials so boto3 signs requests; never real ones."""
    import os

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)


@pytest.fixture(scope="session")
def s3(moto_endpoint: str, aws_env: None):
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="models")
    return client


@pytest.fixture(scope="session")
def upload_folder(s3):
    """Upload a local model folder's top-level files to s3://models/<prefix> and return the URI."""
    from pathlib import Path

    def upload(folder: Path, prefix: str) -> str:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                s3.upload_file(str(path), "models", prefix + path.name)
        return f"s3://models/{prefix}"

    return upload


# ---- the operator end to end: local AWS, the CRD, the operator as a real process --------------------


@pytest.fixture(scope="session")
def crd_installed(kubectl):

    from bmo_devtools.dev.controlplane import CRD_FILES

    for crd_file in CRD_FILES:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd_file))
    kubectl(
        "wait",
        "--for=condition=Established",
        "crd/bedrockimportedmodels.bedrock.modelops.io",
        "crd/bedrockimportpolicies.bedrock.modelops.io",
        "crd/bedrockobservedmodels.bedrock.modelops.io",
        "--timeout=60s",
    )
    return True


@pytest.fixture(scope="session")
def local_aws():
    from bmo_devtools.dev.aws import LocalAws

    with LocalAws(job_duration=1.0, model_quota=500) as aws:
        aws.seed_examples()
        yield aws


#: The local Bedrock as every end-to-end test starts: no faults, one import slot, 1 s jobs.
NO_FAULTS = {
    "throttle_rate": 0,
    "error_rate": 0,
    "fail_jobs": 0,
    "iam_propagation_failures": 0,
    "latency_ms": 0,
    "concurrent_jobs": 1,
    "job_duration_seconds": 1.0,
    "model_visibility_delay_seconds": 0,
    "job_visibility_delay_seconds": 0,
    "drop_responses": {},
    "hold_responses": {},
    "hold_requests": {},
    "not_found_seconds": {},
    "delete_conflicts": 0,
    "deny_deletes": 0,
    "imported_model_quota": 500,
    "cold_start_seconds": 0,
    "idle_evict_seconds": 3600,
    "always_cold": False,
    "invoke_errors": 0,
    "guardrail_interventions": 0,
}


@pytest.fixture
def clean_faults(local_aws):
    """A fault one test sets never reaches the next: reset before and after, whatever happens."""
    local_aws.set_faults(**NO_FAULTS)
    yield
    local_aws.set_faults(**NO_FAULTS)


@pytest.fixture(scope="session")
def node_images():
    """The pause image and the project's Dockerfile built FROM a Debian base (hack/build-images.sh; cached
    by content, so a session rebuilds only when what the image copies has changed)."""
    from bmo_devtools.dev.node import build_images

    return build_images()


@pytest.fixture(scope="session")
def node(control_plane, node_images):
    """A real node in the shared cluster: kubelet, kube-scheduler, containerd and runc. Pods the tests (and
    the operator's validation Jobs) create from then on really run, in the image built from the Dockerfile."""
    from bmo_devtools.dev.node import LocalNode

    global _NODE
    images = (node_images.pause, node_images.operator)
    assert control_plane.workdir is not None
    with LocalNode(control_plane, control_plane.workdir / "node", images=images) as local_node:
        _NODE = local_node
        try:
            yield local_node
        finally:
            _NODE = None


@pytest.fixture(scope="session")
def operator(control_plane, crd_installed, local_aws, node, node_images, tmp_path_factory):
    from bmo_devtools.dev.aws import LocalAws
    from tests.support import operator_process
    from tests.support.operator_process import OperatorProcess

    # validation Jobs run on the node in the image built here, their pods on the host network
    operator_process.VALIDATION_ENV.update(
        BMO_VALIDATOR_IMAGE=node_images.operator_image,
        BMO_VALIDATION_POD_TEMPLATE=LocalAws.validation_pod_template(),
    )
    op = OperatorProcess(control_plane, local_aws, tmp_path_factory.mktemp("operator"))
    op.start()
    yield op
    op.stop()
