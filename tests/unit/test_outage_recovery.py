"""AWS away, then back: the objects that backed off from the outage try again as soon as it answers (a probe
once a poll finds out), not at the end of a backoff that grew while it was away; a refusal (an answer) is
no outage, and throttling is not woken en masse."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import EndpointConnectionError

from controller.aws.clients import BedrockClient
from controller.runtime.work_queue import WorkQueue
from controller.settings import Settings
from tests.support.world import World, condition, until
from tests.unit.test_invariants import SOURCES, Operators, spec


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


def _creates(w: World) -> int:
    return w.aws.calls["CreateModelImportJob"]


def test_a_create_whose_status_write_was_lost_is_found_by_name_not_sent_again():
    """The apiserver went away right after Bedrock accepted a create: the next pass finds the job by name
    instead of sending the create again. Creates are paced at one a second per region, so after an
    apiserver outage six objects' repeated creates made the last of them Ready six seconds late."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    c.store.fail_write_if = lambda status: bool((status.get("importJob") or {}).get("jobArn"))
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    assert c.store.fail_write_if is None, "the write that recorded the job failed"
    intent = body["status"]["importJob"]
    assert intent["state"] == "Creating" and not intent.get("sentAt"), "status still holds the intent alone"
    until(w, lambda: condition(body, "Ready").get("status") == "True", seconds=300)
    assert _creates(w) == 1, "the create was sent again though this process knew its job"
    job = body["status"]["importJob"]
    assert job["jobArn"] and job["sentAt"], "the job found is recorded as sent"
    started = [e for e in c.events if e[2] == "ImportStarted"]
    assert started and "found after its status write was lost" in started[-1][3]
    m.teardown()


def test_a_create_whose_status_write_was_lost_is_sent_again_by_a_restarted_operator():
    """What a process remembers dies with it: a restarted operator cannot tell a lost write from a create
    never sent, so it sends the create again with the same token (Bedrock answers with the same job)."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    c.store.fail_write_if = lambda status: bool((status.get("importJob") or {}).get("jobArn"))
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    assert _creates(w) == 1 and body["status"]["importJob"]["state"] == "Creating"
    c.restart()
    until(w, lambda: condition(body, "Ready").get("status") == "True", seconds=300)
    assert _creates(w) == 2
    assert len({j["jobName"] for j in w.aws.snapshot()["jobs"]}) == 1, "one job: the same token"
    m.teardown()


def test_a_forged_intent_is_not_matched_by_what_the_process_remembers():
    """Status is no authority: an intent naming another job than the one this process created, or a job of
    that name with another ARN than the one Bedrock gave this process, is not recorded as its job (the
    create is sent, same name and token, and Bedrock decides)."""
    from controller.aws.clients import JobInfo
    from controller.reconcile.importing import _created_here
    from controller.reconcile.memory import Memory

    mine = "arn:aws:bedrock:us-east-1:1:model-import-job/a"

    class Record:
        job_arn, sent_at, s3_uri, model_name = None, None, "s3://x/", "m"

        def __init__(self, name: str) -> None:
            self.job_name = name

    class P:
        memory = Memory(created=("mine-1", mine, "t"))

    class Bedrock:
        def __init__(self, arn: str) -> None:
            self.arn, self.looked = arn, []

        def find_job(self, name: str) -> JobInfo:
            self.looked.append(name)
            return JobInfo(name, self.arn, "InProgress", "m", None, None, None, None)

    other_name = Bedrock(mine)
    assert _created_here(P(), other_name, Record("mine-2")) is None and other_name.looked == []
    other_arn = Bedrock("arn:aws:bedrock:us-east-1:1:model-import-job/b")
    assert _created_here(P(), other_arn, Record("mine-1")) is None and other_arn.looked == ["mine-1"]
