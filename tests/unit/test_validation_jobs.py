"""Validation Jobs as the operator builds and reads them (`controller/kube/validation_jobs.py`): the
arguments of the validator pod, a refused create, and the reason a Job that ends without a verdict is
reported with. No servers: the Kubernetes client is faked the way tests/unit/test_validation_trust.py does.
Each test names the branch it drives (docs/coverage-branches.md)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any, ClassVar

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.kube.validation_jobs import CONTAINER, ValidationJobs, foreign_pod
from controller.settings import Settings

OWNER = "0f9e8d7c-0000-4000-8000-000000000001"


def _built(jobs: ValidationJobs | None = None, architecture: str | None = None) -> client.V1Job:
    return (jobs or ValidationJobs(Settings(validator_image="bmo:1"))).build(
        namespace="team-a",
        owner_name="m",
        owner_uid=OWNER,
        rev="abcdef0123456789",
        s3_uri="s3://models/a/",
        region="us-east-1",
        architecture=architecture,
    )


def _stored(job: client.V1Job, *conditions: client.V1JobCondition) -> client.V1Job:
    """The Job as the API returns it: its own uid, and the job controller's conditions."""
    job = copy.deepcopy(job)
    job.metadata.uid = "job-uid-1"
    job.status = client.V1JobStatus(conditions=list(conditions) or None)
    return job


def _failed(reason: str = "BackoffLimitExceeded", message: str = "") -> client.V1JobCondition:
    return client.V1JobCondition(type="Failed", status="True", reason=reason, message=message)


