"""The operator's boto3 clients: one copy of botocore's models per process, clients made when first used.

Each botocore session used to load its own copy of the endpoint data and service models (some 30 MiB
with the operator's six clients), once more for every tenant role; a SageMaker client (8 MiB of model)
was made for every region and tenant though few fleets read SageMaker models. No servers: no call is made.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest
from botocore.stub import Stubber

from controller.aws.clients import SupportClients
from controller.aws.session import assumed_session, default_session, shared_loader
from controller.reconcile.reconciler import Reconciler
from controller.settings import Settings

ENDPOINT = "http://127.0.0.1:9"  # never called
ACCOUNT = "123456789012"


def _traced_growth(make) -> int:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    made = make()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    del made
    return grown


def test_every_tenant_shares_one_copy_of_botocores_models(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", ENDPOINT)
    settings = Settings()
    sessions = [
        assumed_session(settings, f"arn:aws:iam::111122223333:role/team-{n}", "cluster", f"team-{n}")
        for n in range(3)
    ]
    for session in [*sessions, default_session()]:
        assert session._session.get_component("data_loader") is shared_loader()
    paths = shared_loader().search_paths
    assert len(paths) == len(set(paths))  # boto3 adds its data folder at each session: kept once

    tracemalloc.start()
    try:
        first = _traced_growth(lambda: sessions[0].client("sagemaker", region_name="us-east-1"))
        second = _traced_growth(lambda: sessions[1].client("sagemaker", region_name="us-east-1"))
    finally:
        tracemalloc.stop()
    # the first load of SageMaker's model is MiBs (unless an earlier test loaded it); a second tenant's
    # client adds its own small objects only
    assert second < 1.5 * 2**20, (first, second)


def test_the_models_carry_no_documentation_and_still_describe_the_api() -> None:
    client = default_session().client("bedrock", region_name="us-east-1", endpoint_url=ENDPOINT)
    operation = client.meta.service_model.operation_model("ListImportedModels")
    assert operation.documentation == ""
    assert "maxResults" in operation.input_shape.members and operation.http["method"] == "GET"
    assert client.can_paginate("list_imported_models")


CALLS = {  # one operation of every service the operator calls, with a minimal valid answer
    "bedrock": ("list_imported_models", {}, {"modelSummaries": []}),
    "bedrock-runtime": ("invoke_model", {"modelId": "m", "body": b"{}"}, {"body": b"{}", "contentType": "x"}),
    "s3": ("head_object", {"Bucket": "models", "Key": "a/config.json"}, {"ContentLength": 1}),
    "sts": ("get_caller_identity", {}, {"Account": "111122223333"}),
    "iam": (
        "get_role",
        {"RoleName": "r"},
        {
            "Role": {
                "Path": "/",
                "RoleName": "r",
                "RoleId": "AROAEXAMPLE12345678",
                "Arn": "arn:aws:iam::111122223333:role/r",
                "CreateDate": "2026-01-01T00:00:00Z",
            }
        },
    ),
    "sagemaker": (
        "describe_model",
        {"ModelName": "m"},
        {
            "ModelName": "m",
            "CreationTime": "2026-01-01T00:00:00Z",
            "ModelArn": "arn:aws:sagemaker:us-east-1:111122223333:model/m",
        },
    ),
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_a_call_through_the_lean_models_resolves_its_endpoint_and_parses_the_answer(service: str) -> None:
    """What a docstring never needs, a request does: endpoint rules, context parameters, shapes. The stub
    answers after botocore has resolved the endpoint and serialized the request from the models."""
    operation, params, answer = CALLS[service]
    client = default_session().client(
        service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    with Stubber(client) as stub:
        stub.add_response(operation, answer, params)
        out = getattr(client, operation)(**params)
        stub.assert_no_pending_responses()
    assert {key: out[key] for key in answer} == answer


def test_support_clients_are_made_when_first_used(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", ENDPOINT)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", ENDPOINT)  # botocore's own variables: no setting of ours
    settings = Settings()
    support = SupportClients(settings, "us-east-1")
    assert support._made == {}
    assert support.s3 is support.s3
    assert set(support._made) == {"s3"}  # no SageMaker, IAM, STS or runtime client until one is needed
    assert support._sm.meta.endpoint_url == ENDPOINT and set(support._made) == {"s3", "sagemaker"}


def test_assume_role_sends_the_namespaces_external_id(monkeypatch):
    from controller.aws import session as aws_session

    sent: list[dict[str, Any]] = []

    class FakeSts:
        def assume_role(self, **kw: Any) -> dict[str, Any]:
            sent.append(kw)
            return {
                "Credentials": {
                    "AccessKeyId": "AKIA",
                    "SecretAccessKey": "s",
                    "SessionToken": "t",
                    "Expiration": "2999-01-01T00:00:00Z",
                }
            }

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    base = aws_session.botocore_session()
    monkeypatch.setattr(base, "create_client", lambda service, **kw: FakeSts())
    monkeypatch.setattr(aws_session, "botocore_session", lambda: base)
    role = f"arn:aws:iam::{ACCOUNT}:role/bmo-tenant-access"
    session = aws_session.assumed_session(Settings(), role, "cluster-1", "team-a")
    session.get_credentials().get_frozen_credentials()
    (call,) = sent
    assert call["RoleArn"] == role
    assert call["ExternalId"] == "cluster-1/team-a"
    assert call["RoleSessionName"] == "bmo-team-a"


def test_two_namespaces_sharing_an_account_role_get_their_own_sessions():
    made: list[tuple[str, Any]] = []

    def factory(settings, region, tenant):
        from types import SimpleNamespace

        made.append((region, tenant))
        return SimpleNamespace(on_recovered=None), object()  # the reconciler hooks its outage callback

    rec = Reconciler(Settings(), clients=factory)
    role = f"arn:aws:iam::{ACCOUNT}:role/bmo-tenant-access"
    a = rec._clients_for("team-a", role)("us-east-1")
    b = rec._clients_for("team-b", role)("us-east-1")
    assert a is not b and made == [("us-east-1", (role, "team-a")), ("us-east-1", (role, "team-b"))]
    assert rec._clients_for("team-a", role)("us-east-1") is a  # and each is kept
    assert rec._clients_for("team-a", None)("us-east-1") is not a  # the operator's own account apart
