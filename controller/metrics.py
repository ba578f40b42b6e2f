"""Prometheus metrics: what the operator did, and every AWS call it made (counted by botocore hooks)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter("bmo_reconciles_total", "Reconciles run, by result", ["result"])
IMPORT_JOBS = Counter(
    "bmo_import_jobs_total", "Import jobs by outcome (started, completed, failed)", ["outcome"]
)
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
VALIDATIONS = Counter(
    "bmo_validations_total", "Artifact validations by outcome and reason", ["outcome", "reason"]
)
AWS_CALLS = Counter("bmo_aws_api_calls_total", "AWS API calls", ["service", "operation"])
AWS_ERRORS = Counter(
    "bmo_aws_api_errors_total", "AWS API calls that failed", ["service", "operation", "code"]
)


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
