"""A running job is followed through its account and region's shared listing, but only the job this object
recorded: an entry of the same name with another ARN (a job of that name someone else made, a record a
tenant wrote into status) is not taken for it; the job is read by name. And the listing is shared: 200 jobs
followed in one poll cost one listing, not 200 reads."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from controller.aws.clients import BedrockClient, JobInfo
from controller.reconcile.importing import _look_up


class Counting:
    """A boto3 `bedrock` client with running jobs, counting each call by operation."""

    def __init__(self, running: dict[str, str]) -> None:
        self.running, self.calls = running, {}

    def _count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    def list_model_import_jobs(self, **kw: Any) -> dict[str, Any]:
        self._count("ListModelImportJobs")
        summaries = [
            {"jobName": n, "jobArn": a, "status": "InProgress", "importedModelName": n}
            for n, a in self.running.items()
        ]
        return {"modelImportJobSummaries": summaries}

    def get_model_import_job(self, jobIdentifier: str) -> dict[str, Any]:
        self._count("GetModelImportJob")
        return {"jobName": jobIdentifier, "jobArn": "arn:read-by-name", "status": "Completed"}


def _client(fake: Counting) -> BedrockClient:
    client = BedrockClient.__new__(BedrockClient)
    client.region = "us-east-1"
    client._bedrock = fake
    client._per_region("default=1000000")
    return client


def _pass(job_arn: str, now: float = 100.0) -> tuple[SimpleNamespace, SimpleNamespace]:
    rec = SimpleNamespace(job_name="team-a-m-abc-1", job_arn=job_arn, state="InProgress")
    return SimpleNamespace(job_listing=(0.25, now), job_watch=None), rec


def test_a_listed_job_of_another_arn_is_not_taken_for_the_objects_own():
    fake = Counting({"team-a-m-abc-1": "arn:someone-elses"})
    bedrock = _client(fake)
    p, rec = _pass("arn:mine")
    job = _look_up(p, bedrock, rec)  # type: ignore[arg-type]
    assert isinstance(job, JobInfo) and job.arn == "arn:read-by-name" and job.status == "Completed"
    assert fake.calls == {"ListModelImportJobs": 1, "GetModelImportJob": 1}


def test_two_hundred_running_jobs_cost_one_listing_a_poll():
    fake = Counting({f"job-{i}": f"arn:job-{i}" for i in range(200)})
    bedrock = _client(fake)
    for i in range(200):
        rec = SimpleNamespace(job_name=f"job-{i}", job_arn=f"arn:job-{i}", state="InProgress")
        job = _look_up(SimpleNamespace(job_listing=(0.25, 100.0 + i / 1000), job_watch=None), bedrock, rec)  # type: ignore[arg-type]
        assert job is not None and job.status == "InProgress"
    assert fake.calls == {"ListModelImportJobs": 1}
    _look_up(SimpleNamespace(job_listing=(0.25, 101.0), job_watch=None), bedrock, rec)  # type: ignore[arg-type]
    assert fake.calls == {"ListModelImportJobs": 2}, "a listing older than its age is listed again"


def test_a_job_seen_running_is_followed_from_the_time_of_the_pass():
    """The clock then leaves the object be: its pass saw the job running a moment ago."""
    from controller.reconcile.job_watch import JobWatch

    fake = Counting({"job-1": "arn:job-1"})
    bedrock = _client(fake)
    watch = JobWatch()
    rec = SimpleNamespace(job_name="job-1", job_arn="arn:job-1", state="InProgress")
    p = SimpleNamespace(job_listing=(0.25, 500.0), job_watch=watch, view=SimpleNamespace(uid="u1"))
    assert _look_up(p, bedrock, rec) is not None  # type: ignore[arg-type]
    assert watch.leaves_be("u1", 500.1, 1.0, 10.0)
    fake.running.clear()  # it ended: the next pass reads it by name and stops following it
    p.job_listing = (0.25, 501.0)
    _look_up(p, bedrock, rec)  # type: ignore[arg-type]
    assert len(watch) == 0


def test_a_pass_reads_a_fresh_enough_listing_without_waiting_for_a_refresh_in_flight():
    """The clock refreshes a listing once a job poll, holding its lock for as long as AWS takes to answer
    (a loaded Bedrock: seconds). A pass whose own bound the last listing meets reads it at once; only a pass
    that needs a newer one waits for the refresh (and shares it)."""
    import threading

    fake = Counting({"job-1": "arn:job-1"})
    bedrock = _client(fake)
    bedrock.refresh_running(0, 100.0)  # listed at 100.0
    entered, release = threading.Event(), threading.Event()
    slow = fake.list_model_import_jobs

    def hanging(**kw: Any) -> dict[str, Any]:
        entered.set()
        release.wait(10)
        return slow(**kw)

    fake.list_model_import_jobs = hanging  # type: ignore[method-assign]
    refresh = threading.Thread(target=bedrock.refresh_running, args=(0.05, 100.2))  # the clock's
    refresh.start()
    try:
        assert entered.wait(5)
        answered: list[Any] = []
        reader = threading.Thread(target=lambda: answered.append(bedrock.running_job("job-1", 0.25, 100.2)))
        reader.start()
        reader.join(2)
        assert answered and answered[0].arn == "arn:job-1", "a pass waited for a refresh it did not need"
    finally:
        release.set()
        refresh.join()
    assert fake.calls == {"ListModelImportJobs": 2}  # the pass listed nothing itself


def test_a_failed_listing_is_no_verdict_while_it_is_the_freshest():
    """A listing AWS refused (throttled, 500) answers nothing for its age: each pass meanwhile reads its
    job by name, once (no listing call per pass), and does not fail."""
    from botocore.exceptions import ClientError

    fake = Counting({"team-a-m-abc-1": "arn:mine"})
    bedrock = _client(fake)

    def refused(**kw: Any) -> dict[str, Any]:
        fake._count("ListModelImportJobs")
        error = {"Error": {"Code": "InternalServerException", "Message": "down"}}
        raise ClientError(error, "ListModelImportJobs")  # type: ignore[arg-type]

    fake.list_model_import_jobs = refused  # type: ignore[method-assign]
    for now in (100.0, 100.1, 100.2):  # within the listing's age: the failed one is the freshest
        p, rec = _pass("arn:mine", now)
        job = _look_up(p, bedrock, rec)  # type: ignore[arg-type]
        assert isinstance(job, JobInfo) and job.arn == "arn:read-by-name"
    assert fake.calls == {"ListModelImportJobs": 1, "GetModelImportJob": 3}
