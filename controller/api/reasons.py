"""The words status is written in: condition types, phases and reasons, each one enum.

docs/troubleshooting.md lists every reason here (a test keeps the two in step). Validator
codes (e.g. `QuantizedModel`, see docs/validation.md) and the validation Job's reasons are reported on
`Validated` as they come; they are data of the validator, not of this module.
"""

from __future__ import annotations

import enum


class ConditionType(enum.StrEnum):
    VALIDATED = "Validated"
    IMPORTED = "Imported"
    READY = "Ready"
    SYNCED = "Synced"
    PAUSED = "Paused"
    ALLOWED = "Allowed"
    SMOKE_TESTED = "SmokeTested"
    SOURCE_IN_SYNC = "SourceInSync"  # only once the serving model's folder was found changed
    EXPORTED = "Exported"  # only with spec.exportTo: the serving model's ARN is in its ConfigMap
    # kstatus's pair (what Flux, kpt and `kubectl wait` gates read), derived from the others: only while
    # the spec's revision does not serve (`conditions.progress_updates`)
    RECONCILING = "Reconciling"  # True: work under way
    STALLED = "Stalled"  # True: it cannot go on without a change (the spec, a policy, the pause annotation)


#: The order conditions appear in status.
CONDITION_ORDER = tuple(ConditionType)
#: Present from the first visit on, so `kubectl get` and `kubectl wait` never meet a missing condition.
ALWAYS_PRESENT = (ConditionType.VALIDATED, ConditionType.IMPORTED, ConditionType.READY)


class Phase(enum.StrEnum):
    PENDING = "Pending"
    VALIDATING = "Validating"
    QUEUED = "Queued"
    IMPORTING = "Importing"
    TESTING = "Testing"
    READY = "Ready"
    UPDATING = "Updating"
    FAILED = "Failed"
    BLOCKED = "Blocked"
    PAUSED = "Paused"  # paused with an edit not acted on (a paused object that is up to date keeps its phase)
    DELETING = "Deleting"


