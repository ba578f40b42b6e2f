"""Pure decision logic of the operator, no servers: names, conditions, queue, errors, redaction."""

from __future__ import annotations

import copy
import re

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from controller.api.models import MODEL_NAME_PATTERN, BedrockImportedModelSpec
from controller.artifacts.sources import source_error_reason
from controller.aws.clients import Kind, classify
from controller.conditions import set_conditions
from controller.naming import (
    Identity,
    base_model_name,
    client_token,
    import_inputs,
    job_name,
    model_name_candidates,
    owner_in,
    ownership,
    revision,
)
from controller.reconcile.import_queue import ImportQueue
from controller.redact import redact

JOB_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*"
TOKEN_PATTERN = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"


def spec(**kw) -> BedrockImportedModelSpec:
    base = {
        "source": {"s3Uri": "s3://bucket/a/"},
        "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/r"},
    }
    return BedrockImportedModelSpec.model_validate(base | kw)


def test_revision_changes_only_with_import_relevant_fields():
    a = revision(spec())
    assert revision(spec(tags={"x": "y"})) == a
    assert revision(spec(deletionPolicy="Retain")) == a
    assert revision(spec(source={"s3Uri": "s3://bucket/b/"})) != a
    assert revision(spec(kmsKeyId="alias/k")) != a
    assert revision(spec(architecture="Llama3")) != a


ME = Identity(
    "c0ffee00-0000-4000-8000-000000000001", "prod-eu", "team-a", "llama", "8f2c0a5e-1b7d-4c3e-9f0a-1"
)
JOB_NAME_PINNED = "team-a-llama-b6594ebc-01234567-2"
TOKEN_PINNED = "8f2c0a5e-1b7d-4c3e-9f0a-1-0123456789ab-2"


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("ns", "m"), ("team-a", "llama3"), ("n", "x" * 63), ("a", "b_c.d"), ("ns", "y" * 250)],
)
def test_names_and_tokens_fit_bedrock_patterns(namespace, name):
    me = Identity("cluster-id", "prod", namespace, name, "8f2c0a5e-1b7d-4c3e-9f0a-123456789abc")
    rev = "0123456789ab"
    for attempt in (1, 2, 17):
        job = job_name(me, rev, attempt)
        assert len(job) <= 63 and re.fullmatch(JOB_PATTERN, job)
    base = base_model_name(me, spec())
    for model in model_name_candidates(base, rev, 3):
        assert len(model) <= 63 and re.fullmatch(MODEL_NAME_PATTERN, model)
    assert len(set(model_name_candidates(base, rev, 3))) == 3
    assert re.fullmatch(TOKEN_PATTERN, client_token(me, rev, 3))
    assert job_name(me, rev, 1) != job_name(me, rev, 2)


def test_names_and_tokens_are_the_same_in_every_process_and_version():
    """A restarted operator (or the next version) must send the same name and token for an import it had
    recorded, or a lost answer becomes a second job: pinned to literal values."""
    rev = "0123456789ab"
    twin = Identity(ME.cluster_id, ME.cluster_name, ME.namespace, ME.name, ME.uid)  # rebuilt after restart
    assert job_name(twin, rev, 2) == job_name(ME, rev, 2) == JOB_NAME_PINNED
    assert client_token(twin, rev, 2) == client_token(ME, rev, 2) == TOKEN_PINNED
    assert client_token(ME, rev, 3) != TOKEN_PINNED


def test_names_never_collide_between_objects_incarnations_or_clusters():
    """`team-a/b` and `team/a-b` flatten alike; long names share a prefix; the same manifest is applied in
    two clusters; an object is deleted and re-created: every one gets its own job and model names."""
    rev = "0123456789ab"
    people = [
        Identity("c1", "one", "team-a", "b", "u1"),
        Identity("c1", "one", "team", "a-b", "u2"),
        Identity("c1", "one", "team", "x" * 60 + "1", "u3"),
        Identity("c1", "one", "team", "x" * 60 + "2", "u4"),
        Identity("c2", "two", "team-a", "b", "u5"),  # same manifest, another cluster
        Identity("c1", "one", "team-a", "b", "u6"),  # re-created: a new uid
    ]
    jobs = {job_name(me, rev, 1) for me in people}
    models = {base_model_name(me, spec()) for me in people}
    assert len(jobs) == len(people) and len(models) == len(people)


