"""The import job: wait in the region's queue, write the intent, create, follow it to its end.

Write-ahead: a pass that decides to import only records the job it is about to create (state Creating,
with its name, attempt and model name) and asks for another pass; that pass sends the create. So a job
that exists in Bedrock is always in status first, whatever crash or spec edit comes in between, and the
clientRequestToken makes the create safe to repeat.
"""

from __future__ import annotations

from controller import metrics
from controller.api.models import ImportJobRecord, SmokeTest
from controller.api.reasons import ConditionType, EventReason, Phase, Reason
from controller.aws.clients import BedrockClient, JobInfo, ModelInfo
from controller.errors import AwsError, Kind, SourceError
from controller.naming import (
    base_model_name,
    client_token,
    job_name,
    model_name_candidates,
    owner_in,
    ownership,
)
from controller.reconcile import given_up, smoke, source_pin
from controller.reconcile.context import Pass, shown_reason
from controller.reconcile.failures import fail
from controller.reconcile.import_queue import ImportQueue, arrival_order, line_key, shown_time, slot_of
from controller.reconcile.outcome import QueueState
from controller.reconcile.serving import promote, supersede
from controller.reconcile.validation import source_uri
from controller.tenancy.rules import check_adoption, check_resolved_source

#: How long an adoption's tags must keep naming this object before it serves the model: longer than
#: another adopter's read of the tags and its TagResource are apart (milliseconds, within one pass).
ADOPTION_SETTLE_SECONDS = 5.0
#: How long after its last send a create whose job was never shown may still be applied, at deletion (when
#: nothing will look for it afterwards): the client waits 30 s for each of its 3 attempts, and a request
#: held on its way (a slow proxy, a partition) reaches Bedrock later still. Past it, a create that lands
#: after its object is gone leaks its model.
LATE_CREATE_SECONDS = 120.0
#: `inputs` of an intent that must not be sent (its source changed before the first send): followed until
#: its job shows up or the grace period passes, like the intent of a spec edited meanwhile.
NOT_TO_SEND = "not-to-send"


def in_flight(p: Pass) -> bool:
    return p.st.import_job is not None and p.st.import_job.in_flight


# ---- following the job this object started ------------------------------------------------------
def follow(p: Pass, grace: float, iam_wait: float, smoke_default: str = "") -> bool:
    """Follow the in-flight import. True while it still runs (or its model is not visible yet, or is being
    smoke-tested): the pass stops there, because Bedrock cannot stop a job and the region has one slot."""
    rec = p.st.import_job
    if rec is not None and rec.state == "Adopting":
        _resume_adoption(p, rec, grace)
        return True
    if rec is not None and rec.state == "Testing":
        return smoke.step(p, rec, smoke.effective(p, smoke_default))
    if rec is None or not in_flight(p):
        return False
    bedrock = p.clients(rec.region).bedrock
    if rec.state == "Creating":
        if rec.inputs in (None, p.inputs):
            unwanted = _not_as_wanted(p, rec)
            if unwanted is not None:  # status is no authority: whoever may write it wrote this record
                given_up.remember(p, rec)  # an earlier pass may have sent it: looked up for a while
                p.st.import_job = None
                p.out.event("Warning", Reason.RECORD_NOT_WANTED, unwanted)
                return False
            job = _created_here(p, bedrock, rec)
            if job is None:
                _create(p, bedrock, rec, iam_wait)
                return True  # whatever Bedrock answered, this pass has done its step
        else:
            # the spec changed before this create was confirmed: follow the job if it reached Bedrock; forget
            # the intent only once Bedrock has had the grace period to show it
            job = _my_job(p, bedrock, rec.job_name)
            if job is None:
                rec.unseen_since = rec.unseen_since or p.now_rfc3339()
                if not create_given_up(p, rec, grace, rec.unseen_since):
                    _running(p, rec)
                    return True
                given_up.remember(p, rec)  # Bedrock may still apply it late: looked up for a while
                p.st.import_job = None
                return False
        _record_job(rec, job)
    job = _look_up(p, bedrock, rec)
    if job is None:  # just created: Bedrock may not show it for a moment
        _running(p, rec)
        return True
    _record_job(rec, job)
    if job.status == "InProgress":
        _running(p, rec)
        return True
    if job.created and job.ended:
        took = (job.ended - job.created).total_seconds()
        metrics.IMPORT_DURATION.observe(max(0.0, took))
        if job.status == "Completed" and p.import_durations is not None:
            p.import_durations.add(rec.region, rec.job_name, took)
    if job.status == "Failed":
        metrics.IMPORT_JOBS.labels("failed").inc()
        rec.state, rec.completed_at = "Failed", p.now_rfc3339()
        if rec.revision == p.rev and rec.region == p.region:
            fail(
                p,
                ConditionType.IMPORTED,
                Reason.IMPORT_FAILED,
                f"import job {job.name} failed: {job.failure_message or 'no reason given'}",
                inputs=rec.inputs,  # what it ran with: a role fixed meanwhile is tried
            )
        return False
    return _completed(p, bedrock, rec, job, grace, smoke.effective(p, smoke_default))


