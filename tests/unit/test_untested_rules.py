"""Behaviours no test pinned down: each test here fails on a plausible defect listed in
hack/mutants.py. No servers: fakes stand where AWS would answer, and the parameters sent are looked at."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controller.api.models import BedrockImportedModelSpec
from controller.api.policy import BedrockImportPolicy
from controller.aws.clients import BedrockClient, SupportClients
from controller.aws.rate_limit import RegionLimiter, parse_limits
from controller.reconcile.reconciler import Reconciler
from controller.settings import Settings
from controller.tenancy.rules import check_resolved_source, decide
from controller.tenancy.view import TenancyView

ACCOUNT = "123456789012"


def _policy(name: str, prefixes: list[str], **more: Any) -> BedrockImportPolicy:
    spec = {
        "namespaceSelector": {},
        "sources": {"s3Prefixes": prefixes, "sageMakerModelNames": ["team-*"]},
        "serviceRoles": {"allowCreate": True},
        "validationModes": ["Job"],
    } | more
    return BedrockImportPolicy.model_validate({"name": name, "spec": spec})


def test_a_sagemaker_models_files_must_lie_in_a_folder_of_every_policy():
    spec = BedrockImportedModelSpec.model_validate(
        {"source": {"sageMakerModelName": "team-llama"}, "serviceRole": {"create": True}}
    )
    wide, narrow = _policy("wide", ["s3://models/"]), _policy("narrow", ["s3://models/team-a/"])
    d = decide([wide, narrow], {}, spec, "Job", "us-east-1", "restricted")
    assert d.allowed
    refused = check_resolved_source(d, "s3://models/team-b/llama/")
    assert refused is not None and "narrow" in refused.message  # the wide policy alone does not suffice
    assert check_resolved_source(d, "s3://models/team-a/llama/") is None


def test_max_models_counts_only_the_namespaces_own_models():
    view = TenancyView("open")
    view.model_changed(_member_body("team-a", "a1", True))
    view.model_changed(_member_body("team-b", "b1", True))
    view.model_changed(_member_body("team-b", "b2", True))
    assert [m.uid for m in view.members("team-a")] == ["uid-a1"]
    assert {m.uid for m in view.members("team-b")} == {"uid-b1", "uid-b2"}


def _member_body(ns: str, name: str, serving: bool) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": ns,
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "status": {"modelArn": "arn:x"} if serving else {},
    }


class _FakeIam:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_role(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("create_role", kw))
        return {"Role": {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{kw['RoleName']}"}}

    def put_role_policy(self, **kw: Any) -> None:
        self.calls.append(("put_role_policy", kw))


def _role_documents(s3_uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    support = SupportClients(Settings(), "us-east-1")
    iam = _FakeIam()
    support._made["iam"] = iam
    support.account_id = lambda: ACCOUNT  # type: ignore[method-assign]
    support.ensure_role("bmo-import-x", s3_uri, {"t": "v"})
    trust = json.loads(next(kw for op, kw in iam.calls if op == "create_role")["AssumeRolePolicyDocument"])
    policy = json.loads(next(kw for op, kw in iam.calls if op == "put_role_policy")["PolicyDocument"])
    return trust, policy


@pytest.mark.parametrize("s3_uri", ["s3://models/llama", "s3://models/llama/"])
def test_a_created_role_reads_the_source_folder_and_no_sibling(s3_uri):
    _, policy = _role_documents(s3_uri)
    resources = {s["Action"]: s for s in policy["Statement"]}
    assert resources["s3:GetObject"]["Resource"] == "arn:aws:s3:::models/llama/*"
    assert resources["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["llama/*"]}}


def test_a_created_roles_trust_names_the_account_and_only_import_jobs():
    trust, _ = _role_documents("s3://models/llama/")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-import-job/*"},
    }


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
        made.append((region, tenant))
        return object(), object()

    rec = Reconciler(Settings(), clients=factory)
    role = f"arn:aws:iam::{ACCOUNT}:role/bmo-tenant-access"
    a = rec._clients_for("team-a", role)("us-east-1")
    b = rec._clients_for("team-b", role)("us-east-1")
    assert a is not b and made == [("us-east-1", (role, "team-a")), ("us-east-1", (role, "team-b"))]
    assert rec._clients_for("team-a", role)("us-east-1") is a  # and each is kept
    assert rec._clients_for("team-a", None)("us-east-1") is not a  # the operator's own account apart


def test_the_create_limit_applies_across_objects(aws_env):
    """CreateModelImportJob=1: two objects' creates (different job names) share one bucket per region."""
    client = BedrockClient(Settings(bedrock_rate_limits="default=100,CreateModelImportJob=1"), "us-east-1")
    slept: list[float] = []
    now = [100.0]
    client.limiter.clock = lambda: now[0]

    def sleep(s: float) -> None:
        slept.append(round(s, 3))
        now[0] += s

    client.limiter.sleep = sleep
    client._call("CreateModelImportJob job-of-a", lambda **_: {})
    client._call("CreateModelImportJob job-of-b", lambda **_: {})
    assert slept == [1.0]
    assert isinstance(client.limiter, RegionLimiter) and parse_limits("default=1")["default"] == 1.0


