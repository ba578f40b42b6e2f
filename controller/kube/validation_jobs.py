"""Validation in a Job pod: the operator's Kubernetes side of `spec.validation.mode: Job`.

One `batch/v1` Job per object revision runs `bedrock-model-operator validate` from the operator's own
image, with its own ServiceAccount (IRSA / Pod Identity give it read access to the models bucket), a
hardened pod, resource limits and a deadline, owned by the model object so it is garbage-collected with
it. The verdict comes back as the pod's termination message (compact JSON, < 4 KiB); the full report is
in the pod log. Failures that are not verdicts (OOMKilled, deadline, eviction, image pull, a crash) get
their own reasons.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.api.models import API_VERSION, KIND
from controller.artifacts.sources import source_error_reason
from controller.artifacts.verdict import Verdict
from controller.aws.endpoints import configured_endpoint
from controller.kube import validation_pod_template
from controller.kube.client import api_client
from controller.settings import Settings

MANAGED_BY = "bedrock-model-operator"
LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_OWNER = "bedrock.modelops.io/owner-uid"
LABEL_REVISION = "bedrock.modelops.io/revision"
ANNOTATION_OWNER_NAME = "bedrock.modelops.io/owner-name"
TERMINATION_LOG = "/dev/termination-log"
CONTAINER = "validate"
LABEL_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"  # set by the job controller on its pods
#: Env that identity webhooks add to pods (IRSA, EKS Pod Identity): absent from the Job's template, trusted.
INJECTED_ENV = frozenset(
    {
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    }
)
#: Where those webhooks (and the kubelet) mount tokens; any other added mount could replace what runs.
INJECTED_MOUNTS = "/var/run/secrets/"
_PULL_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
_CONFIG_ERRORS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


@dataclass
class JobResult:
    """running: wait (reason says why); verdict: `doc` is what the validator said; failed: no verdict."""

    kind: str
    reason: str = ""
    message: str = ""
    doc: Verdict | None = None


def job_name(owner_name: str, owner_uid: str, rev: str) -> str:
    """The revision's Job name: readable, and the object's own (two long names with a common prefix cut to
    the same 30 characters do not share a Job: a hash of the uid tells them apart). At most 61 characters."""
    uid = hashlib.sha256(owner_uid.encode()).hexdigest()[:8]
    return f"bmo-validate-{owner_name[:30].rstrip('-.')}-{uid}-{rev[:8]}"


class ValidationJobs:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _client(self) -> client.ApiClient:
        return api_client(self.settings)

    # ---- the Job ----------------------------------------------------------------------------
    def build(
        self,
        *,
        namespace: str,
        owner_name: str,
        owner_uid: str,
        rev: str,
        s3_uri: str,
        region: str,
        architecture: str | None,
    ) -> client.V1Job:
        s = self.settings
        name = job_name(owner_name, owner_uid, rev)
        labels = {
            LABEL_MANAGED: MANAGED_BY,
            LABEL_OWNER: owner_uid,
            LABEL_REVISION: rev,
            "app.kubernetes.io/component": "validator",
        }
        annotations = {ANNOTATION_OWNER_NAME: owner_name}
        args = [
            s3_uri,
            "--region",
            region,
            "--output",
            "json",
            "--termination-log",
            TERMINATION_LOG,
            "--exit-zero-on-verdict",
        ]
        if architecture:
            args += ["--architecture", architecture, "--architecture-label", "spec.architecture"]
        env = [client.V1EnvVar(name="AWS_REGION", value=region), client.V1EnvVar(name="HOME", value="/tmp")]
        s3_endpoint = configured_endpoint("s3")
        if s3_endpoint:  # dev stack / tests only: a real install reads S3 itself
            args += ["--endpoint-url", s3_endpoint]
        container = client.V1Container(
            name=CONTAINER,
            image=s.validator_image,
            image_pull_policy="IfNotPresent",
            command=["bedrock-model-operator", "validate"],
            args=args,
            env=env,
            resources=client.V1ResourceRequirements(
                # request = limit: the validator's peak is what it needs to be scheduled for (the setting
                # says "request and limit"; a limit below a fixed request was refused by the API)
                requests={
                    "cpu": validation_pod_template.DEFAULT_CPU["requests"],
                    "memory": s.validation_job_memory,
                },
                limits={
                    "cpu": validation_pod_template.DEFAULT_CPU["limits"],
                    "memory": s.validation_job_memory,
                },
            ),
            security_context=client.V1SecurityContext(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                privileged=False,
                capabilities=client.V1Capabilities(drop=["ALL"]),
            ),
            termination_message_path=TERMINATION_LOG,
            termination_message_policy="File",
            volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")],
        )
        pod = client.V1PodSpec(
            restart_policy="Never",
            service_account_name=s.validation_service_account,
            automount_service_account_token=False,
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True,
                run_as_user=65532,
                run_as_group=65532,
                fs_group=65532,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
            ),
            containers=[container],
            volumes=[client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource(size_limit="64Mi"))],
        )
        job = client.V1Job(
            api_version="batch/v1",
            kind="Job",
            metadata=client.V1ObjectMeta(
                name=name,
                namespace=namespace,
                labels=labels,
                annotations=annotations,
                owner_references=[
                    client.V1OwnerReference(
                        api_version=API_VERSION,
                        kind=KIND,
                        name=owner_name,
                        uid=owner_uid,
                        controller=True,
                        block_owner_deletion=True,
                    )
                ],
            ),
            spec=client.V1JobSpec(
                backoff_limit=0,
                active_deadline_seconds=int(s.validation_job_deadline_seconds),
                ttl_seconds_after_finished=3600,
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels, annotations=annotations), spec=pod
                ),
            ),
        )
        template = validation_pod_template.parse(s.validation_pod_template)
        return validation_pod_template.apply(template, job)

    def ensure(self, **kw: Any) -> JobResult:
        """Create the revision's Job if missing (removing other revisions' Jobs), and read where it is."""
        batch = client.BatchV1Api(self._client())
        job = self.build(**kw)
        ns, name = job.metadata.namespace, job.metadata.name
        try:
            current = batch.read_namespaced_job(name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise
            sa = self.settings.validation_service_account
            try:
                client.CoreV1Api(self._client()).read_namespaced_service_account(sa, ns)
            except ApiException as sa_exc:
                if sa_exc.status != 404:
                    raise
                return JobResult(
                    "running",
                    "ValidationServiceAccountMissing",
                    f"ServiceAccount {sa} does not "
                    f"exist in namespace {ns}: create it (with read access to the model bucket, e.g. "
                    "an IRSA role annotation) so the validation Job can run",
                )
            self.delete_for_owner(ns, kw["owner_uid"], keep=name)
            try:
                batch.create_namespaced_job(ns, job)
            except ApiException as exc2:
                if exc2.status != 409:
                    raise
            return JobResult("running", "ValidationJobCreated", f"validation Job {name} created")
        why = foreign_job(current, job, kw["owner_uid"])
        if why:  # a tenant may create Jobs in its namespace: a Job under the name is not a verdict
            return JobResult(
                "running",
                "ValidationJobForeign",
                f"a Job named {name} exists that the operator did not make ({why}); no verdict is taken "
                "from it: delete it so the operator can run its own",
            )
        return self.read(current, built=job)

    def read(
        self, job: client.V1Job, now: dt.datetime | None = None, built: client.V1Job | None = None
    ) -> JobResult:
        """Where a Job of the operator's stands. Its pods are found by the job controller's uid label and
        their controller reference; with `built` (what the operator made), a pod that does not run the
        validator as built is ignored: anyone who may create Pods can add those labels and references."""
        name, ns = job.metadata.name, job.metadata.namespace
        conds = {c.type: c for c in (job.status.conditions or []) if c.status == "True"}
        listed = (
            client.CoreV1Api(self._client())
            .list_namespaced_pod(ns, label_selector=f"{LABEL_CONTROLLER_UID}={job.metadata.uid}")
            .items
        )
        pods = [pod for pod in listed if foreign_pod(pod, job, built) is None]
        term = None
        for pod in pods:
            for cs in (pod.status.container_statuses or []) if pod.status else []:
                if cs.name == CONTAINER and cs.state and cs.state.terminated:
                    term = cs.state.terminated
        if "Complete" in conds or "SuccessCriteriaMet" in conds:
            return self._verdict(name, term)
        if "Failed" in conds or "FailureTarget" in conds:
            return self._failure(name, conds.get("Failed") or conds.get("FailureTarget"), term, pods)
        for pod in pods:  # still running: say why when it is stuck
            if pod.status and pod.status.reason == "Evicted":
                return JobResult(
                    "failed",
                    "ValidationJobEvicted",
                    f"validation pod {pod.metadata.name} was evicted: {pod.status.message or ''}",
                )
            for cs in (pod.status.container_statuses or []) if pod.status else []:
                waiting = cs.state.waiting if cs.state else None
                if waiting and waiting.reason in _PULL_ERRORS:
                    return JobResult(
                        "running",
                        "ValidationImagePullFailing",
                        f"validation pod cannot pull {cs.image}: {waiting.reason}: {waiting.message or ''}"
                        " (check the operator's validator image setting and pull secrets)",
                    )
                if waiting and waiting.reason in _CONFIG_ERRORS:
                    return JobResult(
                        "failed", "ValidationJobConfigError", f"{waiting.reason}: {waiting.message or ''}"
                    )
        left = _deadline_left(job, now)
        for pod in pods:
            pending = pending_reason(pod)
            if pending is not None:
                return JobResult("running", "ValidationPodPending", f"{pending}{left}")
        if not pods:
            refused = self._pod_refusal(ns, name)
            if refused:
                return JobResult(
                    "running",
                    "ValidationPodRefused",
                    f"the job controller cannot create validation Job {name}'s pod: {refused} (check the "
                    f"namespace's Pod Security and ResourceQuota, and BMO_VALIDATION_POD_TEMPLATE){left}",
                )
            return JobResult("running", "ValidationPodPending", f"validation Job {name} has no pod yet{left}")
        return JobResult("running", "ValidationJobRunning", f"validation Job {name} is running{left}")

    def _pod_refusal(self, namespace: str, job: str) -> str:
        """The job controller's last FailedCreate Event for the Job: why its pod was refused (Pod Security,
        a ResourceQuota, an unknown priority class), which the Job's status does not say."""
        events = (
            client.CoreV1Api(self._client())
            .list_namespaced_event(
                namespace,
                field_selector=f"involvedObject.kind=Job,involvedObject.name={job},reason=FailedCreate",
            )
            .items
        )
        if not events:
            return ""
        last = max(events, key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp)
        return " ".join((last.message or "").split())[:500]

    @staticmethod
    def _parse(term) -> Verdict | None:
        return Verdict.read(term.message if term is not None else None)

    def _verdict(self, name: str, term) -> JobResult:
        doc = self._parse(term)
        if doc is None or doc.verdict == "error":
            return JobResult(
                "failed",
                "ValidationResultMissing",
                f"validation Job {name} succeeded but left no readable result in its termination message",
            )
        return JobResult("verdict", doc=doc)

    def _failure(self, name: str, cond, term, pods) -> JobResult:
        reason = getattr(cond, "reason", "") or ""
        if reason == "DeadlineExceeded":
            return JobResult(
                "failed",
                "ValidationJobDeadlineExceeded",
                f"validation Job {name} ran out of time "
                f"({int(self.settings.validation_job_deadline_seconds)}s); a very large or slow "
                "source? raise the operator's validation Job deadline",
            )
        if any(p.status and p.status.reason == "Evicted" for p in pods):
            return JobResult("failed", "ValidationJobEvicted", f"validation pod of Job {name} was evicted")
        if term is not None:
            if term.reason == "OOMKilled" or term.exit_code == 137:
                return JobResult(
                    "failed",
                    "ValidationJobOOMKilled",
                    f"validation Job {name} ran out of memory "
                    f"(limit {self.settings.validation_job_memory}); raise the validation Job memory",
                )
            doc = self._parse(term)
            if doc is not None and doc.verdict == "error":
                code = doc.code or "Error"
                reason = source_error_reason(code) or "SourceUnreadable"
                return JobResult(
                    "failed",
                    reason,
                    f"the validator could not read the source: {code}: "
                    f"{doc.message or ''} (check the validation ServiceAccount's S3 access)",
                )
            return JobResult(
                "failed",
                "ValidationJobCrashed",
                f"validator exited with code {term.exit_code} "
                f"({term.reason or 'Error'}); see `kubectl logs job/{name}`",
            )
        return JobResult(
            "failed",
            "ValidationJobFailed",
            f"validation Job {name} failed: {reason} {getattr(cond, 'message', '') or ''}",
        )

    def delete_for_owner(self, namespace: str, owner_uid: str, keep: str | None = None) -> int:
        """Delete the owner's validation Jobs (all, or all but `keep`), with their pods."""
        batch = client.BatchV1Api(self._client())
        jobs = batch.list_namespaced_job(namespace, label_selector=f"{LABEL_OWNER}={owner_uid}").items
        n = 0
        for job in jobs:
            if job.metadata.name == keep:
                continue
            try:
                batch.delete_namespaced_job(job.metadata.name, namespace, propagation_policy="Background")
                n += 1
            except ApiException as exc:
                if exc.status != 404:
                    raise
        return n


