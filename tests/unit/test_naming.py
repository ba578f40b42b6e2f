"""Names, tokens, revisions and ownership (`controller/naming.py`): what each is made of, that it fits
Bedrock's patterns and is the same in every process, and, through the operator's passes, what a change of
the import inputs or of a model's ownership tags does."""

from __future__ import annotations

import re

import pytest

from controller.api.models import MODEL_NAME_PATTERN, BedrockImportedModelSpec
from controller.naming import (
    TAG_CLUSTER_ID,
    Identity,
    base_model_name,
    client_token,
    import_inputs,
    job_name,
    model_name_candidates,
    owner_in,
    ownership,
    revision,
)
from tests.support.world import World, condition, events_of, eventually, model_arns, until_5s
from tests.unit.test_invariants import ROLE, SOURCES
from tests.unit.test_invariants import spec as world_spec

JOB_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*"


TOKEN_PATTERN = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"


def spec(**kw) -> BedrockImportedModelSpec:
    base = {
        "source": {"s3Uri": "s3://bucket/a/"},
        "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/r"},
    }
    return BedrockImportedModelSpec.model_validate(base | kw)


def test_revision_changes_only_with_import_relevant_fields():
    a = revision(spec())
    assert revision(spec(tags={"x": "y"})) == a
    assert revision(spec(deletionPolicy="Retain")) == a
    assert revision(spec(source={"s3Uri": "s3://bucket/b/"})) != a
    assert revision(spec(kmsKeyId="alias/k")) != a
    assert revision(spec(architecture="Llama3")) != a


ME = Identity(
    "c0ffee00-0000-4000-8000-000000000001", "prod-eu", "team-a", "llama", "8f2c0a5e-1b7d-4c3e-9f0a-1"
)


JOB_NAME_PINNED = "team-a-llama-b6594ebc-01234567-2"


TOKEN_PINNED = "8f2c0a5e-1b7d-4c3e-9f0a-1-0123456789ab-2"


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("ns", "m"), ("team-a", "llama3"), ("n", "x" * 63), ("a", "b_c.d"), ("ns", "y" * 250)],
)
def test_names_and_tokens_fit_bedrock_patterns(namespace, name):
    me = Identity("cluster-id", "prod", namespace, name, "8f2c0a5e-1b7d-4c3e-9f0a-123456789abc")
    rev = "0123456789ab"
    for attempt in (1, 2, 17):
        job = job_name(me, rev, attempt)
        assert len(job) <= 63 and re.fullmatch(JOB_PATTERN, job)
    base = base_model_name(me, spec())
    for model in model_name_candidates(base, rev, 3):
        assert len(model) <= 63 and re.fullmatch(MODEL_NAME_PATTERN, model)
    assert len(set(model_name_candidates(base, rev, 3))) == 3
    assert re.fullmatch(TOKEN_PATTERN, client_token(me, rev, 3))
    assert job_name(me, rev, 1) != job_name(me, rev, 2)


def test_names_and_tokens_are_the_same_in_every_process_and_version():
    """A restarted operator (or the next version) must send the same name and token for an import it had
    recorded, or a lost answer becomes a second job: pinned to literal values."""
    rev = "0123456789ab"
    twin = Identity(ME.cluster_id, ME.cluster_name, ME.namespace, ME.name, ME.uid)  # rebuilt after restart
    assert job_name(twin, rev, 2) == job_name(ME, rev, 2) == JOB_NAME_PINNED
    assert client_token(twin, rev, 2) == client_token(ME, rev, 2) == TOKEN_PINNED
    assert client_token(ME, rev, 3) != TOKEN_PINNED


def test_names_never_collide_between_objects_incarnations_or_clusters():
    """`team-a/b` and `team/a-b` flatten alike; long names share a prefix; the same manifest is applied in
    two clusters; an object is deleted and re-created: every one gets its own job and model names."""
    rev = "0123456789ab"
    people = [
        Identity("c1", "one", "team-a", "b", "u1"),
        Identity("c1", "one", "team", "a-b", "u2"),
        Identity("c1", "one", "team", "x" * 60 + "1", "u3"),
        Identity("c1", "one", "team", "x" * 60 + "2", "u4"),
        Identity("c2", "two", "team-a", "b", "u5"),  # same manifest, another cluster
        Identity("c1", "one", "team-a", "b", "u6"),  # re-created: a new uid
    ]
    jobs = {job_name(me, rev, 1) for me in people}
    models = {base_model_name(me, spec()) for me in people}
    assert len(jobs) == len(people) and len(models) == len(people)


