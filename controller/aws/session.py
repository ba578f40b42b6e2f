"""AWS credentials for one tenant: the operator's own, or a role in the team's account assumed for it.

A BedrockImportPolicy may name a role in another account for its namespaces. The operator assumes it with
an external ID bound to this cluster and the namespace (`<cluster id>/<namespace>`), so the team's trust
policy can admit exactly this cluster's operator acting for exactly that namespace (the confused-deputy
guard AWS documents for third parties). botocore refreshes the credentials before they expire.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.loaders import JSONFileLoader, Loader

from controller.settings import Settings


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _without_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_docs(v) for k, v in node.items() if k != "documentation" or not isinstance(v, str)
        }
    if isinstance(node, list):
        return [_without_docs(v) for v in node]
    return node


class _LeanJSONFileLoader(JSONFileLoader):
    """botocore's model files as plain dicts, and a service model's operations and shapes without their
    HTML documentation: it only feeds docstrings (botocore reads it there with a default), and was, with
    OrderedDict's overhead, about half of what the models held. Documentation elsewhere stays: botocore
    requires it on a client context parameter."""

    def load_file(self, file_path: str) -> Any:
        data = _plain(super().load_file(file_path))
        if isinstance(data, dict) and isinstance(data.get("shapes"), dict) and "operations" in data:
            data.pop("documentation", None)
            data["operations"] = _without_docs(data["operations"])
            data["shapes"] = _without_docs(data["shapes"])
        return data


_guard = threading.Lock()
_client_guard = threading.Lock()
_loader: Loader | None = None
_default: boto3.Session | None = None


def shared_loader() -> Loader:
    """One botocore data loader for every session of the process. Each botocore session otherwise loads
    (and keeps) its own copy of the endpoint data and of every service model it made a client for: some
    30 MiB per session with the operator's six clients, once per tenant."""
    global _loader
    with _guard:
        if _loader is None:
            # extra model folders, as botocore reads them (its `data_path` in a config file is not read)
            raw = os.environ.get("AWS_DATA_PATH", "")
            extra = [os.path.expandvars(os.path.expanduser(p)) for p in raw.split(os.pathsep) if p]
            _loader = Loader(extra_search_paths=extra, file_loader=_LeanJSONFileLoader())
        return _loader


def _boto3_session(core: botocore.session.Session) -> boto3.Session:
    """boto3 adds its own data folder to the loader's search paths at every session: once is enough."""
    made = boto3.Session(botocore_session=core)
    with _guard:
        paths = core.get_component("data_loader").search_paths
        paths[:] = list(dict.fromkeys(paths))
    return made


def new_client(session: boto3.Session, service: str, **kwargs: Any) -> Any:
    """A client of `session`: made one at a time (a boto3 session is not thread-safe, and the operator's
    clients are made lazily, in the reconcile threads). Clients themselves are thread-safe."""
    with _client_guard:
        return session.client(service, **kwargs)


def botocore_session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    return session


def default_session() -> boto3.Session:
    """The operator's own credentials (the default chain), on the shared loader: what `boto3.client`
    would use."""
    global _default
    if _default is None:
        made = _boto3_session(botocore_session())
        with _guard:
            _default = _default or made
    return _default


def external_id(cluster_id: str, namespace: str) -> str:
    return f"{cluster_id}/{namespace}"


def session_name(namespace: str) -> str:
    """Shown in the team's CloudTrail as the caller: which namespace the operator acted for."""
    return f"bmo-{namespace}"[:64]


def assumed_session(settings: Settings, role_arn: str, cluster_id: str, namespace: str) -> boto3.Session:
    """A boto3 session whose credentials come from sts:AssumeRole on `role_arn`, refreshed as they age."""
    base = botocore_session()
    region = settings.region

    def sts_client(service: str, **kwargs):
        from controller import metrics

        made = base.create_client(service, region_name=region, **kwargs)  # AWS_ENDPOINT_URL_STS if set
        if getattr(made, "meta", None) is not None:  # a real client: its AssumeRole calls are counted too
            metrics.instrument(made)
        return made

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args={
            "ExternalId": external_id(cluster_id, namespace),
            "RoleSessionName": session_name(namespace),
        },
    )
    assumed = botocore_session()
    # botocore's own refreshable credentials, installed as the session's: what `role_arn` in a profile does
    assumed._credentials = DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return _boto3_session(assumed)
