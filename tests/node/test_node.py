"""The local node for real: the image built from the Dockerfile, the hardened validation pod as runc runs
it, and each way a validation Job fails without a verdict, produced (not reported) on the node and read
back by the operator's own ValidationJobs.read into its documented reason."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import pytest
import yaml
from kubernetes import client

from bmo_devtools.dev.aws import LocalAws
from controller.kube.validation_jobs import JobResult, ValidationJobs
from controller.settings import Settings
from tests.support.helpers import wait_for

pytestmark = [pytest.mark.controlplane, pytest.mark.node]

LLAMA = "s3://bmo-examples/llama3-8b-support/"


def run_pod(kubectl, namespace: str, spec: dict, timeout: float = 90) -> tuple[dict, str]:
    """Create a pod, wait until it has ended, return its status and its log."""
    name = f"p-{uuid.uuid4().hex[:6]}"
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))

    def ended():
        pod = json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    pod = wait_for(ended, timeout=timeout, what=f"pod {name} to end")
    return pod["status"], kubectl("logs", name, "-n", namespace).stdout


def test_the_image_runs_as_its_non_root_user_on_a_read_only_root(kubectl, node, node_images, namespace):
    """No runAsUser in the pod: the uid is the image's own USER (65532), and the CLI runs with `/` read-only
    and only the HOME the image sets (/tmp, an emptyDir)."""
    status, log = run_pod(
        kubectl,
        namespace,
        {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "image",
                    "image": node_images.operator_image,
                    "imagePullPolicy": "Never",
                    "command": [
                        "sh",
                        "-c",
                        "id -u; id -g; echo HOME=$HOME; bedrock-model-operator --help "
                        ">/dev/null && echo cli-ok; touch /probe 2>&1 || echo root-read-only",
                    ],
                    "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    )
    assert status["phase"] == "Succeeded", (status, log)
    lines = log.split()
    assert lines[:3] == ["65532", "65532", "HOME=/tmp"], log
    assert "cli-ok" in log and "root-read-only" in log and "Read-only file system" in log


PROBE = """
import os, pathlib
print("uid", os.getuid(), os.getgid())
try:
    open("/probe", "w")
except OSError as exc:
    print("root", exc.strerror)
status = dict(l.split(":", 1) for l in pathlib.Path("/proc/self/status").read_text().splitlines())
print("seccomp", status["Seccomp"].strip(), "nonewprivs", status["NoNewPrivs"].strip(), "capeff",
      status["CapEff"].strip())