def test_ownership_is_read_from_tags():
    tags = ME.tags()
    assert set(tags) == {
        f"bedrock.modelops.io/{k}" for k in ("cluster", "cluster-id", "namespace", "name", "uid")
    }
    assert all(re.fullmatch(r"[a-zA-Z0-9\s._:/=+@-]*", v) for v in tags.values())
    assert ownership(tags, ME) == "mine"
    assert ownership({"team": "a"}, ME) == "unowned"
    other = Identity(ME.cluster_id, ME.cluster_name, ME.namespace, ME.name, "another-uid")
    assert ownership(other.tags(), ME) == "other"
    elsewhere = Identity("another-cluster", "x", ME.namespace, ME.name, ME.uid)
    assert ownership(elsewhere.tags(), ME) == "other"
    assert "team-a/llama" in (owner_in(other.tags()) or "")


def test_a_failure_is_retried_only_when_the_import_inputs_change():
    base = import_inputs("r1", "us-east-1", spec(), "")
    assert import_inputs("r1", "us-east-1", spec(tags={"a": "b"}), "") == base  # tags: no retry
    assert import_inputs("r1", "us-east-1", spec(deletionPolicy="Retain"), "") == base
    assert import_inputs("r2", "us-east-1", spec(), "") != base
    assert import_inputs("r1", "us-west-2", spec(), "") != base
    assert import_inputs("r1", "us-east-1", spec(), "1") != base  # the retry annotation
    other_role = spec(serviceRole={"roleArn": "arn:aws:iam::123456789012:role/other"})
    assert import_inputs("r1", "us-east-1", other_role, "") != base


def test_conditions_keep_transition_time_when_status_is_unchanged():
    first = set_conditions(None, {"Ready": ("False", "Importing", "m")}, 1, now="2026-01-01T00:00:00Z")
    same = set_conditions(first, {"Ready": ("False", "Queued", "n")}, 2, now="2026-01-01T00:01:00Z")
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z" and same[0]["reason"] == "Queued"
    assert same[0]["observedGeneration"] == 2
    flipped = set_conditions(same, {"Ready": ("True", "ModelReady", "ok")}, 2, now="2026-01-01T00:02:00Z")
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T00:02:00Z"
    both = set_conditions(flipped, {"Validated": ("True", "ArtifactsImportable", "")}, 2)
    assert [c["type"] for c in both] == ["Validated", "Ready"]


def test_queue_is_first_come_first_served_with_one_slot():
    q = ImportQueue()
    assert q.enqueue("us-east-1", "b", "2026-01-01T00:00:01Z/2") == 1
    assert q.enqueue("us-east-1", "a", "2026-01-01T00:00:01Z/1") == 1  # earlier arrival goes first
    assert q.enqueue("us-east-1", "c", "2026-01-01T00:00:02Z/3") == 3
    assert q.may_start("us-east-1", "a") and not q.may_start("us-east-1", "b")
    q.hold("us-east-1", "a")
    assert not q.may_start("us-east-1", "b")  # the slot is busy
    assert q.may_start("us-west-2", "z")  # other regions have their own slot
    q.forget("a")
    assert q.may_start("us-east-1", "b") and not q.may_start("us-east-1", "c")
    assert q.length("us-east-1") == 2