def _look_up(p: Pass, bedrock: BedrockClient, rec: ImportJobRecord) -> JobInfo | None:
    """The job now: from its account and region's shared listing of running jobs while it runs (one call a
    poll for all of them), by name once it is not listed there (it ended: its end time and failure message
    are read; or it was created after the listing)."""
    watch = p.job_watch
    if p.job_listing is not None and rec.state == "InProgress":
        listed = bedrock.running_job(rec.job_name, *p.job_listing)
        if listed is not None and listed.arn == rec.job_arn:  # the job this object follows, by its ARN
            if watch is not None:  # the clock leaves the object be while the listing shows it running
                watch.follow(p.view.uid, bedrock, rec.job_name, rec.job_arn, p.job_listing[1])
            return listed
    if watch is not None:
        watch.drop(p.view.uid)
    return bedrock.find_job(rec.job_name)


def _created_here(p: Pass, bedrock: BedrockClient, rec: ImportJobRecord) -> JobInfo | None:
    """The job this process's own create made for this record, when the status write that recorded it was
    lost (None: there is none, or Bedrock does not show it yet: the create is sent again, same token). Only
    the process's memory is trusted here, never status (whoever may write status wrote it)."""
    created = p.memory.created if p.memory is not None else None
    if created is None or created[0] != rec.job_name or rec.job_arn is not None:
        return None
    job = bedrock.find_job(rec.job_name)
    if job is None or job.arn != created[1]:
        return None
    rec.sent_at = max(rec.sent_at or "", created[2])  # the last send (status may hold a later resend)
    _started(p, rec, rec.s3_uri or source_uri(p), " (found after its status write was lost)")
    return job


def create_given_up(p: Pass, rec: ImportJobRecord, grace: float, unseen_since: str | None) -> bool:
    """Whether a create no pass will send again may be forgotten: its job has stayed unseen for the grace
    period after the last send (a create retried for minutes, then applied with its answer lost, shows up
    that long after *that* send, not after the decision) and after the first look that missed it."""
    last_sent = rec.sent_at or rec.started_at
    return min(p.seconds_since(last_sent), p.seconds_since(unseen_since)) >= grace


def _not_as_wanted(p: Pass, rec: ImportJobRecord) -> str | None:
    """Why a recorded create is not the one this spec (which the policies were checked against) asks for:
    its source, role, job name and region are recomputed, never taken from status as written."""
    if rec.region != p.region or rec.revision != p.rev:
        return None if rec.inputs is None else f"the recorded create is for {rec.region}/{rec.revision[:8]}"
    if p.spec.source.s3_uri:
        source = p.spec.source.s3_uri
    else:  # resolved afresh: a resolved folder in status could name any bucket
        source = p.support.sagemaker_s3_uri(p.spec.source.sage_maker_model_name or "")
        if p.decision is not None and (v := check_resolved_source(p.decision, source)) is not None:
            return v.text()
    role = p.spec.service_role.role_arn
    role_ok = rec.role_arn == role if role else (rec.role_arn or "").endswith(f"/{p.support.role_name(p.me)}")
    problems = [
        *([f"source {rec.s3_uri}, not {source}"] if (rec.s3_uri or source) != source else []),
        *([f"role {rec.role_arn}"] if not role_ok else []),
        *([f"job name {rec.job_name}"] if rec.job_name != job_name(p.me, rec.revision, rec.attempt) else []),
    ]
    if not problems:
        return None
    return (
        "status.importJob records a create this object's spec does not ask for ("
        + "; ".join(problems)
        + "): "
        "it was not sent; the spec's import starts anew"
    )


