"""The Helm chart renders (helm built from the Go module proxy by hack/build-helm.sh), lints, is accepted by
the real apiserver (server-side dry run), and grants exactly the RBAC of the kustomize manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from bmo_devtools.dev.controlplane import CRD_FILES

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "bedrock-model-operator"


@pytest.fixture(scope="session")
def helm() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "hack" / "build-helm.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


IMAGE = ("--set", "image.repository=registry.example/bedrock-model-operator")


def render(helm: str, *args: str) -> list[dict]:
    out = subprocess.run(
        # its own release namespace: the kustomize test installs the same objects in bedrock-model-operator
        [helm, "template", "bmo", str(CHART), "-n", "bmo-helm-test", *IMAGE, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_chart_crds_are_the_generated_crds():
    for crd_file in CRD_FILES:
        chart_crd = yaml.safe_load((CHART / "crds" / crd_file.name).read_text())
        assert chart_crd == yaml.safe_load(crd_file.read_text())


def test_chart_lints(helm):
    out = subprocess.run([helm, "lint", str(CHART), *IMAGE], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_chart_asks_for_the_image_nobody_publishes(helm):
    """No registry publishes the image: an install without `image.repository` stops at once and says how
    to get one, where a default would have ended in ImagePullBackOff."""
    out = subprocess.run(
        [helm, "template", "bmo", str(CHART), "-n", "bmo-helm-test"], capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "image.repository is required: build the image from the Dockerfile and push it" in out.stderr
    (deployment,) = [d for d in render(helm, "--set", "image.tag=1.2.3") if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == env["BMO_VALIDATOR_IMAGE"] == "registry.example/bedrock-model-operator:1.2.3"


def test_the_chart_renders_the_monitoring_objects_when_asked(helm):
    """Off by default (their CRDs come with Prometheus Operator); on: the PodMonitor selects exactly the
    release's operator pods, and the rule and dashboard are deploy/monitoring's."""
    kinds = {d["kind"] for d in render(helm)}
    assert not kinds & {"PodMonitor", "PrometheusRule"}
    docs = render(
        helm,
        *("--set", "monitoring.podMonitor.enabled=true", "--set", "monitoring.prometheusRule.enabled=true"),
        *("--set", "monitoring.dashboard.enabled=true"),
    )
    by_kind = {d["kind"]: d for d in docs}
    pod_labels = by_kind["Deployment"]["spec"]["template"]["metadata"]["labels"]
    monitor = by_kind["PodMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= pod_labels.items()
    assert monitor["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "bmo"
    (ports,) = [c["ports"] for c in by_kind["Deployment"]["spec"]["template"]["spec"]["containers"]]
    assert monitor["podMetricsEndpoints"][0]["port"] in {p["name"] for p in ports}
    shipped = yaml.safe_load((ROOT / "deploy" / "monitoring" / "prometheus-rule.yaml").read_text())
    assert by_kind["PrometheusRule"]["spec"] == shipped["spec"]
    (dashboard,) = [d for d in docs if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    import json

    shipped_dashboard = json.loads((ROOT / "deploy" / "monitoring" / "grafana-dashboard.json").read_text())
    assert json.loads(dashboard["data"]["bedrock-model-operator.json"]) == shipped_dashboard


@pytest.mark.controlplane
def test_chart_rbac_matches_kustomize(helm, kubectl):
    docs = render(helm)
    helm_role = next(
        d for d in docs if d["metadata"]["name"] == "bedrock-model-operator" and d["kind"] == "ClusterRole"
    )
    kustomized = yaml.safe_load_all(
        kubectl("kustomize", str(ROOT / "deploy" / "overlays" / "cluster-wide")).stdout
    )
    kustomized = [d for d in kustomized if d]
    kust_role = next(
        d
        for d in kustomized
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "bedrock-model-operator"
    )

    def norm(rules):
        return sorted(
            (
                tuple(r["apiGroups"]),
                tuple(r["resources"]),
                tuple(sorted(r["verbs"])),
                tuple(r.get("resourceNames", ())),
            )
            for r in rules
        )

    assert norm(helm_role["rules"]) == norm(kust_role["rules"])
    identity = "bedrock-model-operator-cluster-identity"
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    kust_by_name = {(d["kind"], d["metadata"]["name"]): d for d in kustomized}
    assert norm(by_name[("ClusterRole", identity)]["rules"]) == norm(
        kust_by_name[("ClusterRole", identity)]["rules"]
    )
    election = "bedrock-model-operator-leader-election"
    assert norm(by_name[("Role", election)]["rules"]) == norm(kust_by_name[("Role", election)]["rules"])
    deployments = (
        by_name[("Deployment", "bedrock-model-operator")],
        kust_by_name[("Deployment", "bedrock-model-operator")],
    )
    for deployment in deployments:  # both installs run two replicas with leader election
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert deployment["spec"]["replicas"] == 2 and env["BMO_LEADER_ELECTION"]["value"] == "true"
        assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.controlplane
def test_chart_is_accepted_by_the_apiserver(helm, kubectl, crd_installed):
    kubectl("create", "namespace", "bmo-helm-test", check=False)
    for ns in ("helm-a", "helm-b"):
        kubectl("create", "namespace", ns, check=False)
    for args in (
        (),
        ("--set", "watchNamespaces={helm-a,helm-b}", "--set", "operatorRoleArn=arn:aws:iam::1:role/x"),
    ):
        docs = render(helm, *args)
        manifest = yaml.safe_dump_all(docs)
        kubectl("apply", "--dry-run=server", "-f", "-", input=manifest)
    scoped = render(helm, "--set", "watchNamespaces={helm-a,helm-b}")
    roles = [d for d in scoped if d["kind"] == "Role" and d["metadata"]["name"] == "bedrock-model-operator"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["helm-a", "helm-b"]
    cluster_scoped = [
        (d["kind"], d["metadata"]["name"])
        for d in scoped
        if d["kind"] in ("ClusterRole", "ClusterRoleBinding") and "-tenant-" not in d["metadata"]["name"]
    ]
    # the operator's own: only the kube-system uid read; the binding named for the release's namespace (the
    # tenant roles grant the operator nothing: test_chart_ships_the_tenant_roles_of_deploy_base)
    assert cluster_scoped == [
        ("ClusterRole", "bedrock-model-operator-cluster-identity"),
        ("ClusterRoleBinding", "bedrock-model-operator-cluster-identity-bmo-helm-test"),
    ]
    deploy = next(d for d in scoped if d["kind"] == "Deployment")
    args = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=helm-a" in args and "--namespace=helm-b" in args


@pytest.mark.parametrize("default,create_action", [("restricted", "Deny"), ("open", "Allow")])
def test_chart_ships_the_admission_policy_of_deploy_base(helm, default, create_action):
    docs = render(helm, "--set", f"importPolicy.default={default}")
    base = Path(__file__).resolve().parents[2] / "deploy" / "base"
    vap = next(d for d in docs if d["kind"] == "ValidatingAdmissionPolicy")
    assert vap == yaml.safe_load((base / "admission-policy.yaml").read_text())
    bindings = {
        d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    kust = {
        d["metadata"]["name"]: d["spec"]
        for d in yaml.safe_load_all((base / "admission-policy-binding.yaml").read_text())
    }
    assert bindings.keys() == kust.keys()
    assert bindings["bedrock-import-policy"]["paramRef"]["parameterNotFoundAction"] == create_action
    assert bindings["bedrock-import-policy-updates"] == kust["bedrock-import-policy-updates"]
    env = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    assert {"name": "BMO_IMPORT_POLICY_DEFAULT", "value": default} in env
    assert not [d for d in render(helm, "--set", "importPolicy.admission=false") if "Admission" in d["kind"]]


def test_each_namespaces_validator_gets_its_own_role(helm):
    docs = render(
        helm,
        "--set",
        "watchNamespaces={team-a,team-b}",
        "--set",
        "validation.namespaceRoleArns.team-a=arn:aws:iam::1:role/bmo-validator-team-a",
        "--set",
        "validation.namespaceRoleArns.team-b=arn:aws:iam::1:role/bmo-validator-team-b",
    )
    roles = {
        d["metadata"]["namespace"]: d["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        for d in docs
        if d["kind"] == "ServiceAccount" and d["metadata"]["name"] == "bedrock-model-validator"
    }
    assert roles == {
        "team-a": "arn:aws:iam::1:role/bmo-validator-team-a",
        "team-b": "arn:aws:iam::1:role/bmo-validator-team-b",
    }


def test_the_validation_pod_template_reaches_the_operator_and_its_jobs(helm):
    """`validation.podTemplate` becomes BMO_VALIDATION_POD_TEMPLATE, which the operator's own parser takes
    and merges into the Job it builds (unset: no variable)."""
    import json

    from kubernetes import client

    from controller.kube.validation_jobs import ValidationJobs
    from controller.settings import Settings

    def operator_env(*args: str) -> dict[str, str]:
        (deployment,) = [d for d in render(helm, *args) if d["kind"] == "Deployment"]
        return {
            e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }

    assert "BMO_VALIDATION_POD_TEMPLATE" not in operator_env()
    text = operator_env(
        "--set",
        "validation.podTemplate.nodeSelector.pool=batch",
        "--set",
        "validation.podTemplate.tolerations[0].key=batch",
        "--set",
        "validation.podTemplate.tolerations[0].operator=Exists",
        "--set",
        "validation.podTemplate.priorityClassName=batch-low",
        "--set",
        "validation.podTemplate.imagePullSecrets[0]=regcred",
    )["BMO_VALIDATION_POD_TEMPLATE"]
    job = ValidationJobs(Settings(validation_pod_template=text)).build(
        namespace="n",
        owner_name="m",
        owner_uid="u",
        rev="0" * 8,
        s3_uri="s3://b/m/",
        region="us-east-1",
        architecture=None,
    )
    pod = job.spec.template.spec
    assert pod.node_selector == {"pool": "batch"} and pod.priority_class_name == "batch-low"
    sent = client.ApiClient().sanitize_for_serialization(pod)
    assert sent["tolerations"] == [{"key": "batch", "operator": "Exists"}]
    assert [s.name for s in pod.image_pull_secrets] == ["regcred"]
    assert json.loads(text)["nodeSelector"] == {"pool": "batch"}


def test_shards_install_side_by_side_without_a_name_in_common(helm):
    """README "Sharding by namespace": the two commands given there render objects that never share a
    (kind, namespace, name), so Helm installs both (it refuses an object another release owns)."""
    first = render(helm, "--namespace", "bmo-shard-a", "--set", "watchNamespaces={team-a,team-b}")
    second = render(
        helm,
        "--namespace",
        "bmo-shard-b",
        "--set",
        "watchNamespaces={team-c,team-d}",
        "--set",
        "sharedClusterObjects=false",
    )

    def keys(docs):
        return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs}

    assert keys(first) & keys(second) == set()
    bindings = [d for d in second if d["kind"] == "ClusterRoleBinding"]
    assert [b["roleRef"]["name"] for b in bindings] == ["bedrock-model-operator-cluster-identity"]
    assert bindings[0]["subjects"][0]["namespace"] == "bmo-shard-b"


def test_chart_ships_the_tenant_roles_of_deploy_base(helm):
    """Tenants' edit/view rights on the kinds, without the status subresource: the chart installs
    what the kustomize base does, and a shard that does not own the cluster-wide objects installs none."""
    wanted = [
        d for d in yaml.safe_load_all((ROOT / "deploy" / "base" / "tenant-roles.yaml").read_text()) if d
    ]
    rendered = [d for d in render(helm) if d["metadata"]["name"].startswith("bedrock-model-operator-tenant-")]
    assert rendered == wanted
    edit = next(d for d in rendered if d["metadata"]["name"].endswith("-edit"))
    assert all("bedrockimportedmodels/status" not in r["resources"] for r in edit["rules"])
    assert not [
        d
        for d in render(helm, "--set", "sharedClusterObjects=false")
        if d["metadata"]["name"].startswith("bedrock-model-operator-tenant-")
    ]


@pytest.mark.controlplane
def test_the_install_guides_kustomize_image_lines_set_the_operator_and_validator_image(kubectl, tmp_path):
    """docs/install.md, "The image": its `images:` and patch, in an overlay of deploy/overlays/cluster-wide,
    put the user's image in the container and in BMO_VALIDATOR_IMAGE (validation Jobs run it too)."""
    import os
    import re

    text = (ROOT / "docs" / "install.md").read_text()
    section = text.split("### The image", 1)[1]
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", section, re.S) if "images:" in b][:1]
    overlay = yaml.safe_load(block)
    overlay["resources"] = [os.path.relpath(ROOT / "deploy" / "overlays" / "cluster-wide", tmp_path)]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    docs = [d for d in yaml.safe_load_all(kubectl("kustomize", str(tmp_path)).stdout) if d]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    wanted = "111122223333.dkr.ecr.us-east-1.amazonaws.com/bedrock-model-operator:0.1.0"
    assert container["image"] == env["BMO_VALIDATOR_IMAGE"] == wanted
