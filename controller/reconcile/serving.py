"""The serving model: promote a new one (make-before-break), keep it in line with the spec (tags, drift),
and delete the models it replaced. Nothing here touches a model whose tags name another owner."""

from __future__ import annotations

from controller.api.models import CustomModelUnits, ImportJobRecord, SupersededModel
from controller.api.reasons import ConditionType, EventReason, Phase, Reason
from controller.aws.clients import BedrockClient, ModelInfo
from controller.errors import AwsError, Kind
from controller.naming import owner_in, ownership
from controller.reconcile.context import Pass


def promote(p: Pass, bedrock: BedrockClient, model: ModelInfo, rec: ImportJobRecord, note: str) -> None:
    """Serve `model`, made by `rec`'s job; the model it replaces (if any) is recorded for deletion in the
    same status write."""
    rev, region = rec.revision, rec.region
    old_arn, old_name, old_region, old_rev = p.st.model_arn, p.st.model_name, p.st.region, p.st.revision
    bedrock.sync_tags(model.arn, p.tags())
    st = p.st
    # what serves is never to be deleted: a model taken for gone (NotFound past the grace) and found again
    st.superseded = [x for x in st.superseded or [] if x.arn != model.arn] or None
    if st.model_arn != model.arn:
        st.serving_since = p.now_rfc3339()
    st.model_name, st.model_arn, st.region, st.revision = model.name, model.arn, region, rev
    st.model_architecture, st.instruct_supported = model.architecture, model.instruct_supported
    st.custom_model_units = CustomModelUnits(
        custom_model_units_per_model_copy=model.cmu_per_copy, custom_model_units_version=model.cmu_version
    )
    st.model_missing_since = None
    if st.source_digest != rec.source_digest or not rec.source_digest:
        p.out.drop_condition(ConditionType.SOURCE_IN_SYNC)  # it spoke of the folder of the model replaced
    st.source_digest = rec.source_digest  # what the job read, as validated (adopted: unknown)
    st.last_sync_time = p.now_rfc3339()
    if old_arn and old_arn != model.arn:
        st.superseded = [
            *(st.superseded or []),
            SupersededModel(arn=old_arn, name=old_name, region=old_region or region, revision=old_rev),
        ]
        if old_region and old_region != region:
            p.out.event(
                "Normal",
                EventReason.REGION_MIGRATION,
                f"model moved from {old_region} to {region}; the old one is deleted",
            )
    p.out.event("Normal", Reason.MODEL_READY, f"{note}: model {model.name} is ready ({model.arn})")
    p.out.model_checked = True  # just read and tagged: the drift check would repeat it
    if rec.attempt > 1 and p.spec.service_role.role_arn and rec.role_arn == p.spec.service_role.role_arn:
        # serviceRole went from create to roleArn: the role an earlier import had made reads nothing now.
        # Last, and never failing the pass: the promotion above is what must be written (a role left here
        # is deleted with the object)
        try:
            p.support.delete_role(p.support.role_name(p.me))
        except AwsError as err:
            p.out.event(
                "Warning", EventReason.ROLE_NOT_DELETED, f"the role no longer used stays for now: {err}"
            )
    ready(p, model)


def supersede(p: Pass, arn: str, name: str | None, region: str, rev: str | None) -> None:
    """Record a model of this object for deletion (retired, or never to serve)."""
    if any(s.arn == arn for s in p.st.superseded or []):
        return
    p.st.superseded = [
        *(p.st.superseded or []),
        SupersededModel(arn=arn, name=name, region=region, revision=rev),
    ]