def _record_job(rec: ImportJobRecord, job: JobInfo) -> None:
    rec.job_arn = job.arn
    rec.model_arn = job.model_arn or rec.model_arn
    if rec.state == "Creating":
        rec.state = "InProgress"


def _my_job(p: Pass, bedrock: BedrockClient, name: str) -> JobInfo | None:
    """The job of that name, if this object created it (its tags say so: every job it creates carries
    them). A job of that name someone else made (another owner, or none: a squatted name) means this
    object's create never landed: its record is dropped, so the slot is not held for a job it has not."""
    job = bedrock.find_job(name)
    if job is None:
        return None
    tags = bedrock.tags(job.arn)
    if ownership(tags, p.me) != "mine":
        p.st.import_job = None
        owner = owner_in(tags) if ownership(tags, p.me) == "other" else "no object of this operator"
        raise AwsError(
            Kind.TERMINAL,
            "JobOwnedElsewhere",
            f"import job {name} belongs to {owner}, not to this object",
            Reason.MODEL_NAME_CONFLICT,
        )
    return job


def _running(p: Pass, rec: ImportJobRecord) -> None:
    p.out.queue = QueueState(slot_of(rec.region, p.st.account_role_arn), holding=True)
    p.st.queue_position = None
    if rec.state != "Creating":  # until Bedrock took the create, the place in line is kept (see QUEUE)
        p.st.queued_at = p.st.queued_order = None
    current = rec.revision == p.rev and rec.region == p.region
    if current:
        p.st.phase = Phase.UPDATING if p.serving else Phase.IMPORTING
        since = rec.sent_at or rec.started_at
        running = f"import job {rec.job_name} is running" + (f" since {since}" if since else "")
        typical = p.import_durations.typical(rec.region) if p.import_durations is not None else None
        if typical:
            running += f"; {typical}"
        p.out.condition(ConditionType.IMPORTED, "Unknown", Reason.IMPORT_JOB_RUNNING, running)
        p.out.condition(ConditionType.READY, "False", Reason.IMPORTING, p.keeps_serving(running))
        return
    if p.up_to_date:
        return  # reverted to the serving revision: that model is Ready; the old job is only waited out
    p.st.phase = Phase.UPDATING if p.serving else Phase.IMPORTING
    why = (
        f"import job {rec.job_name} of an earlier spec (revision {rec.revision[:8]} in {rec.region}) is "
        "still running and Bedrock cannot stop it; the spec's revision is imported after it ends (its "
        "model is then deleted)"
    )
    p.out.condition(ConditionType.IMPORTED, "Unknown", Reason.WAITING_FOR_PREVIOUS_JOB, why)
    p.out.condition(ConditionType.READY, "False", Reason.WAITING_FOR_PREVIOUS_JOB, p.keeps_serving(why))


def _completed(
    p: Pass, bedrock: BedrockClient, rec: ImportJobRecord, job: JobInfo, grace: float, test: SmokeTest | None
) -> bool:
    model = bedrock.find_model(job.model_arn or rec.model_name)
    if model is None:
        # Bedrock is eventually consistent: a model may be invisible for a moment after its job completes
        first = rec.completed_at or p.now_rfc3339()
        rec.completed_at = first
        if p.seconds_since(first) < grace:
            _running(p, rec)  # the job just ended: keep its turn, and say where the spec's revision is
            if rec.revision == p.rev and rec.region == p.region:
                p.out.condition(
                    ConditionType.IMPORTED,
                    "Unknown",
                    Reason.WAITING_FOR_MODEL,
                    f"import job {job.name} completed; waiting for Bedrock to show model {rec.model_name}",
                )
            return True
        metrics.IMPORT_JOBS.labels("completed").inc()
        rec.state = "Completed"
        if job.model_arn:  # if it ever shows up, it is deleted rather than leaked
            supersede(p, job.model_arn, rec.model_name, rec.region, rec.revision)
        p.out.event(
            "Warning",
            Reason.MODEL_DELETED_OUTSIDE,
            f"model {rec.model_name} from job {job.name} did not appear within {grace:.0f}s; importing again",
        )
        return False
    if test is not None and rec.revision == p.rev and rec.region == p.region:
        # the model waits in status (Testing) until it answers; it serves only then
        rec.state, rec.model_arn = "Testing", model.arn
        rec.completed_at = rec.completed_at or p.now_rfc3339()
        metrics.IMPORT_JOBS.labels("completed").inc()
        return smoke.step(p, rec, test)
    _take_model(p, bedrock, rec, model, f"import job {job.name} completed")
    # only now: a pass that fails while taking the model follows the job again, not a new import
    rec.state, rec.model_arn = "Completed", model.arn
    rec.completed_at = rec.completed_at or p.now_rfc3339()
    metrics.IMPORT_JOBS.labels("completed").inc()
    return False


