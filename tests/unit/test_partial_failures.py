"""Partial failures found by a review, replayed in the in-process World: each sequence ends
with nothing leaked or lost and no object running two jobs at once."""

from __future__ import annotations

import time

import pytest

from controller.naming import TAG_UID
from controller.reconcile.importing import LATE_CREATE_SECONDS
from tests.support.world import World, until
from tests.unit.test_invariants import SOURCES, Operators, spec


def _sent_creates(w: World) -> int:
    with w.aws._lock:
        return len(w.aws._jobs)


@pytest.mark.parametrize("then", ["revert", "delete", "move-region"])
def test_a_create_answered_late_after_40s_of_refusals_is_not_given_up(then):
    """Creates refused for 40 s, the next one applied but its answer lost, the job invisible
    for 8 s, and the user reverts, deletes or moves the region: the intent used to be dropped because it was
    *decided* more than the grace period ago, though it was *sent* seconds ago. Its model was leaked and,
    with a region move, the object ran two jobs at once."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"iam_propagation_failures": 8})  # ~40 s of refused creates (backoff 2, 4, 8 ...)
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    started = body["status"]["importJob"]["startedAt"]
    w.advance(40.0, tick=2.0)
    assert _sent_creates(w) == 0 and body["status"]["importJob"]["state"] == "Creating"
    w.aws.set_faults({"iam_propagation_failures": 0, "job_visibility_delay_seconds": 8})
    w.drop_responses["CreateModelImportJob"] = 1
    until(w, lambda: _sent_creates(w) == 1, seconds=120)
    assert body["status"]["importJob"]["state"] == "Creating", "the answer was lost: still an intent"
    assert body["status"]["importJob"]["startedAt"] == started
    if then == "revert":
        c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    elif then == "delete":
        c.delete(body)
    else:
        c.edit_spec(body, region="us-west-2")
    for _ in range(30):
        w.advance(2.0, tick=2.0)
        w.check_always()  # never two jobs at once for one object
    m.teardown()  # nothing leaked at quiescence


def test_an_adversarial_expect_does_not_freeze_the_operator():
    """`(a|aa)*#` against an answer with a run of a's took Python's backtracking `re` minutes,
    holding the GIL (the event loop, every worker, the Lease renewals). RE2 answers at once."""
    w = World()
    c = w.cluster("east")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {}, None)
    doc["smokeTest"] = {"prompt": "a" * 40, "expect": "(a|aa)*#", "deadlineSeconds": 60}
    began = time.monotonic()
    body = c.create("team-a", "m", doc)
    until(w, lambda: body["status"].get("phase") == "Failed", seconds=300, tick=5.0)
    assert body["status"]["failure"]["reason"] == "SmokeTestMismatch", body["status"]["failure"]
    assert time.monotonic() - began < 15, "a tenant's pattern must run in linear time"


def _phase(body: dict) -> str | None:
    return (body.get("status") or {}).get("phase")


@pytest.mark.parametrize("how", ["paused", "deleting"])
def test_a_paused_or_deleting_object_gives_up_the_slot_once_its_job_ended(how):
    """A paused pass never looks at Bedrock and a deleting object gets no pass, so an object
    whose job had ended kept the region's slot: every other tenant waited Queued with nothing running."""
    from controller.reconcile import PAUSE_ANNOTATION

    w = World()
    c = w.cluster("east")
    first = c.create("team-a", "first", spec(SOURCES[0], "us-east-1", "Delete", {}, None))
    assert first["status"]["importJob"]["state"] in ("Creating", "InProgress")
    w.advance(1.0, tick=1.0)
    if how == "paused":
        c.annotate(first, PAUSE_ANNOTATION, "true")
    else:
        w.aws.set_faults({"deny_deletes": 1000})  # its deletion cannot finish
        c.delete(first)
    w.advance(20.0)  # its job (4 s) has ended
    second = c.create("team-b", "second", spec(SOURCES[1], "us-east-1", "Delete", {}, None))
    until(w, lambda: _phase(second) == "Ready", seconds=120)


