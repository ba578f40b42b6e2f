"""Everything one reconcile pass works with, built once: the object, its parsed spec and status, its
identity, the desired region and revision, the AWS clients, and the outcome being written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller import rfc3339
from controller.api.models import (
    BedrockImportedModelSpec,
    BedrockImportedModelStatus,
)
from controller.aws.clients import BedrockClient, RegionClients, SupportClients
from controller.naming import Identity, import_inputs, revision
from controller.reconcile.durations import RecentDurations
from controller.reconcile.job_watch import JobWatch
from controller.reconcile.memory import Memory
from controller.reconcile.outcome import Outcome
from controller.tenancy.rules import Decision

PAUSE_ANNOTATION = "bedrock.modelops.io/paused"
#: Changing this annotation's value retries a failed revision without a spec change (files fixed in place).
RETRY_ANNOTATION = "bedrock.modelops.io/retry"


def serving_note(st: BedrockImportedModelStatus) -> str:
    """The one phrasing of "what serves meanwhile", in every message of a revision on its way or held up."""
    return f"model {st.model_name} (revision {(st.revision or '')[:8]}) keeps serving"


@dataclass
class View:
    """The parts of the object a pass reads."""

    uid: str
    namespace: str
    name: str
    generation: int
    annotations: dict[str, str]
    spec: dict[str, Any]
    status: dict[str, Any]
    deleting_since: str | None = None  # metadata.deletionTimestamp

    @classmethod
    def of(cls, body: dict[str, Any]) -> View:
        meta = body.get("metadata", {})
        return cls(
            meta.get("uid", ""),
            meta.get("namespace", ""),
            meta.get("name", ""),
            int(meta.get("generation") or 0),
            dict(meta.get("annotations") or {}),
            dict(body.get("spec") or {}),
            dict(body.get("status") or {}),
            meta.get("deletionTimestamp"),
        )

    @property
    def paused(self) -> bool:
        return is_paused(self.annotations)


def is_paused(annotations: Mapping[str, str] | None) -> bool:
    """The pause annotation is set to true (any case): nothing is done for the object, not even polling."""
    return (annotations or {}).get(PAUSE_ANNOTATION, "").lower() == "true"


def shown(st: BedrockImportedModelStatus, ctype: str) -> str | None:
    """The status a condition has in status as read (None: absent)."""
    return next((c.status for c in st.conditions or [] if c.type == ctype), None)


def shown_reason(st: BedrockImportedModelStatus, ctype: str) -> str | None:
    """The reason a condition has in status as read (None: absent): an Event is posted when it changes,
    not at every pass that finds the same thing."""
    return next((c.reason for c in st.conditions or [] if c.type == ctype), None)


def parse_status(raw: dict[str, Any]) -> BedrockImportedModelStatus:
    """The typed status as read."""
    return BedrockImportedModelStatus.model_validate(raw)


def wanted_region(spec: BedrockImportedModelSpec, st: BedrockImportedModelStatus, default: str) -> str:
    """Where the spec wants the model: spec.region, else where it was pinned, else the operator's default."""
    return spec.region or st.region or default


@dataclass
class Pass:
    """One reconcile pass of one object."""

    view: View
    me: Identity
    spec: BedrockImportedModelSpec
    st: BedrockImportedModelStatus  # being edited: written as the new status
    region: str  # where the spec wants the model (spec.region, else pinned, else the default)
    rev: str
    inputs: str  # what an import attempt depends on (a failure is retried when this changes)
    bedrock: BedrockClient
    support: SupportClients
    out: Outcome
    now: dt.datetime
    clients: Callable[[str], RegionClients]
    #: what the namespace's policies make of the spec (None: not decided, e.g. while deleting)
    decision: Decision | None = None

    @classmethod
    def build(
        cls,
        view: View,
        me: Identity,
        spec: BedrockImportedModelSpec,
        st: BedrockImportedModelStatus,
        default_region: str,
        clients,
        now: dt.datetime,
    ) -> Pass:
        region = wanted_region(spec, st, default_region)
        rev = revision(spec)
        bedrock, support = clients(region)
        inputs = import_inputs(rev, region, spec, view.annotations.get(RETRY_ANNOTATION, ""))
        return cls(
            view, me, spec, st, region, rev, inputs, bedrock, support, Outcome(status=st), now, clients
        )

    #: BMO_PRICE_PER_CMU_MINUTE, for the cost line of a Ready model (None: no cost line)
    price_per_cmu_minute: float | None = None
    #: this process's recent import durations by region: the "typically" of a running import (None: none)
    import_durations: RecentDurations | None = None
    #: (how old the shared listing of running jobs may be, monotonic now): a running job is followed through
    #: it; None: every job is read by name
    job_listing: tuple[float, float] | None = None
    job_watch: JobWatch | None = None  # where a job seen running in the listing is followed (the clock's)
    memory: Memory | None = None  # what this process remembers of the object between passes

    @property
    def serving(self) -> bool:
        return bool(self.st.model_arn)

    @property
    def up_to_date(self) -> bool:
        """The model the spec asks for is the one serving."""
        return self.serving and self.st.revision == self.rev and self.st.region == self.region

    def keeps_serving(self, message: str) -> str:
        """Ready's message while the spec's revision is on its way or held up: the model that still
        serves is named, the same way everywhere (`serving_note`)."""
        if not self.serving:
            return message
        return f"{serving_note(self.st)}; the spec's revision: {message}"  # first: -o wide cuts the end

    def now_rfc3339(self) -> str:
        return rfc3339.format_time(self.now)

    def seconds_since(self, stamp: str | None) -> float:
        if not stamp:
            return 0.0
        return (self.now - rfc3339.parse(stamp)).total_seconds()

    def tags(self) -> dict[str, str]:
        """The tags every model of this object carries: the user's, then the owner's (which win)."""
        return dict(self.spec.tags or {}) | self.me.tags()