def test_queue_holds_one_place_per_object():
    """Moving an object (another region, from waiting to holding) never leaves a place behind."""
    q = ImportQueue()
    q.enqueue("us-east-1", "a", "1")
    q.enqueue("us-west-2", "a", "1")
    assert q.length("us-east-1") == 0 and q.length("us-west-2") == 1
    q.hold("us-east-1", "a")
    assert q.length() == 0 and q.holders("us-east-1") == {"a"}
    q.enqueue("us-east-1", "a", "1")
    assert q.holders("us-east-1") == set()


def test_next_up_names_whose_turn_it_is_when_a_slot_frees():
    """Who the operator wakes at once after a pass (so the slot does not idle until their next poll)."""
    q = ImportQueue()
    q.enqueue("us-east-1", "second", "2026-01-01T00:00:01Z/2")
    q.enqueue("us-east-1", "first", "2026-01-01T00:00:01Z/1")
    q.enqueue("us-west-2", "west", "2026-01-01T00:00:05Z/3")
    q.hold("us-east-1", "running")
    assert q.next_up() == ["west"]  # us-east-1's slot is busy
    q.forget("running")  # its job ended
    assert sorted(q.next_up()) == ["first", "west"]  # only the head: "second" still waits for "first"
    assert ImportQueue(slots_per_region=2).next_up() == []


def test_only_objects_whose_job_runs_are_polled_fast():
    from controller.runtime.work_queue import import_job_running

    assert import_job_running({"importJob": {"state": "InProgress"}})
    assert import_job_running({"importJob": {"state": "Creating"}})
    for state in ("Testing", "Completed", "Failed", "Adopting"):
        assert not import_job_running({"importJob": {"state": state}}), state
    assert not import_job_running({}) and not import_job_running(None)


def _client_error(code: str, message: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "CreateModelImportJob",
    )


@pytest.mark.parametrize(
    "code, message, status, kind, reason",
    [
        ("ThrottlingException", "slow down", 429, Kind.RETRYABLE, "Throttled"),
        ("InternalServerException", "oops", 500, Kind.RETRYABLE, "AwsServiceError"),
        (
            "ValidationException",
            "The provided role ARN is invalid.",
            400,
            Kind.RETRYABLE,
            "WaitingForIAMPropagation",
        ),
        (
            "ServiceQuotaExceededException",
            "quota for concurrent model import jobs",
            400,
            Kind.QUEUE,
            "Queued",
        ),
        (
            "ServiceQuotaExceededException",
            "quota for imported models",
            400,
            Kind.QUOTA,
            "ImportedModelQuotaExceeded",
        ),
        ("ConflictException", "exists", 400, Kind.CONFLICT, "NameConflict"),
        (
            "ValidationException",
            "The provided job name is currently in use.",
            400,
            Kind.JOB_NAME_TAKEN,
            "JobNameInUse",
        ),
        ("ResourceNotFoundException", "no such job", 404, Kind.NOT_FOUND, "NotFound"),
        ("AccessDeniedException", "not allowed", 403, Kind.TERMINAL, "AccessDenied"),
        ("ValidationException", "bad jobName", 400, Kind.TERMINAL, "InvalidRequest"),
        ("TooManyTagsException", "too many", 400, Kind.TERMINAL, "TooManyTags"),
        # a 5xx whose code the classifier has never heard of is still the service's trouble: retried
        ("ServiceFailureException", "try later", 503, Kind.RETRYABLE, "AwsServiceError"),
    ],
)
def test_error_classifier(code, message, status, kind, reason):
    err = classify(_client_error(code, message, status), "CreateModelImportJob x")
    assert (err.kind, err.reason) == (kind, reason)


def test_network_errors_are_retryable():
    err = classify(EndpointConnectionError(endpoint_url="https://bedrock.us-east-1.amazonaws.com"), "x")
    assert err.kind is Kind.RETRYABLE and err.reason == "AwsUnreachable"