def test_a_teams_own_account_has_its_own_import_slot():
    """The queue was keyed by region, but Bedrock's slot is per account and region: a team
    importing into its own account (account.roleArn) blocked the operator account's imports."""
    from bmo_devtools.emulator.state import BedrockState
    from tests.support.inprocess_bedrock import FakeSupport, InProcessBedrock
    from tests.unit.test_invariants import ROLE

    w = World()
    c = w.cluster("east")
    team_b = BedrockState(w._check, seed=8, clock=w.clock.mono, ticker=False, wall=w.clock.now)
    team_b.set_faults({"job_duration_seconds": 60, "concurrent_jobs": 1})
    accounts = {None: w.aws, "b": team_b}

    def clients(settings, region, tenant):
        state = accounts["b" if tenant else None]
        return InProcessBedrock(state, region, w), FakeSupport(region, w, state=state)

    c.operator.reconciler._make_clients = clients
    w.aws.set_faults({"job_duration_seconds": 60})
    base = {
        "sources": {"s3Prefixes": ["s3://models/"]},
        "serviceRoles": {"roleArns": [ROLE]},
        "validationModes": ["Skip"],
    }
    c.set_policy(
        "team-b",
        base
        | {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-b"}},
            "account": {"roleArn": "arn:aws:iam::222222222222:role/bmo-tenant-access"},
        },
    )
    c.operator.tenancy.namespace_changed("team-b", {"kubernetes.io/metadata.name": "team-b"})
    c.operator.tenancy.namespace_changed("team-a", {"kubernetes.io/metadata.name": "team-a"})
    theirs = c.create("team-b", "m", spec(SOURCES[0], "us-east-1", "Delete", {}, None))
    w.advance(4.0)
    assert _phase(theirs) == "Importing", theirs["status"]
    ours = c.create("team-a", "m", spec(SOURCES[1], "us-east-1", "Delete", {}, None))
    w.advance(4.0)
    assert _phase(ours) == "Importing", ours["status"]["conditions"]  # not Queued behind team B's account
    with team_b._lock, w.aws._lock:
        assert len(team_b._jobs) == 1 and len(w.aws._jobs) == 1


def test_a_squatted_job_name_fails_the_object_and_frees_the_slot():
    """A terminal error while a create was in flight (a job name someone else took first) kept
    the intent, and with it the region's slot, for ever; a job of that name with no owner tags was even
    followed as the object's own."""
    import uuid

    from controller.api.models import BedrockImportedModelSpec
    from controller.naming import Identity, job_name, revision
    from tests.unit.test_invariants import ROLE

    w = World()
    c = w.cluster("east")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {}, None)
    me = Identity(c.id, "east", "team-a", "m", str(uuid.UUID(int=w._uids + 1)))
    squatted = job_name(me, revision(BedrockImportedModelSpec.model_validate(doc)), 1)
    w.aws.set_faults({"job_duration_seconds": 2})
    w.aws.create_job(
        "us-east-1",
        {
            "jobName": squatted,
            "importedModelName": "squatter-model",
            "roleArn": ROLE,
            "modelDataSource": {"s3DataSource": {"s3Uri": "s3://models/a/"}},
        },
    )
    w.advance(5.0)
    body = c.create("team-a", "m", doc)
    w.advance(10.0)
    assert body["status"].get("failure", {}).get("reason") == "ModelNameConflict", body["status"]
    assert body["status"].get("modelArn") is None  # the squatter's model is not taken as its own
    other = c.create("team-b", "n", spec(SOURCES[1], "us-east-1", "Delete", {}, None))
    until(w, lambda: _phase(other) == "Ready", seconds=60)


@pytest.mark.parametrize("then", ["promoted", "deleted"])
def test_a_created_role_goes_when_the_spec_names_its_own_role(then):
    """ServiceRole switched from `create` to `roleArn` left the created role behind (and a
    deletion then looked only at the spec, which no longer said `create`)."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, own_role=True)
    body = c.create("team-a", "m", doc)
    until(w, lambda: body["status"].get("phase") == "Ready")
    assert list(w.roles.values()) == [body["metadata"]["uid"]]
    if then == "deleted":
        c.edit_spec(body, serviceRole={"roleArn": "arn:aws:iam::123456789012:role/BedrockModelImport"})
        c.delete(body)
        until(w, lambda: not c.store.objects)
    else:
        c.edit_spec(
            body,
            serviceRole={"roleArn": "arn:aws:iam::123456789012:role/BedrockModelImport"},
            source={"s3Uri": SOURCES[1]},
        )
        until(w, lambda: body["status"]["phase"] == "Ready" and not w.roles)
    assert w.roles == {}
    m.teardown()


def test_a_role_that_cannot_be_deleted_at_promotion_does_not_lose_the_previous_model():
    """Found by a review of the fixes: the created role was deleted inside the promotion, before the replaced
    model was recorded for deletion; a throttled DeleteRole failed the pass after status named the new
    model, and the old one was never recorded again: leaked. The role delete now comes last and never fails
    the pass (a role left is deleted with the object)."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None, own_role=True)
    body = c.create("team-a", "m", doc)
    until(w, lambda: body["status"].get("phase") == "Ready")
    first = body["status"]["modelArn"]
    w.role_delete_failures = 1
    c.edit_spec(
        body,
        serviceRole={"roleArn": "arn:aws:iam::123456789012:role/BedrockModelImport"},
        source={"s3Uri": SOURCES[1]},
    )
    until(
        w, lambda: body["status"].get("modelArn") not in (None, first) and body["status"]["phase"] == "Ready"
    )
    until(w, lambda: first not in {x["arn"] for x in w.models()}, seconds=120)
    c.delete(body)
    until(w, lambda: not c.store.objects)
    assert w.roles == {}, "the role left at promotion goes with the object"
    m.teardown()


