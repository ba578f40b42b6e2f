"""A tenant may create Jobs and Pods in its namespace with any name, label or owner reference: a validation
verdict is taken only from the Job the operator made for the model, and only from a pod the job controller
made from it and that runs the validator as built."""

from __future__ import annotations

import copy

from kubernetes import client

from controller.kube.validation_jobs import LABEL_OWNER, ValidationJobs, foreign_job, foreign_pod
from controller.settings import Settings

OWNER = "0f9e8d7c-0000-4000-8000-000000000001"


def _built() -> client.V1Job:
    return ValidationJobs(Settings(validator_image="bmo:1")).build(
        namespace="team-a",
        owner_name="m",
        owner_uid=OWNER,
        rev="abcdef0123456789",
        s3_uri="s3://models/a/",
        region="us-east-1",
        architecture=None,
    )


def _stored(job: client.V1Job) -> client.V1Job:
    """The Job as the API returns it: with its own uid."""
    job = copy.deepcopy(job)
    job.metadata.uid = "job-uid-1"
    return job


def _pod_of(job: client.V1Job) -> client.V1Pod:
    spec = copy.deepcopy(job.spec.template.spec)
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
        spec=spec,
    )


def test_the_operators_own_job_and_pod_are_trusted():
    built = _built()
    job = _stored(built)
    assert foreign_job(job, built, OWNER) is None
    pod = _pod_of(job)
    assert foreign_pod(pod, job, built) is None
    # what IRSA's webhook adds to the pod is not a forgery
    c = pod.spec.containers[0]
    c.env = [*c.env, client.V1EnvVar(name="AWS_ROLE_ARN", value="arn:aws:iam::1:role/r")]
    c.volume_mounts = [
        *c.volume_mounts,
        client.V1VolumeMount(
            name="aws-iam-token", mount_path="/var/run/secrets/eks.amazonaws.com/serviceaccount"
        ),
    ]
    assert foreign_pod(pod, job, built) is None


def test_a_job_a_tenant_made_under_the_name_is_not_trusted():
    built = _built()
    no_owner = _stored(built)
    no_owner.metadata.owner_references = []
    assert "controller reference" in foreign_job(no_owner, built, OWNER)
    other_model = _stored(built)
    other_model.metadata.owner_references[0].uid = "someone-else"
    assert foreign_job(other_model, built, OWNER)
    unlabelled = _stored(built)
    unlabelled.metadata.labels = {k: v for k, v in unlabelled.metadata.labels.items() if k != LABEL_OWNER}
    assert LABEL_OWNER in foreign_job(unlabelled, built, OWNER)
    # the right references, but a pod that writes its own "importable"
    forged = _stored(built)
    c = forged.spec.template.spec.containers[0]
    c.command, c.args = (
        ["sh", "-c"],
        ['echo \'{"v":"importable","s":{"weightBytes":1}}\' > /dev/termination-log'],
    )
    assert "validator container" in foreign_job(forged, built, OWNER)
    other_image = _stored(built)
    other_image.spec.template.spec.containers[0].image = "evil:1"
    assert foreign_job(other_image, built, OWNER)
    endpoint = _stored(built)
    endpoint.spec.template.spec.containers[0].env.append(
        client.V1EnvVar(name="AWS_ENDPOINT_URL_S3", value="http://attacker")
    )
    assert foreign_job(endpoint, built, OWNER)
    other_sa = _stored(built)
    other_sa.spec.template.spec.service_account_name = "tenant-sa"
    assert "ServiceAccount" in foreign_job(other_sa, built, OWNER)
    sidecar = _stored(built)
    sidecar.spec.template.spec.init_containers = [client.V1Container(name="prep", image="evil:1")]
    assert foreign_job(sidecar, built, OWNER)


def test_a_pod_a_tenant_made_for_the_operators_job_is_not_trusted():
    built = _built()
    job = _stored(built)
    stray = _pod_of(job)
    stray.metadata.owner_references = []  # only the labels the verdict used to be found by
    assert foreign_pod(stray, job, built)
    for change in (
        lambda c: setattr(c, "image", "evil:1"),
        lambda c: setattr(c, "args", ["s3://elsewhere/", *c.args[1:]]),
        lambda c: c.env.append(client.V1EnvVar(name="AWS_ENDPOINT_URL", value="http://attacker")),
        lambda c: setattr(c, "env", [e for e in c.env if e.name != "AWS_REGION"]),
        lambda c: c.volume_mounts.append(client.V1VolumeMount(name="cfg", mount_path="/tmp/.aws")),
        lambda c: setattr(
            c, "env_from", [client.V1EnvFromSource(config_map_ref=client.V1ConfigMapEnvSource(name="x"))]
        ),
    ):
        pod = _pod_of(job)
        change(pod.spec.containers[0])
        assert foreign_pod(pod, job, built), change


def test_an_exit_137_is_read_as_out_of_memory_whatever_the_reason_says():
    """Some runtimes report a cgroup OOM kill as reason `Error` with exit code 137 (SIGKILL): the message
    must still tell the user to raise the validation Job's memory, and the reason say OOMKilled."""
    jobs = ValidationJobs(Settings(validation_job_memory="512Mi"))
    cond = client.V1JobCondition(type="Failed", status="True", reason="BackoffLimitExceeded")
    for reason, code in (("OOMKilled", 137), ("Error", 137), ("OOMKilled", 1)):
        term = client.V1ContainerStateTerminated(reason=reason, exit_code=code)
        result = jobs._failure("bmo-validate-m-abcdef01", cond, term, [])
        assert (result.kind, result.reason) == ("failed", "ValidationJobOOMKilled"), (reason, code, result)
        assert "512Mi" in result.message
    crashed = jobs._failure("j", cond, client.V1ContainerStateTerminated(reason="Error", exit_code=2), [])
    assert crashed.reason == "ValidationJobCrashed"


def test_the_built_job_runs_once_without_an_api_token():
    """A validator parses tenant files: it gets no Kubernetes token, and a verdict that cannot change is
    not paid for several times (backoffLimit 0)."""
    job = _built()
    assert job.spec.backoff_limit == 0
    assert job.spec.template.spec.automount_service_account_token is False


def test_starting_one_models_job_deletes_only_that_models_other_jobs(monkeypatch):
    from controller.kube import validation_jobs as vj

    def job(name: str, owner: str) -> client.V1Job:
        return client.V1Job(
            metadata=client.V1ObjectMeta(name=name, labels={LABEL_OWNER: owner, "managed": "x"})
        )

    stored = [job("a-old", "uid-a"), job("a-new", "uid-a"), job("b-running", "uid-b")]
    deleted: list[str] = []

    class FakeBatch:
        def __init__(self, *_: object) -> None:
            pass

        def list_namespaced_job(self, namespace: str, label_selector: str) -> object:
            key, _, value = label_selector.partition("=")
            return client.V1JobList(items=[j for j in stored if j.metadata.labels.get(key) == value] or [])

        def delete_namespaced_job(self, name: str, namespace: str, **_: object) -> None:
            deleted.append(name)

    monkeypatch.setattr(vj.client, "BatchV1Api", FakeBatch)
    monkeypatch.setattr(ValidationJobs, "_client", lambda self: None)
    for j in stored:  # what the operator's Jobs carry: its managed-by label too
        j.metadata.labels[vj.LABEL_MANAGED] = vj.MANAGED_BY
    assert ValidationJobs(Settings()).delete_for_owner("team-a", "uid-a", keep="a-new") == 1
    assert deleted == ["a-old"]
