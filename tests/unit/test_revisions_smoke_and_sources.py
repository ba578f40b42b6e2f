"""Behaviours a blind mutation set found untested (docs/coverage.md, "fresh mutations"): smoke tests against a
lagging runtime or during a pause, OpenAI-completion bodies, retries after a fixed role, SageMaker sources
re-pointed or outside the allowed folders, verdicts without findings, adoption after a name conflict, a VPC
change as a new revision, and a spec refusing prompt and body together. Each names the mutation it answers
(hack/mutants.py)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from bmo_devtools.emulator.protocol import ApiError
from bmo_devtools.emulator.state import ImportOutcome
from controller.aws.clients import classify
from controller.errors import AwsError
from controller.naming import TAG_CLUSTER_ID
from controller.reconcile import PAUSE_ANNOTATION
from tests.support.inprocess_bedrock import FakeSupport, client_error
from tests.support.world import World, bump, condition, until
from tests.unit.test_invariants import ROLE, ROLES, SOURCES, Operators, spec

_until = partial(until, tick=5.0)  # the timer's own 5 s


def _classify(err: ApiError) -> AwsError:
    """InvokeModel's error as the operator's client classifies it."""
    return classify(client_error(err, "InvokeModel", "bedrock-runtime"), "InvokeModel")


def _invoke_answers(monkeypatch: pytest.MonkeyPatch, code: str) -> dict[str, bool]:
    """InvokeModel answers `code` while the returned flag is on."""
    real = FakeSupport.invoke
    fault = {"on": True}

    def invoke(self: FakeSupport, model_arn: str, body: bytes) -> dict[str, Any]:
        if fault["on"]:
            raise _classify(ApiError(code, f"{code} (injected)"))
        return real(self, model_arn, body)

    monkeypatch.setattr(FakeSupport, "invoke", invoke)
    return fault


def _eventually(w: World, what, seconds: float, status_of: dict[str, Any]) -> None:
    """`until`, failing with the object's phase, Ready condition and failure instead of "never happened"."""
    try:
        _until(w, what, seconds)
    except AssertionError:
        st = status_of.get("status") or {}
        raise AssertionError(
            f"not within {seconds:.0f}s: phase {st.get('phase')}, Ready {condition(status_of, 'Ready')}, "
            f"failure {st.get('failure')}"
        ) from None


def _arns(w: World) -> set[str]:
    return {x["arn"] for x in w.models()}


def _jobs(w: World) -> list:
    with w.aws._lock:
        return list(w.aws._jobs.values())


def _events(c, name: str, reason: str) -> list:
    return [e for e in c.events if e[0] == name and e[2] == reason]


def _made_by_hand(w: World, name: str, tags: dict[str, str] | None = None) -> str:
    """A model imported outside the operator (optionally carrying `tags`)."""
    w.aws.create_job(
        "us-east-1",
        {
            "jobName": f"by-hand-{name}",
            "importedModelName": name,
            "roleArn": ROLE,
            "modelDataSource": {"s3DataSource": {"s3Uri": SOURCES[2]}},
        },
    )
    w.advance(10.0)
    (arn,) = [x["arn"] for x in w.models() if x["name"] == name]
    if tags is not None:
        with w.aws._lock:
            w.aws._tags[arn] = dict(tags)
    return arn


# ---- controller/reconcile/serving.py ------------------------------------------------------------------
def test_a_status_naming_the_serving_models_job_as_still_running_leaves_that_model_serving():
    """Mutation fresh-promote-same-model-supersedes-itself (serving.py `promote`, `if old_arn and old_arn
    != model.arn:`). Status is no authority: a hand edit or a restore of the status subresource can say the
    job whose model already serves is still InProgress. The operator follows that job to its end and
    promotes its model again: the model that serves must not be recorded as replaced by itself, so it is
    neither deleted nor re-imported, and the object stays Ready on it. (Normal passes mark a job Completed
    in the same write that promotes its model, so only a status written outside the operator reaches this.)"""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready", 120)
    arn = body["status"]["modelArn"]
    assert body["status"]["importJob"]["state"] == "Completed"
    body["status"]["importJob"]["state"] = "InProgress"  # written back by hand (or a restore)
    bump(body)
    c.annotate(body, "touch", "1")  # an event: the pass follows the job status names
    _until(w, lambda: body["status"]["importJob"]["state"] == "Completed", 30)
    w.advance(120.0)
    assert arn in _arns(w), "the serving model was deleted as superseded by itself"
    assert body["status"]["modelArn"] == arn and body["status"]["phase"] == "Ready"
    assert not body["status"].get("superseded")
    assert not _events(c, "m", "SupersededModelDeleted") and not _events(c, "m", "ModelDeletedOutside")
    assert len(_jobs(w)) == 1, "nothing was imported again"
    w.check_always()