def test_no_unit_test_starts_a_server():
    """`pytest tests/unit` (and `-m "not controlplane"`) must not start servers: a test that takes the control
    plane's, the operator's or the node's fixtures lives in tests/cluster/ or tests/node/, whose conftest
    marks every test there (tests/test_smoke_e2e.py once ran without its mark)."""
    import ast

    servers = {"kubectl", "operator", "control_plane", "crd_installed", "node", "node_images"}
    found = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        for f in ast.walk(ast.parse(path.read_text())):
            is_test = isinstance(f, ast.FunctionDef) and f.name.startswith("test_")
            if is_test and {a.arg for a in f.args.args} & servers:
                found.append(f"{path.name}::{f.name}")
    assert found == []


def test_the_no_cluster_selection_collects_nothing_of_the_cluster_or_node_levels():
    """`-m "not controlplane"` (what a contributor without a cluster runs) selects no test of tests/cluster/
    or tests/node/: their conftest files mark every test there, whether or not the test says so."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not controlplane",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    picked = [ln for ln in out.splitlines() if ln.startswith(("tests/cluster/", "tests/node/"))]
    assert picked == []
    assert any(ln.startswith("tests/unit/") for ln in out.splitlines())


def test_max_models_counts_each_namespace_on_its_own():
    """Through the operator's passes: team-b's two models take none of team-a's single place."""
    from tests.support.world import World
    from tests.unit.test_invariants import ROLE

    w = World()
    c = w.cluster("east")
    c.set_policy(
        "one-each",
        {
            "namespaceSelector": {},
            "sources": {"s3Prefixes": ["s3://models/"]},
            "serviceRoles": {"roleArns": [ROLE]},
            "validationModes": ["Skip"],
            "maxModels": 2,
        },
    )

    def spec(source: str) -> dict[str, Any]:
        return {"source": {"s3Uri": source}, "serviceRole": {"roleArn": ROLE}, "region": "us-east-1"}

    b = [c.create("team-b", f"b{i}", spec(f"s3://models/b{i}/")) for i in range(2)]
    w.advance(60.0)
    assert [x["status"]["phase"] for x in b] == ["Ready", "Ready"]
    a = c.create("team-a", "a1", spec("s3://models/a/"))
    w.advance(30.0)
    assert a["status"]["phase"] == "Ready", a["status"]["conditions"]


def test_a_leader_whose_renewals_stop_is_told_within_a_second(monkeypatch):
    """The watchdog: a leader whose last renewal is older than the renew deadline stops reconciling, on
    a monotonic clock, whatever the election library's loop is doing; a fresh renewal keeps it leading."""
    import threading
    import time

    from kubernetes import client

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())  # no call is made
    lead = Leadership(Settings(leader_lease_seconds=15))
    told = threading.Event()
    lead._lock.renewed_at = time.monotonic()
    lead.watchdog(told.set)
    assert not told.wait(0.6), "told to stop while its renewals are fresh"
    lead._lock.renewed_at = time.monotonic() - lead.deadline - 1  # renewals failing past the deadline
    assert told.wait(2.0), "a leader that cannot renew kept reconciling"
    lead.lost.set()


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


