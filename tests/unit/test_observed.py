"""Observe-only models (BedrockObservedModel), in the in-process World: what Bedrock says is reported, the
model's owner is named, a model that goes away is reported gone, a namespace no policy lets import observes
nothing, and the observer only ever reads (the World fails any other call it makes; the property test
observes models in random sequences too)."""

from __future__ import annotations

from typing import Any

from controller.api.observed import BedrockObservedModelSpec
from tests.support.world import World
from tests.unit.test_invariants import SOURCES, spec

TAGS = {"team": "a"}


def _cond(body: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in body["status"].get("conditions", []) if c["type"] == ctype), {})


def _ready(w: World, body: dict[str, Any], seconds: float = 300.0) -> None:
    waited = 0.0
    while (body.get("status") or {}).get("phase") != "Ready":
        assert waited < seconds, body.get("status")
        w.advance(5.0)
        waited += 5.0


def _served(smoke: str | None = None) -> tuple[World, Any, dict[str, Any]]:
    w = World()
    c = w.cluster("east")
    managed = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Retain", TAGS, None, smoke=smoke))
    _ready(w, managed)
    return w, c, managed


def test_an_observed_model_shows_what_bedrock_says_and_who_manages_it() -> None:
    w, c, managed = _served()
    arn, name = managed["status"]["modelArn"], managed["status"]["modelName"]
    calls = sum(w.aws.calls.values())
    by_name = c.observe("team-b", "by-name", {"modelName": name, "region": "us-east-1"})
    by_arn = c.observe("team-b", "by-arn", {"modelArn": arn})
    assert sum(w.aws.calls.values()) - calls == 4  # GetImportedModel and ListTagsForResource, each
    for body in (by_name, by_arn):
        st = body["status"]
        assert st["exists"] is True and st["modelArn"] == arn and st["modelName"] == name
        assert st["region"] == "us-east-1" and st["architecture"] and st["customModelUnits"]
        assert st["sourceS3Uri"] == SOURCES[0] and st["tags"]["team"] == "a" and st["creationTime"]
        assert st["managedBy"].startswith("BedrockImportedModel team-a/m ")
        assert _cond(body, "Ready")["status"] == "True" and _cond(body, "Ready")["reason"] == "ModelFound"
        assert not _cond(body, "Reconciling") and not _cond(body, "Stalled")
    w.check_always()


def test_a_model_that_goes_away_is_reported_gone_and_one_released_names_where_it_came_from() -> None:
    w, c, managed = _served()
    name = managed["status"]["modelName"]
    observed = c.observe("team-b", "watch", {"modelName": name, "region": "us-east-1"})
    c.delete(managed)  # Retain: the model stays, released
    w.advance(30.0)
    c.look(observed)
    assert observed["status"]["exists"] is True
    assert observed["status"]["managedBy"] == (
        "nobody: retained from BedrockImportedModel team-a/m in cluster " + c.id
    )
    arn = observed["status"]["modelArn"]
    w.aws.delete_model("us-east-1", {"modelIdentifier": arn})  # deleted by hand
    c.look(observed)
    ready = _cond(observed, "Ready")
    assert observed["status"]["exists"] is False and ready["status"] == "False"
    assert ready["reason"] == "ModelNotFound" and name in ready["message"]
    assert _cond(observed, "Stalled")["status"] == "True"  # kstatus: Failed, with the reason
    assert ("watch", "Warning", "ModelNotFound") in [e[:3] for e in c.events]
    w.check_always()


def test_a_namespace_no_policy_lets_import_observes_nothing() -> None:
    w = World()
    c = w.cluster("east")
    c.operator.tenancy.default = "restricted"
    calls = sum(w.aws.calls.values())
    body = c.observe("team-c", "nosy", {"modelName": "someone-elses-model"})
    assert sum(w.aws.calls.values()) == calls  # nothing was asked of Bedrock
    allowed = _cond(body, "Allowed")
    assert allowed["status"] == "False" and allowed["reason"] == "NoImportPolicy"
    assert _cond(body, "Stalled")["reason"] == "NoImportPolicy"
    assert body["status"].get("exists") is None


def test_policies_that_cannot_be_read_leave_what_was_seen_and_are_retried() -> None:
    _, c, managed = _served()
    body = c.observe("team-b", "watch", {"modelArn": managed["status"]["modelArn"]})
    c.policy_reads_fail = True
    c.operator.tenancy._policies_listed = False  # the next decision lists them (and fails)
    assert c.look(body) is False  # looked at again after a poll, not a resync
    assert body["status"]["exists"] is True and body["status"]["modelArn"] == managed["status"]["modelArn"]
    assert _cond(body, "Synced")["status"] == "False" and _cond(body, "Ready")["status"] == "True"


def test_the_spec_names_one_model_exactly_one_way() -> None:
    rules = BedrockObservedModelSpec.model_json_schema()["x-kubernetes-validations"]
    assert rules == [
        {
            "rule": "has(self.modelName) != has(self.modelArn)",
            "message": "set exactly one of modelName and modelArn",
        }
    ]