class Reason(enum.StrEnum):
    # first visit
    RECONCILING = "Reconciling"
    AWAITING_OPERATOR = "AwaitingOperator"  # the CRD's default status, until the operator's first write
    # Validated
    VALIDATING = "Validating"
    ARTIFACTS_IMPORTABLE = "ArtifactsImportable"
    VALIDATION_SKIPPED = "ValidationSkipped"
    NOT_IMPORTABLE = "NotImportable"
    INVALID_SPEC = "InvalidSpec"
    SOURCE_UNREACHABLE = "SourceUnreachable"
    WAITING_FOR_SOURCE = (
        "WaitingForSource"  # no bucket, no files or a file missing yet: an upload to wait for
    )
    SAGEMAKER_MODEL_NOT_FOUND = "SageMakerModelNotFound"
    SAGEMAKER_SOURCE_UNSUPPORTED = "SageMakerSourceUnsupported"
    SOURCE_CHANGED = "SourceChanged"  # also SourceInSync=False: the folder is not what was validated/imported
    # Imported
    QUEUED = "Queued"
    IMPORT_JOB_RUNNING = "ImportJobRunning"
    IMPORT_COMPLETED = "ImportCompleted"
    IMPORT_FAILED = "ImportFailed"
    WAITING_FOR_PREVIOUS_JOB = "WaitingForPreviousJob"
    WAITING_FOR_MODEL = "WaitingForModel"
    IMPORTED_MODEL_QUOTA_EXCEEDED = "ImportedModelQuotaExceeded"
    MODEL_NAME_CONFLICT = "ModelNameConflict"
    MODEL_OWNED_ELSEWHERE = "ModelOwnedElsewhere"
    ACCESS_DENIED = "AccessDenied"
    INVALID_REQUEST = "InvalidRequest"
    TOO_MANY_TAGS = "TooManyTags"
    SERVICE_ROLE_INVALID = "ServiceRoleInvalid"
    # Exported (spec.exportTo)
    MODEL_EXPORTED = "ModelExported"
    EXPORT_CONFLICT = "ExportConflict"  # a ConfigMap of that name the operator did not create
    # Ready
    MODEL_FOUND = "ModelFound"  # an observed model exists (BedrockObservedModel)
    MODEL_NOT_FOUND = "ModelNotFound"  # an observed model does not (deleted, or another region or account)
    MODEL_READY = "ModelReady"
    IMPORTING = "Importing"
    MODEL_DELETED_OUTSIDE = "ModelDeletedOutside"
    # Synced
    RECONCILE_SUCCEEDED = "ReconcileSucceeded"
    NOT_SENT_YET = "NotSentYet"  # validating or in line: Bedrock has not been asked anything for this spec
    THROTTLED = "Throttled"
    AWS_SERVICE_ERROR = "AwsServiceError"
    AWS_UNREACHABLE = "AwsUnreachable"
    WAITING_FOR_IAM_PROPAGATION = "WaitingForIAMPropagation"
    KUBERNETES_API_ERROR = "KubernetesApiError"
    PASS_FAILED = "PassFailed"  # an unexpected exception in a pass (an operator defect): Event only
    SUPERSEDED_MODEL_DELETE_FAILED = "SupersededModelDeleteFailed"
    # Allowed (BedrockImportPolicy; see controller/tenancy/rules.py)
    POLICY_ALLOWS = "PolicyAllows"
    NO_POLICY_OPEN = "NoPolicyOpenDefault"
    NO_IMPORT_POLICY = "NoImportPolicy"
    SOURCE_NOT_ALLOWED = "SourceNotAllowed"
    SERVICE_ROLE_NOT_ALLOWED = "ServiceRoleNotAllowed"
    REGION_NOT_ALLOWED = "RegionNotAllowed"
    VALIDATION_MODE_NOT_ALLOWED = "ValidationModeNotAllowed"
    REQUIRED_TAG_MISSING = "RequiredTagMissing"
    KMS_KEY_REQUIRED = "KmsKeyRequired"
    KMS_KEY_NOT_ALLOWED = "KmsKeyNotAllowed"
    NETWORK_NOT_ALLOWED = "NetworkNotAllowed"
    MODEL_TOO_LARGE = "ModelTooLarge"
    MODEL_LIMIT_REACHED = "ModelLimitReached"
    ACCOUNT_CONFLICT = "AccountConflict"
    ADOPTION_NOT_ALLOWED = "AdoptionNotAllowed"
    RECORD_NOT_WANTED = "RecordedCreateNotWanted"
    ACCOUNT_CHANGED = "AccountChanged"
    # SmokeTested
    SMOKE_TEST_WAITING = "SmokeTestWaiting"
    SMOKE_TEST_PASSED = "SmokeTestPassed"
    SMOKE_TEST_FAILED = "SmokeTestFailed"
    SMOKE_TEST_MISMATCH = "SmokeTestMismatch"
    SMOKE_TEST_DEADLINE = "SmokeTestDeadlineExceeded"
    SMOKE_TEST_NOT_REQUESTED = "SmokeTestNotRequested"
    # neither is a broken model: the revision is not failed for them
    SMOKE_TEST_GUARDRAIL = "SmokeTestGuardrailIntervened"  # an enforced guardrail replaced the answer
    SMOKE_TEST_STILL_LOADING = (
        "SmokeTestModelStillLoading"  # cold (or evicted and cold again) past the deadline
    )
    # SourceInSync
    SOURCE_MATCHES_IMPORT = "SourceMatchesImport"
    # Paused
    RECONCILE_PAUSED = "ReconcilePaused"
    RECONCILE_RESUMED = "ReconcileResumed"


class EventReason(enum.StrEnum):
    """Reasons of Events only (conditions' reasons are also used as Event reasons)."""

    VALIDATED = "Validated"
    IMPORT_STARTED = "ImportStarted"
    MODEL_ADOPTED = "ModelAdopted"
    TAGS_UPDATED = "TagsUpdated"
    TAGS_DRIFT_CORRECTED = "TagsDriftCorrected"
    MODEL_MISSING = "ModelMissing"
    SUPERSEDED_MODEL_DELETED = "PreviousRevisionDeleted"
    SUPERSEDED_MODEL_LEFT = "SupersededModelNotOwned"
    REGION_MIGRATION = "RegionMigration"
    MODEL_DELETED = "ModelDeleted"
    MODEL_RETAINED = "ModelRetained"
    WAITING_FOR_IMPORT_JOB = "WaitingForImportJob"
    DELETION_PAUSED = "DeletionPaused"
    ROLE_NOT_DELETED = "CreatedRoleNotDeleted"
    LATE_IMPORT_FOUND = "LateImportFound"
