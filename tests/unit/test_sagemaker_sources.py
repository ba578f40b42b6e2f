"""A SageMaker model as the source, through the operator's passes in the in-process World: its files
must lie in the folders the policies allow (`controller/reconcile/admission.py`), and a changed model name
is resolved afresh (`controller/reconcile/validation.py`). (SageMaker's DescribeModel answers as the client
reads them: test_aws_clients.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.inprocess_bedrock import FakeSupport
from tests.support.world import World, condition, eventually, import_jobs, model_arns, until_5s
from tests.unit.test_invariants import ROLE, SOURCES

SAGEMAKER_POLICY = {
    "namespaceSelector": {},
    "sources": {"s3Prefixes": ["s3://models/"], "sageMakerModelNames": ["team-a-*"]},
    "serviceRoles": {"roleArns": [ROLE]},
    "validationModes": ["Skip"],
}


def _sagemaker(monkeypatch: pytest.MonkeyPatch, folders: dict[str, str]) -> list[str]:
    """SageMaker DescribeModel, in process: the model name -> its artifacts' S3 folder (`folders`, which a
    test may change). Returns the names asked for, in order."""
    asked: list[str] = []

    def resolve(self: FakeSupport, name: str) -> str:
        asked.append(name)
        return folders[name]

    monkeypatch.setattr(FakeSupport, "sagemaker_s3_uri", resolve)
    return asked


def _sagemaker_spec(name: str) -> dict[str, Any]:
    return {
        "source": {"sageMakerModelName": name},
        "serviceRole": {"roleArn": ROLE},
        "deletionPolicy": "Delete",
        "region": "us-east-1",
        "tags": {"team": "a"},
    }


def test_a_sagemaker_model_whose_files_lie_outside_the_allowed_folders_is_refused(monkeypatch):
    """Mutation fresh-admission-sagemaker-source-unchecked (admission.py `may_import`). The policy allows
    the SageMaker model's name (team-a-*) but only S3 folders under s3://models/; the model's artifacts
    are in s3://elsewhere/. The object is refused (Allowed and Ready False, SourceNotAllowed, phase Blocked,
    the message naming the folder) and no import job is created."""
    w = World()
    c = w.cluster("east")
    c.set_policy("team-policy", SAGEMAKER_POLICY)
    _sagemaker(monkeypatch, {"team-a-llama": "s3://elsewhere/llama/"})
    body = c.create("team-a", "sm", _sagemaker_spec("team-a-llama"))
    w.advance(30.0)
    ready = condition(body, "Ready")
    assert ready.get("status") == "False" and ready.get("reason") == "SourceNotAllowed", ready
    assert "s3://elsewhere/llama/" in ready["message"]
    assert condition(body, "Allowed").get("reason") == "SourceNotAllowed"
    assert body["status"]["phase"] == "Blocked"
    assert body["status"].get("importJob") is None and not import_jobs(w.aws), "nothing was imported"


def test_a_changed_sagemaker_model_name_imports_the_new_models_files(monkeypatch):
    """Mutation fresh-sagemaker-uri-cached-forever (validation.py `source_uri`). An object imports SageMaker
    model team-a-one (files in s3://models/a/); the user changes spec.source.sageMakerModelName to
    team-a-two (files in s3://models/b/). The new model's folder is resolved afresh: the model that then
    serves was imported from s3://models/b/, and the first one is deleted."""
    w = World()
    c = w.cluster("east")
    _sagemaker(monkeypatch, {"team-a-one": SOURCES[0], "team-a-two": SOURCES[1]})
    body = c.create("team-a", "sm", _sagemaker_spec("team-a-one"))
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 120)
    first = body["status"]["modelArn"]
    assert w._model(first)[1].job.s3_uri == SOURCES[0]
    c.edit_spec(body, source={"sageMakerModelName": "team-a-two"})
    eventually(
        w,
        lambda: body["status"].get("phase") == "Ready" and body["status"]["modelArn"] != first,
        180,
        body,
    )
    _, model = w._model(body["status"]["modelArn"])
    assert model.job.s3_uri == SOURCES[1], "what serves was imported from the new SageMaker model's files"
    assert body["status"]["resolvedS3Uri"] == SOURCES[1]
    until_5s(w, lambda: first not in model_arns(w), 60)
