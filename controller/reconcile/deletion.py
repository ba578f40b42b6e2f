"""Deleting the object: remove (or retain) every Bedrock model it owns, as status records them.

Waits for an import job still running (Bedrock cannot stop one) so its model is not left behind. A paused
object keeps everything: deletion waits, saying why. Only models whose tags name this object (or no owner)
are deleted or untagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.api.reasons import EventReason
from controller.errors import AwsError, Kind
from controller.naming import OWNER_KEYS, TAG_RETAINED_BY_CLUSTER, TAG_RETAINED_FROM, ownership
from controller.reconcile import given_up
from controller.reconcile.context import PAUSE_ANNOTATION, Pass
from controller.reconcile.importing import LATE_CREATE_SECONDS, create_given_up
from controller.reconcile.serving import coming_back, delete_owned


@dataclass
class Finalized:
    done: bool
    events: list[tuple[str, str, str]] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)


def finalize(p: Pass, grace: float) -> Finalized:
    """Three steps: what the object owns (`_owned`), what its import job may still add (`_settle_job`,
    and creates given up on), then retain or delete each (`_dispose`). Any step may answer "wait": the
    finalizer stays and the pass comes again."""
    if p.view.paused:
        return _waiting(
            f"the object is paused ({PAUSE_ANNOTATION}=true): its models are neither deleted nor "
            "retained until the annotation is removed",
            EventReason.DELETION_PAUSED,
        )
    keep: dict[str, str] = {}  # arn -> region: what Retain keeps
    drop: dict[str, str] = {}  # arn -> region: deleted whatever the policy
    why = _owned(p, grace, keep, drop) or _settle_job(p, grace, keep, drop)
    if why is not None:
        return _waiting(why)
    # creates given up on: waited for until they show (or cannot land any more), then what they made deleted
    why, late = given_up.pending(p, grace, _late(grace))
    if why is not None:
        return _waiting(why)
    drop |= {arn: region for arn, region in late.items() if arn not in keep}
    return _dispose(p, keep, drop)


def _late(grace: float) -> float:
    """How long after its last send (or its give-up) a create not shown yet may still land."""
    return max(grace, LATE_CREATE_SECONDS)


def _waiting(why: str, reason: str = EventReason.WAITING_FOR_IMPORT_JOB) -> Finalized:
    return Finalized(done=False, events=[("Normal", reason, why)])


def _owned(p: Pass, grace: float, keep: dict[str, str], drop: dict[str, str]) -> str | None:
    """The models status records: the serving one, superseded ones, an adoption's or a smoke test's
    candidate. Why to wait, or None."""
    st = p.st
    if st.model_arn:
        keep[st.model_arn] = st.region or p.region
    for old in st.superseded or []:
        if old.missing_since and p.seconds_since(old.missing_since) < grace:
            # not shown by Bedrock yet: a second look is due before it counts as gone (else it may appear
            # after the object is gone, and be leaked)
            return f"waiting for Bedrock to show model {old.name or old.arn} before deleting it"
        # the spec's own model taken for deleted (only hidden, perhaps): what Retain keeps if nothing serves
        (keep if coming_back(p, old) else drop)[old.arn] = old.region
    rec = st.import_job
    if rec is not None and rec.state == "Adopting" and rec.model_arn:
        bedrock = p.clients(rec.region).bedrock
        try:
            if ownership(bedrock.tags(rec.model_arn), p.me) == "mine":  # tagged before the pass failed
                keep[rec.model_arn] = rec.region  # the model it was taking over: Retain keeps it
        except AwsError as err:
            if err.kind is not Kind.NOT_FOUND:
                raise
    if rec is not None and rec.state == "Testing" and rec.model_arn:
        # the candidate is known by its ARN: Retain keeps it only when nothing else serves
        current = rec.revision == p.rev and rec.region == p.region and not st.model_arn
        (keep if current else drop)[rec.model_arn] = rec.region
    return None


def _settle_job(p: Pass, grace: float, keep: dict[str, str], drop: dict[str, str]) -> str | None:
    """The import job status records, when it may still add a model: waited for while it runs (Bedrock
    cannot stop one) or while its create or its model may not be visible yet. Why to wait, or None."""
    st, rec = p.st, p.st.import_job
    unsettled = rec is not None and (
        rec.in_flight
        or (rec.state == "Completed" and rec.model_arn not in keep and rec.model_arn not in drop)
    )
    if rec is None or not unsettled:
        return None
    bedrock = p.clients(rec.region).bedrock
    job = bedrock.find_job(rec.job_name)
    # no create is sent once the object is being deleted: the first look is its deletion at the latest;
    # nothing looks for the job once the object is gone, so a create is waited for as long as it may land
    late = _late(grace)
    if (
        job is None
        and rec.in_flight
        and not create_given_up(p, rec, late, p.view.deleting_since or rec.sent_at or rec.started_at)
    ):
        # a create that may have landed is not visible yet (Bedrock is eventually consistent)
        return f"waiting for Bedrock to show import job {rec.job_name} before deleting"
    if job is None or ownership(bedrock.tags(job.arn), p.me) == "other":
        return None
    if job.status == "InProgress":
        return f"import job {job.name} is running and Bedrock cannot stop it; deleting when it ends"
    if job.status == "Completed" and job.model_arn and job.model_arn not in keep:
        # as for a superseded model: NotFound counts only on a second look, a grace period after
        # the first (which itself comes a grace period after the job ended)
        ended = (p.now - job.ended).total_seconds() if job.ended else 2 * grace
        if ended < 2 * grace and bedrock.find_model(job.model_arn) is None:
            return (
                f"import job {job.name} completed; waiting for Bedrock to show its model before deleting it"
            )
        current = rec.revision == p.rev and rec.region == p.region and not st.model_arn
        (keep if current else drop)[job.model_arn] = rec.region
    return None


def _dispose(p: Pass, keep: dict[str, str], drop: dict[str, str]) -> Finalized:
    """Retain what `keep` holds when the policy says so (released to no one), delete the rest we own."""
    result = Finalized(done=True)
    if p.spec.deletion_policy == "Retain":
        for arn, region in sorted(keep.items()):
            if _release(p, arn, region):
                result.retained.append(arn)
                result.events.append(
                    ("Normal", EventReason.MODEL_RETAINED, f"deletionPolicy Retain: kept {arn}")
                )
    else:
        drop |= keep
    for arn, region in sorted(drop.items()):
        outcome = delete_owned(p, p.clients(region).bedrock, arn)
        if outcome == "deleted":
            result.events.append(("Normal", EventReason.MODEL_DELETED, f"deleted imported model {arn}"))
        elif outcome == "other":
            result.events.append(
                (
                    "Warning",
                    EventReason.SUPERSEDED_MODEL_LEFT,
                    f"left model {arn} alone: its tags do not name this object",
                )
            )
    return result


def _release(p: Pass, arn: str, region: str) -> bool:
    """Hand a retained model over to no one: drop this object's ownership tags (so another object may
    adopt it) and say where it came from. False when it is gone or not ours."""
    bedrock = p.clients(region).bedrock
    try:
        tags = bedrock.tags(arn)
    except AwsError as err:
        if err.kind is Kind.NOT_FOUND:
            return False
        raise
    if ownership(tags, p.me) == "other":
        return False
    desired = {k: v for k, v in tags.items() if k not in OWNER_KEYS}
    desired[TAG_RETAINED_FROM] = f"{p.me.namespace}/{p.me.name}"[:256]
    desired[TAG_RETAINED_BY_CLUSTER] = p.me.cluster_id[:256]  # a policy may let the same namespace adopt it
    bedrock.sync_tags(arn, desired, actual=tags)
    return True
