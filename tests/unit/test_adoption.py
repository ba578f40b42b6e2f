"""Adopting an existing model (spec.adoptExisting) is written ahead, remembered, and a policy decision: a
failed status write never makes the operator delete the model it adopted,
a model it adopted is never retired as "another revision", and no namespace takes over a model another
team retained or someone imported by hand unless its BedrockImportPolicy says so."""

from __future__ import annotations

import copy

import pytest

from controller.naming import OWNER_KEYS, TAG_UID
from tests.support.world import World
from tests.unit.test_invariants import ROLE, SOURCES, Operators, spec

SHARED = "shared-model"
POLICY = {
    "namespaceSelector": {},
    "sources": {"s3Prefixes": ["s3://models/"]},
    "serviceRoles": {"roleArns": [ROLE]},
    "validationModes": ["Skip"],
}


def _spec(source: str = "s3://models/a/", policy: str = "Delete", model_name: str | None = SHARED) -> dict:
    doc = {
        "source": {"s3Uri": source},
        "serviceRole": {"roleArn": ROLE},
        "deletionPolicy": policy,
        "region": "us-east-1",
    }
    if model_name:
        doc |= {"modelName": model_name, "adoptExisting": True}
    return doc


def _made_by_hand(w: World, name: str = SHARED) -> str:
    w.aws.create_job(
        "us-east-1",
        {
            "jobName": f"by-hand-{name}",
            "importedModelName": name,
            "roleArn": ROLE,
            "modelDataSource": {"s3DataSource": {"s3Uri": "s3://models/a/"}},
        },
    )
    w.advance(10.0)
    (arn,) = [m["arn"] for m in w.models() if m["name"] == name]
    return arn


def _ready(w: World, body: dict, seconds: float = 300.0) -> None:
    for _ in range(int(seconds / 5)):
        conds = {c["type"]: c for c in (body.get("status") or {}).get("conditions", [])}
        if conds.get("Ready", {}).get("status") == "True":
            return
        w.advance(5.0)
        w.check_always()
    raise AssertionError(f"never Ready: {body.get('status')}")


def _reason(body: dict, ctype: str) -> str:
    return {c["type"]: c for c in body["status"]["conditions"]}[ctype]["reason"]


def test_a_failed_status_write_while_adopting_never_deletes_the_adopted_model():
    w = World()
    c = w.cluster("east")
    arn = _made_by_hand(w)
    # the write of the pass that tags the model as this object's fails (an apiserver error, or a crash)
    c.store.fail_write_if = lambda status: bool(status.get("modelArn"))
    body = c.create("team-a", "m", _spec())
    _ready(w, body)
    assert arn in {m["arn"] for m in w.models()}, "the adopted model was deleted"
    assert body["status"]["modelArn"] == arn
    assert body["status"]["adopted"] == [arn]


def test_an_adopted_model_not_shown_past_the_grace_period_is_adopted_again_not_deleted():
    w = World()
    c = w.cluster("east")
    arn = _made_by_hand(w)
    body = c.create("team-a", "m", _spec())
    _ready(w, body)
    w.aws.set_faults({"not_found_seconds": {"GetImportedModel": 45.0, "ListImportedModels": 45.0}})
    c.annotate(body, "touch", "1")  # an event: the model is read by ARN now
    w.advance(60.0)
    w.aws.set_faults({"not_found_seconds": {}})
    _ready(w, body)
    assert arn in {m["arn"] for m in w.models()}, "the adopted model was deleted as another revision's"
    assert body["status"]["modelArn"] == arn


def test_a_policy_decides_which_unowned_models_a_namespace_may_adopt():
    w = World()
    c = w.cluster("east")
    c.set_policy("team-policy", POLICY)  # no adoption field: adopting nothing
    kept_spec = _spec(policy="Retain", model_name="kept-model")
    del kept_spec["adoptExisting"]
    kept = c.create("team-b", "kept", kept_spec)
    _ready(w, kept)
    kept_arn = kept["status"]["modelArn"]
    c.delete(kept)
    w.advance(10.0)
    assert "kept" not in {k[1] for k in c.store.objects}
    hand = _made_by_hand(w, "hand-made")

    thief = c.create("team-a", "thief", _spec(model_name="kept-model"))
    w.advance(20.0)
    # refused by the policy's rule on the spec (as the admission policy refuses it at apply)
    assert _reason(thief, "Allowed") == "AdoptionNotAllowed", thief["status"]["conditions"]
    # allowing team-b's own retained models does not let team-a take them: refused on the model's tags
    c.set_policy("team-policy", POLICY | {"adoption": {"retainedFromNamespace": True}})
    c.annotate(thief, "bedrock.modelops.io/retry", "1")
    w.advance(20.0)
    assert _reason(thief, "Imported") == "AdoptionNotAllowed", thief["status"]["conditions"]
    assert "retained from team-b/kept" in thief["status"]["failureMessage"]
    tags = {m["arn"]: m["tags"] for m in w.models()}
    assert "bedrock.modelops.io/uid" not in tags[kept_arn], "the retained model was retagged"

    heir = c.create("team-b", "heir", _spec(model_name="kept-model"))
    _ready(w, heir)
    assert heir["status"]["modelArn"] == kept_arn  # the same namespace takes its retained model back

    hand_made = c.create("team-a", "h", _spec(model_name="hand-made"))
    w.advance(20.0)
    assert _reason(hand_made, "Imported") == "AdoptionNotAllowed"  # by its tags: no namespace retained it
    assert "owned by no object" in hand_made["status"]["failureMessage"]
    c.set_policy("team-policy", POLICY | {"adoption": {"modelNames": ["hand-*"]}})
    c.annotate(hand_made, "bedrock.modelops.io/retry", "2")
    _ready(w, hand_made)
    assert hand_made["status"]["modelArn"] == hand
    c.delete(thief)
    c.delete(hand_made)  # deletionPolicy Delete: the adopted model is its own now
    w.advance(30.0)
    assert hand not in {m["arn"] for m in w.models()}


