"""The validation pod template (BMO_VALIDATION_POD_TEMPLATE): what a cluster's owner may add to every
validation Job's pod, what they may not override, and how a wrong template is refused at start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller.kube.validation_jobs import LABEL_OWNER, ValidationJobs
from controller.settings import Settings


def build(template: str):
    return ValidationJobs(Settings(validation_pod_template=template)).build(
        namespace="team-a",
        owner_name="m",
        owner_uid="uid-1",
        rev="0" * 8,
        s3_uri="s3://b/m/",
        region="us-east-1",
        architecture=None,
    )


def test_no_template_leaves_the_job_as_the_operator_builds_it():
    pod = build("").spec.template.spec
    assert pod.node_selector is None and pod.tolerations is None and not pod.host_network
    assert pod.dns_policy is None and pod.priority_class_name is None


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({}, None),
        ({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000"}, "http://127.0.0.1:5000"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "http://127.0.0.1:4566"),
        ({"AWS_ENDPOINT_URL": "http://all", "AWS_ENDPOINT_URL_S3": "http://s3"}, "http://s3"),
        ({"AWS_ENDPOINT_URL_BEDROCK": "http://bedrock"}, None),
    ],
)
def test_the_job_reads_s3_where_the_operator_does(monkeypatch, env, endpoint):
    """botocore's AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL) is passed on to the pod, which does not
    inherit the operator's environment; unset (a real install), the pod reads AWS's S3."""
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_BEDROCK"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = build("").spec.template.spec.containers[0].args
    given = args[args.index("--endpoint-url") + 1] if "--endpoint-url" in args else None
    assert given == endpoint


def test_every_field_lands_where_kubernetes_reads_it():
    job = build(
        """
        labels: {cost-center: ml}
        annotations: {sidecar.istio.io/inject: "false"}
        nodeSelector: {pool: batch}
        tolerations: [{key: batch, operator: Exists, effect: NoSchedule}]
        affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms:
                   [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}}
        priorityClassName: batch-low
        imagePullSecrets: [{name: regcred}, mirror]
        resources: {requests: {cpu: 500m}, limits: {cpu: 2}}
        hostNetwork: true
        env: [{name: HTTPS_PROXY, value: "http://proxy:3128"}, {name: WORKERS, value: 4}]
        """
    )
    meta, pod = job.spec.template.metadata, job.spec.template.spec
    (container,) = pod.containers
    assert meta.labels["cost-center"] == "ml" and meta.annotations["sidecar.istio.io/inject"] == "false"
    assert pod.node_selector == {"pool": "batch"} and pod.priority_class_name == "batch-low"
    assert pod.tolerations[0].effect == "NoSchedule"
    term = pod.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms[
        0
    ]
    assert term.match_expressions[0].values == ["a"]
    assert [s.name for s in pod.image_pull_secrets] == ["regcred", "mirror"]
    # cpu merged over the defaults; memory stays BMO_VALIDATION_JOB_MEMORY (request = limit)
    assert container.resources.requests == {"cpu": "500m", "memory": "512Mi"}
    assert container.resources.limits == {"cpu": "2", "memory": "512Mi"}
    assert pod.host_network is True and pod.dns_policy == "ClusterFirstWithHostNet"
    env = {e.name: e.value for e in container.env}
    assert env["HTTPS_PROXY"] == "http://proxy:3128" and env["WORKERS"] == "4"  # a YAML number is a string


def test_the_operators_own_labels_survive_a_merge():
    job = build("labels: {team: a}")
    meta = job.spec.template.metadata
    assert meta.labels[LABEL_OWNER] == "uid-1" and meta.labels["team"] == "a"
    assert meta.labels["app.kubernetes.io/managed-by"] == "bedrock-model-operator"
    assert job.spec.template.spec.containers[0].security_context.read_only_root_filesystem is True


@pytest.mark.parametrize(
    "template, says",
    [
        ("{nodeSelecter: {pool: batch}}", "BMO_VALIDATION_POD_TEMPLATE (at nodeSelecter): Extra inputs"),
        ("[1", "BMO_VALIDATION_POD_TEMPLATE: not YAML or JSON"),
        ("- a\n- b", "BMO_VALIDATION_POD_TEMPLATE: must be a mapping"),
        (
            "{hostNetwork: maybe}",
            "BMO_VALIDATION_POD_TEMPLATE (at hostNetwork): Input should be a valid boolean",
        ),
        ("{securityContext: {privileged: true}}", "(at securityContext): Extra inputs are not permitted"),
        # the job controller's and the operator's labels: the API would refuse every Job, or the operator
        # would lose its pods
        ("{labels: {job-name: x}}", "job-name: set by the job controller or the operator"),
        ("{labels: {batch.kubernetes.io/controller-uid: x}}", "batch.kubernetes.io/controller-uid: set by"),
        ("{labels: {bedrock.modelops.io/owner-uid: x}}", "bedrock.modelops.io/owner-uid: set by"),
        ("{env: [{name: HOME, value: /}]}", "HOME is set by the operator"),
        # memory is BMO_VALIDATION_JOB_MEMORY; a request above the limit is refused by the API
        ("{resources: {limits: {memory: 1Gi}}}", "(at resources.limits.memory): Extra inputs"),
        ("{resources: {limit: {cpu: 1}}}", "(at resources.limit): Extra inputs"),
        ("{resources: {requests: {cpu: 2}}}", "the cpu request 2 is above the cpu limit 1"),
        ("{resources: {limits: {cpu: lots}}}", "'lots' is not a Kubernetes quantity"),
        # the client's models drop what they do not know: a typo would vanish, so it is refused
        ("{tolerations: [{key: a, operatr: Exists}]}", "toleration: unknown field operatr"),
        (
            "{affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
            "{nodeSelectorTerms: [{matchExpressions: [{key: a}]}]}}}}",
            "affinity {",
        ),
        ("{imagePullSecrets: [{nmae: x}]}", "each image pull secret needs a name"),
    ],
)
def test_a_wrong_template_stops_the_operator_at_start_in_one_line(template, says, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "controller.cli", "run"],
        env={"BMO_VALIDATION_POD_TEMPLATE": template, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
