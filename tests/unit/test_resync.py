"""Resyncs in the in-process World: a steady model writes no status, and a fleet's resync (also the first
after a restart) reads the region's listing and spreads the tag reads over their cadence instead of calling
AWS twice per model."""

from __future__ import annotations

import copy


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
