"""Prometheus metrics: what the operator did, and every AWS call it made (counted by botocore hooks)."""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter("bmo_reconciles_total", "Reconciles run, by result", ["result"])
IMPORT_JOBS = Counter(
    "bmo_import_jobs_total", "Import jobs by outcome (started, completed, failed)", ["outcome"]
)
for _outcome in ("started", "completed", "failed"):  # at 0 from the start: a first failure is an increase
    IMPORT_JOBS.labels(_outcome)
MODELS = Gauge("bmo_models", "BedrockImportedModels this operator reconciles, by phase", ["phase"])
IMPORT_DURATION = Histogram(
    "bmo_import_job_duration_seconds",
    "Import job duration as Bedrock reports it (creation to end)",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
QUEUE_LENGTH = Gauge("bmo_import_queue_length", "Models waiting for the region's import slot", ["region"])
ORPHANED_MODELS = Gauge(
    "bmo_orphaned_models",
    "Imported models in the operator's account that no live object accounts for, by why (`orphans`)",
    ["region", "kind"],
)
SUPERSEDED_MODELS = Gauge(
    "bmo_superseded_models",
    "Models no object serves any more, still to be deleted, by region (`failing`: the last delete failed)",
    ["region", "failing"],
)
VALIDATIONS = Counter(
    "bmo_validations_total", "Artifact validations by outcome and reason", ["outcome", "reason"]
)
#: client-go's workqueue pair: how long a tick or wake waited for a worker, and how long a pass took
_PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
QUEUE_WAIT = Histogram(
    "bmo_workqueue_queue_duration_seconds",
    "How long a queued pass waited for a worker, by what queued it: tick (its periodic look) or wake (its "
    "turn for a freed slot, its job's end, an edit during a pass, its validation Job, AWS back after an "
    "outage); passes of kopf's watch events are handed over on their own",
    ["queued_by"],
    buckets=_PASS_BUCKETS,
)
for _by in ("tick", "wake"):
    QUEUE_WAIT.labels(_by)
PASS_DURATION = Histogram(
    "bmo_workqueue_work_duration_seconds",
    "How long one object's pass took in its worker (its reads, AWS calls, status write and Events)",
    buckets=_PASS_BUCKETS,
)
SLOTS_FREED = Counter(
    "bmo_import_slots_freed_total",
    "Import slots freed for the next in line, by what freed them: listing (the shared listing of running "
    "jobs no longer shows the job: handed over at once) or pass (the object's own pass or deletion, later; "
    "a share of pass that grows with the load means freed slots wait for those passes)",
    ["by"],
)
for _by in ("listing", "pass"):
    SLOTS_FREED.labels(_by)
AWS_CALLS = Counter("bmo_aws_api_calls_total", "AWS API calls", ["service", "operation"])
AWS_ERRORS = Counter(
    "bmo_aws_api_errors_total", "AWS API calls that failed", ["service", "operation", "code"]
)


class Tally:
    """A gauge summed over objects: each object's latest counts replace its earlier ones, and an object
    that goes takes its counts with it (a pass sees one object, the gauge says the fleet)."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._by_object: dict[str, dict[tuple[str, ...], int]] = {}
        self._lock = threading.Lock()

    def set(self, key: str, counts: dict[tuple[str, ...], int]) -> None:
        with self._lock:
            before = self._by_object.pop(key, {})
            if counts:
                self._by_object[key] = counts
            for labels in before.keys() | counts.keys():
                total = sum(c.get(labels, 0) for c in self._by_object.values())
                self._gauge.labels(*labels).set(total)

    def forget(self, key: str) -> None:
        self.set(key, {})


def instrument(client) -> None:
    """Count every call (and failure) a boto3 client makes, retries included."""
    service = client.meta.service_model.service_name

    def after_call(http_response, parsed, model, **_):
        AWS_CALLS.labels(service, model.name).inc()
        status = getattr(http_response, "status_code", 200)
        if status >= 400:
            code = (parsed or {}).get("Error", {}).get("Code") or str(status)
            AWS_ERRORS.labels(service, model.name, code).inc()

    def after_call_error(exception, event_name="", **_):
        operation = event_name.rsplit(".", 1)[-1]  # after-call-error.<service>.<Operation>
        AWS_CALLS.labels(service, operation).inc()
        AWS_ERRORS.labels(service, operation, type(exception).__name__).inc()

    client.meta.events.register(f"after-call.{client.meta.service_model.endpoint_prefix}", after_call)
    client.meta.events.register(
        f"after-call-error.{client.meta.service_model.endpoint_prefix}", after_call_error
    )


def serve(port: int, address: str = "0.0.0.0") -> None:
    start_http_server(port, addr=address)
