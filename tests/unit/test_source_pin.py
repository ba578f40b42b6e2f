"""What is imported is what was validated. The World's folders are swapped between
Inline validation and the import (while queued, and in the one pass between the intent and the send),
and while the model serves. A folder that can no longer be listed before the import (for good, or for
a moment) is not imported unjudged."""

from __future__ import annotations

from controller.api.reasons import ConditionType, Reason
from controller.artifacts.pin import source_digest
from controller.artifacts.sources import FileInfo
from tests.support.world import condition, creates_for, listing_of, until, until_5s
from tests.unit.test_invariants import SOURCES, Operators, spec


def _inline(source: str, **kw) -> dict:
    doc = spec(source, "us-east-1", "Delete", {"team": "a"}, None, **kw)
    doc["validation"] = {"mode": "Inline"}
    return doc


def test_the_fingerprint_is_the_files_names_sizes_and_etags():
    a = [FileInfo("config.json", 10, '"e1"'), FileInfo("model.safetensors", 99, '"e2"')]
    assert source_digest(a) == source_digest(list(reversed(a)))  # listing order does not matter
    for changed in (
        [FileInfo("config.json", 10, '"e9"'), a[1]],  # same size, new contents
        [FileInfo("config.json", 11, '"e1"'), a[1]],
        [a[0]],  # a file removed
        [*a, FileInfo("extra.bin", 1, '"e3"')],  # one added
        [FileInfo("config2.json", 10, '"e1"'), a[1]],  # renamed
    ):
        assert source_digest(changed) != source_digest(a)


