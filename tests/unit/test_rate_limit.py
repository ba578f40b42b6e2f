"""Client-side rate limits per region and operation:
a fleet's calls are spread at the configured rate, and a throttled answer pauses every call to the region."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from controller.aws.clients import BedrockClient
from controller.aws.rate_limit import RegionLimiter, parse_limits
from controller.errors import AwsError
from controller.settings import Settings


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_calls_are_spread_at_the_rate_of_their_operation():
    t = FakeTime()
    limiter = RegionLimiter(parse_limits("default=5,CreateModelImportJob=1"), t.clock, t.sleep)
    for _ in range(10):
        limiter.acquire("GetImportedModel")
    assert t.now == pytest.approx(100 + 9 * 0.2)  # 10 calls at 5/s: the first at once, no burst
    start = t.now
    limiter.acquire("CreateModelImportJob")
    limiter.acquire("CreateModelImportJob")
    assert t.now - start == pytest.approx(1.0)  # its own, slower bucket
    before = t.now
    limiter.acquire("ListTagsForResource")  # another operation is not held up by the others
    assert t.now == before


def test_a_throttled_answer_pauses_the_whole_region_and_doubles_until_a_success():
    t = FakeTime()
    limiter = RegionLimiter(parse_limits("default=100"), t.clock, t.sleep)
    assert limiter.throttled() == 1.0
    assert limiter.throttled() == 1.0  # a call sent before the pause began: no doubling for it
    limiter.acquire("ListTagsForResource")  # a different operation waits too
    assert t.slept == [1.0]
    assert limiter.throttled() == 2.0  # throttled again after the pause: doubled
    t.now += 2
    assert limiter.throttled() == 4.0
    limiter.succeeded()
    t.now += 4
    assert limiter.throttled() == 1.0
    for _ in range(10):
        t.now += 60
        limiter.throttled()
    t.now += 60
    assert limiter.throttled() == 30.0  # capped


@pytest.mark.parametrize("text", ["GetImportedModel", "default=0", "=5", "Get=fast", "default=-1"])
def test_a_wrong_limit_is_refused(text):
    with pytest.raises(ValueError, match="Operation=requests-per-second"):
        parse_limits(text)


def test_the_bedrock_client_waits_and_pauses_through_its_limiter(aws_env):
    client = BedrockClient(Settings(bedrock_rate_limits="default=10"), "us-east-1")
    t = FakeTime()
    client.limiter.clock, client.limiter.sleep = t.clock, t.sleep

    def throttled(**_):
        raise ClientError(
            {
                "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 429},
            },
            "GetImportedModel",
        )

    with pytest.raises(AwsError) as err:
        client._call("GetImportedModel arn:aws:bedrock:us-east-1:1:imported-model/x", throttled)
    assert err.value.reason == "Throttled"
    client._call("ListTagsForResource arn", lambda **_: {"tags": []})  # another object's, another operation
    assert t.slept == [1.0]  # it waited out the region's pause
    client._call("ListTagsForResource arn", lambda **_: {"tags": []})
    assert t.slept == [1.0, 0.1]  # then only its rate
    assert parse_limits(Settings().bedrock_rate_limits)["CreateModelImportJob"] == 1.0


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