# ---- controller/reconcile/smoke.py --------------------------------------------------------------------
def test_a_pause_during_a_smoke_tests_cold_start_does_not_count_toward_its_deadline():
    """Mutation fresh-smoke-pause-eats-deadline (smoke.py `step`, `min(gap, MAX_COUNTED_GAP)`). A candidate
    loads for 300 s; its smoke test allows 200 s. The user pauses the object for 250 s early in the cold
    start. Only the time spent trying counts (a gap between two tries counts at most a minute): when the
    model answers, it passes and serves, instead of failing SmokeTestDeadline and being deleted."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.set_faults({"cold_start_seconds": 300.0})
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass")
    doc["smokeTest"]["deadlineSeconds"] = 200
    body = c.create("team-a", "m", doc)
    _until(w, lambda: (body["status"].get("importJob") or {}).get("state") == "Testing", 120)
    candidate = body["status"]["importJob"]["modelArn"]
    w.advance(20.0)
    c.annotate(body, PAUSE_ANNOTATION, "true")
    w.advance(250.0)
    with w.aws._lock:
        assert w.aws._models[candidate].warm_at > w.clock.t, "the model still loads when the pause ends"
    c.annotate(body, PAUSE_ANNOTATION, None)
    _until(w, lambda: body["status"].get("phase") in ("Ready", "Failed"), 200)
    assert body["status"].get("failure") is None, body["status"].get("failure")
    assert body["status"]["phase"] == "Ready" and body["status"]["modelArn"] == candidate
    assert condition(body, "SmokeTested")["reason"] == "SmokeTestPassed"
    result = body["status"]["smokeTest"]
    assert result["passed"] is True and result["waitedSeconds"] < 200, result


def test_a_model_the_runtime_does_not_know_yet_is_tried_again_not_failed(monkeypatch):
    """Mutation fresh-smoke-runtime-lag-fails (smoke.py `step`, `if err.kind is Kind.NOT_FOUND:`). Bedrock's
    control plane shows the just-imported model, but InvokeModel answers ResourceNotFoundException for a
    while (the runtime lags). The smoke test waits and says so; the candidate is kept, and serves once the
    runtime knows it, instead of the revision failing and the new model being deleted."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    lagging = _invoke_answers(monkeypatch, "ResourceNotFoundException")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, smoke="pass"))
    _until(
        w,
        lambda: (
            "does not know the model yet" in condition(body, "SmokeTested").get("message", "")
            or body["status"].get("failure") is not None
        ),
        120,
    )
    assert body["status"].get("failure") is None, body["status"]["failure"]
    assert condition(body, "SmokeTested")["status"] == "Unknown"
    candidate = body["status"]["importJob"]["modelArn"]
    w.advance(30.0)
    assert body["status"].get("failure") is None and candidate in _arns(w), "the candidate is kept"
    lagging["on"] = False
    _until(w, lambda: body["status"].get("phase") == "Ready", 60)
    assert body["status"]["modelArn"] == candidate
    assert condition(body, "SmokeTested")["reason"] == "SmokeTestPassed"


