"""`spec.exportTo`: the serving model's ARN in a ConfigMap of the namespace, for the apps. In the in-process
World: written once a model serves, unchanged during a rollout (the old model still serves), rewritten when
the new revision is promoted, never written over a ConfigMap the object did not create, withdrawn when the
field goes; the ConfigMap written by the real adapter is checked end to end in tests/cluster."""

from __future__ import annotations

from typing import Any

from tests.support.world import World
from tests.unit.test_invariants import SOURCES, spec

EXPORT = {"configMapName": "llm-endpoint"}


def _cond(body: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in body["status"].get("conditions", []) if c["type"] == ctype), {})


def _until(w: World, done: Any, seconds: float = 300.0) -> None:
    waited = 0.0
    while not done():
        assert waited < seconds, "never happened"
        w.advance(5.0)
        waited += 5.0


def _exported(**extra: Any) -> dict[str, Any]:
    return {**spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, **extra), "exportTo": EXPORT}


def test_the_arn_reaches_the_apps_only_when_a_revision_serves() -> None:
    w = World()
    c = w.cluster("east")
    w.set_faults({"job_duration_seconds": 30})
    body = c.create("team-a", "m", _exported())
    assert ("team-a", "llm-endpoint") not in c.exports.config_maps  # nothing serves yet
    assert _cond(body, "Exported")["status"] == "False"
    _until(w, lambda: body["status"].get("phase") == "Ready")
    first = c.exports.config_maps[("team-a", "llm-endpoint")]
    st = body["status"]
    assert first["owner"] == body["metadata"]["uid"]
    assert first["data"] == {
        "BEDROCK_MODEL_ARN": st["modelArn"],
        "BEDROCK_MODEL_NAME": st["modelName"],
        "BEDROCK_REGION": "us-east-1",
        "BEDROCK_CUSTOM_MODEL_UNITS": str(st["customModelUnits"]["customModelUnitsPerModelCopy"]),
        "BEDROCK_MODEL_REVISION": st["revision"],
    }
    assert _cond(body, "Exported")["reason"] == "ModelExported"
    old_arn, writes = st["modelArn"], c.exports.writes
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    _until(w, lambda: body["status"].get("phase") == "Importing" or body["status"].get("phase") == "Updating")
    w.advance(10.0)
    assert c.exports.config_maps[("team-a", "llm-endpoint")]["data"]["BEDROCK_MODEL_ARN"] == old_arn
    _until(w, lambda: body["status"].get("phase") == "Ready" and body["status"]["modelArn"] != old_arn)
    assert (
        c.exports.config_maps[("team-a", "llm-endpoint")]["data"]["BEDROCK_MODEL_ARN"]
        == body["status"]["modelArn"]
    )
    assert c.exports.writes == writes + 1  # one write per promotion, not one per pass
    assert ("m", "Normal", "ModelExported") in [e[:3] for e in c.events]


def test_a_configmap_the_object_did_not_create_is_never_written() -> None:
    w = World()
    c = w.cluster("east")
    c.exports.config_maps[("team-a", "llm-endpoint")] = {"owner": "someone-else", "data": {"KEEP": "me"}}
    body = c.create("team-a", "m", _exported())
    _until(w, lambda: body["status"].get("phase") == "Ready")
    assert c.exports.config_maps[("team-a", "llm-endpoint")] == {
        "owner": "someone-else",
        "data": {"KEEP": "me"},
    }
    exported = _cond(body, "Exported")
    assert exported["status"] == "False" and exported["reason"] == "ExportConflict"
    assert body["status"]["phase"] == "Ready"  # the model serves: only the publication is refused


def test_removing_or_renaming_the_export_withdraws_the_operators_configmap() -> None:
    w = World()
    c = w.cluster("east")
    body = c.create("team-a", "m", _exported())
    _until(w, lambda: body["status"].get("phase") == "Ready")
    c.edit_spec(body, exportTo={"configMapName": "renamed"})
    assert set(c.exports.config_maps) == {("team-a", "renamed")}
    c.edit_spec(body, exportTo=None)
    assert c.exports.config_maps == {} and not _cond(body, "Exported") and "exported" not in body["status"]