def test_redaction():
    text = (
        "GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAABCDEFGHIJKLMNOP%2F&X-Amz-Signature=abc123 "
        "key AKIAABCDEFGHIJKLMNOP secret=hunter2 Authorization: AWS4-HMAC-SHA256 Credential=..."
    )
    out = redact(text)
    for leaked in ("AKIAABCDEFGHIJKLMNOP", "abc123", "hunter2", "AWS4-HMAC"):
        assert leaked not in out
    # a presigned query without its scheme and host (as a request line or an S3 error quotes it)
    for bare in (
        "PUT /bucket/key?X-Amz-Security-Token=tok123&X-Amz-Signature=sig456 failed",
        "PUT /bucket/key?X-Amz-Date=20261129T000000Z&X-Amz-Signature=sig456 failed",
    ):
        out = redact(bare)
        assert "tok123" not in out and "sig456" not in out and out.endswith(" failed"), out
    assert len(redact("x" * 5000)) == 2048


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("AccessDenied", "SourceAccessDenied"),
        ("AllAccessDisabled", "SourceAccessDenied"),
        ("403", "SourceAccessDenied"),
        ("NoSuchBucket", "SourceNotFound"),
        ("InvalidUri", "SourceNotFound"),
        ("404", "SourceNotFound"),
        ("EndpointConnectionError", None),
        ("SlowDown", None),
    ],
)
def test_unreadable_source_reason_is_the_same_in_both_validation_modes(code, reason):
    """Inline validation and validation Jobs read one mapping; None = transient, retried."""
    assert source_error_reason(code) == reason


