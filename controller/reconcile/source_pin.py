"""What is imported is what was validated: the source is listed again before the import job is created,
and while the model serves, and compared with the fingerprint validation took (artifacts/pin.py).

Before the create, a changed folder is validated again (the import waits, keeping its place in line): files
swapped after validation (weights past `maxModelSize`, a broken config) are never imported unjudged. While
the model serves, a changed folder is said on `SourceInSync`: git and S3 no longer describe the serving
model, and re-creating it (a region move, a deleted model) would import something else.

What remains: the seconds between this listing and Bedrock's own reads. Bedrock imports by prefix, not by
object version; a bucket with versioning and Object Lock is the way to close that window.
"""

from __future__ import annotations

from controller.api.reasons import ConditionType, Reason
from controller.artifacts import S3Folder, SourceAccessError
from controller.artifacts.limits import JOB_LIMITS
from controller.artifacts.pin import source_digest
from controller.artifacts.sources import source_error_reason
from controller.errors import Kind, SourceError
from controller.reconcile.context import Pass, shown


def listed_digest(p: Pass, s3_uri: str) -> tuple[str, int]:
    """The folder's fingerprint and file count as S3 lists them now (the validator's view of the folder)."""
    try:
        files = S3Folder(s3_uri, client=p.support.s3).list_files(limit=JOB_LIMITS.files)
    except SourceAccessError as exc:
        reason = source_error_reason(exc.code)
        message = (
            f"cannot list the model source to check it is as validated ({exc.code}): {exc.message} (the "
            "operator's role needs s3:ListBucket on the models bucket, also with validation Jobs)"
        )
        if reason is not None:
            raise SourceError(Kind.TERMINAL, exc.code, message, reason) from None
        raise SourceError(Kind.RETRYABLE, exc.code, message, Reason.SOURCE_UNREACHABLE) from None
    return source_digest(files), len(files)


def as_validated(p: Pass, s3_uri: str) -> str | None:
    """None when the folder is the one validation judged (or nothing was pinned: validation Skip); else
    what changed, and the revision is no longer validated."""
    pinned = p.st.validation.source_digest if p.st.validation else None
    if not pinned:
        return None
    digest, count = listed_digest(p, s3_uri)
    if digest == pinned:
        return None
    p.st.validated_inputs = None
    then = p.st.validation.files if p.st.validation and p.st.validation.files is not None else "?"
    return (
        f"the files in {s3_uri} changed after they were validated ({then} file(s) then, {count} now, or "
        "the same names with new contents): they are validated again before the import starts"
    )


def check_serving(p: Pass, s3_uri: str) -> None:
    """While the model serves: say on SourceInSync whether its folder still holds what was imported. The
    condition appears only once a change is seen (most models never need it), then follows the folder."""
    pinned = p.st.source_digest
    if not pinned:
        return
    try:
        digest, count = listed_digest(p, s3_uri)
    except SourceError:  # the model serves either way: a folder that cannot be listed now changes nothing
        return
    in_sync = shown(p.st, ConditionType.SOURCE_IN_SYNC)
    if digest != pinned:
        message = (
            f"the files in {s3_uri} changed after model {p.st.model_name} was imported from them ({count} "
            "file(s) now): the model serves what was validated then, but git and S3 no longer describe it; "
            "put the files back, or upload new files to a new folder and point spec.source at it"
        )
        if in_sync != "False":  # said once, when it is first seen
            p.out.event("Warning", Reason.SOURCE_CHANGED, message)
        p.out.condition(ConditionType.SOURCE_IN_SYNC, "False", Reason.SOURCE_CHANGED, message)
    elif in_sync is not None:
        p.out.condition(
            ConditionType.SOURCE_IN_SYNC,
            "True",
            Reason.SOURCE_MATCHES_IMPORT,
            f"the files in {s3_uri} are the ones model {p.st.model_name} was imported from",
        )