def test_a_status_naming_another_model_or_source_is_no_authority():
    """Whoever may write the status subresource must not make the operator delete an unowned
    model (an ARN in status is no proof of ownership) nor send a create for another team's bucket."""
    w = World()
    c = w.cluster("east")
    hand = _made_by_hand(w, "someone-elses")
    body = c.create("team-a", "m", _spec(model_name=None))
    _ready(w, body)
    # a forged status: another model as this object's, and a create intent for another team's folder
    from controller.naming import job_name
    from controller.reconcile.context import View

    status = body["status"]
    status["superseded"] = [{"arn": hand, "region": "us-east-1"}]
    me = c.operator.reconciler.identity(View.of(body))
    attempt = status["importJob"]["attempt"] + 1
    status["importJob"] = status["importJob"] | {
        "state": "Creating",
        "attempt": attempt,
        "jobName": job_name(me, status["importJob"]["revision"], attempt),
        "modelName": "m-forged",
        "s3Uri": "s3://team-b-secrets/weights/",
        "jobArn": None,
        "modelArn": None,
    }
    c.annotate(body, "touch", "1")
    w.advance(60.0)
    assert hand in {m["arn"] for m in w.models()}, "an unowned model was deleted on status's word"
    with w.aws._lock:
        sources = {j.s3_uri for j in w.aws._jobs.values()}
    assert "s3://team-b-secrets/weights/" not in sources, (
        "a create was sent for a folder the spec never named"
    )


def test_another_clusters_retained_model_is_not_this_namespaces():
    w = World()
    east, west = w.cluster("east"), w.cluster("west")
    allow = POLICY | {"adoption": {"retainedFromNamespace": True}}
    east.set_policy("p", allow)
    west.set_policy("p", allow)
    doc = _spec(policy="Retain", model_name="kept-model")
    del doc["adoptExisting"]
    kept = east.create("team-a", "kept", doc)
    _ready(w, kept)
    east.delete(kept)
    w.advance(10.0)
    other = west.create("team-a", "heir", _spec(model_name="kept-model"))
    w.advance(20.0)
    assert _reason(other, "Imported") == "AdoptionNotAllowed", other["status"]["conditions"]


def test_retain_never_releases_another_owners_model():
    """Fresh mutation (written without the tests): deletionPolicy Retain stripped another owner's tags from
    a model status named. Retain releases only what the object owns."""
    w = World()
    east, west = w.cluster("east"), w.cluster("west")
    theirs = west.create("team-b", "b", _spec(model_name=None))
    _ready(w, theirs)
    mine = east.create("team-a", "a", _spec(policy="Retain", model_name=None))
    _ready(w, mine)
    mine["status"]["modelArn"] = theirs["status"]["modelArn"]  # status written by someone else
    east.delete(mine)
    w.advance(20.0)
    w.check_always()  # no tag of a model owned by west/b was touched by east/a
    tags = {m["arn"]: m["tags"] for m in w.models()}[theirs["status"]["modelArn"]]
    assert tags.get("bedrock.modelops.io/uid") == theirs["metadata"]["uid"], tags


def test_retain_keeps_the_serving_model_and_deletes_an_untested_candidate():
    """Fresh mutation: with Retain, a candidate still being smoke-tested beside a serving model was kept
    (and billed) when the object was deleted. Only the serving model is retained."""
    w = World()
    c = w.cluster("east")
    doc = _spec(policy="Retain", model_name=None)
    doc["smokeTest"] = {"prompt": "Say hello", "expect": "canned answer", "deadlineSeconds": 600}
    body = c.create("team-a", "m", doc)
    _ready(w, body)
    serving = body["status"]["modelArn"]
    w.aws.set_faults({"cold_start_seconds": 300.0})  # the candidate does not answer for a while
    c.edit_spec(body, source={"s3Uri": "s3://models/b/"})
    for _ in range(40):
        w.advance(5.0)
        job = body["status"].get("importJob") or {}
        if job.get("state") == "Testing" and job.get("modelArn"):
            break
    candidate = body["status"]["importJob"]["modelArn"]
    assert candidate != serving
    c.delete(body)
    w.advance(30.0)
    arns = {m["arn"] for m in w.models()}
    assert serving in arns, "the serving model must be retained"
    assert candidate not in arns, "an untested candidate was retained beside the serving model"