def _take_model(p: Pass, bedrock: BedrockClient, rec: ImportJobRecord, model: ModelInfo, note: str) -> None:
    """A model this object's job produced: serve it when it is what the spec asks for, else retire it."""
    if rec.revision == p.rev and rec.region == p.region:
        promote(p, bedrock, model, rec, note)
    else:
        supersede(p, model.arn, model.name, rec.region, rec.revision)


# ---- starting an import ----------------------------------------------------------------------------
def start(p: Pass, queue: ImportQueue, arrival: str | None) -> None:
    """Wait for the region's slot; when it is this object's turn, write the intent to create the job."""
    if not p.st.queued_at:  # joins the line now: its time, and its order among those of the same second
        p.st.queued_at = shown_time(arrival) or p.now_rfc3339()
        p.st.queued_order = arrival_order(arrival, p.st.queued_at)
    p.st.queued_at = shown_time(p.st.queued_at)  # an older status's key with its count: the time alone
    key = line_key(p.st.queued_at, p.st.queued_order)
    line = slot_of(p.region, p.st.account_role_arn)
    position = queue.enqueue(line, p.view.uid, key)
    p.out.queue = QueueState(line, holding=False, queued_at=key)
    if not queue.try_start(line, p.view.uid):
        _queued(p, position, f"{running_imports(queue.holder_names(line))} in {p.region}")
        return
    attempt = (p.st.last_attempt or 0) + 1
    used = {m for m in _model_names_in(p, p.region)}
    candidates = model_name_candidates(base_model_name(p.me, p.spec), p.rev, attempt)
    target = next((n for n in candidates if n not in used), candidates[-1])
    if p.spec.service_role.role_arn:
        role = p.spec.service_role.role_arn
        problem = p.support.role_problem(role)  # before a job is spent on a role Bedrock cannot assume
        if problem is not None:
            fail(p, ConditionType.IMPORTED, Reason.SERVICE_ROLE_INVALID, problem)
            return
    else:
        role = p.support.ensure_role(
            p.support.role_name(p.me),
            source_uri(p),
            p.me.tags(),
            kms_key_id=p.spec.kms_key_id,
            vpc=p.spec.vpc_config is not None,
        )
    p.st.service_role_arn = role
    p.st.last_attempt = attempt
    p.st.import_job = rec = ImportJobRecord(
        revision=p.rev,
        region=p.region,
        attempt=attempt,
        job_name=job_name(p.me, p.rev, attempt),
        model_name=target,
        state="Creating",
        inputs=p.inputs,
        s3_uri=source_uri(p),
        role_arn=role,
        started_at=p.now_rfc3339(),
        source_digest=p.st.validation.source_digest if p.st.validation else None,
    )
    _running(p, rec)  # the slot is this object's from now on, and status says the import is on its way
    p.out.again = True  # written first, created in the next pass


def _may_adopt(p: Pass, bedrock: BedrockClient, model: ModelInfo) -> str | None:
    """Why this object may not take over an unowned model (None: it may). Adoption is the spec's wish
    (adoptExisting) and the namespace's policies' decision: a model another team retained is theirs."""
    if not p.spec.adopt_existing:
        return "spec.adoptExisting is not set"
    if p.decision is None:
        return "the namespace's policies are not known"
    tags = bedrock.tags(model.arn)
    v = check_adoption(p.decision, p.view.namespace, p.me.cluster_id, model.name, tags)
    return v.message if v is not None else None