def _models_of(w: World, uid: str) -> set[str]:
    return {m["arn"] for m in w.models() if m["tags"].get(TAG_UID) == uid}


@pytest.mark.parametrize("then", ["serve", "delete", "job-fails"])
def test_a_create_bedrock_applies_after_it_was_given_up_leaves_no_model(then):
    """A create held 60 s on its way (a slow proxy): the region changes meanwhile, the operator gives the
    intent up a grace period (30 s) after the send, and Bedrock applies the create later. Its job name is
    remembered (`status.givenUpCreates`) and looked up: once its job completes, its model (tagged as this
    object's, in no other status field) is deleted while the object serves, or with the object when the
    object is deleted meanwhile (the finalizer waits for the running job). Before, the model was leaked. A
    late job that fails leaves nothing to look for: the entry goes."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.hold_next["CreateModelImportJob"] = (1, 60.0)
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    uid = body["metadata"]["uid"]
    until(w, lambda: body["status"]["importJob"].get("sentAt"), seconds=30, tick=1.0)
    held_job = body["status"]["importJob"]["jobName"]
    c.edit_spec(body, region="us-west-2")  # a new job there; the held one still lands in us-east-1
    until(w, lambda: body["status"].get("givenUpCreates"), seconds=60, tick=1.0)
    assert body["status"]["givenUpCreates"][0]["jobName"] == held_job
    if then == "job-fails":  # once the new region's model serves: the next job to end is the late one
        until(w, lambda: body["status"].get("phase") == "Ready", seconds=25, tick=1.0)
        assert body["status"]["region"] == "us-west-2" and w.find_job(held_job) is None
        w.aws.set_faults({"fail_jobs": 1})
    until(w, lambda: w.find_job(held_job) is not None, seconds=60, tick=1.0)  # Bedrock applies it, late
    if then == "job-fails":
        until(w, lambda: w.find_job(held_job).status == "Failed", seconds=120, tick=5.0)
        until(w, lambda: not body["status"].get("givenUpCreates"), seconds=300, tick=5.0)
        until(w, lambda: body["status"].get("phase") == "Ready", seconds=300, tick=5.0)
        assert _models_of(w, uid) == {body["status"]["modelArn"]}
    elif then == "delete":
        c.delete(body)
        until(w, lambda: c.store.read("team-a", "m") is None, seconds=900, tick=5.0)
        assert any(e[2] == "WaitingForImportJob" and held_job in e[3] for e in c.events)
        assert _models_of(w, uid) == set(), "the late job's model is deleted with the object"
    else:
        until(w, lambda: any(e[2] == "LateImportFound" for e in c.events), seconds=900, tick=5.0)
        until(w, lambda: _models_of(w, uid) == {body["status"].get("modelArn")}, seconds=300, tick=5.0)
        assert body["status"]["phase"] == "Ready"
        late = w.find_job(held_job)
        assert late.model_arn not in {x["arn"] for x in w.models()}
    m.teardown()


def test_a_deletion_does_not_wait_for_a_given_up_create_that_never_landed():
    """A create given up on (the region changed while it was held) that Bedrock never applies: the object's
    deletion deletes its model and finishes once the create can no longer land (LATE_CREATE_SECONDS after
    it was given up); it does not wait the 20 grace periods the running object looks for the late job."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.hold_next["CreateModelImportJob"] = (1, 10.0**6)  # on its way for ever
    body = c.create("team-a", "m", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until(w, lambda: body["status"]["importJob"].get("sentAt"), seconds=30, tick=1.0)
    c.edit_spec(body, region="us-west-2")
    until(w, lambda: body["status"].get("phase") == "Ready", seconds=120, tick=1.0)
    assert body["status"].get("givenUpCreates"), "still looked for"
    c.delete(body)
    until(w, lambda: c.store.read("team-a", "m") is None, seconds=LATE_CREATE_SECONDS + 30, tick=5.0)
    assert w.models() == [], "the serving model was deleted with the object"


def test_a_deleting_object_a_new_process_never_followed_gives_up_the_slot_once_its_job_ended():
    """The clock's listing frees the slot of a job it follows when the job ends. A process started while an
    object was being deleted never followed that object's job (the object gets no pass, only its finalizer's),
    so the finalizer's own look must free the slot, even when the deletion keeps failing."""
    w = World()
    c = w.cluster("east")
    w.set_faults({"job_duration_seconds": 30})
    first = c.create("team-a", "first", spec(SOURCES[0], "us-east-1", "Delete", {}, None))
    until(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress", 60, 1.0)
    w.aws.set_faults({"deny_deletes": 1000})  # its deletion cannot finish
    c.delete(first)
    c.restart()  # the new process knows the slot from status, and follows no job
    assert not c.operator.reconciler.job_watch._by_uid
    w.advance(40.0)  # its job has ended
    second = c.create("team-b", "second", spec(SOURCES[1], "us-east-1", "Delete", {}, None))
    until(w, lambda: _phase(second) == "Ready", seconds=120)
