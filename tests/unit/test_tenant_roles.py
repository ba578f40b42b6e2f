"""The aggregated tenant roles the operator ships (deploy/base/tenant-roles.yaml): tenants manage their
models and read them, and never write status or the cluster's policies."""

from __future__ import annotations

from pathlib import Path


def test_the_shipped_tenant_roles_never_grant_writing_status():
    """`edit`/`admin` manage models, `view` reads them; no aggregated tenant role writes the status
    subresource or the cluster's policies (status writers could steer the operator)."""
    import yaml

    base = Path(__file__).resolve().parents[2] / "deploy" / "base"
    assert "tenant-roles.yaml" in (base / "kustomization.yaml").read_text()
    roles = {d["metadata"]["name"]: d for d in yaml.safe_load_all((base / "tenant-roles.yaml").read_text())}
    edit = roles["bedrock-model-operator-tenant-edit"]
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    writes = {"create", "update", "patch", "delete", "deletecollection"}
    for role in roles.values():
        for rule in role["rules"]:
            if writes & set(rule["verbs"]):
                assert set(rule["resources"]) <= {"bedrockimportedmodels", "bedrockobservedmodels"}, rule
    view = roles["bedrock-model-operator-tenant-view"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert set(view["rules"][0]["verbs"]) == {"get", "list", "watch"}
