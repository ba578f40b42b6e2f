"""Smoke-test verdicts that tell the truth (in the in-process World): an account-level guardrail that
intervenes, and a model still loading past the deadline (a cold start, or loading again after an
eviction), are not a broken model. The first promotes the model with a Warning; the second waits, up to a
bound, and only a model that never loads fails."""

from __future__ import annotations

from typing import Any

from tests.support.world import World
from tests.unit.test_invariants import SOURCES, spec


def _cond(body: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((c for c in body["status"].get("conditions", []) if c["type"] == ctype), {})


def _until(w: World, done: Any, seconds: float, step: float = 10.0) -> None:
    waited = 0.0
    while not done():
        assert waited < seconds, "never happened"
        w.advance(step, tick=step)
        waited += step


def test_a_guardrail_intervention_promotes_the_model_that_answered() -> None:
    w = World()
    c = w.cluster("east")
    w.set_faults({"guardrail_interventions": 1})
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="fail"))
    _until(w, lambda: body["status"].get("phase") in ("Ready", "Failed"), 300)
    assert body["status"]["phase"] == "Ready" and body["status"].get("failure") is None
    tested = _cond(body, "SmokeTested")
    assert tested["status"] == "True" and tested["reason"] == "SmokeTestGuardrailIntervened"
    assert "expect was not checked" in tested["message"]
    assert ("m", "Warning", "SmokeTestGuardrailIntervened") in [e[:3] for e in c.events]
    # without the guardrail the same expect fails the revision: the intervention is what passed it
    again = c.create(
        "team-a", "n", spec(SOURCES[1], "us-east-1", "Delete", {"team": "a"}, None, smoke="fail")
    )
    _until(w, lambda: again["status"].get("phase") in ("Ready", "Failed"), 300)
    assert _cond(again, "SmokeTested")["reason"] == "SmokeTestMismatch"


def test_a_model_loading_past_the_deadline_waits_and_only_one_that_never_loads_fails() -> None:
    w = World()
    c = w.cluster("east")
    w.set_faults({"cold_start_seconds": 200.0})
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass")  # a 60 s deadline
    body = c.create("team-a", "m", doc)
    _until(w, lambda: _cond(body, "SmokeTested").get("reason") == "SmokeTestModelStillLoading", 300)
    assert body["status"]["phase"] == "Testing" and body["status"].get("failure") is None
    _until(w, lambda: body["status"].get("phase") == "Ready", 300)
    assert _cond(body, "SmokeTested")["reason"] == "SmokeTestPassed"

    w.set_faults({"always_cold": True})
    never = c.create(
        "team-a", "never", spec(SOURCES[1], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass")
    )
    _until(w, lambda: never["status"].get("phase") == "Failed", 4000, step=60.0)
    failed = _cond(never, "SmokeTested")
    assert (
        failed["reason"] == "SmokeTestDeadlineExceeded" and "still loading after 3600s" in failed["message"]
    )
    assert never["status"]["smokeTest"]["waitedSeconds"] >= 3600
