"""A source that is not there yet (GitOps merges the manifest while the weights upload) is waited for, with
backoff and a condition that says so, up to BMO_SOURCE_WAIT_SECONDS; then the revision fails as before. A
wrong folder (files one level down) and a broken model are not waited for."""

from __future__ import annotations

from controller.api.reasons import ConditionType, Phase, Reason
from tests.support.world import condition, creates_for, listing_of, until, until_5s
from tests.unit.test_invariants import SOURCES, Operators, spec
from tests.unit.test_source_pin import _inline


def _validated(body) -> tuple[str | None, str | None]:
    c = condition(body, ConditionType.VALIDATED)
    return c.get("status"), c.get("reason")


def test_an_empty_folder_is_waited_for_and_imported_once_the_upload_lands():
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.s3.put_folder(SOURCES[0], "empty")
    body = c.create("team-a", "m", _inline(SOURCES[0]))
    until(w, lambda: _validated(body) == ("Unknown", Reason.WAITING_FOR_SOURCE))
    message = condition(body, ConditionType.VALIDATED)["message"]
    assert "is not there yet (no files)" in message and "waiting for the upload" in message, message
    assert body["status"]["phase"] == Phase.VALIDATING, "waiting is work under way, not a failure"
    assert condition(body, "Ready")["reason"] == Reason.WAITING_FOR_SOURCE
    assert condition(body, "Reconciling")["status"] == "True"  # kstatus: InProgress, Flux waits
    assert not condition(body, "Stalled") or condition(body, "Stalled")["status"] == "False"
    assert body["status"]["sourceWait"]["since"]
    w.advance(600, tick=5.0)  # ten minutes of looks with backoff
    assert _validated(body) == ("Unknown", Reason.WAITING_FOR_SOURCE)
    assert creates_for(w, SOURCES[0]) == 0
    looks = sum(1 for e in c.events if e[2] == Reason.WAITING_FOR_SOURCE)
    assert looks == 0, "a wait posts no Warning at every look"
    w.s3.put_folder(SOURCES[0], "no-weights")  # the upload has begun: config and tokenizer first
    w.advance(130, tick=5.0)  # at least one look at the half-done folder (the backoff is at most 120 s)
    assert _validated(body) == ("Unknown", Reason.WAITING_FOR_SOURCE)
    assert "MissingWeights" in condition(body, ConditionType.VALIDATED)["message"]
    w.s3.put_folder(SOURCES[0], "good")
    until(w, lambda: body["status"].get("phase") == Phase.READY, 300)
    assert creates_for(w, SOURCES[0]) == 1
    assert "sourceWait" not in body["status"] or body["status"]["sourceWait"] is None
    w.check_always()
    m.teardown()


def test_a_source_still_missing_after_the_wait_fails_and_says_how_long_it_waited():
    m = Operators()
    w = m.world
    c = w.cluster("east")
    listing = listing_of(w, SOURCES[1])
    listing["code"] = "NoSuchBucket"
    body = c.create("team-a", "m", _inline(SOURCES[1]))
    until(w, lambda: _validated(body) == ("Unknown", Reason.WAITING_FOR_SOURCE))
    bound = c.settings().source_wait_seconds
    until_5s(w, lambda: _validated(body)[0] == "False", bound + 300)
    failed = condition(body, ConditionType.VALIDATED)
    assert failed["reason"] == "SourceNotFound", failed
    assert "NoSuchBucket" in failed["message"] and "min for the upload" in failed["message"], failed
    assert body["status"]["phase"] == Phase.FAILED
    assert not body["status"].get("sourceWait"), "the wait is over: status does not keep it"
    assert creates_for(w, SOURCES[1]) == 0
    w.check_always()
    m.teardown()


def test_files_one_level_down_are_a_wrong_uri_not_an_upload_to_wait_for():
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.s3.put_folder(SOURCES[2] + "llama3-8b/", "good")
    w.s3.variant[SOURCES[2]] = "empty"  # the parent folder holds no files of its own
    body = c.create("team-a", "m", _inline(SOURCES[2]))
    until(w, lambda: _validated(body)[0] == "False")
    assert _validated(body) == ("False", "SourceInSubfolder")
    assert "llama3-8b/" in condition(body, ConditionType.VALIDATED)["message"]
    m.teardown()


def test_a_broken_model_is_refused_at_once_not_waited_for():
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.s3.put_folder(SOURCES[3], "quantized")
    body = c.create("team-a", "m", _inline(SOURCES[3]))
    until(w, lambda: _validated(body)[0] == "False", 30)
    assert _validated(body) == ("False", "QuantizedModel")
    assert "sourceWait" not in body["status"] or body["status"]["sourceWait"] is None
    m.teardown()


def test_job_mode_waits_too_and_reads_the_folder_again_in_a_new_job():
    """A Job's verdict of the empty folder would be read again forever under the revision's Job name: each
    look removes it, so the next Job (after the backoff) reads the folder as it is then."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.s3.put_folder(SOURCES[0], "empty")
    doc = spec(SOURCES[0], "us-east-1", "Delete", {"team": "a"}, None)
    doc["validation"] = {"mode": "Job"}
    body = c.create("team-a", "m", doc)
    until(w, lambda: _validated(body) == ("Unknown", Reason.WAITING_FOR_SOURCE), 120)
    w.advance(300, tick=5.0)
    made = c.jobs.created
    assert 2 <= made <= 12, f"{made} Jobs in five minutes: looks back off"
    w.s3.put_folder(SOURCES[0], "good")
    until(w, lambda: body["status"].get("phase") == Phase.READY, 400)
    assert creates_for(w, SOURCES[0]) == 1
    m.teardown()


def test_a_half_uploaded_folder_that_is_also_broken_is_refused_at_once():
    """Only a folder whose every problem is a missing file is waited for: quantized weights missing their
    safetensors are broken whatever arrives next (a wait on `any` missing file would hold it 30 minutes)."""
    m = Operators()
    w = m.world
    c = w.cluster("east")
    w.s3.put_folder(SOURCES[3], "quantized")
    bucket, prefix = "models", "broken/"
    for key in [k for k in w.s3.objects if k[0] == bucket and k[1].startswith(prefix)]:
        if key[1].endswith(".safetensors"):
            del w.s3.objects[key]
    body = c.create("team-a", "m", _inline(SOURCES[3]))
    until(w, lambda: _validated(body)[0] == "False", 30)
    failed = condition(body, ConditionType.VALIDATED)
    assert "QuantizedModel" in failed["message"] and "MissingWeights" in failed["message"], failed
    assert not body["status"].get("sourceWait")
    m.teardown()