def _pod_of(job: client.V1Job, status: client.V1PodStatus | None = None) -> client.V1Pod:
    """A pod the job controller made from `job` (its labels, its controller reference, its template)."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=f"{job.metadata.name}-x1",
            labels={"batch.kubernetes.io/controller-uid": job.metadata.uid},
            owner_references=[
                client.V1OwnerReference(
                    api_version="batch/v1",
                    kind="Job",
                    name=job.metadata.name,
                    uid=job.metadata.uid,
                    controller=True,
                )
            ],
        ),
        spec=copy.deepcopy(job.spec.template.spec),
        status=status,
    )


def _container(name: str = CONTAINER, **state: Any) -> client.V1ContainerStatus:
    return client.V1ContainerStatus(
        name=name,
        image="bmo:1",
        image_id="",
        ready=False,
        restart_count=0,
        state=client.V1ContainerState(**state),
    )


def _terminated(
    exit_code: int, reason: str = "Error", message: str | None = None
) -> client.V1ContainerStatus:
    return _container(
        terminated=client.V1ContainerStateTerminated(exit_code=exit_code, reason=reason, message=message)
    )


class _FakeCore:
    """CoreV1Api as `read` and `ensure` use it: the Job's pods, the job controller's Events, the SA."""

    pods: ClassVar[list[client.V1Pod]] = []

    def __init__(self, *_: object) -> None:
        pass

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> client.V1PodList:
        key, _, value = label_selector.partition("=")
        return client.V1PodList(items=[p for p in self.pods if (p.metadata.labels or {}).get(key) == value])

    def list_namespaced_event(self, namespace: str, field_selector: str) -> client.CoreV1EventList:
        return client.CoreV1EventList(items=[])

    def read_namespaced_service_account(self, name: str, namespace: str) -> client.V1ServiceAccount:
        return client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name, namespace=namespace))


@pytest.fixture
def kube(monkeypatch):
    """The Kubernetes API as ValidationJobs sees it, faked: set `.pods`, patch BatchV1Api per test."""
    from controller.kube import validation_jobs as vj

    core = type("Core", (_FakeCore,), {"pods": []})
    monkeypatch.setattr(vj.client, "CoreV1Api", core)
    monkeypatch.setattr(ValidationJobs, "_client", lambda self: None)
    return core


def test_the_declared_architecture_reaches_the_validation_pod_and_decides_its_verdict(tmp_path, capsys):
    """validation_jobs.py `if architecture: args += ["--architecture", ...]`: in Job mode the validator
    pod is the only place spec.architecture can be checked. Run the built container's own command line
    (its source swapped for a local Llama 3 folder): declared Mistral, the verdict is ArchitectureMismatch
    naming spec.architecture; undeclared, the same folder is importable."""
    from bmo_devtools.dev.model_factory import ModelSpec, build_model
    from controller.cli import commands as cli

    folder = build_model(tmp_path / "llama", ModelSpec(kind="llama3"))

    def verdict(architecture: str | None) -> dict[str, Any]:
        container = _built(architecture=architecture).spec.template.spec.containers[0]
        assert container.command == ["bedrock-model-operator", "validate"]
        args = list(container.args)
        args[0] = str(folder)
        term = tmp_path / f"termination-{architecture}"
        args[args.index("--termination-log") + 1] = str(term)
        assert cli.main(["validate", *args]) == 0  # --exit-zero-on-verdict: the pod succeeds either way
        capsys.readouterr()
        return json.loads(term.read_text())

    declared = verdict("Mistral")
    assert declared["v"] == "not-importable"
    ((_code, message),) = [e for e in declared["e"] if e[0] == "ArchitectureMismatch"]
    assert "spec.architecture" in message and "Mistral" in message
    assert verdict(None)["v"] == "importable"


def test_a_refused_validation_job_create_is_retried_with_the_apiservers_reason(kube, monkeypatch):
    """validation_jobs.py `if exc2.status != 409: raise` (creating the Job): a `count/jobs.batch`
    ResourceQuota or an admission webhook refuses the Job. That must not read as "ValidationJobCreated"
    (the object would wait for a Job that does not exist): the error goes up, and the reconciler's
    handler turns it into Synced False "Kubernetes API error 403 on validation Jobs"."""
    from controller.kube import validation_jobs as vj
    from controller.kube.client import KUBE_ERRORS, api_error

    created: list[str] = []

    class RefusingBatch:
        def __init__(self, *_: object) -> None:
            pass

        def read_namespaced_job(self, name: str, namespace: str) -> client.V1Job:
            raise ApiException(status=404, reason="Not Found")

        def list_namespaced_job(self, namespace: str, label_selector: str) -> client.V1JobList:
            return client.V1JobList(items=[])

        def create_namespaced_job(self, namespace: str, body: client.V1Job) -> client.V1Job:
            created.append(body.metadata.name)
            raise ApiException(status=403, reason="Forbidden")  # exceeded quota: count/jobs.batch=5

    monkeypatch.setattr(vj.client, "BatchV1Api", RefusingBatch)
    jobs = ValidationJobs(Settings(validator_image="bmo:1"))
    kw = dict(
        namespace="team-a",
        owner_name="m",
        owner_uid=OWNER,
        rev="abcdef0123456789",
        s3_uri="s3://models/a/",
        region="us-east-1",
        architecture=None,
    )
    with pytest.raises(KUBE_ERRORS) as refused:
        jobs.ensure(**kw)
    assert len(created) == 1
    assert api_error(refused.value, "on validation Jobs").message == (
        "Kubernetes API error 403 on validation Jobs: Forbidden"
    )


def test_a_validation_pod_stuck_on_a_missing_secret_fails_as_a_config_error(kube):
    """validation_jobs.py `if waiting and waiting.reason in _CONFIG_ERRORS:`: the pod template names a
    Secret that is missing, so the kubelet never starts the validator. The Job would otherwise sit
    "Pending" until its deadline; instead the revision fails at once with ValidationJobConfigError and the
    kubelet's words."""
    built = _built()
    job = _stored(built)  # running: no condition yet
    waiting = client.V1ContainerStateWaiting(
        reason="CreateContainerConfigError", message='secret "aws-config" not found'
    )
    kube.pods = [
        _pod_of(job, client.V1PodStatus(phase="Pending", container_statuses=[_container(waiting=waiting)]))
    ]
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", "ValidationJobConfigError")
    assert result.message == 'CreateContainerConfigError: secret "aws-config" not found'


def test_an_eviction_seen_only_after_the_job_failed_is_still_reported_as_an_eviction(kube):
    """validation_jobs.py `if any(... p.status.reason == "Evicted" for p in pods):` in `_failure`: the
    wake comes from the Job's watch event, so the operator usually first looks once the job controller
    has marked the Job Failed. The evicted pod's container was killed (exit 137); the user must read
    ValidationJobEvicted (the node was short of memory), not "raise the validation Job memory"."""
    built = _built()
    job = _stored(built, _failed())
    kube.pods = [
        _pod_of(
            job,
            client.V1PodStatus(
                phase="Failed",
                reason="Evicted",
                message="The node was low on resource: memory.",
                container_statuses=[_terminated(137)],
            ),
        )
    ]
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", "ValidationJobEvicted")
    assert "evicted" in result.message