# ---- trust: a tenant may create Jobs and Pods in its namespace, with any name, label or reference ---------
def _owner_uid(meta: client.V1ObjectMeta | None) -> str | None:
    refs = (meta.owner_references if meta else None) or []
    return next((r.uid for r in refs if r.controller), None)


def _runs(container: client.V1Container | None) -> dict[str, Any]:
    """What decides a validator's verdict: the program, its arguments, its environment, its mounts."""
    if container is None:
        return {}
    return {
        "image": container.image,
        "command": list(container.command or []),
        "args": list(container.args or []),
        "env": {e.name: (e.value or "", e.value_from is not None) for e in container.env or []},
        "env_from": bool(container.env_from),
        "mounts": {m.mount_path: (m.name, bool(m.sub_path)) for m in container.volume_mounts or []},
    }


def _validator(spec: client.V1PodSpec | None) -> client.V1Container | None:
    return next((c for c in (spec.containers if spec else None) or [] if c.name == CONTAINER), None)


def foreign_job(job: client.V1Job, built: client.V1Job, owner_uid: str) -> str | None:
    """Why a Job under the revision's name is not one the operator made for this object (None if it is):
    its controller must be the model, its owner label the model's uid, and its pod template the one built."""
    meta = job.metadata
    if _owner_uid(meta) != owner_uid:
        return "its controller reference is not this model"
    if (meta.labels or {}).get(LABEL_OWNER) != owner_uid:
        return f"its {LABEL_OWNER} label is not this model's uid"
    mine, theirs = (
        built.spec.template.spec,
        job.spec.template.spec if job.spec and job.spec.template else None,
    )
    if theirs is None or len(theirs.containers or []) != len(mine.containers or []) or theirs.init_containers:
        return "its pod does not run the operator's validator alone"
    if _runs(_validator(theirs)) != _runs(_validator(mine)):
        return "its validator container is not the one the operator builds"
    if theirs.service_account_name != mine.service_account_name:
        return f"it runs as ServiceAccount {theirs.service_account_name}"
    return None


