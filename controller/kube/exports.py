"""The ConfigMap that publishes a model's ARN to the apps of its namespace (`spec.exportTo`).

The operator writes only ConfigMaps it created for the object: a ConfigMap of that name without the
object's controller ownerReference (an app's own, `kube-root-ca.crt`, another model's) is reported as a
conflict and never changed. An owned ConfigMap is garbage-collected with its object. Calls go through
`kube.client.raw` (the typed CoreV1Api costs ~90 MB to build for three fields).
"""

from __future__ import annotations

from typing import Any, Literal

from kubernetes.client.exceptions import ApiException

from controller.api.models import API_VERSION, KIND
from controller.kube.client import raw
from controller.kube.validation_jobs import LABEL_MANAGED, LABEL_OWNER, MANAGED_BY
from controller.settings import Settings

Published = Literal["written", "unchanged", "conflict"]


def _owned_by(cm: dict[str, Any], owner_uid: str) -> bool:
    refs = (cm.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == owner_uid and r.get("controller") for r in refs)


class ConfigMapExports:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        status, answer = raw(self._settings, method, path, body)
        if status >= 300 and status != 404:
            raise ApiException(status=status, reason=str((answer or {}).get("message") or "")[:300])
        return status, answer

    def publish(
        self, namespace: str, name: str, owner_name: str, owner_uid: str, data: dict[str, str]
    ) -> Published:
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        status, cm = self._call("GET", f"{path}/{name}")
        if status == 404:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {LABEL_MANAGED: MANAGED_BY, LABEL_OWNER: owner_uid},
                    "ownerReferences": [
                        {
                            "apiVersion": API_VERSION,
                            "kind": KIND,
                            "name": owner_name,
                            "uid": owner_uid,
                            "controller": True,
                        }
                    ],
                },
                "data": data,
            }
            self._call("POST", path, body)
            return "written"
        if not _owned_by(cm, owner_uid):
            return "conflict"
        if (cm.get("data") or {}) == data:
            return "unchanged"
        patch = {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": data}
        self._call("PATCH", f"{path}/{name}", patch)
        return "written"

    def withdraw(self, namespace: str, name: str, owner_uid: str) -> bool:
        """Delete the ConfigMap if the object owns it (spec.exportTo removed or renamed). True: deleted."""
        path = f"/api/v1/namespaces/{namespace}/configmaps/{name}"
        status, cm = self._call("GET", path)
        if status == 404 or not _owned_by(cm, owner_uid):
            return False
        self._call("DELETE", path)
        return True