def _adopt(p: Pass, bedrock: BedrockClient, rec: ImportJobRecord, model: ModelInfo, owner: str) -> None:
    if owner == "unowned" or model.arn in (p.st.adopted or []):  # remembered before it is tagged as ours
        p.st.adopted = [*[a for a in p.st.adopted or [] if a != model.arn], model.arn][-16:]
        rec.source_digest = None  # no job of this object read the source: what it was made from is unknown
    _take_model(p, bedrock, rec, model, "adopted the existing model" if owner == "unowned" else "found")
    rec.state = "Completed"
    rec.completed_at = p.now_rfc3339()
    if owner == "unowned":
        p.out.event("Normal", EventReason.MODEL_ADOPTED, f"adopted the existing imported model {model.name}")


def _resume_adoption(p: Pass, rec: ImportJobRecord, grace: float) -> None:
    """An adoption a pass began (and wrote) and did not finish: claim the model, confirm the claim, or
    forget it if the model is someone else's now, or gone for the grace period (a NotFound may be Bedrock's
    lag, and the model may already carry this object's tags).

    TagResource is not conditional: two adopters (two clusters, or two objects) that both read the model as
    unowned both tag it, and the last write wins. So the tags are a claim, confirmed only when they still
    name this object `ADOPTION_SETTLE_SECONDS` later; the adopter whose tags were overwritten forgets the
    model without touching it (its next import meets the name taken by the winner: ModelNameConflict)."""
    bedrock = p.clients(rec.region).bedrock
    model = bedrock.find_model(rec.model_arn or rec.model_name)
    if model is None:
        rec.unseen_since = rec.unseen_since or p.now_rfc3339()
        if p.seconds_since(rec.unseen_since) < grace:
            return
    tags = bedrock.tags(model.arn) if model is not None else {}
    owner = ownership(tags, p.me) if model is not None else "gone"
    if model is not None and owner == "unowned" and _may_adopt(p, bedrock, model) is None:
        bedrock.sync_tags(model.arn, p.tags(), actual=tags)  # the claim
        rec.claimed_at = p.now_rfc3339()
        return
    if model is not None and owner == "mine":
        if model.arn in (p.st.adopted or []):  # taken over from no one: a claim another adopter may race
            rec.claimed_at = rec.claimed_at or p.now_rfc3339()
            if p.seconds_since(rec.claimed_at) < ADOPTION_SETTLE_SECONDS:
                return
            owner = "unowned"  # adopted (the Event says so), not found as its own
        _adopt(p, bedrock, rec, model, owner)
        return
    # another adopter's tags won, the model is gone, or the policy no longer lets it be taken: not ours
    forgotten = model.arn if model is not None else rec.model_arn
    p.st.adopted = [a for a in p.st.adopted or [] if a != forgotten] or None
    p.st.import_job = None


def _from_revision(p: Pass, model: ModelInfo, rev: str) -> bool:
    """Whether a model of this object was imported by one of its jobs for `rev` (job names say so)."""
    stem = job_name(p.me, rev, 1).rsplit("-", 1)[0]
    return (model.job_name or "").rsplit("-", 1)[0] == stem


def running_imports(holders: list[str]) -> str:
    """Whose imports hold the slots a queued object waits for, in a line a person reads: two names at most
    (with a raised quota, 200 holders made every waiting object's conditions kilobytes long, rewritten at
    each handover)."""
    if not holders:
        return "another import is running"
    if len(holders) == 1:
        return f"{holders[0]}'s import runs"
    if len(holders) == 2:
        return f"{holders[0]}'s and {holders[1]}'s imports run"
    return f"{len(holders)} imports run ({holders[0]}, {holders[1]} and {len(holders) - 2} more)"


def _model_names_in(p: Pass, region: str) -> set[str]:
    """Names of the models this object has (serving or awaiting deletion) in a region. A model Bedrock
    answers NotFound for does not keep its name: imported again under it, a model only hidden is found by
    the name conflict and adopted back."""
    names = {s.name for s in p.st.superseded or [] if s.region == region and s.name and not s.missing_since}
    if p.st.model_name and p.st.region == region:
        names.add(p.st.model_name)
    return names