def foreign_pod(pod: client.V1Pod, job: client.V1Job, built: client.V1Job | None) -> str | None:
    """Why a pod is not one the job controller made from the operator's Job (None if it is). Identity
    webhooks may add their env and token mounts; nothing else may differ from what the operator built."""
    if _owner_uid(pod.metadata) != job.metadata.uid:
        return "its controller is not the validation Job"
    if built is None:
        return None
    mine, theirs = _runs(_validator(built.spec.template.spec)), _runs(_validator(pod.spec))
    if not theirs:
        return "it has no validator container"
    extra_env = set(theirs["env"]) - set(mine["env"])
    extra_mounts = set(theirs["mounts"]) - set(mine["mounts"])
    if (
        any(theirs[k] != mine[k] for k in ("image", "command", "args", "env_from"))
        or any(theirs["env"][k] != v for k, v in mine["env"].items() if k in theirs["env"])
        or set(mine["env"]) - set(theirs["env"])
        or extra_env - INJECTED_ENV
        or any(theirs["mounts"][k] != v for k, v in mine["mounts"].items() if k in theirs["mounts"])
        or any(not m.startswith(INJECTED_MOUNTS) for m in extra_mounts)
        or pod.spec.init_containers
    ):
        return "its validator container is not the one the operator builds"
    return None