ADOPT_SHARED = {
    "namespaceSelector": {},
    "sources": {"s3Prefixes": ["s3://models/"]},
    "serviceRoles": {"roleArns": ["arn:aws:iam::*"], "allowCreate": True},
    "validationModes": ["Job", "Inline", "Skip"],
    "adoption": {"modelNames": ["shared-*"]},
}


@pytest.mark.parametrize(
    "schedule",
    [[], [1], [0, 1] * 8, [0, 0, 1, 1] * 5, [0, 0, 0, 0, 1, 1, 1, 1] * 3],
    ids=["east-first", "west-first", "alternating", "pairs", "fours"],
)
def test_two_clusters_adopting_one_model_at_once_leave_it_to_one_of_them(schedule):
    """TagResource is not conditional. Two clusters whose objects may adopt the same unowned
    model, their passes interleaved at every Bedrock call (the World's `interleave`): both may read it as
    unowned and both tag it. Each adopter's tags are only a claim, confirmed when they still name it a
    settle time later; the one whose tags were overwritten forgets the model without touching it
    (ModelNameConflict names the winner). Before, both served the one model (two owners, one ARN)."""
    m = Operators()
    w = m.world
    east, west = w.cluster("east"), w.cluster("west")
    for c in (east, west):
        c.set_policy("adopt", ADOPT_SHARED)
    m.model_made_outside(region="us-east-1")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, "shared-model")
    doc["adoptExisting"] = True
    a = east.create("team-a", "m", copy.deepcopy(doc), visit=False)
    b = west.create("team-a", "m", copy.deepcopy(doc), visit=False)
    w.interleave([lambda: east.visit(a, event=True), lambda: west.visit(b, event=True)], schedule)
    for _ in range(20):
        w.advance(30.0, tick=10.0)
        w.check_always()  # never two live objects reporting one ARN
    winner, loser = (a, b) if a["status"].get("modelArn") else (b, a)
    assert winner["status"]["phase"] == "Ready"
    model = next(x for x in w.models() if x["name"] == "shared-model")
    assert model["tags"][TAG_UID] == winner["metadata"]["uid"], "the model is the winner's, by its tags"
    assert loser["status"]["failure"]["reason"] == "ModelNameConflict"
    assert not loser["status"].get("adopted"), "the loser does not remember a model it does not have"
    m.teardown()


def test_a_retained_model_whose_owner_tags_came_back_late_can_still_be_adopted():
    """deletionPolicy Retain removes the owner tags and writes the retained-from marker; a TagResource of
    the same object held on its way and applied after that puts its owner tags back (TagResource is not
    conditional). The owner tags beside the releasing object's own marker mean "released": a successor
    the policy lets adopt what the namespace retained takes it over, instead of meeting a model owned by an
    object that no longer exists (ModelNameConflict, forever)."""
    w = World()
    east = w.cluster("east")
    east.set_policy("p", POLICY | {"adoption": {"retainedFromNamespace": True}})
    doc = _spec(policy="Retain", model_name="kept-model")
    del doc["adoptExisting"]
    kept = east.create("team-a", "kept", doc)
    _ready(w, kept)
    arn, owner_tags = kept["status"]["modelArn"], {}
    with w.aws._lock:
        owner_tags = {k: v for k, v in w.aws._tags[arn].items() if k in OWNER_KEYS}
    east.delete(kept)
    w.advance(10.0)
    with w.aws._lock:  # the late TagResource lands
        assert not any(k in w.aws._tags[arn] for k in OWNER_KEYS), "released"
        w.aws._tags[arn].update(owner_tags)
    heir = east.create("team-a", "heir", _spec(model_name="kept-model"))
    _ready(w, heir)
    assert heir["status"]["modelArn"] == arn
    with w.aws._lock:
        assert w.aws._tags[arn][TAG_UID] == heir["metadata"]["uid"]


def test_a_model_deleted_outside_while_its_adoption_settles_is_imported_anew():
    """The model being adopted is deleted outside the cluster after the object tagged it (its claim) and
    before the claim is confirmed: the object keeps saying it is adopting while Bedrock may only hide the
    model (the grace period), then drops the adoption and imports the spec's own model under the name,
    which serves. Nothing is left recorded of the model that is gone."""
    w = World()
    c = w.cluster("east")
    c.set_policy("p", POLICY | {"adoption": {"modelNames": ["shared-*"]}})
    arn = _made_by_hand(w)
    body = c.create("team-a", "heir", _spec())
    job = body["status"].get("importJob") or {}
    assert job.get("state") == "Adopting" and job.get("claimedAt"), job
    with w.aws._lock:  # deleted by hand, between the claim and its confirmation
        del w.aws._models[arn]
        w.aws._tags.pop(arn, None)
    w.advance(10.0)
    assert body["status"]["importJob"]["state"] == "Adopting", "NotFound for a moment is not proof"
    _ready(w, body)
    assert body["status"]["modelArn"] != arn and arn not in (body["status"].get("adopted") or [])
