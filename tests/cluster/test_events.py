"""Events as a user reads them in `kubectl describe`: from `bedrock-model-operator`, a repeat counted on
one Event (not a new one each time), across an operator restart too, in plain words."""

from __future__ import annotations

import json

import pytest

from controller.kube.events import COMPONENT, EventRecorder
from controller.settings import Settings

pytestmark = pytest.mark.controlplane


def _events(kubectl, ns: str) -> list[dict]:
    return json.loads(kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]


def test_repeats_are_one_event_whose_count_rises(kubectl, control_plane, namespace, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    import controller.kube.client as kube

    monkeypatch.setattr(kube, "_api", None)  # a client for this cluster's kubeconfig
    body = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": "m1", "namespace": namespace, "uid": "0b5e1f0c-0000-4000-8000-000000000001"},
    }
    recorder = EventRecorder(Settings())
    for _ in range(3):
        recorder.post(body, type="Normal", reason="WaitingForImportJob", message="waiting  for job j-1\n")
    recorder.post(body, type="Warning", reason="ModelMissing", message="gone")
    EventRecorder(Settings()).post(  # a restarted operator continues the count
        body, type="Normal", reason="WaitingForImportJob", message="waiting for job j-1"
    )
    events = {e["reason"]: e for e in _events(kubectl, namespace)}
    assert set(events) == {"WaitingForImportJob", "ModelMissing"}
    waiting = events["WaitingForImportJob"]
    assert waiting["count"] == 4 and waiting["message"] == "waiting for job j-1"
    assert waiting["source"]["component"] == COMPONENT and waiting["reportingComponent"] == COMPONENT
    assert waiting["involvedObject"]["uid"] == body["metadata"]["uid"]
    assert waiting["firstTimestamp"] <= waiting["lastTimestamp"]
    assert events["ModelMissing"]["count"] == 1 and events["ModelMissing"]["type"] == "Warning"
    described = kubectl("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=m1").stdout
    assert "kopf" not in described


def test_an_event_that_cannot_be_written_never_fails_the_caller():
    def refused(method, path, body=None):
        raise ConnectionError("apiserver down")

    EventRecorder(Settings(), call=refused).post(
        {"metadata": {"name": "m", "namespace": "n", "uid": "u"}}, type="Normal", reason="R", message="m"
    )


def test_a_repeat_costs_one_request():
    """At a thousand models the Events API is not to be hammered: a repeat the recorder has seen is one
    PATCH of its count, not a create that collides and a read."""
    calls: list[tuple[str, str]] = []
    counts = {"n": 0}

    def apiserver(method, path, body=None):
        calls.append((method, path.rsplit("/", 1)[-1] if method != "POST" else "events"))
        if method == "POST":
            counts["n"] += 1
            return (201, body) if counts["n"] == 1 else (409, None)
        if method == "GET":
            return 200, {"count": 1}
        return 200, body

    recorder = EventRecorder(Settings(), call=apiserver)
    body = {"metadata": {"name": "m", "namespace": "n", "uid": "u"}}
    recorder.post(body, type="Normal", reason="WaitingForImportJob", message="waiting")
    recorder.post(body, type="Normal", reason="WaitingForImportJob", message="waiting")
    assert [m for m, _ in calls] == ["POST", "PATCH"]