def pending_reason(pod: client.V1Pod) -> str | None:
    """What a pod that has not started its container waits for, in the scheduler's or the kubelet's words;
    None once it runs."""
    status = pod.status
    if status is None or status.phase != "Pending":
        return None
    name = pod.metadata.name
    for cond in status.conditions or []:
        if cond.type == "PodScheduled" and cond.status == "False":
            return f"validation pod {name} cannot be scheduled: {cond.reason}: {cond.message or ''}".rstrip(
                ": "
            )
    for cs in [*(status.init_container_statuses or []), *(status.container_statuses or [])]:
        waiting = cs.state.waiting if cs.state else None
        if waiting is not None:
            detail = f": {waiting.message}" if waiting.message else ""
            return f"validation pod {name} is waiting: {waiting.reason}{detail}"
    if not (pod.spec and pod.spec.node_name):
        return f"validation pod {name} is waiting to be scheduled"
    return f"validation pod {name} is starting on node {pod.spec.node_name}"


def _deadline_left(job: client.V1Job, now: dt.datetime | None) -> str:
    """`; 840s left before the Job's deadline` (its activeDeadlineSeconds counts from its start)."""
    deadline = job.spec.active_deadline_seconds if job.spec else None
    start = job.status.start_time if job.status else None
    if not deadline or start is None:
        return ""
    now = now or dt.datetime.now(dt.UTC)
    left = max(0, int(deadline - (now - start).total_seconds()))
    return f"; {left}s left before the Job's deadline"