print("token", os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token"))
pathlib.Path("/tmp/scratch").write_text("ok")
print("tmp writable", pathlib.Path("/tmp/scratch").read_text())
"""


def test_the_validation_pod_is_hardened_for_real(kubectl, node, node_images, namespace, api_client):
    """The validation Job's own pod spec (ValidationJobs.build), with a probe as its command: what runc
    really applied. A manifest can say seccomp; only the kernel's /proc/self/status shows it is on."""
    kubectl("create", "serviceaccount", "bedrock-model-validator", "-n", namespace)
    job = ValidationJobs(Settings(validator_image=node_images.operator_image)).build(
        namespace=namespace,
        owner_name="probe",
        owner_uid="u",
        rev="0" * 8,
        s3_uri=LLAMA,
        region="us-east-1",
        architecture=None,
    )
    spec = api_client.sanitize_for_serialization(job.spec.template.spec)
    spec["containers"][0]["command"] = ["python3", "-c", PROBE]
    spec["containers"][0]["args"] = []
    wait_for(
        lambda: kubectl("get", "serviceaccount", "default", "-n", namespace, check=False).returncode == 0,
        timeout=30,
        what="default ServiceAccount",
    )
    status, log = run_pod(kubectl, namespace, spec)
    assert status["phase"] == "Succeeded", (status, log)
    out = dict(line.split(" ", 1) for line in log.strip().splitlines())
    assert out["uid"] == "65532 65532"
    assert out["root"] == "Read-only file system"
    seccomp = out["seccomp"].split()
    assert seccomp[0] == "2", out  # 2: a seccomp filter is on (RuntimeDefault)
    assert seccomp[2] == "1", out  # no_new_privs: allowPrivilegeEscalation false
    assert seccomp[4] == "0000000000000000", out  # every capability dropped
    assert out["token"] == "False"  # automountServiceAccountToken: false
    assert out["tmp"] == "writable ok"


# ---- validation Jobs that fail without a verdict, for real -------------------------------------------


@pytest.fixture
def silent_s3() -> Iterator[socket.socket]:
    """An endpoint that accepts connections and never answers: a stuck source, for the Job's deadline."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server
    server.close()


def _run_job(
    api_client, kubectl, namespace: str, settings: _JobSettings, edit=None, done=None, timeout: float = 120
) -> JobResult:
    """Create the validation Job the operator would (ValidationJobs.build), let the node run it, and read
    it as the operator does until `done` (default: no longer running)."""
    kubectl("create", "serviceaccount", settings.validation_service_account, "-n", namespace, check=False)
    jobs = ValidationJobs(settings)
    jobs._client = lambda: api_client  # the test's admin client; the operator uses its own
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_S3", settings.s3_endpoint_for_test)
        job = jobs.build(
            namespace=namespace,
            owner_name="m",
            owner_uid=str(uuid.uuid4()),
            rev="0" * 8,
            s3_uri=LLAMA,
            region="us-east-1",
            architecture=None,
        )
    job.metadata.owner_references = None  # no model object here: the Job stands alone
    if edit:
        edit(job)
    batch = client.BatchV1Api(api_client)
    batch.create_namespaced_job(namespace, job)
    done = done or (lambda r: r.kind != "running")

    def result():
        r = jobs.read(batch.read_namespaced_job(job.metadata.name, namespace))
        return r if done(r) else None

    return wait_for(result, timeout=timeout, what=f"validation Job {job.metadata.name} to end")


class _JobSettings(Settings):
    """The operator's settings and where the Job's S3 is (the operator passes its AWS_ENDPOINT_URL_S3 on)."""

    s3_endpoint_for_test: str


def _settings(node_images, moto: str, **kw) -> _JobSettings:
    return _JobSettings(
        **{
            "validator_image": node_images.operator_image,
            "validation_pod_template": LocalAws.validation_pod_template(),
            "s3_endpoint_for_test": moto,
            **kw,
        }
    )


def test_a_verdict_comes_back_from_a_real_pod(api_client, kubectl, node, node_images, local_aws, namespace):
    r = _run_job(api_client, kubectl, namespace, _settings(node_images, local_aws.moto_url))
    assert r.kind == "verdict" and r.doc is not None and r.doc.verdict == "importable", r


def test_a_memory_limit_the_validator_cannot_fit_in_is_a_real_oomkill(
    api_client, kubectl, node, node_images, local_aws, namespace
):
    settings = _settings(node_images, local_aws.moto_url, validation_job_memory="48Mi")
    r = _run_job(api_client, kubectl, namespace, settings)
    assert (r.kind, r.reason) == ("failed", "ValidationJobOOMKilled"), r
    assert "48Mi" in r.message


def test_a_source_that_never_answers_runs_into_the_jobs_deadline(
    api_client, kubectl, node, node_images, silent_s3, namespace
):
    endpoint = f"http://127.0.0.1:{silent_s3.getsockname()[1]}"
    settings = _settings(node_images, endpoint, validation_job_deadline_seconds=8)
    r = _run_job(api_client, kubectl, namespace, settings)
    assert (r.kind, r.reason) == ("failed", "ValidationJobDeadlineExceeded"), r
    silent_s3.settimeout(0)
    connection, _ = silent_s3.accept()  # the validator did reach the source and was waiting on it
    connection.close()


def test_an_image_that_is_not_there_is_a_pull_failure_not_a_hang(
    api_client, kubectl, node, node_images, local_aws, namespace
):
    # "localhost/...": the kubelet tries this machine's own port 443 and nothing else
    settings = _settings(node_images, local_aws.moto_url, validator_image="localhost/bmo-not-built:none")
    r = _run_job(
        api_client, kubectl, namespace, settings, done=lambda r: r.reason == "ValidationImagePullFailing"
    )
    assert r.kind == "running" and "localhost/bmo-not-built:none" in r.message, r


def test_a_validator_that_dies_at_start_is_a_crash(
    api_client, kubectl, node, node_images, local_aws, namespace
):
    """The interpreter itself refuses to start (a bad PYTHONHASHSEED from the pod template's env): exit 1,
    no termination message."""
    template = {
        "hostNetwork": True,
        "env": [{"name": "PYTHONHASHSEED", "value": "not-a-number"}],
    }
    settings = _settings(node_images, local_aws.moto_url).model_copy(
        update={"validation_pod_template": json.dumps(template)}
    )
    r = _run_job(api_client, kubectl, namespace, settings)
    assert (r.kind, r.reason) == ("failed", "ValidationJobCrashed"), r
    assert "exited with code 1" in r.message


def test_a_pod_over_its_scratch_space_is_evicted_by_the_kubelet(
    api_client, kubectl, node, node_images, local_aws, namespace
):
    """The validation pod's /tmp is an emptyDir of 64Mi: a pod that writes more is evicted by the
    kubelet's eviction manager, and the operator says so."""

    def fill_tmp(job):
        c = job.spec.template.spec.containers[0]
        c.command = [
            "python3",
            "-c",
            "import time; open('/tmp/fill', 'wb').write(b'0' * (96 << 20)); time.sleep(300)",
        ]
        c.args = []

    r = _run_job(
        api_client, kubectl, namespace, _settings(node_images, local_aws.moto_url), edit=fill_tmp, timeout=150
    )
    assert (r.kind, r.reason) == ("failed", "ValidationJobEvicted"), r


def test_a_pod_the_api_refuses_is_said_with_the_job_controllers_words(
    api_client, kubectl, node, node_images, local_aws, namespace
):
    """A pod template the namespace does not allow (an unknown priority class) leaves the Job without a pod:
    the condition quotes the job controller's FailedCreate Event, not "no pod yet" until the deadline."""
    settings = _settings(node_images, local_aws.moto_url).model_copy(
        update={"validation_pod_template": json.dumps({"priorityClassName": "no-such-class"})}
    )
    r = _run_job(api_client, kubectl, namespace, settings, done=lambda r: r.reason == "ValidationPodRefused")
    assert r.kind == "running" and "no-such-class" in r.message, r