def ready(p: Pass, model: ModelInfo | None = None) -> None:
    p.st.phase = Phase.READY
    p.st.failure_message = None
    p.st.queue_position = None
    p.st.queued_at = p.st.queued_order = None
    cmus = p.st.custom_model_units.custom_model_units_per_model_copy if p.st.custom_model_units else None
    cost = (  # the ARN has its own column: the message says what -o wide does not show
        f"; {cmus} CMU per copy: {cmus * p.price_per_cmu_minute * 60:.2f} per hour of an active copy"
        if cmus and p.price_per_cmu_minute
        else ""
    )
    p.out.condition(
        ConditionType.READY, "True", Reason.MODEL_READY, f"model {p.st.model_name} is ready{cost}"
    )
    if model is not None:  # the same words at import and at each check: a check changes nothing
        p.out.condition(
            ConditionType.IMPORTED, "True", Reason.IMPORT_COMPLETED, f"model {model.name} exists in Bedrock"
        )


def check_drift(
    p: Pass,
    grace: float,
    user_edit: bool,
    *,
    exact: bool = True,
    check_tags: bool = True,
    list_age: float = 0.0,
    now: float = 0.0,
) -> bool:
    """Look at the serving model in Bedrock: set tags back, notice a deletion. False when the model is gone
    for good (the caller imports it again).

    `exact` (an event: an edit, an annotation, the operator's start, a model already missing): the model is
    read by ARN. Otherwise (a periodic resync) the region's shared listing answers, at most `list_age` old
    at monotonic time `now`;
    a model absent from it is read by ARN before anything is concluded. `check_tags`: the tags are read and
    set right (every event; otherwise on the slower tag cadence)."""
    bedrock = p.clients(p.st.region or p.region).bedrock
    arn = p.st.model_arn or ""
    model = None
    if not exact and p.st.model_missing_since is None:
        model = bedrock.listed_model(arn, list_age, now)
    if model is None:
        model = bedrock.find_model(arn)
    if model is None:
        if not p.st.model_missing_since:
            p.st.model_missing_since = p.now_rfc3339()
            p.out.event(
                "Warning",
                EventReason.MODEL_MISSING,
                f"Bedrock answers NotFound for model {p.st.model_name}; looking again in {grace:.0f}s before "
                "importing it again",
            )
            ready(p)
            return True
        if p.seconds_since(p.st.model_missing_since) < grace:
            ready(p)
            return True
        message = f"model {p.st.model_name} was deleted outside the cluster; importing it again"
        p.out.event("Warning", Reason.MODEL_DELETED_OUTSIDE, message)
        p.out.condition(ConditionType.READY, "False", Reason.MODEL_DELETED_OUTSIDE, message)
        p.out.condition(ConditionType.IMPORTED, "False", Reason.MODEL_DELETED_OUTSIDE, message)
        st = p.st
        if st.model_arn and not any(x.arn == st.model_arn for x in st.superseded or []):
            # NotFound for the grace period is not proof: it stays recorded (superseded, missing), adopted
            # back by the import under its name if Bedrock only hid it, deleted once another model serves
            st.superseded = [
                *(st.superseded or []),
                SupersededModel(
                    arn=st.model_arn,
                    name=st.model_name,
                    region=st.region or p.region,
                    revision=st.revision,
                    missing_since=st.model_missing_since,  # its name may be imported again (and adopted back)
                ),
            ]
        st.model_arn = st.revision = st.model_architecture = st.instruct_supported = None
        st.custom_model_units = st.model_missing_since = st.serving_since = None
        st.model_name = None
        st.phase = Phase.IMPORTING
        return False
    p.st.model_missing_since = None
    if not check_tags:
        _same_model(p, model)
        return True
    tags = bedrock.tags(model.arn)
    if ownership(tags, p.me) == "other":
        raise AwsError(
            Kind.TERMINAL,
            "ModelOwnedElsewhere",
            f"model {model.name} now carries the ownership tags of {owner_in(tags)}; the operator will not "
            "retag or delete it. Remove those tags, or delete this object with deletionPolicy Retain",
            Reason.MODEL_OWNED_ELSEWHERE,
        )
    changed, removed = bedrock.sync_tags(model.arn, p.tags(), actual=tags)
    if changed or removed:
        what = _plain_list("set", sorted(changed)) + (_plain_list(", removed", removed) if removed else "")
        if user_edit:
            p.out.event("Normal", EventReason.TAGS_UPDATED, f"tags updated in place: {what}")
        else:
            p.out.event(
                "Warning",
                EventReason.TAGS_DRIFT_CORRECTED,
                f"tags changed outside the cluster were set back: {what}",
            )
    if changed or removed:
        p.st.last_sync_time = p.now_rfc3339()
    _same_model(p, model)
    return True


