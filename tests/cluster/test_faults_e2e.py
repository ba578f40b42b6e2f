"""Faults after the change, end to end: Bedrock applied a call and its answer was lost or late; the
operator killed (-9) inside each window of an import, each kill proven to have landed where it claims by
the operator's log and Bedrock's state; the imported-model quota and a slot busy outside the operator.

Regions other than us-east-1 keep the quota and slot tests apart from every other test's models."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.helpers import wait_for
from tests.support.operator_process import (
    LLAMA,
    ROLE,
    apply_model,
    condition,
    events,
    get_obj,
    jobs_of,
    models_of,
    wait_condition,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.usefixtures("clean_faults")]


def errors_delta(aws) -> Callable[[], dict[str, int]]:
    """Errors the local Bedrock answered from now on (its counters are shared by the whole session)."""
    before = dict(aws.state()["errors"])

    def delta() -> dict[str, int]:
        now = aws.state()["errors"]
        return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}

    return delta


def import_job(kubectl, ns: str, name: str) -> dict:
    return get_obj(kubectl, ns, name).get("status", {}).get("importJob") or {}


def log_since_start(operator) -> str:
    """What the running (or just killed) operator process logged: the file holds every start."""
    return operator.log.read_text(errors="replace").rsplit("===== start #", 1)[-1]


def sent_unanswered(operator, action: str, target: str) -> bool:
    """The operator logged sending `action` on exactly `target` (a job name, an ARN) and no answer to it."""
    log = log_since_start(operator)
    sent = log.rfind(f"sending {action} {target} ")
    return sent >= 0 and f"answered {action} {target}:" not in log[sent:]


# ---- answers lost after the change ------------------------------------------------------------------


def test_a_lost_create_answer_is_recovered_with_the_same_token(kubectl, operator, local_aws, namespace):
    errors = errors_delta(local_aws)
    # every attempt of one call is lost (botocore: 1 + 3 retries), so the next pass must send it again
    local_aws.set_faults(drop_responses={f"CreateModelImportJob@{namespace}-lost-": 4})
    apply_model(kubectl, namespace, "lost")
    obj = wait_condition(kubectl, namespace, "lost", "Ready", "True", "ModelReady", timeout=90)
    assert len(jobs_of(local_aws, namespace, "lost")) == 1
    assert [m["modelArn"] for m in models_of(local_aws, namespace, "lost")] == [obj["status"]["modelArn"]]
    seen = errors()
    assert seen.get("CreateModelImportJob:ResponseLost") == 4
    # the repeat was answered by its clientRequestToken, not refused for reusing the job's name
    assert "CreateModelImportJob:ValidationException" not in seen, seen
    job = obj["status"]["importJob"]["jobName"]
    assert log_since_start(operator).count(f"sending CreateModelImportJob {job} ") >= 2  # a second pass


def test_lost_tag_and_delete_answers_still_end_right(kubectl, operator, local_aws, namespace):
    apply_model(kubectl, namespace, "answers", tags={"team": "a"})
    arn = wait_condition(kubectl, namespace, "answers", "Ready", "True")["status"]["modelArn"]
    errors = errors_delta(local_aws)
    # every attempt of the tag call is lost: the operator's next pass finds the tags already right; the
    # delete's answer is lost once: its repeat finds nothing to delete, and that counts as done
    local_aws.set_faults(drop_responses={f"TagResource@{arn}": 4, f"DeleteImportedModel@{arn}": 1})
    apply_model(kubectl, namespace, "answers", tags={"team": "b"})
    bedrock = local_aws.client("bedrock")

    def team() -> str | None:
        tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
        return tags.get("team")

    wait_for(lambda: team() == "b", timeout=30, what="tags updated")
    obj = wait_condition(kubectl, namespace, "answers", "Ready", "True", "ModelReady")
    assert obj["status"]["modelArn"] == arn
    kubectl("delete", "bedrockmodel", "answers", "-n", namespace, "--timeout=60s")
    assert models_of(local_aws, namespace, "answers") == []
    seen = errors()
    assert seen.get("TagResource:ResponseLost") == 4 and seen.get("DeleteImportedModel:ResponseLost") == 1
    log = log_since_start(operator)
    assert f"answered DeleteImportedModel {arn}: ResourceNotFoundException" in log


def test_a_model_not_found_for_a_moment_is_not_imported_again(kubectl, operator, local_aws, namespace):
    """Bedrock is eventually consistent: a model that answers NotFound for a while (6 s, less than the
    operator's 8 s grace here) is looked at again until the grace period ends before it counts as deleted,
    and it is there again: no second import, no "deleted outside"."""
    apply_model(kubectl, namespace, "blip")
    arn = wait_condition(kubectl, namespace, "blip", "Ready", "True")["status"]["modelArn"]
    local_aws.set_faults(not_found_seconds={f"GetImportedModel@{arn}": 6.0})
    kubectl("annotate", "bedrockmodel", "blip", "-n", namespace, "example.com/look=1")  # a check now
    wait_for(
        lambda: "ModelMissing" in [e["reason"] for e in events(kubectl, namespace, "blip")],
        timeout=30,
        what="the NotFound noticed",
    )
    wait_for(
        lambda: not get_obj(kubectl, namespace, "blip")["status"].get("modelMissingSince"),
        timeout=30,
        what="the second look finding the model",
    )
    obj = wait_condition(kubectl, namespace, "blip", "Ready", "True", "ModelReady")
    assert obj["status"]["modelArn"] == arn
    assert len(jobs_of(local_aws, namespace, "blip")) == 1
    assert "ModelDeletedOutside" not in [e["reason"] for e in events(kubectl, namespace, "blip")]


# ---- kill -9 in each window ---------------------------------------------------------------------------

#: Held long enough that the test sees the window and kills inside it on a slow machine, and below the
#: operator's 30 s read timeout, so the operator itself never gives up first.
HOLD = 20.0


def _calls(local_aws, operation: str) -> int:
    return local_aws.state()["calls"].get(operation, 0)


def test_kill_9_in_each_window_of_an_import_never_duplicates_or_leaks(
    kubectl, operator, local_aws, namespace
):
    """Each kill is proven to have landed in its window after the process is dead: its final log shows the
    call sent and not answered, and Bedrock's state shows whether the call was applied."""

    # 1. the create reached Bedrock (status says Creating) and is not applied yet
    local_aws.set_faults(
        job_duration_seconds=2.0, hold_requests={f"CreateModelImportJob@{namespace}-w1-": HOLD}
    )
    creates = _calls(local_aws, "CreateModelImportJob")
    apply_model(kubectl, namespace, "w1")
    job1 = wait_for(
        lambda: (
            (j := import_job(kubectl, namespace, "w1")).get("state") == "Creating"
            and _calls(local_aws, "CreateModelImportJob") > creates
            and j["jobName"]
        ),
        timeout=30,
        what="w1's create held in Bedrock",
    )
    operator.kill9()
    assert sent_unanswered(operator, "CreateModelImportJob", job1)
    assert jobs_of(local_aws, namespace, "w1") == []  # the held request has not been applied
    local_aws.set_faults(hold_requests={})
    operator.start()
    wait_condition(kubectl, namespace, "w1", "Ready", "True", timeout=90)

    # 2. Bedrock applied the create; its answer has not arrived, so status still says Creating
    local_aws.set_faults(hold_responses={f"CreateModelImportJob@{namespace}-w2-": HOLD})
    apply_model(kubectl, namespace, "w2")
    job2 = wait_for(
        lambda: jobs_of(local_aws, namespace, "w2") and import_job(kubectl, namespace, "w2")["jobName"],
        timeout=30,
        what="w2's job created in Bedrock",
    )
    operator.kill9()
    assert sent_unanswered(operator, "CreateModelImportJob", job2)
    assert import_job(kubectl, namespace, "w2")["state"] == "Creating"  # the dead process never wrote more
    local_aws.set_faults(hold_responses={})
    operator.start()
    wait_condition(kubectl, namespace, "w2", "Ready", "True", timeout=90)

    # 3. the job runs and status says so
    local_aws.set_faults(job_duration_seconds=HOLD)
    apply_model(kubectl, namespace, "w3")
    wait_for(
        lambda: import_job(kubectl, namespace, "w3").get("state") == "InProgress",
        timeout=30,
        what="w3 importing",
    )
    operator.kill9()
    assert [j["status"] for j in jobs_of(local_aws, namespace, "w3")] == ["InProgress"]
    local_aws.set_faults(job_duration_seconds=2.0)
    operator.start()
    arn = wait_condition(kubectl, namespace, "w3", "Ready", "True", timeout=90)["status"]["modelArn"]

    # 4. the delete reached Bedrock and was applied; the finalizer is still on the object
    local_aws.set_faults(hold_responses={f"DeleteImportedModel@{arn}": HOLD})
    kubectl("delete", "bedrockmodel", "w3", "-n", namespace, "--wait=false")
    wait_for(
        lambda: not models_of(local_aws, namespace, "w3"),
        timeout=30,
        what="w3's model deleted in Bedrock",
    )
    operator.kill9()
    assert sent_unanswered(operator, "DeleteImportedModel", arn)
    assert get_obj(kubectl, namespace, "w3")["metadata"]["finalizers"]
    local_aws.set_faults(hold_responses={})
    operator.start()
    kubectl("wait", "--for=delete", "bedrockmodel/w3", "-n", namespace, "--timeout=60s")

    for name in ("w1", "w2", "w3"):
        assert len(jobs_of(local_aws, namespace, name)) == 1, (name, jobs_of(local_aws, namespace, name))
    for name in ("w1", "w2"):
        assert len(models_of(local_aws, namespace, name)) == 1, name
    assert models_of(local_aws, namespace, "w3") == []


# ---- quota and a busy slot, end to end ------------------------------------------------------------------


def test_imported_model_quota_is_shown_and_the_import_follows_a_delete(
    kubectl, operator, local_aws, namespace
):
    region = "us-east-2"  # nothing else in the session imports here: the quota counts only this test
    local_aws.set_faults(imported_model_quota=1)
    apply_model(kubectl, namespace, "first", region=region)
    wait_condition(kubectl, namespace, "first", "Ready", "True")
    apply_model(kubectl, namespace, "second", region=region)
    obj = wait_condition(kubectl, namespace, "second", "Imported", "False", "ImportedModelQuotaExceeded")
    assert "Delete an imported model" in condition(obj, "Imported")["message"]
    assert condition(obj, "Ready")["reason"] == "ImportedModelQuotaExceeded"
    assert jobs_of(local_aws, namespace, "second") == []
    kubectl("delete", "bedrockmodel", "first", "-n", namespace, "--timeout=60s")
    wait_condition(kubectl, namespace, "second", "Ready", "True", "ModelReady", timeout=90)


def test_a_slot_busy_outside_the_operator_queues_the_model_until_it_frees(
    kubectl, operator, local_aws, namespace
):
    region = "eu-central-1"  # nothing else in the session imports here
    local_aws.set_faults(job_duration_seconds=15.0)  # the outside job: long enough to be seen waiting
    bedrock = local_aws.client("bedrock", region=region)
    outside = f"{namespace}-outside"
    bedrock.create_model_import_job(
        jobName=outside,
        importedModelName=outside,
        roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": LLAMA}},
    )
    try:
        apply_model(kubectl, namespace, "waits", region=region)
        obj = wait_condition(kubectl, namespace, "waits", "Ready", "False", "Queued")
        local_aws.set_faults(job_duration_seconds=1.0)  # this object's own job, once the slot frees
        assert obj["status"]["phase"] == "Queued"
        assert "busy" in condition(obj, "Imported")["message"]
        assert jobs_of(local_aws, namespace, "waits") == []
        wait_condition(kubectl, namespace, "waits", "Ready", "True", "ModelReady", timeout=60)
        assert "ImportStarted" in [e["reason"] for e in events(kubectl, namespace, "waits")]
    finally:
        wait_for(
            lambda: bedrock.get_model_import_job(jobIdentifier=outside)["status"] != "InProgress",
            timeout=30,
            what="the outside job to end",
        )
        bedrock.delete_imported_model(modelIdentifier=outside)
