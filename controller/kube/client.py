"""The one Kubernetes API client for the operator's own calls (model status, validation Jobs).

kopf talks to the API with its own aiohttp session; the reconcile threads use the official client. One
`ApiClient` is shared by all threads, with a connection pool as large as the reconcile pool, so busy
threads reuse connections instead of dropping them ("Connection pool is full").
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from controller.errors import KubernetesError
from controller.settings import Settings

_lock = threading.Lock()
_api: client.ApiClient | None = None

#: (connect, read) seconds of a call that names no timeout of its own. The official client has none by
#: default: a request the apiserver accepted and then held (its etcd going away mid-restart) kept a
#: reconcile thread, and the object's lock, for 20 s in the chaos test, so nothing retried it
CALL_TIMEOUT = (5.0, 60.0)
#: one object read or status write, or an Event: answered in milliseconds by a healthy apiserver; past this
#: the pass ends and the object's next tick tries again (a list of thousands keeps CALL_TIMEOUT). Not
#: shorter: an admission webhook may take 10 s, and API Priority and Fairness may queue a request
OBJECT_TIMEOUT = (5.0, 15.0)


class TimedApiClient(client.ApiClient):
    """The official ApiClient, with CALL_TIMEOUT on every call that names no timeout of its own, and a read
    that timed out not sent again (urllib3 resent a GET three times: four timeouts before the pass knew)."""

    def __init__(self, configuration: client.Configuration) -> None:
        configuration.retries = urllib3.Retry(total=3, read=0, redirect=0)  # connections: as before
        super().__init__(configuration)

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        return super().call_api(
            method, url, header_params, body, post_params, _request_timeout=_request_timeout or CALL_TIMEOUT
        )


def api_client(settings: Settings) -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the current kubeconfig context."""
    global _api
    with _lock:
        if _api is None:
            configuration = client.Configuration()
            try:
                config.load_incluster_config(client_configuration=configuration)
            except config.ConfigException:
                # KUBECONFIG as it is now (the client reads it once, at import)
                config.load_kube_config(
                    config_file=os.environ.get("KUBECONFIG") or None, client_configuration=configuration
                )
            configuration.connection_pool_maxsize = settings.max_workers + 4  # + the watches
            _api = TimedApiClient(configuration)
        return _api


def raw(
    settings: Settings,
    method: str,
    path: str,
    body: dict | None = None,
    timeout: tuple[float, float] | None = None,
) -> tuple[int, Any]:
    """One API call without the typed client (building CoreV1Api's validators costs some 90 MB for a
    handful of fields): (HTTP status, parsed body). A PATCH is a JSON merge patch."""
    api = api_client(settings)
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    request = api.param_serialize(
        method=method,
        resource_path=path,
        header_params={"Content-Type": content_type, "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request, _request_timeout=timeout)
    response.read()
    return response.status, json.loads(response.data) if response.data else None


#: What a call of the official client raises: an answer (ApiException) or no answer (connection errors).
KUBE_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


def api_error(exc: Exception, doing: str) -> KubernetesError:
    """A failed Kubernetes call, retried with backoff: it is RBAC or the apiserver, never the user's spec."""
    status = getattr(exc, "status", None) or "unreachable"
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return KubernetesError(status, f"Kubernetes API error {status} {doing}: {reason}")


def tenancy_readers(settings: Settings) -> dict[str, Any]:
    """What `TenancyView` lists once before the watches keep it current: every BedrockImportPolicy, one
    namespace's labels, one namespace's models (raw calls: a few fields of each)."""
    from controller.api.models import GROUP, PLURAL, VERSION
    from controller.api.policy import POLICY_PLURAL

    def checked(method: str, path: str) -> Any:
        status, body = raw(settings, method, path)
        if status >= 300:
            raise ApiException(status=status, reason=(body or {}).get("reason") or "Error")
        return body

    def list_policies() -> list[dict[str, Any]]:
        return checked("GET", f"/apis/{GROUP}/{VERSION}/{POLICY_PLURAL}").get("items") or []

    def read_labels(namespace: str) -> dict[str, str]:
        return (checked("GET", f"/api/v1/namespaces/{namespace}").get("metadata") or {}).get("labels") or {}

    def list_models(namespace: str) -> list[dict[str, Any]]:
        return checked("GET", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}").get("items") or []

    return {"list_policies": list_policies, "read_labels": read_labels, "list_models": list_models}
