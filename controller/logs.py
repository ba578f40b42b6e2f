"""Logging set-up: human lines by default, or one JSON object per line (`--log-format json`)."""

from __future__ import annotations

import json
import logging
import time

from controller.redact import redact

EVENTS = logging.getLogger("bmo.events")
#: What the finalizer raises to kopf while a deletion waits (paused, or for a running job): kopf logs it at
#: ERROR (and would post it as an Event) at every retry; the operator's own Event line says it once.
DELETION_WAIT = "waiting before the models can be deleted"


class QuietDeletionWaits(logging.Filter):
    """Drops kopf's "failed temporarily" line for a deletion that waits on purpose (not an error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return DELETION_WAIT not in record.getMessage()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage(), 4096),
        }
        ref = getattr(record, "k8s_ref", None)  # kopf's per-object loggers carry the object
        if isinstance(ref, dict):
            doc["object"] = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
        for key in ("object", "revision", "reason", "event_type"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exception"] = redact(self.formatException(record.exc_info), 4096)
        return json.dumps(doc)


def setup(fmt: str, verbose: bool) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "aiohttp.access", "kubernetes.client.rest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not verbose:  # kopf logs every handler run at INFO; our event lines and warnings say what matters
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    objects = logging.getLogger("kopf.objects")
    if not any(isinstance(f, QuietDeletionWaits) for f in objects.filters):
        objects.addFilter(QuietDeletionWaits())


def log_event(namespace: str, name: str, revision: str | None, kind: str, reason: str, message: str) -> None:
    """One log line per Kubernetes Event the operator emits, with the object and revision."""
    EVENTS.log(
        logging.WARNING if kind == "Warning" else logging.INFO,
        f"{namespace}/{name}: {reason}: {message}",
        extra={
            "object": f"{namespace}/{name}",
            "revision": revision or "",
            "reason": reason,
            "event_type": kind,
        },
    )