def test_a_steady_model_writes_no_status_at_resync():
    """`kubectl get -w` and Argo CD see a new row only when something changed: resyncs of a Ready model
    that finds nothing to set right leave its status byte for byte as it was."""
    from tests.support.world import World

    world = World()
    cluster = world.cluster("one")
    spec = {"source": {"s3Uri": "s3://models/llama/"}, "serviceRole": {"create": True}}
    body = cluster.create("team", "steady", spec)
    world.advance(60)
    ready = [c for c in body["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True", body["status"]
    before = copy.deepcopy(body["status"])
    world.advance(3 * 300)  # three resyncs
    assert body["status"] == before
    world.aws.tag(  # drift: a tag set outside is set back, and that is a change worth a row
        "us-east-1", {"resourceARN": body["status"]["modelArn"], "tags": [{"key": "team", "value": "x"}]}
    )
    world.advance(300)  # a resync reads the region's listing, not each model's tags: nothing seen yet
    assert body["status"] == before
    world.advance(6 * 3600, tick=300)  # the tag cadence (BMO_TAG_CHECK_SECONDS, 6 h) comes round
    assert body["status"]["lastSyncTime"] != before["lastSyncTime"]
    tags = world.aws.list_tags("us-east-1", {"resourceARN": body["status"]["modelArn"]})["tags"]
    assert {"key": "team", "value": "x"} not in tags


def test_a_fleets_resync_costs_a_listing_not_a_call_per_model():
    """At steady state a resync of every Ready model reads
    the region's ListImportedModels (one page per 1,000 models, at most every half resync period) instead of
    GetImportedModel + ListTagsForResource per model; tags have their own slower cadence."""
    from collections import Counter

    from tests.support.world import World

    world = World()
    cluster = world.cluster("one")
    spec = {"source": {"s3Uri": "s3://models/llama/"}, "serviceRole": {"create": True}}
    bodies = [cluster.create("team", f"m{i}", spec) for i in range(40)]
    world.advance(40 * 60, tick=10)  # one slot: forty imports one after the other
    assert all(b["status"].get("phase") == "Ready" for b in bodies), [
        b["status"].get("phase") for b in bodies
    ]
    calls: Counter[str] = Counter()
    original = world.before_call

    def count(operation, params):
        calls[operation] += 1
        original(operation, params)

    world.before_call = count
    world.advance(10 * 300, tick=10)  # ten resync periods
    assert calls["GetImportedModel"] == 0, calls
    assert 10 <= calls["ListImportedModels"] <= 20, calls  # every period looked at the region once or twice
    # each model's tags once per cadence (6 h), spread over it: ~40 x 3,000 s / 21,600 s here, not 40 at once
    assert calls["ListTagsForResource"] <= 40 * 3000 / 21600 + 3, calls
    # at 1,000 models the same listings serve 25 times as many models
    at_1000 = (calls["ListImportedModels"] / 1000 + calls["ListTagsForResource"] / 40) / 10
    assert at_1000 <= 0.05, calls


def test_after_a_restart_the_fleet_is_looked_up_in_the_listing_and_its_tags_spread_over_the_cadence():
    """A restart or a failover is no event on the objects: a Ready model is not read by ARN with its tags
    (2 calls each; at 5/s, 1,000 models held every worker and the queue behind them for minutes)."""
    from collections import Counter

    from tests.support.world import World

    world = World()
    cluster = world.cluster("one")
    spec = {"source": {"s3Uri": "s3://models/llama/"}, "serviceRole": {"create": True}}
    bodies = [cluster.create("team", f"m{i}", spec) for i in range(40)]
    world.advance(40 * 60, tick=10)
    assert all(b["status"].get("phase") == "Ready" for b in bodies)
    cluster.restart()
    calls: Counter[str] = Counter()
    original = world.before_call
    world.before_call = lambda operation, params: (calls.update([operation]), original(operation, params))
    world.advance(300, tick=10)  # the new process's first resync of every model
    assert calls["GetImportedModel"] == 0 and calls["ListImportedModels"] <= 2, calls
    assert calls["ListTagsForResource"] <= 3, calls  # 40 x 300 s / 6 h ~ 0.6, not 40
    world.advance(6 * 3600, tick=300)  # within one cadence every model's tags were read once
    assert 35 <= calls["ListTagsForResource"] <= 45, calls


def test_a_create_refused_for_a_job_outside_keeps_its_place_and_wakes_nobody():
    """Bedrock's slot is held by a job this operator did not start: the head's create is refused. It keeps
    its place at the head (not sent to the back), and nobody in the region tries again before the next poll
    (a wake of the next in line would only draw the same refusal, over and over)."""
    clock = [0.0]
    q = ImportQueue(clock=lambda: clock[0], busy_for=10.0)
    q.enqueue("us-east-1", "head", "2026-01-01T00:00:01Z/1")
    q.enqueue("us-east-1", "next", "2026-01-01T00:00:02Z/2")
    assert q.next_up() == ["head"]
    q.busy_outside("us-east-1")  # what a QUEUE refusal of head's create does
    assert q.next_up() == [] and not q.may_start("us-east-1", "head") and not q.may_start("us-east-1", "next")
    clock[0] = 10.5  # the next poll
    assert q.next_up() == ["head"] and q.may_start("us-east-1", "head")


def test_a_paused_object_whose_job_runs_keeps_the_slot():
    """Pausing an object mid-import stops what the operator does for it, not Bedrock's job: the slot stays
    taken (else the next in line would draw refused creates until the job ends)."""
    from controller.reconcile import PAUSE_ANNOTATION
    from tests.support.world import World

    world = World()
    cluster = world.cluster("one")
    spec = {"source": {"s3Uri": "s3://models/llama/"}, "serviceRole": {"create": True}}
    world.aws.faults.job_duration_seconds = 120
    first = cluster.create("team", "first", spec)
    world.advance(20, tick=5)
    assert (first["status"].get("importJob") or {}).get("state") == "InProgress", first["status"]
    cluster.annotate(first, PAUSE_ANNOTATION, "true")
    second = cluster.create("team", "second", spec)
    world.advance(30, tick=5)
    assert second["status"].get("phase") == "Queued", second["status"]
    rec = cluster.operator.reconciler
    assert rec.queue.holders("us-east-1") == {first["metadata"]["uid"]}
