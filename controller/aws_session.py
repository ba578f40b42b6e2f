"""AWS credentials for one tenant: the operator's own, or a role in the team's account assumed for it.

A BedrockImportPolicy may name a role in another account for its namespaces. The operator assumes it with
an external ID bound to this cluster and the namespace (`<cluster id>/<namespace>`), so the team's trust
policy can admit exactly this cluster's operator acting for exactly that namespace (the confused-deputy
guard AWS documents for third parties). botocore refreshes the credentials before they expire.
"""

from __future__ import annotations

import boto3
import botocore.session
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from controller.settings import Settings


def external_id(cluster_id: str, namespace: str) -> str:
    return f"{cluster_id}/{namespace}"


def session_name(namespace: str) -> str:
    """Shown in the team's CloudTrail as the caller: which namespace the operator acted for."""
    return f"bmo-{namespace}"[:64]


def assumed_session(settings: Settings, role_arn: str, cluster_id: str, namespace: str) -> boto3.Session:
    """A boto3 session whose credentials come from sts:AssumeRole on `role_arn`, refreshed as they age."""
    base = botocore.session.get_session()
    region = settings.region

    def sts_client(service: str, **kwargs):
        return base.create_client(service, region_name=region, endpoint_url=settings.sts_endpoint, **kwargs)

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client,
        source_credentials=base.get_credentials(),
        role_arn=role_arn,
        extra_args={
            "ExternalId": external_id(cluster_id, namespace),
            "RoleSessionName": session_name(namespace),
        },
    )
    assumed = botocore.session.get_session()
    # botocore's own refreshable credentials, installed as the session's: what `role_arn` in a profile does
    assumed._credentials = DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return boto3.Session(botocore_session=assumed)