def test_a_policy_the_operator_cannot_read_allows_nothing():
    """An unparseable policy was dropped, so the namespaces it meant to restrict were open."""
    view = TenancyView("open", list_policies=lambda: [])
    view.policy_changed(
        {"metadata": {"name": "broken"}, "spec": {"namespaceSelector": {}, "maxModels": "many"}}
    )
    spec = BedrockImportedModelSpec.model_validate(
        {"source": {"s3Uri": "s3://models/a/"}, "serviceRole": {"create": True}}
    )
    d = view.decide("team-a", spec, "Job", "us-east-1")
    assert not d.allowed and "broken cannot be read" in d.summary(), d.summary()
    # its selector still says where it applies
    view.policy_changed(
        {"metadata": {"name": "broken"}, "spec": {"namespaceSelector": {"matchLabels": {"t": "b"}}, "x": 1}}
    )
    assert view.decide("team-a", spec, "Job", "us-east-1").allowed


@pytest.mark.parametrize(
    "data",
    [
        "s3://models/team-a/../team-b/llama/",
        "s3://models/team-a/./x/",
        "https://evil/x/",
        "s3://models/team-a/x",
    ],
)
def test_a_sagemaker_models_data_with_dot_segments_is_refused(data):
    """A SageMaker model's S3 folder was taken as written: `team-a/../team-b/` passes a prefix
    check on text yet names team B's folder."""
    from controller.errors import SourceError

    support = SupportClients(Settings(), "us-east-1")

    class FakeSageMaker:
        def describe_model(self, ModelName: str) -> dict[str, Any]:
            return {"PrimaryContainer": {"ModelDataSource": {"S3DataSource": {"S3Uri": data}}}}

    support._made["sagemaker"] = FakeSageMaker()
    if data == "s3://models/team-a/x":  # a plain folder: taken, as a folder
        assert support.sagemaker_s3_uri("m") == "s3://models/team-a/x/"
        return
    with pytest.raises(SourceError) as err:
        support.sagemaker_s3_uri("m")
    assert err.value.reason == "SourceNotAllowed"


@pytest.mark.parametrize("lease_seconds", [5, 6, 10, 15, 30, 60, 137])  # the setting is >= 5
def test_a_leader_stops_before_a_standby_may_take_over(lease_seconds):
    """The renew deadline plus one retry (a request's timeout) stays below the lease duration: a leader that
    lost its renewals has stopped before a standby sees the Lease expire (never two leaders)."""
    from controller.runtime.leadership import timings

    duration, deadline, retry = timings(lease_seconds)
    assert deadline + retry < duration, (duration, deadline, retry)
    assert deadline > retry  # and a renewal may be retried at least once


def test_a_stopping_replica_never_clears_another_replicas_lease(monkeypatch):
    from types import SimpleNamespace

    from kubernetes import client

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    replaced = []

    class FakeCoordination:
        def __init__(self, *_: Any) -> None:
            pass

        def read_namespaced_lease(self, name: str, namespace: str) -> Any:
            return SimpleNamespace(spec=SimpleNamespace(holder_identity=holder))

        def replace_namespaced_lease(self, name: str, namespace: str, lease: Any) -> None:
            replaced.append(lease.spec.holder_identity)

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())
    monkeypatch.setattr(leadership.client, "CoordinationV1Api", FakeCoordination)
    lead = Leadership(Settings())
    holder = "someone-else"
    lead.release()
    assert replaced == []  # the real leader's Lease is left alone
    holder = lead.me
    lead.release()
    assert replaced == [None]  # its own is handed over


def test_an_object_being_deleted_takes_no_place_under_max_models():
    from controller.tenancy.view import member_of

    body = _member_body("team-a", "old", serving=False)
    assert member_of(body) is not None  # waiting for a place: it counts
    body["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    assert member_of(body) is None  # being deleted and holding nothing: it frees its place
    body["status"] = {"modelArn": "arn:x"}
    assert member_of(body) is not None  # still holding a model: it counts until that is gone


def test_a_stopped_lease_lock_never_writes_again(monkeypatch):
    """A renewal in flight after a clean stop must not re-take the Lease the stop just released."""
    from kubernetes import client

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())
    lock = Leadership(Settings())._lock
    calls = []
    lock.stopped = True
    assert lock._write("renewing", lambda *a: calls.append(a) or True, "x") is False
    assert calls == []
    lock.stopped = False
    assert lock._write("renewing", lambda *a: calls.append(a) or True, "x") is True and calls == [("x",)]


