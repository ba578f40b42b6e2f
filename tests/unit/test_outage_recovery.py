"""AWS away, then back: the objects that backed off from the outage try again as soon as it answers (a probe
once a poll finds out), not at the end of a backoff that grew while it was away; a refusal (an answer) is
no outage, and throttling is not woken en masse."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import EndpointConnectionError

from controller.aws.clients import BedrockClient
from controller.runtime.work_queue import WorkQueue
from controller.settings import Settings
from tests.support.world import World
from tests.unit.test_invariants import spec


class Flaky:
    """A boto3 `bedrock` client that is unreachable until `up` is set."""

    up = False

    def list_model_import_jobs(self, **kw: Any) -> dict[str, Any]:
        if not self.up:
            raise EndpointConnectionError(endpoint_url="https://bedrock.us-east-1.amazonaws.com")
        return {"modelImportJobSummaries": []}


def _client() -> tuple[BedrockClient, Flaky, list[str]]:
    client = BedrockClient.__new__(BedrockClient)
    client.region = "us-east-1"
    client._per_region("default=1000")
    client.unreachable_since, client.on_recovered = None, None
    flaky = Flaky()
    client._bedrock = flaky
    woken: list[str] = []
    client.on_recovered = lambda: woken.append("back")
    return client, flaky, woken


def test_the_first_answer_after_an_outage_calls_back_once():
    client, flaky, woken = _client()
    assert client.probe() is False and client.unreachable_since is not None
    assert client.probe() is False and woken == []
    flaky.up = True
    assert client.probe() is True and woken == ["back"] and client.unreachable_since is None
    assert client.probe() is True and woken == ["back"], "only the first answer after the outage wakes"


def test_only_objects_that_backed_off_from_an_outage_are_woken():
    work = WorkQueue(2, 120)
    a, b = work.get("a"), work.get("b")
    for item in (a, b):
        for _ in range(7):
            work.add_rate_limited(item, now=0.0)
    a.outage = True  # b backs off for something else (a throttle, a conflict)
    assert work.outage_over() == ["a"]
    assert not a.backing_off(1.0) and b.backing_off(1.0)
    assert work.outage_over() == []


def test_a_model_that_backed_off_through_an_outage_imports_within_a_poll_of_aws_returning():
    w = World()
    c = w.cluster("east")
    c.operator._submit = lambda uid, item: not setattr(item, "queued", False)  # the World runs the passes
    w.set_faults({"error_rate": 1.0})  # every Bedrock call answered 500
    body = c.create("team-a", "m", spec("s3://models/m/", "us-east-1", "Delete", {}, None))
    w.advance(300.0)  # the backoff grows to the World's cap (60 s)
    item = c.operator.work.find(body["metadata"]["uid"])
    assert item is not None and item.outage and item.failures >= 5
    assert body["status"].get("phase") != "Ready"
    w.set_faults({"error_rate": 0.0})
    (bedrock,) = c.operator.reconciler.unreachable()
    assert bedrock.probe() is True  # what the clock's probe does once a poll
    w.advance(15.0)  # a tick, the create, the 4 s job, its end noticed
    assert body["status"].get("phase") == "Ready", body["status"]


def test_the_clock_probes_each_unreachable_region_once_a_poll():
    from controller.runtime.operator import Operator

    op = Operator(Settings(poll_seconds=10))
    calls: list[str] = []

    class Unreachable:
        unreachable_since = 1.0

        def probe(self) -> bool:
            calls.append("probe")
            return False

    client = Unreachable()
    op.reconciler.unreachable = lambda: [client]  # type: ignore[method-assign]
    op.probe_outages(100.0)
    op.executor.shutdown(wait=True)
    assert calls == ["probe"]
    op.probe_outages(105.0)  # within the poll: no second probe
    assert calls == ["probe"]


def test_a_refusal_after_an_outage_is_an_answer_and_a_throttle_is_not():
    from botocore.exceptions import ClientError

    client, flaky, woken = _client()
    assert client.probe() is False
    answers: list[str] = ["ThrottlingException", "AccessDeniedException"]

    def refuse(**kw: Any) -> dict[str, Any]:
        code = answers.pop(0)
        status = 400 if code == "AccessDeniedException" else 429
        raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "List")

    flaky.list_model_import_jobs = refuse  # type: ignore[method-assign]
    assert client.probe() is False and client.unreachable_since is not None and woken == []  # throttled
    assert client.probe() is True and client.unreachable_since is None and woken == ["back"]  # refused
