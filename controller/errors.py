"""One error hierarchy for everything a reconcile can meet: AWS, Kubernetes, and the model source.

Each error says what kind of trouble it is (`Kind`) and carries a CamelCase reason and a redacted message.
Where it is reported (which condition) is reconcile's choice, by the error's class: a `SourceError` is about
the artifacts (Validated), an `AwsError` about the import (Imported), a `KubernetesError` about the
operator's own API calls (Synced only, always retried).
"""

from __future__ import annotations

import enum

from controller.redact import redact


class Kind(enum.Enum):
    RETRYABLE = "retryable"  # throttling, 5xx, network, IAM propagation: try again with backoff
    TERMINAL = "terminal"  # the user must change something
    QUEUE = "queue"  # the region's single import slot is busy: wait in line
    QUOTA = "quota"  # imported-models quota: wait until a model is deleted
    CONFLICT = "conflict"  # a model name is taken
    JOB_NAME_TAKEN = "job-name-taken"  # "The provided job name is currently in use"
    NOT_FOUND = "not-found"


class OperatorError(Exception):
    def __init__(
        self, kind: Kind, code: str, message: str, reason: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = redact(message)
        self.reason = reason  # CamelCase, for conditions and Events
        #: the least wait before the next try, for a wait whose own pace is known (the backoff of the failure
        #: count starts over whenever a pass succeeds in between, as a validation Job's passes do)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in (Kind.RETRYABLE, Kind.QUOTA)


class AwsError(OperatorError):
    """A Bedrock, IAM, STS or SageMaker call failed."""


class SourceError(OperatorError):
    """The model's files cannot be read or resolved (S3, SageMaker source)."""


class KubernetesError(OperatorError):
    """The operator's own Kubernetes call failed: RBAC or the apiserver, never the user's spec."""

    def __init__(self, status: int | str, message: str) -> None:
        super().__init__(Kind.RETRYABLE, str(status), message, "KubernetesApiError")