def test_files_swapped_while_queued_are_validated_again_and_not_imported():
    """Validated, then queued behind another import; meanwhile the folder is replaced with a quantized
    model. The import must not start from files nobody judged: validated again, refused."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    first = c.create("team-a", "first", _inline(SOURCES[0]))
    until(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress")
    second = c.create("team-a", "second", _inline(SOURCES[1]))
    until(w, lambda: second["status"].get("phase") == "Queued")
    assert condition(second, "Validated")["reason"] == Reason.ARTIFACTS_IMPORTABLE
    w.s3.put_folder(SOURCES[1], "quantized")
    until(w, lambda: condition(second, "Validated").get("status") == "False")
    assert creates_for(w, SOURCES[1]) == 0, "the swapped files were imported"
    assert any(r == Reason.SOURCE_CHANGED for _, _, r, _ in c.events), c.events
    assert "Quantized" in condition(second, "Validated")["reason"], condition(second, "Validated")
    w.check_always()
    m.teardown()


def test_files_swapped_between_the_intent_and_its_send_are_not_sent():
    """The narrowest window: the pass that writes the intent checks the folder, the next one sends. A swap
    in between is caught at the send; the intent is given up the safe way (after the grace period) and the
    slot goes to the next object meanwhile, never to a job of unjudged files."""
    m = Operators()
    w = m.world
    c = w.cluster("east")

    def swap_once_the_intent_is_written(status: dict) -> None:
        job = status.get("importJob") or {}
        if job.get("state") == "Creating" and not job.get("sentAt") and w.s3.variant[SOURCES[0]] == "good":
            w.s3.put_folder(SOURCES[0], "quantized")

    c.store.after_write.append(swap_once_the_intent_is_written)
    body = c.create("team-a", "m", _inline(SOURCES[0]))
    until(w, lambda: condition(body, "Validated").get("status") == "False", seconds=300)
    assert w.s3.variant[SOURCES[0]] == "quantized"
    assert creates_for(w, SOURCES[0]) == 0
    assert body["status"].get("importJob") is None, "the intent is given up once the grace period passed"
    w.check_always()
    m.teardown()


def test_a_serving_models_folder_that_changes_is_said_and_cleared_when_put_back():
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", _inline(SOURCES[2]))
    until(w, lambda: condition(body, "Ready").get("status") == "True")
    assert body["status"]["sourceDigest"] == body["status"]["validation"]["sourceDigest"]
    assert not condition(body, ConditionType.SOURCE_IN_SYNC), "no condition while nothing changed"
    w.s3.put_folder(SOURCES[2], "larger")
    tag_cadence = c.settings().tag_check_seconds

    def in_sync() -> str | None:
        return condition(body, ConditionType.SOURCE_IN_SYNC).get("status")

    until(w, lambda: in_sync() == "False", tag_cadence * 2)
    assert condition(body, "Ready")["status"] == "True", "the model serves what was imported"
    warnings = [e for e in c.events if e[2] == Reason.SOURCE_CHANGED]
    w.advance(tag_cadence * 2, tick=10.0)
    assert [e for e in c.events if e[2] == Reason.SOURCE_CHANGED] == warnings, "said once, not at every look"
    w.s3.put_folder(SOURCES[2], "good")
    until(w, lambda: in_sync() == "True", tag_cadence * 2)
    assert creates_for(w, SOURCES[2]) == 1, "a changed folder is reported, never imported on its own"
    m.teardown()


def test_a_validation_jobs_verdict_of_the_old_files_is_not_reused():
    """Job mode: the revision's Job keeps its name, so the verdict of the files before the swap would be
    read again forever. The changed folder removes it; a new Job judges the files as they are."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"job_duration_seconds": 120})  # the first import outlasts the second's validation
    first = c.create("team-a", "first", _inline(SOURCES[0]))
    until(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress")
    doc = _inline(SOURCES[1])
    doc["validation"] = {"mode": "Job"}
    second = c.create("team-a", "second", doc)
    until(w, lambda: second["status"].get("phase") == "Queued")
    assert c.jobs.created == 1
    w.s3.put_folder(SOURCES[1], "quantized")
    until(w, lambda: condition(second, "Validated").get("status") == "False")
    assert c.jobs.created == 2, "a second Job read the swapped files"
    assert creates_for(w, SOURCES[1]) == 0
    assert "Quantized" in condition(second, "Validated")["reason"], condition(second, "Validated")
    m.teardown()


def test_a_revert_during_a_validation_job_drops_it_and_says_what_serves():
    """Ready on revision A, the source edited to B (a validation Job starts), then reverted to
    A before the Job ends: Validated stayed Unknown beside Ready=True, and the Job ran on."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    doc = _inline(SOURCES[0])
    doc["validation"] = {"mode": "Job"}
    body = c.create("team-a", "m", doc)
    until(w, lambda: condition(body, "Ready").get("status") == "True")
    c.edit_spec(body, source={"s3Uri": SOURCES[1]})
    w.advance(4.0, tick=2.0)
    assert condition(body, "Validated")["status"] == "Unknown" and c.jobs.jobs
    c.edit_spec(body, source={"s3Uri": SOURCES[0]})
    w.advance(2.0, tick=2.0)
    assert condition(body, "Validated")["status"] == "True", condition(body, "Validated")
    assert condition(body, "Ready")["status"] == "True"
    assert not c.jobs.jobs, "the moot validation Job is removed"
    m.teardown()


def test_a_switch_to_skip_does_not_compare_with_an_earlier_fingerprint():
    """Found by a 1,500-sequence search: validated Inline, then the spec moved to another folder with
    validation Skip; the earlier revision's fingerprint stayed in status and every start found the new
    folder 'changed', validated it again (Skip: at once) and started over, forever."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", _inline(SOURCES[0]))
    until(w, lambda: condition(body, "Ready").get("status") == "True")
    c.edit_spec(body, validation=None, source={"s3Uri": SOURCES[1]})
    until(w, lambda: body["status"].get("phase") == "Ready", seconds=120)
    assert body["status"].get("validation") is None and creates_for(w, SOURCES[1]) == 1
    m.teardown()


def test_a_new_model_does_not_inherit_the_old_ones_source_warning():
    """Found by a review of the fixes: SourceInSync=False about the replaced model's folder stayed on the
    object once a model imported without a fingerprint (validation Skip) served."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", _inline(SOURCES[2]))
    until(w, lambda: condition(body, "Ready").get("status") == "True")
    w.s3.put_folder(SOURCES[2], "larger")
    cadence = c.settings().tag_check_seconds
    until(w, lambda: condition(body, ConditionType.SOURCE_IN_SYNC).get("status") == "False", cadence * 2)
    c.edit_spec(body, validation=None, source={"s3Uri": SOURCES[0]})
    until(w, lambda: body["status"].get("phase") == "Ready" and body["status"]["resolvedS3Uri"] == SOURCES[0])
    assert not condition(body, ConditionType.SOURCE_IN_SYNC), condition(body, ConditionType.SOURCE_IN_SYNC)
    m.teardown()


def test_two_long_names_with_a_common_prefix_get_validation_jobs_of_their_own():
    """Found by a 2,000-sequence search: validation Job names kept the first 40 characters of the object's
    name and the revision, so two objects of one namespace whose names share 40 characters and whose specs
    are equal computed one Job name. The second met the first's Job, called it foreign, and waited forever."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    doc = _inline(SOURCES[0])
    doc["validation"] = {"mode": "Job"}
    one = c.create("team", "x" * 60 + "1", doc)
    two = c.create("team", "x" * 60 + "2", dict(doc))
    until(w, lambda: one["status"].get("phase") == "Ready" and two["status"].get("phase") == "Ready", 300)
    assert c.jobs.created == 2
    m.teardown()