def _queued(p: Pass, position: int, why: str) -> None:
    p.st.phase = Phase.UPDATING if p.serving else Phase.QUEUED
    p.st.queue_position = position
    if shown_reason(p.st, ConditionType.IMPORTED) != Reason.QUEUED:  # joined the line: said once
        p.out.event("Normal", Reason.QUEUED, f"queued for import at position {position} ({why})")
    p.out.condition(
        ConditionType.IMPORTED,
        "Unknown",
        Reason.QUEUED,
        f"waiting for Bedrock's single import slot: position {position} ({why})",
    )
    p.out.condition(
        ConditionType.READY,
        "False",
        Reason.QUEUED,
        p.keeps_serving(f"queued for import (position {position})"),
    )


def _create(p: Pass, bedrock: BedrockClient, rec: ImportJobRecord, iam_wait: float) -> None:
    """Send the create the previous pass recorded, as it recorded it; repeatable (same name, same token)."""
    s3_uri = rec.s3_uri or source_uri(p)
    if rec.sent_at is None and (refused := _not_as_validated(p, s3_uri)) is not None:
        # changed since the intent was written: not sent. A send this status does not record (a failed
        # write) may still have reached Bedrock, so the intent is given up the way an edited spec's is
        reason, why = refused
        rec.inputs = NOT_TO_SEND
        p.out.event("Warning", reason, why)
        p.out.condition(ConditionType.VALIDATED, "Unknown", reason, why)
        _running(p, rec)
        return
    resent = rec.sent_at is not None  # an earlier send's answer was lost: it may still reach Bedrock
    rec.sent_at, rec.unseen_since = p.now_rfc3339(), None
    try:
        arn = bedrock.create_job(
            job_name=rec.job_name,
            model_name=rec.model_name,
            role_arn=rec.role_arn or p.st.service_role_arn or "",
            s3_uri=s3_uri,
            token=client_token(p.me, rec.revision, rec.attempt),
            tags=p.tags(),
            kms_key_id=p.spec.kms_key_id,
            vpc=p.spec.vpc_config.model_dump(by_alias=True) if p.spec.vpc_config else None,
        )
    except AwsError as err:
        if resent and err.kind not in (Kind.RETRYABLE, Kind.JOB_NAME_TAKEN):
            # this send was refused, not the earlier one: however the record ends (dropped, or completed by
            # its own model holding the name), that send may still land: its job is looked for
            given_up.remember(p, rec)
        _create_refused(p, bedrock, rec, err, iam_wait)
        return
    rec.state, rec.job_arn = "InProgress", arn
    if p.memory is not None:
        p.memory.created = (rec.job_name, arn, rec.sent_at)
    metrics.IMPORT_JOBS.labels("started").inc()
    _started(p, rec, s3_uri)
    _running(p, rec)


def _started(p: Pass, rec: ImportJobRecord, s3_uri: str, how: str = "") -> None:
    """The ImportStarted Event of a job Bedrock holds (sent by this pass, or found after a lost write)."""
    p.out.event(
        "Normal",
        EventReason.IMPORT_STARTED,
        f"import job {rec.job_name} started for model {rec.model_name} from {s3_uri}{how}",
    )


def _not_as_validated(p: Pass, s3_uri: str) -> tuple[str, str] | None:
    """(reason, message) when the source is not the one validated (None: it is). A folder the operator can
    no longer list is not sent either: a retryable error is raised (the intent stays), a lasting one gives
    the intent up."""
    try:
        why = source_pin.as_validated(p, s3_uri)
    except SourceError as err:
        if err.kind is Kind.RETRYABLE:
            raise
        p.st.validated_inputs = None
        return err.reason, err.message
    return (Reason.SOURCE_CHANGED, why) if why is not None else None