def test_ownership_is_read_from_tags():
    tags = ME.tags()
    assert set(tags) == {
        f"bedrock.modelops.io/{k}" for k in ("cluster", "cluster-id", "namespace", "name", "uid")
    }
    assert all(re.fullmatch(r"[a-zA-Z0-9\s._:/=+@-]*", v) for v in tags.values())
    assert ownership(tags, ME) == "mine"
    assert ownership({"team": "a"}, ME) == "unowned"
    other = Identity(ME.cluster_id, ME.cluster_name, ME.namespace, ME.name, "another-uid")
    assert ownership(other.tags(), ME) == "other"
    elsewhere = Identity("another-cluster", "x", ME.namespace, ME.name, ME.uid)
    assert ownership(elsewhere.tags(), ME) == "other"
    assert "team-a/llama" in (owner_in(other.tags()) or "")


def test_a_failure_is_retried_only_when_the_import_inputs_change():
    base = import_inputs("r1", "us-east-1", spec(), "")
    assert import_inputs("r1", "us-east-1", spec(tags={"a": "b"}), "") == base  # tags: no retry
    assert import_inputs("r1", "us-east-1", spec(deletionPolicy="Retain"), "") == base
    assert import_inputs("r2", "us-east-1", spec(), "") != base
    assert import_inputs("r1", "us-west-2", spec(), "") != base
    assert import_inputs("r1", "us-east-1", spec(), "1") != base  # the retry annotation
    other_role = spec(serviceRole={"roleArn": "arn:aws:iam::123456789012:role/other"})
    assert import_inputs("r1", "us-east-1", other_role, "") != base


# ---- through the operator's passes -------------------------------------------------------------------------
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
        "team-a", "m", world_spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, "shared-model")
    )  # modelName shared-model, adoptExisting true
    until_5s(w, lambda: body["status"].get("phase") in ("Failed", "Ready"), 120)
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
    doc = world_spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, "shared-model")
    del doc["adoptExisting"]
    body = c.create("team-a", "m", doc)
    until_5s(w, lambda: body["status"].get("phase") == "Failed", 120)
    assert condition(body, "Imported")["reason"] == "ModelNameConflict"
    assert "adoptExisting" in condition(body, "Imported")["message"]
    c.edit_spec(body, adoptExisting=True)
    eventually(w, lambda: body["status"].get("phase") == "Ready", 120, body)
    assert body["status"]["modelArn"] == arn and body["status"].get("failure") is None
    assert events_of(c, "m", "ModelAdopted")


def test_changing_the_vpc_config_imports_a_new_revision_with_it():
    """Mutation fresh-revision-ignores-vpc (naming.py `REVISION_FIELDS`). spec.vpcConfig is a property of the
    import job: changing it on a Ready object imports a new revision whose job runs in the new subnets
    and security groups; that model then serves and the previous one is deleted."""
    w = World()
    c = w.cluster("east")
    body = c.create("team-a", "m", world_spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: body["status"].get("phase") == "Ready", 120)
    first, revision = body["status"]["modelArn"], body["status"]["revision"]
    vpc = {"subnetIds": ["subnet-0abc1234"], "securityGroupIds": ["sg-0abc1234"]}
    c.edit_spec(body, vpcConfig=vpc)
    eventually(
        w,
        lambda: body["status"].get("phase") == "Ready" and body["status"]["modelArn"] != first,
        180,
        body,
    )
    assert body["status"]["revision"] != revision
    _, model = w._model(body["status"]["modelArn"])
    assert model.job.vpc == vpc, "the serving model's job ran in the spec's VPC"
    until_5s(w, lambda: first not in model_arns(w), 60)
