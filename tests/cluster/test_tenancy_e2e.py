"""BedrockImportPolicy on the real control plane: refused at `kubectl apply` by the shipped admission policy
(the same cases as the Python rules, so the two cannot drift), and enforced again by the running operator
when a policy changes after the apply: nothing new imports, what serves keeps serving."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from tests.cluster.test_argocd_health import health
from tests.support.helpers import wait_for
from tests.support.operator_process import (
    MISTRAL,
    ROLE,
    apply_model,
    condition,
    jobs_of,
    models_of,
    wait_condition,
)
from tests.unit.test_tenancy import CASES, GOOD, TEAM_A

pytestmark = pytest.mark.controlplane

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
LABEL = "bmo-test/admission"


def _policy_doc(name: str, spec: dict, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportPolicy",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": spec,
    }


def _apply(kubectl, doc: dict, check: bool = True):
    return kubectl("apply", "-f", "-", input=yaml.safe_dump(doc), check=check)


@pytest.fixture
def admission(kubectl, crd_installed):
    """The shipped ValidatingAdmissionPolicy, bound (for this test only) to namespaces and policies that
    carry the test's label, so no other test's objects meet it."""
    run = uuid.uuid4().hex[:8]
    _apply(kubectl, yaml.safe_load((DEPLOY / "base" / "admission-policy.yaml").read_text()))
    bindings = list(yaml.safe_load_all((DEPLOY / "base" / "admission-policy-binding.yaml").read_text()))
    for binding in bindings:
        binding["metadata"]["name"] += f"-test-{run}"
        binding["spec"]["matchResources"]["namespaceSelector"] = {"matchLabels": {LABEL: run}}
        binding["spec"]["paramRef"]["selector"] = {"matchLabels": {LABEL: run}}
        _apply(kubectl, binding)
    yield run
    for binding in bindings:
        kubectl(
            "delete", "validatingadmissionpolicybinding", binding["metadata"]["name"], "--ignore-not-found"
        )
    kubectl("delete", "bedrockimportpolicies", "-l", f"{LABEL}={run}", "--ignore-not-found")
    kubectl("delete", "namespaces", "-l", f"{LABEL}={run}", "--ignore-not-found", "--wait=false")


def _model(ns: str, spec: dict) -> dict:
    return {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": "m", "namespace": ns},
        "spec": {k: v for k, v in spec.items() if v is not None},
    }


def test_kubectl_apply_is_refused_by_the_same_rules_as_the_operators(kubectl, admission):
    """Each case of tests/unit/test_tenancy.py: its own namespace and policy; the apiserver refuses exactly
    the field the Python rules refuse, and names the policy."""
    run = admission
    for i, (_case, _spec, policy_changes, _) in enumerate(CASES):
        ns = f"adm-{run}-{i}"
        kubectl("create", "namespace", ns)
        kubectl("label", "namespace", ns, f"{LABEL}={run}", f"team=case-{i}")
        spec = {**TEAM_A, **policy_changes, "namespaceSelector": {"matchLabels": {"team": f"case-{i}"}}}
        _apply(
            kubectl,
            _policy_doc(f"adm-{run}-{i}", {k: v for k, v in spec.items() if v is not None}, {LABEL: run}),
        )
    for i, (case, spec_changes, _, refused) in enumerate(CASES):
        doc = _model(f"adm-{run}-{i}", {**GOOD, **spec_changes})

        def answer(doc=doc, refused=refused):
            out = kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(doc), check=False)
            text = out.stderr
            if "no params found" in text:
                return None  # the apiserver has not loaded this policy yet
            if refused is None:
                return out.returncode == 0 or text
            return (
                out.returncode != 0 and f"{refused}:" in text and f"BedrockImportPolicy adm-{run}-" in text
            ) or text

        result = wait_for(answer, timeout=60, what=f"admission of case {case!r}")
        assert result is True, f"{case}: {result}"


def test_no_policy_at_all_refuses_creates_but_never_the_operators_patches(kubectl, admission):
    """Restricted by default: with no BedrockImportPolicy, a model cannot be created. A model created while
    one existed keeps taking the operator's finalizer and annotation patches after the last policy is gone
    (the apiserver refuses a missing parameter before it reads matchConditions: updates have their own
    binding), so deleting it is never blocked; the operator refuses its imports (NoImportPolicy)."""
    run = admission
    ns = f"adm-{run}-none"
    kubectl("create", "namespace", ns)
    kubectl("label", "namespace", ns, f"{LABEL}={run}", "team=none")
    doc, other = (
        _model(ns, GOOD),
        yaml.safe_dump(_model(ns, GOOD) | {"metadata": {"name": "second", "namespace": ns}}),
    )

    def create_refused() -> bool:  # a dry run: nothing is created while the apiserver loads the binding
        out = kubectl("apply", "--dry-run=server", "-f", "-", input=other, check=False)
        return "no params found" in out.stderr

    assert wait_for(create_refused, timeout=60, what="a refusal without any policy")
    selector = {"matchLabels": {"team": "none"}}
    _apply(kubectl, _policy_doc(f"adm-{run}-none", {**TEAM_A, "namespaceSelector": selector}, {LABEL: run}))
    wait_for(lambda: _apply(kubectl, doc, check=False).returncode == 0, timeout=60, what="admitted")
    kubectl("delete", "bedrockimportpolicy", f"adm-{run}-none")
    assert wait_for(create_refused, timeout=60, what="the last policy's deletion seen by the apiserver")
    kubectl("annotate", "bedrockmodel", "m", "-n", ns, "example.com/note=ok")
    kubectl("patch", "bedrockmodel", "m", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":[]}}')
    kubectl("delete", "bedrockmodel", "m", "-n", ns, "--timeout=30s")


# ---- enforced again at reconcile, by the running operator ------------------------------------------------


@pytest.fixture
def team_policy(kubectl, namespace):
    """A policy selecting this test's namespace (the shared operator's default is open: only the policy
    decides here). Yields a function that applies a new spec for it."""
    name = f"team-{namespace}"
    kubectl("label", "namespace", namespace, f"team={namespace}")

    def put(**spec) -> None:
        doc = {"namespaceSelector": {"matchLabels": {"team": namespace}}, **spec}
        _apply(kubectl, _policy_doc(name, doc))

    yield put
    kubectl("delete", "bedrockimportpolicy", name, "--ignore-not-found")


ALLOW_EXAMPLES = {
    "sources": {"s3Prefixes": ["s3://bmo-examples/"]},
    "serviceRoles": {"roleArns": [ROLE]},
    "validationModes": ["Inline", "Job"],
}


def test_a_policy_change_after_apply_blocks_new_imports_and_leaves_the_serving_model(
    kubectl, operator, local_aws, namespace, team_policy
):
    team_policy(**{**ALLOW_EXAMPLES, "sources": {"s3Prefixes": ["s3://other-team/"]}})
    apply_model(kubectl, namespace, "m")
    obj = wait_condition(kubectl, namespace, "m", "Ready", "False", "SourceNotAllowed", timeout=60)
    allowed = condition(obj, "Allowed")
    assert allowed["status"] == "False" and allowed["reason"] == "SourceNotAllowed"
    assert "spec.source.s3Uri" in allowed["message"] and f"team-{namespace}" in allowed["message"]
    assert obj["status"]["phase"] == "Blocked" and jobs_of(local_aws, namespace, "m") == []
    assert health(obj) == ("Degraded", f"SourceNotAllowed: {condition(obj, 'Ready')['message']}")  # Argo CD

    team_policy(**ALLOW_EXAMPLES)  # loosened: the operator sees the policy change and imports
    obj = wait_condition(kubectl, namespace, "m", "Ready", "True", "ModelReady", timeout=90)
    assert condition(obj, "Allowed")["reason"] == "PolicyAllows"
    arn = obj["status"]["modelArn"]

    team_policy(**{**ALLOW_EXAMPLES, "regions": ["us-west-2"]})  # tightened: what serves keeps serving
    obj = wait_condition(kubectl, namespace, "m", "Allowed", "False", "RegionNotAllowed", timeout=60)
    assert "left serving" in condition(obj, "Allowed")["message"]
    assert condition(obj, "Ready")["status"] == "True" and obj["status"]["modelArn"] == arn

    apply_model(kubectl, namespace, "m", source={"s3Uri": MISTRAL})  # a new revision is not imported
    obj = wait_condition(kubectl, namespace, "m", "Ready", "False", "RegionNotAllowed", timeout=60)
    assert "keeps serving" in condition(obj, "Ready")["message"] and obj["status"]["modelArn"] == arn
    assert [m["modelArn"] for m in models_of(local_aws, namespace, "m")] == [arn]
    assert len(jobs_of(local_aws, namespace, "m")) == 1


def test_a_sagemaker_models_files_are_checked_before_anything_is_read(
    kubectl, operator, local_aws, namespace, team_policy
):
    """A SageMaker model whose name the policy allows but whose files lie in another team's folder: refused
    from DescribeModel alone, before validation lists or reads a byte of that folder."""
    team_policy(
        sources={"s3Prefixes": ["s3://team-only/"], "sageMakerModelNames": ["qwen2-5-*"]},
        serviceRoles={"roleArns": [ROLE]},
        validationModes=["Inline"],
    )
    apply_model(
        kubectl,
        namespace,
        "sm",
        source={"sageMakerModelName": "qwen2-5-7b-finetuned"},
        validation={"mode": "Inline"},
    )
    obj = wait_condition(kubectl, namespace, "sm", "Ready", "False", "SourceNotAllowed", timeout=60)
    assert "s3://bmo-examples/qwen2.5-7b-finetuned/" in condition(obj, "Ready")["message"]
    assert obj["status"].get("validation") is None and jobs_of(local_aws, namespace, "sm") == []


def test_max_models_lets_the_oldest_waiting_object_go_when_a_place_frees(
    kubectl, operator, local_aws, namespace, team_policy
):
    team_policy(**ALLOW_EXAMPLES, maxModels=1)
    apply_model(kubectl, namespace, "first")
    wait_condition(kubectl, namespace, "first", "Ready", "True", "ModelReady", timeout=90)
    apply_model(kubectl, namespace, "second", source={"s3Uri": MISTRAL})
    obj = wait_condition(kubectl, namespace, "second", "Ready", "False", "ModelLimitReached", timeout=60)
    assert "allows 1 models" in condition(obj, "Ready")["message"]
    assert jobs_of(local_aws, namespace, "second") == []
    kubectl("delete", "bedrockmodel", "first", "-n", namespace, "--timeout=60s")
    wait_condition(kubectl, namespace, "second", "Ready", "True", "ModelReady", timeout=90)


def test_a_size_limit_is_checked_against_what_validation_measured(
    kubectl, operator, local_aws, namespace, team_policy
):
    team_policy(**ALLOW_EXAMPLES, maxModelSize="1Mi")
    apply_model(kubectl, namespace, "big", validation={"mode": "Inline"})
    obj = wait_condition(kubectl, namespace, "big", "Ready", "False", "ModelTooLarge", timeout=60)
    size = obj["status"]["validation"]["weightBytes"]
    assert size > 2**20 and "allows at most 1Mi" in condition(obj, "Ready")["message"]
    assert jobs_of(local_aws, namespace, "big") == []


def test_the_two_team_example_shows_what_each_team_may_use(kubectl, crd_installed):
    """examples/tenancy/two-teams.yaml, as the README's worked example applies it: the policies validate
    against the CRD, `kubectl get bedrockimportpolicies` shows what each allows at a glance, and the rules
    keep each team out of the other's folder."""
    from controller.api.models import BedrockImportedModelSpec
    from controller.api.policy import BedrockImportPolicy
    from controller.tenancy.rules import decide

    path = Path(__file__).resolve().parents[2] / "examples" / "tenancy" / "two-teams.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    kubectl("apply", "-f", str(path))  # namespaces first, then what lives in them
    try:
        out = kubectl("get", "bedrockimportpolicies", "team-a", "team-b").stdout
        header, *rows = out.splitlines()
        assert header.split() == [
            "NAME",
            "NAMESPACES",
            "S3-PREFIXES",
            "CREATE-ROLE",
            "VALIDATION",
            "MAX-MODELS",
            "ACCOUNT",
            "AGE",
        ]
        assert "s3://acme-models/teams/team-a/" in rows[0] and "true" in rows[0] and "5" in rows[0]
        assert "arn:aws:iam::222222222222:role/bmo-tenant-access" in rows[1]
        wide = kubectl("get", "bedrockimportpolicies", "team-a", "-o", "wide").stdout
        assert "40Gi" in wide and "us-east-1" in wide
    finally:
        kubectl("delete", "-f", str(path), "--ignore-not-found")
    policies = [BedrockImportPolicy.from_body(d) for d in docs if d["kind"] == "BedrockImportPolicy"]

    def team_a_decides(folder: str):
        spec = {"source": {"s3Uri": folder}, "serviceRole": {"create": True}, "tags": {"cost-center": "1"}}
        labels = {"bedrock.modelops.io/team": "team-a"}
        model = BedrockImportedModelSpec.model_validate(spec)
        return decide(policies, labels, model, "Job", "us-east-1", "restricted")

    # team A names team B's folder: refused; its own: allowed
    assert [v.field for v in team_a_decides("s3://acme-models/teams/team-b/llama/").violations] == [
        "spec.source.s3Uri"
    ]
    assert team_a_decides("s3://acme-models/teams/team-a/llama/").allowed
