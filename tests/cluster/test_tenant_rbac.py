"""The tenant roles as shipped (deploy/base/tenant-roles.yaml, the chart's tenantRoles), judged by the real
apiserver's RBAC with the built-in roles aggregated as in a cluster: a team with `edit` (or `admin`) in its
namespace manages its models but cannot write their status, and cannot relabel its namespace (policies
select namespaces by label); `view` reads and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from tests.support.helpers import wait_for

pytestmark = pytest.mark.controlplane

ROOT = Path(__file__).resolve().parents[2]


def _may(api: client.ApiClient, user: str, verb: str, resource: str, namespace: str | None, **kw) -> bool:
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, namespace=namespace, **kw
            ),
        )
    )
    return bool(client.AuthorizationV1Api(api).create_subject_access_review(review).status.allowed)


def test_a_team_manages_its_models_but_not_their_status_nor_its_namespace(kubectl, api_client, namespace):
    kubectl("apply", "-f", str(ROOT / "deploy" / "base" / "tenant-roles.yaml"))
    rbac = client.RbacAuthorizationV1Api(api_client)
    for user, role in (("alice", "edit"), ("ann", "admin"), ("bob", "view")):
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name=f"{user}-{role}"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role
                ),
                subjects=[
                    client.RbacV1Subject(kind="User", name=user, api_group="rbac.authorization.k8s.io")
                ],
            ),
        )
    group = {"group": "bedrock.modelops.io"}
    # the aggregation controller folds the tenant roles into edit/admin/view
    wait_for(
        lambda: _may(api_client, "alice", "create", "bedrockimportedmodels", namespace, **group),
        timeout=60,
        what="aggregated",
    )
    for user in ("alice", "ann"):
        for verb in ("create", "update", "patch", "delete", "get", "list", "watch"):
            assert _may(api_client, user, verb, "bedrockimportedmodels", namespace, **group), (user, verb)
        for verb in ("update", "patch"):
            assert not _may(
                api_client, user, verb, "bedrockimportedmodels", namespace, subresource="status", **group
            ), f"{user} may {verb} status"
            assert not _may(api_client, user, verb, "namespaces", None, name=namespace), f"{user} relabels"
        assert not _may(api_client, user, "create", "bedrockimportpolicies", None, **group)
        assert not _may(api_client, user, "create", "bedrockimportedmodels", "kube-system", **group)
    wait_for(
        lambda: _may(api_client, "bob", "get", "bedrockimportedmodels", namespace, **group),
        timeout=60,
        what="aggregated",
    )
    for verb in ("create", "patch", "delete"):
        assert not _may(api_client, "bob", verb, "bedrockimportedmodels", namespace, **group)