def test_a_job_that_failed_without_a_validator_container_is_reported_with_the_jobs_own_reason(kube):
    """validation_jobs.py `if term is not None:` false (in `_failure`): the Job failed but no validator
    container ever terminated (its pod was deleted, or never started). The revision fails with the generic
    ValidationJobFailed, and the message carries the job controller's reason and message: the only clue."""
    built = _built()
    job = _stored(built, _failed("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    kube.pods = []
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", "ValidationJobFailed")
    assert "BackoffLimitExceeded" in result.message
    assert "Job has reached the specified backoff limit" in result.message


@pytest.mark.parametrize(
    "code,reason",
    [
        ("AccessDenied", "SourceAccessDenied"),
        ("NoSuchBucket", "SourceNotFound"),
        ("SlowDown", "SourceUnreadable"),
    ],
)
def test_a_validator_that_cannot_read_the_source_reports_why(kube, code, reason):
    """validation_jobs.py `if doc and doc.get("v") == "error":`: the validator pod cannot read the
    bucket (its ServiceAccount has no S3 access, the bucket is gone) and exits 2 with an error record in
    its termination message. The user reads SourceAccessDenied / SourceNotFound / SourceUnreadable with
    the S3 code and a hint at the ServiceAccount, not a "validator crashed, see the logs"."""
    built = _built()
    job = _stored(built, _failed())
    term = json.dumps({"v": "error", "code": code, "message": "Access Denied"}, separators=(",", ":"))
    kube.pods = [
        _pod_of(job, client.V1PodStatus(phase="Failed", container_statuses=[_terminated(2, message=term)]))
    ]
    result = ValidationJobs(Settings()).read(job, built=built)
    assert (result.kind, result.reason) == ("failed", reason)
    assert f"could not read the source: {code}" in result.message
    assert "ServiceAccount's S3 access" in result.message


def test_a_tenants_job_under_the_name_without_a_validator_container_is_reported_as_foreign(kube, monkeypatch):
    """validation_jobs.py `if container is None: return {}` (in `_runs`): a tenant made a Job under the
    revision's name, with the right owner reference and label, whose one container is not named
    `validate`. The object waits with ValidationJobForeign ("delete it so the operator can run its own")
    instead of its pass failing on that Job."""
    from controller.kube import validation_jobs as vj

    built = _built()
    theirs = _stored(built)
    theirs.spec.template.spec.containers[0].name = "main"

    class Batch:
        def __init__(self, *_: object) -> None:
            pass

        def read_namespaced_job(self, name: str, namespace: str) -> client.V1Job:
            assert name == built.metadata.name
            return theirs

    monkeypatch.setattr(vj.client, "BatchV1Api", Batch)
    result = ValidationJobs(Settings(validator_image="bmo:1")).ensure(
        namespace="team-a",
        owner_name="m",
        owner_uid=OWNER,
        rev="abcdef0123456789",
        s3_uri="s3://models/a/",
        region="us-east-1",
        architecture=None,
    )
    assert (result.kind, result.reason) == ("running", "ValidationJobForeign")
    assert "not the one the operator builds" in result.message


def test_a_stray_pod_of_the_operators_job_without_a_validator_container_cannot_fail_the_revision(kube):
    """validation_jobs.py `if not theirs: return "it has no validator container"` (in `foreign_pod`): a
    tenant creates a pod with the Job's controller-uid label and controller reference but no `validate`
    container, and leaves it stuck in CreateContainerConfigError. It must be ignored: the revision keeps
    waiting for the real pod instead of failing with ValidationJobConfigError."""
    built = _built()
    job = _stored(built)
    stray = _pod_of(job)
    stray.spec.containers[0].name = "main"
    waiting = client.V1ContainerStateWaiting(reason="CreateContainerConfigError", message="forged")
    stray.status = client.V1PodStatus(
        phase="Pending", container_statuses=[_container("main", waiting=waiting)]
    )
    kube.pods = [stray]
    result = ValidationJobs(Settings()).read(job, built=built, now=dt.datetime.now(dt.UTC))
    assert (result.kind, result.reason) == ("running", "ValidationPodPending")
    assert foreign_pod(stray, job, built) == "it has no validator container"
