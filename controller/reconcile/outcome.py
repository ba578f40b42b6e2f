"""What one reconcile pass decided: the status to write, conditions, Events, and what comes next."""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.api.models import BedrockImportedModelStatus
from controller.api.reasons import ConditionType
from controller.errors import OperatorError
from controller.redact import redact


@dataclass
class QueueState:
    """Where the object stands in its region's import queue after the pass (applied in one place)."""

    region: str
    holding: bool  # its import job runs, or its create is in flight
    queued_at: str | None = None  # waiting in line since
    busy_outside: bool = False  # Bedrock refused the create: a job outside this operator holds the slot


@dataclass
class Outcome:
    status: BedrockImportedModelStatus = field(default_factory=BedrockImportedModelStatus)
    conditions: dict[str, tuple[str, str, str] | None] = field(default_factory=dict)  # None: removed
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (Normal|Warning, reason, message)
    retry_error: OperatorError | None = None  # a retryable error: back off, then try again
    again: bool = False  # run another pass right after this one is written (write-ahead of a create)
    queue: QueueState | None = None  # None: out of every queue
    model_checked: bool = False  # this pass read the serving model and its tags from Bedrock
    defer_retire: bool = False  # a promotion this pass must be written before the old model is deleted

    def condition(self, ctype: ConditionType | str, status: str, reason: str, message: str) -> None:
        self.conditions[str(ctype)] = (status, str(reason), redact(message))

    def drop_condition(self, ctype: ConditionType | str) -> None:
        self.conditions[str(ctype)] = None

    def event(self, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, str(reason), redact(message)))