def _create_refused(
    p: Pass, bedrock: BedrockClient, rec: ImportJobRecord, err: AwsError, iam_wait: float
) -> None:
    if err.kind is Kind.RETRYABLE:
        if err.reason == Reason.WAITING_FOR_IAM_PROPAGATION and p.seconds_since(rec.started_at) > iam_wait:
            p.st.import_job = None  # Bedrock refused it: no job exists
            fail(
                p,
                ConditionType.IMPORTED,
                Reason.SERVICE_ROLE_INVALID,
                f"Bedrock still refuses role {rec.role_arn} after {iam_wait:.0f}s ({err.message}): check "
                "that it exists, trusts bedrock.amazonaws.com and may read the source",
                inputs=rec.inputs,
            )
            return
        raise err  # the create may have gone through: keep the intent, retry with the same token
    if err.kind is Kind.JOB_NAME_TAKEN:
        job = _my_job(p, bedrock, rec.job_name)  # our earlier create went through
        if job is not None:
            _record_job(rec, job)
            _running(p, rec)
            return
        # taken, yet not visible: look again later (the intent stays, and so does the slot)
        raise AwsError(Kind.RETRYABLE, err.code, err.message, Reason.WAITING_FOR_MODEL)
    if err.kind is Kind.CONFLICT:
        _name_taken(p, bedrock, rec)
        return
    p.st.import_job = None  # Bedrock refused it: no job exists
    if err.kind is Kind.QUEUE:
        # a job outside this operator holds the slot: keep this object's place at the head, and let nobody
        # in the region try again before the next poll (a refused create must not wake the next in line)
        _queued(p, p.st.queue_position or 1, f"Bedrock's import slot in {rec.region} is busy")
        p.out.queue = QueueState(
            slot_of(rec.region, p.st.account_role_arn),
            holding=False,
            queued_at=p.st.queued_at or p.now_rfc3339(),
            busy_outside=True,
        )
        return
    if err.kind is Kind.QUOTA:
        raise err
    fail(p, ConditionType.IMPORTED, err.reason, err.message)


def _name_taken(p: Pass, bedrock: BedrockClient, rec: ImportJobRecord) -> None:
    """Bedrock has a model (or a running job making one) under the target name: adopt it only when it is
    this object's, or unowned and spec.adoptExisting allows it; anything else is a conflict. No job was
    created; the record stays only while a model is being adopted (state Adopting, written before the
    model is tagged, so a pass that fails half-way never leaves a tagged model out of status)."""
    model = bedrock.find_model(rec.model_name)
    if model is None:
        # Taken, yet not shown: an import outside this object making it, or one of this object's own models
        # Bedrock does not show for a moment. Nothing terminal is decided on what cannot be seen: look again
        # (the answer, once visible, is an adoption or a conflict that names the owner).
        p.st.import_job = None  # Bedrock refused the create: no job exists
        raise AwsError(
            Kind.RETRYABLE,
            "ModelNotShown",
            f"Bedrock says a model named {rec.model_name} exists but does not show it yet (an import outside "
            "this object, or a model Bedrock has not made visible); looking again",
            Reason.WAITING_FOR_MODEL,
        )
    tags = bedrock.tags(model.arn)
    owner = ownership(tags, p.me)
    adopted = model.arn in (p.st.adopted or [])
    if owner == "mine" and not adopted and not _from_revision(p, model, rec.revision):
        # a model of this object from another revision holds the name: retire it, import under another
        supersede(p, model.arn, model.name, rec.region, None)
        p.st.import_job = None
        return
    if owner == "mine":  # its own (an answer lost, or a model it adopted earlier): nothing to tag anew
        rec.state, rec.model_arn = "Adopting", model.arn
        _adopt(p, bedrock, rec, model, owner)
        return
    refused = _may_adopt(p, bedrock, model) if owner == "unowned" else None
    if owner == "unowned" and refused is None:
        # written ahead: status names the model (Adopting) before the next pass tags it as this object's,
        # so a failed write or a crash never leaves a model tagged as ours that status does not name
        rec.state, rec.model_arn = "Adopting", model.arn
        p.st.adopted = [*[a for a in p.st.adopted or [] if a != model.arn], model.arn][-16:]
        p.out.condition(
            ConditionType.IMPORTED,
            "Unknown",
            Reason.WAITING_FOR_MODEL,
            f"adopting the existing model {model.name}",
        )
        p.out.again = True
        return
    p.st.import_job = None
    if owner == "unowned" and p.spec.adopt_existing:
        fail(p, ConditionType.IMPORTED, Reason.ADOPTION_NOT_ALLOWED, refused or "adoption is not allowed")
        return
    if owner == "other":
        message = (
            f"an imported model named {rec.model_name} already exists and belongs to {owner_in(tags)}: "
            "choose another spec.modelName"
        )
    else:
        message = (
            f"an imported model named {rec.model_name} already exists and is not managed by this object: set "
            "spec.adoptExisting: true to adopt it, or choose another spec.modelName"
        )
    fail(p, ConditionType.IMPORTED, Reason.MODEL_NAME_CONFLICT, message)