def _same_model(p: Pass, model: ModelInfo) -> None:
    """The model is there: record what Bedrock says of it (a check that finds nothing to set right writes
    nothing, so `kubectl get -w` stays quiet) and say Ready."""
    if (p.st.model_architecture, p.st.instruct_supported) != (model.architecture, model.instruct_supported):
        p.st.last_sync_time = p.now_rfc3339()
    p.st.model_architecture, p.st.instruct_supported = model.architecture, model.instruct_supported
    ready(p, model)


def _plain_list(verb: str, keys: list[str]) -> str:
    return f"{verb} {', '.join(keys)}"


def retire_superseded(p: Pass, grace: float) -> None:
    """Delete the models this object no longer serves. A delete that fails (any error: throttling, a
    conflict, or AccessDenied until the operator's role is fixed) stays on the list with its error and is
    retried with backoff; it never changes what the serving model's conditions say. A model Bedrock does
    not show is dropped only after a second look, past the grace period (it may be about to appear)."""
    left: list[SupersededModel] = []
    trouble: AwsError | None = None
    for old in p.st.superseded or []:
        if coming_back(p, old):
            left.append(old)
            continue
        bedrock = p.clients(old.region).bedrock
        try:
            outcome = delete_owned(p, bedrock, old.arn)
        except AwsError as err:
            old.last_error = err.message
            left.append(old)
            trouble = trouble or err
            continue
        if outcome == "gone":
            old.missing_since = old.missing_since or p.now_rfc3339()
            if p.seconds_since(old.missing_since) < grace:
                left.append(old)
            continue
        if outcome == "deleted":
            p.out.event(
                "Normal", EventReason.SUPERSEDED_MODEL_DELETED, f"deleted the previous revision {old.arn}"
            )
        elif outcome == "other":
            p.out.event(
                "Warning",
                EventReason.SUPERSEDED_MODEL_LEFT,
                f"left model {old.arn} alone: its tags do not name this object",
            )
    p.st.superseded = left or None
    if trouble is not None:
        p.out.retry_error = AwsError(
            Kind.RETRYABLE,
            trouble.code,
            f"deleting a superseded model: {trouble.message}",
            Reason.SUPERSEDED_MODEL_DELETE_FAILED,
        )


def coming_back(p: Pass, old: SupersededModel) -> bool:
    """A model of the spec's own revision taken for deleted (NotFound past the grace), while nothing else
    serves: if it was only hidden, the import under its name meets it and adopts it back, so it is kept
    (recorded) until another model serves."""
    return bool(old.missing_since and old.revision == p.rev and old.region == p.region and not p.serving)


def delete_owned(p: Pass, bedrock: BedrockClient, arn: str) -> str:
    """Delete a model this object owns. Returns 'deleted', 'gone' or 'other' (not ours: left alone). A
    model whose tags name no owner is not ours either: an ARN in status is no proof (whoever may write the
    status subresource could name any model), the owner tags every model of this object carries are.
    ConflictException (Bedrock busy with the model) is retryable here."""
    try:
        tags = bedrock.tags(arn)
    except AwsError as err:
        if err.kind is Kind.NOT_FOUND:
            return "gone"
        raise
    if ownership(tags, p.me) != "mine":
        return "other"
    try:
        return "deleted" if bedrock.delete_model(arn) else "gone"
    except AwsError as err:
        if err.kind is Kind.CONFLICT:
            raise AwsError(
                Kind.RETRYABLE, err.code, err.message, Reason.SUPERSEDED_MODEL_DELETE_FAILED
            ) from None
        raise