def test_an_openai_completion_smoke_test_sends_max_tokens(monkeypatch):
    """Mutation fresh-smoke-openai-completion-wrong-key (smoke.py `request_body`). A smoke test with format
    OpenAICompletion and maxTokens 7 sends the OpenAI completion body {prompt, max_tokens: 7, temperature:
    0} (no Bedrock max_gen_len): the model answers in the OpenAI completion shape, and the test passes."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    real = FakeSupport.invoke
    sent: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def invoke(self: FakeSupport, model_arn: str, body: bytes) -> dict[str, Any]:
        answer = real(self, model_arn, body)
        sent.append((json.loads(body), answer))
        return answer

    monkeypatch.setattr(FakeSupport, "invoke", invoke)
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    doc["smokeTest"] = {
        "prompt": "Say hello",
        "format": "OpenAICompletion",
        "maxTokens": 7,
        "expect": "canned",
    }
    body = c.create("team-a", "m", doc)
    _until(w, lambda: body["status"].get("phase") in ("Ready", "Failed"), 120)
    assert body["status"]["phase"] == "Ready", body["status"].get("failure")
    assert sent, "the smoke test called InvokeModel"
    request, answer = sent[-1]
    assert request == {"prompt": "Say hello", "max_tokens": 7, "temperature": 0}, request
    assert answer.get("object") == "text_completion", "answered as an OpenAI completion"


# ---- controller/reconcile/failures.py -----------------------------------------------------------------
def test_a_job_that_failed_with_a_role_fixed_meanwhile_is_retried_with_the_fixed_role():
    """Mutation fresh-failure-ignores-attempt-inputs (failures.py `fail`, `inputs=inputs or p.inputs`). The
    import job runs with a role that cannot read the source; while it runs the user fixes
    spec.serviceRole.roleArn. The job then fails: that failure belongs to the attempt with the old role,
    so the fixed spec is imported at once (a second job, with the new role) and the object becomes Ready,
    instead of staying Failed until some other edit."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    checked = w.aws.check

    def check(s3_uri: str, role_arn: str, job: object = None) -> ImportOutcome:
        if role_arn == ROLE:
            return ImportOutcome(False, f"AccessDenied: {role_arn} may not read {s3_uri}")
        return checked(s3_uri, role_arn, job)

    w.aws.check = check
    w.aws.set_faults({"job_duration_seconds": 40})
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: (body["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    first = body["status"]["importJob"]["jobName"]
    c.edit_spec(body, serviceRole={"roleArn": ROLES[1]})  # the fix, while the job with ROLE runs
    _until(w, lambda: w.find_job(first).status == "Failed", 120)
    _eventually(w, lambda: body["status"].get("phase") == "Ready", 180, body)
    _, model = w._model(body["status"]["modelArn"])
    assert model.job.role_arn == ROLES[1], "what serves was imported with the fixed role"
    assert body["status"].get("failure") is None
    assert [j.role_arn for j in sorted(_jobs(w), key=lambda j: j.seq)] == [ROLE, ROLES[1]]


# ---- controller/reconcile/admission.py and validation.py (SageMaker sources) ---------------------------
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
    assert body["status"].get("importJob") is None and not _jobs(w), "nothing was imported"


def test_a_changed_sagemaker_model_name_imports_the_new_models_files(monkeypatch):
    """Mutation fresh-sagemaker-uri-cached-forever (validation.py `source_uri`). An object imports SageMaker
    model team-a-one (files in s3://models/a/); the user changes spec.source.sageMakerModelName to
    team-a-two (files in s3://models/b/). The new model's folder is resolved afresh: the model that then
    serves was imported from s3://models/b/, and the first one is deleted."""
    w = World()
    c = w.cluster("east")
    _sagemaker(monkeypatch, {"team-a-one": SOURCES[0], "team-a-two": SOURCES[1]})
    body = c.create("team-a", "sm", _sagemaker_spec("team-a-one"))
    _until(w, lambda: body["status"].get("phase") == "Ready", 120)
    first = body["status"]["modelArn"]
    assert w._model(first)[1].job.s3_uri == SOURCES[0]
    c.edit_spec(body, source={"sageMakerModelName": "team-a-two"})
    _eventually(
        w,
        lambda: body["status"].get("phase") == "Ready" and body["status"]["modelArn"] != first,
        180,
        body,
    )
    _, model = w._model(body["status"]["modelArn"])
    assert model.job.s3_uri == SOURCES[1], "what serves was imported from the new SageMaker model's files"
    assert body["status"]["resolvedS3Uri"] == SOURCES[1]
    _until(w, lambda: first not in _arns(w), 60)


# ---- controller/reconcile/validation.py ----------------------------------------------------------------
def test_a_not_importable_verdict_without_error_findings_starts_no_import():
    """Mutation fresh-validation-verdict-ignored (validation.py `_judged`, `refused = bool(problems) or
    verdict != "importable"`). A validation Job's verdict says not-importable but lists no error finding
    (e.g. a validator whose findings were cut from the termination message). The verdict decides:
    Validated is False (NotImportable), the revision is Failed, and no paid import job is started."""
    w = World()
    c = w.cluster("east")
    real = c.jobs.ensure

    def ensure(**kw: Any):
        result = real(**kw)
        if result.kind == "verdict":
            result.doc = result.doc.model_copy(update={"verdict": "not-importable", "errors": []})
        return result

    c.jobs.ensure = ensure  # type: ignore[method-assign]
    body = c.create(
        "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, validation="Job")
    )
    _until(w, lambda: condition(body, "Validated").get("status") in ("True", "False"), 120)
    w.advance(60.0)
    validated = condition(body, "Validated")
    assert validated["status"] == "False" and validated["reason"] == "NotImportable", validated
    assert body["status"]["phase"] == "Failed"
    assert body["status"]["validation"]["verdict"] == "not-importable"
    assert not _jobs(w), "no import job was paid for"


# ---- controller/naming.py ------------------------------------------------------------------------------
def test_a_model_tagged_only_with_another_clusters_id_is_not_adopted():
    """Mutation fresh-ownership-needs-all-keys (naming.py `ownership`, `if not any(k in tags for k in
    OWNER_KEYS)`). A model named as the spec's modelName carries only one ownership tag: another cluster's
    id. It is owned (by someone else), not free to adopt: with adoptExisting the object fails
    ModelNameConflict naming the owner, and the model's tags are left as they were."""
    w = World()
    c = w.cluster("east")
    theirs = {TAG_CLUSTER_ID: "another-cluster-id"}
    arn = _made_by_hand(w, "shared-model", theirs)
    body = c.create(
        "team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, "shared-model")
    )  # modelName shared-model, adoptExisting true
    _until(w, lambda: body["status"].get("phase") in ("Failed", "Ready"), 120)
    imported = condition(body, "Imported")
    assert body["status"]["phase"] == "Failed" and imported["reason"] == "ModelNameConflict", imported
    assert "belongs to" in imported["message"]
    assert body["status"].get("modelArn") is None
    with w.aws._lock:
        assert w.aws._tags[arn] == theirs, "another owner's model was retagged"


def test_setting_adopt_existing_after_a_name_conflict_retries_and_adopts():
    """Mutation fresh-inputs-ignore-adopt (naming.py `import_inputs`, `"adopt": bool(spec.adopt_existing)`).
    The spec's modelName is taken by a model imported by hand: the object fails ModelNameConflict (which
    says to set adoptExisting). Setting spec.adoptExisting: true retries at once and adopts that model,
    instead of the object staying Failed until some other edit."""
    w = World()
    c = w.cluster("east")
    arn = _made_by_hand(w, "shared-model")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, "shared-model")
    del doc["adoptExisting"]
    body = c.create("team-a", "m", doc)
    _until(w, lambda: body["status"].get("phase") == "Failed", 120)
    assert condition(body, "Imported")["reason"] == "ModelNameConflict"
    assert "adoptExisting" in condition(body, "Imported")["message"]
    c.edit_spec(body, adoptExisting=True)
    _eventually(w, lambda: body["status"].get("phase") == "Ready", 120, body)
    assert body["status"]["modelArn"] == arn and body["status"].get("failure") is None
    assert _events(c, "m", "ModelAdopted")


def test_changing_the_vpc_config_imports_a_new_revision_with_it():
    """Mutation fresh-revision-ignores-vpc (naming.py `REVISION_FIELDS`). spec.vpcConfig is a property of the
    import job: changing it on a Ready object imports a new revision whose job runs in the new subnets
    and security groups; that model then serves and the previous one is deleted."""
    w = World()
    c = w.cluster("east")
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    _until(w, lambda: body["status"].get("phase") == "Ready", 120)
    first, revision = body["status"]["modelArn"], body["status"]["revision"]
    vpc = {"subnetIds": ["subnet-0abc1234"], "securityGroupIds": ["sg-0abc1234"]}
    c.edit_spec(body, vpcConfig=vpc)
    _eventually(
        w,
        lambda: body["status"].get("phase") == "Ready" and body["status"]["modelArn"] != first,
        180,
        body,
    )
    assert body["status"]["revision"] != revision
    _, model = w._model(body["status"]["modelArn"])
    assert model.job.vpc == vpc, "the serving model's job ran in the spec's VPC"
    _until(w, lambda: first not in _arns(w), 60)


# ---- controller/api/models.py --------------------------------------------------------------------------
def test_a_smoke_test_with_both_prompt_and_body_is_refused():
    """Mutation fresh-smoke-prompt-and-body-both-allowed (models.py `SmokeTest._one`). A smokeTest that sets
    both prompt and body is ambiguous (one would be silently ignored): the operator refuses the spec
    (Validated and Ready False, InvalidSpec, naming the rule) and imports nothing."""
    w = World()
    c = w.cluster("east")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    doc["smokeTest"] = {"prompt": "Say hello", "body": '{"prompt": "Say hi", "max_gen_len": 8}'}
    body = c.create("team-a", "m", doc)
    w.advance(20.0)
    validated = condition(body, "Validated")
    assert validated.get("status") == "False" and validated.get("reason") == "InvalidSpec", validated
    assert "exactly one of smokeTest.prompt or smokeTest.body" in validated["message"]
    assert condition(body, "Ready")["reason"] == "InvalidSpec" and body["status"]["phase"] == "Failed"
    assert not _jobs(w)