def test_a_serving_models_folder_that_cannot_be_listed_changes_nothing():
    """The drift look at a serving model's folder is advice: a bucket that refuses ListBucket later (a
    policy change) must not turn a working model Failed, nor start anything."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    body = c.create("team-a", "m", _inline(SOURCES[2]))
    until(w, lambda: condition(body, "Ready").get("status") == "True")
    w.s3.deny_lists = True
    w.advance(c.settings().tag_check_seconds * 2, tick=10.0)
    assert condition(body, "Ready")["status"] == "True" and body["status"]["phase"] == "Ready"
    assert body["status"].get("failure") is None and not condition(body, ConditionType.SOURCE_IN_SYNC)
    w.s3.deny_lists = False
    m.teardown()


def _validated_and_queued(m: Operators) -> tuple[dict, dict]:
    """`first` imports (a long job); `second`, validated Inline, waits in line behind it."""
    w = m.world
    c = w.cluster("east")
    w.aws.set_faults({"job_duration_seconds": 60})
    first = c.create("team-a", "first", spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None))
    until_5s(w, lambda: (first["status"].get("importJob") or {}).get("state") == "InProgress", 60)
    doc = spec(SOURCES[1], "us-east-1", "Delete", {"team": "a"}, None, validation="Inline")
    second = c.create("team-a", "second", doc)
    until_5s(w, lambda: second["status"].get("phase") == "Queued", 60)
    assert condition(second, "Validated")["reason"] == Reason.ARTIFACTS_IMPORTABLE
    return first, second


def test_a_folder_that_can_no_longer_be_listed_after_validation_fails_before_the_import():
    """source_pin.py `listed_digest`: `if reason is not None: raise SourceError(Kind.TERMINAL ...`. The
    folder was validated, then (while the object waited in line) its bucket policy stopped the operator
    from listing it. Nothing unjudged is imported: the revision fails on Validated with
    SourceAccessDenied, and the import job is never created."""
    m = Operators()
    w = m.world
    first, second = _validated_and_queued(m)
    listing = listing_of(w, SOURCES[1])
    listing["code"] = "AccessDenied"
    until_5s(w, lambda: condition(second, "Validated").get("status") == "False", 180)
    assert condition(second, "Validated")["reason"] == "SourceAccessDenied"
    assert second["status"]["failure"]["reason"] == "SourceAccessDenied"
    assert second["status"]["phase"] == "Failed"
    assert creates_for(w, SOURCES[1]) == 0
    assert first["status"]["phase"] == "Ready"
    listing["code"] = None
    m.teardown()


def test_a_folder_listing_that_fails_for_a_moment_before_the_import_is_retried():
    """source_pin.py `listed_digest`: the same `if`, false: `raise SourceError(Kind.RETRYABLE ...
    SOURCE_UNREACHABLE)`. S3 answers SlowDown (throttling) to the listing that checks the folder is as
    validated: the object retries (Synced False, SourceUnreachable), fails nothing, and imports once S3
    answers again."""
    m = Operators()
    w = m.world
    first, second = _validated_and_queued(m)
    listing = listing_of(w, SOURCES[1])
    listing["code"] = "SlowDown"
    until_5s(w, lambda: condition(second, "Synced").get("reason") == Reason.SOURCE_UNREACHABLE, 180)
    assert first["status"]["phase"] == "Ready"
    assert second["status"].get("failure") is None and creates_for(w, SOURCES[1]) == 0
    assert condition(second, "Validated")["status"] == "True", "the validation stands"
    listing["code"] = None
    until_5s(w, lambda: second["status"].get("phase") == "Ready", 180)
    assert creates_for(w, SOURCES[1]) == 1
    m.teardown()
