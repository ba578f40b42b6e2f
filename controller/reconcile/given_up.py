"""Creates given up on. A create whose job Bedrock did not show within the grace period is forgotten so the
object can move on (a spec edit, a deletion), yet Bedrock may still apply it later: a request held on its
way, a retry whose answer was lost. Its job name is remembered for a while and looked up; a model such a
job made is retired like a previous revision's, so no model tagged as this object's is left out of status.
"""

from __future__ import annotations

from controller.api.models import GivenUpCreate, ImportJobRecord, SupersededModel
from controller.api.reasons import EventReason
from controller.aws.clients import JobInfo
from controller.errors import AwsError, Kind
from controller.naming import ownership
from controller.reconcile.context import Pass

#: How long a given-up create is looked for, in grace periods (the grace period bounds how late Bedrock is
#: expected to show a job; this bounds how late a held request may land).
WATCH_GRACES = 20
#: How many are remembered (the oldest is dropped first).
KEPT = 8


def remember(p: Pass, rec: ImportJobRecord) -> None:
    """The intent `rec` is being dropped although its create may have reached Bedrock."""
    if rec.state != "Creating":
        return
    kept = [g for g in p.st.given_up_creates or [] if g.job_name != rec.job_name]
    entry = GivenUpCreate(
        job_name=rec.job_name, region=rec.region, revision=rec.revision, given_up_at=p.now_rfc3339()
    )
    p.st.given_up_creates = [*kept, entry][-KEPT:]


def _recorded(p: Pass) -> set[str]:
    """Models status already accounts for (serving, a candidate, previous revisions, adopted ones)."""
    st = p.st
    rec = st.import_job
    return {
        *([st.model_arn] if st.model_arn else []),
        *([rec.model_arn] if rec is not None and rec.model_arn else []),
        *(s.arn for s in st.superseded or []),
        *(st.adopted or []),
    }


def look(p: Pass, grace: float) -> bool:
    """Look up the given-up creates due for a look (once per grace period each). A model one of them made
    joins `superseded`; True when one did, so that it is written before anything is deleted. An AWS error
    leaves the entry for the next look: this is housekeeping and never fails the pass."""
    found = False
    left: list[GivenUpCreate] = []
    rec = p.st.import_job
    current = rec.job_name if rec is not None and rec.in_flight else None
    for g in p.st.given_up_creates or []:
        if g.job_name == current or p.seconds_since(g.given_up_at) > WATCH_GRACES * grace:
            continue  # followed again as the current job, or looked for long enough
        if g.looked_at and p.seconds_since(g.looked_at) < grace:
            left.append(g)
            continue
        g.looked_at = p.now_rfc3339()
        try:
            keep, model = _state_of(p, g, p.clients(g.region).bedrock.find_job(g.job_name))
        except AwsError:
            left.append(g)
            continue
        if model is not None and model not in _recorded(p):
            p.st.superseded = [
                *(p.st.superseded or []),
                SupersededModel(arn=model, region=g.region, revision=g.revision),
            ]
            p.out.event(
                "Warning",
                EventReason.LATE_IMPORT_FOUND,
                f"import job {g.job_name}, given up after the grace period, was applied late by Bedrock: "
                f"deleting its model {model}",
            )
            found = True
        if keep:
            left.append(g)
    p.st.given_up_creates = left or None
    return found


def _state_of(p: Pass, g: GivenUpCreate, job: JobInfo | None) -> tuple[bool, str | None]:
    """(look again later, the ARN of a model of this object the job made)."""
    if job is None or job.status == "InProgress":
        return True, None
    if job.status != "Completed" or not job.model_arn:
        return False, None
    try:
        tags = p.clients(g.region).bedrock.tags(job.model_arn)
    except AwsError as err:
        if err.kind is not Kind.NOT_FOUND:
            raise
        return True, None  # completed, its model not shown yet (or deleted): looked for until the horizon
    return False, job.model_arn if ownership(tags, p.me) == "mine" else None


def pending(p: Pass, grace: float, late: float) -> tuple[str | None, dict[str, str]]:
    """At deletion: (why to wait, the models of given-up creates to delete by ARN -> region). A job of this
    object still running is waited for (Bedrock cannot stop it); a create not shown yet is waited for until
    `late` seconds after it was given up (no earlier than its last send): nothing looks once the object is
    gone."""
    drop: dict[str, str] = {}
    for g in p.st.given_up_creates or []:
        if p.seconds_since(g.given_up_at) > WATCH_GRACES * grace:
            continue
        bedrock = p.clients(g.region).bedrock
        job = bedrock.find_job(g.job_name)
        if job is None and p.seconds_since(g.given_up_at) < late:
            return f"waiting for Bedrock to show import job {g.job_name}, given up on, before deleting", {}
        if job is None or ownership(bedrock.tags(job.arn), p.me) != "mine":
            continue
        keep, model = _state_of(p, g, job)
        if keep:
            why = f"import job {job.name}, given up on and applied late, still runs; its model goes then"
            return why, {}
        if model is not None and model not in _recorded(p):
            drop[model] = g.region
    return None, drop