def test_each_process_stands_for_election_as_a_new_identity(monkeypatch):
    """A restarted container (same pod name, often the same PID) must not pass for its predecessor and
    resume a Lease it never won."""
    from controller.runtime.leadership import identity

    monkeypatch.setenv("POD_NAME", "bmo-7d9f-abcde")
    first, second = identity(), identity()
    assert first.startswith("bmo-7d9f-abcde_") and first != second


def _client_error(code: str, message: str, status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def test_the_error_classifier_on_codes_no_end_to_end_test_meets():
    from controller.aws.clients import classify
    from controller.errors import Kind

    assert classify(_client_error("SomethingNew", "boom", 500), "Op").kind is Kind.RETRYABLE
    assert classify(_client_error("SomethingNew", "boom", 503), "Op").kind is Kind.RETRYABLE
    assert classify(_client_error("NoSuchEntity", "role gone", 404), "Op").kind is Kind.NOT_FOUND
    propagating = classify(
        _client_error("ValidationException", "The provided role ARN is invalid.", 400), "Op"
    )
    assert (propagating.kind, propagating.reason) == (Kind.RETRYABLE, "WaitingForIAMPropagation")
    bad_uri = classify(_client_error("ValidationException", "The S3 URI is invalid.", 400), "Op")
    assert bad_uri.kind is not Kind.RETRYABLE and bad_uri.reason != "WaitingForIAMPropagation", bad_uri


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.listings = 0

    def tag_resource(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("tag", kw))
        return {}

    def untag_resource(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("untag", kw))
        return {}


def test_a_changed_tag_value_is_set_back(aws_env):
    client = BedrockClient(Settings(), "us-east-1")
    rec = _Recorder()
    client._bedrock = rec
    client.sync_tags("arn:m", {"team": "a", "keep": "1"}, actual={"team": "b", "keep": "1", "stray": "x"})
    assert rec.calls == [
        ("tag", {"resourceARN": "arn:m", "tags": [{"key": "team", "value": "a"}]}),
        ("untag", {"resourceARN": "arn:m", "tagKeys": ["stray"]}),
    ]


def test_the_regions_listing_is_refreshed_once_it_is_older_than_asked(aws_env):
    client = BedrockClient(Settings(), "us-east-1")
    listed: list[float] = []
    client.list_models = lambda: listed.append(1) or {}  # type: ignore[method-assign]
    client.listed_model("arn:m", max_age=30, now=100.0)
    client.listed_model("arn:m", max_age=30, now=120.0)
    assert len(listed) == 1  # shared while fresh
    client.listed_model("arn:m", max_age=30, now=131.0)
    assert len(listed) == 2  # a model deleted outside is noticed at the next resync


def test_the_queue_orders_by_arrival_not_by_uid():
    """uids are random: one that sorts first must not overtake an object that has waited longer."""
    from controller.reconcile.import_queue import ImportQueue

    q = ImportQueue()
    q.enqueue("us-east-1", "ffff-waited-longer", "2026-01-01T00:00:01Z/1")
    assert q.enqueue("us-east-1", "0000-came-later", "2026-01-01T00:00:05Z/2") == 2
    assert q.next_up() == ["ffff-waited-longer"]
    assert q.may_start("us-east-1", "ffff-waited-longer") and not q.may_start("us-east-1", "0000-came-later")


def test_the_running_operator_arms_the_watchdog_and_exits_when_it_fires(monkeypatch):
    """The watchdog is only worth something if `run` arms it. A leader that can no longer renew
    must exit (a standby takes over) rather than keep reconciling beside the new leader."""
    import os
    import threading

    from controller.runtime import leadership
    from controller.runtime import main as operator_main

    armed: list = []

    class FakeLeadership:
        namespace, name, me, deadline = "ns", "lease", "me", 10.0

        def __init__(self, settings) -> None:
            self.leading, self.lost = threading.Event(), threading.Event()
            self.leading.set()

        def start(self) -> None:
            pass

        def watchdog(self, on_lost) -> None:
            armed.append(on_lost)

    exits: list[int] = []
    monkeypatch.setattr(leadership, "Leadership", FakeLeadership)
    monkeypatch.setattr(os, "_exit", exits.append)
    operator_main._lead(Settings(liveness=""))
    assert len(armed) == 1, "the watchdog was not armed"
    armed[0]()
    assert exits == [1], "a leader told it lost the Lease did not exit"
