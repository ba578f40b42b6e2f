"""The validation pod template (BMO_VALIDATION_POD_TEMPLATE): what a cluster's owner may add to every
validation Job's pod, what they may not override, and how a wrong template is refused at start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller.settings import Settings
from controller.validation_jobs import LABEL_OWNER, ValidationJobs


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
        resources: {limits: {memory: 2Gi}}
        hostNetwork: true
        env: [{name: HTTPS_PROXY, value: "http://proxy:3128"}]
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
    assert container.resources.limits == {"cpu": "1", "memory": "2Gi"}  # merged: cpu kept
    assert pod.host_network is True and pod.dns_policy == "ClusterFirstWithHostNet"
    assert {"HTTPS_PROXY": "http://proxy:3128"}.items() <= {e.name: e.value for e in container.env}.items()


def test_the_operators_own_choices_cannot_be_overridden():
    job = build(
        f"""
        labels: {{{LABEL_OWNER}: someone-else, app.kubernetes.io/managed-by: me}}
        env: [{{name: HOME, value: /}}, {{name: AWS_REGION, value: eu-west-1}}]
        """
    )
    meta, (container,) = job.spec.template.metadata, job.spec.template.spec.containers
    assert meta.labels[LABEL_OWNER] == "uid-1"  # the operator finds its Jobs' pods by these
    assert meta.labels["app.kubernetes.io/managed-by"] == "bedrock-model-operator"
    env = [(e.name, e.value) for e in container.env]
    assert ("HOME", "/tmp") in env and ("AWS_REGION", "us-east-1") in env
    assert ("HOME", "/") not in env and ("AWS_REGION", "eu-west-1") not in env
    assert container.security_context.read_only_root_filesystem is True  # not a template field at all


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
