"""Kubernetes Events from `bedrock-model-operator`, aggregated the way client-go's recorder does it.

kopf's `kopf.event` posts a new Event named `kopf-event-<random>` from component `kopf` each time, so a
delete that waits showed 16 identical Events in 16 s. Here the same event on the same object (type, reason
and message) is one Event whose `count` and `lastTimestamp` rise; its name is derived from those, so the
aggregation also holds across an operator restart.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from controller import rfc3339
from controller.settings import Settings

COMPONENT = "bedrock-model-operator"
MAX_MESSAGE = 1024
_CACHE = 4096  # Events remembered (their count); older ones are re-read on their next repeat

log = logging.getLogger("bmo.events.recorder")


def event_name(meta: dict[str, Any], type: str, reason: str, message: str) -> str:
    key = hashlib.sha256(f"{meta.get('uid')}|{type}|{reason}|{message}".encode()).hexdigest()[:16]
    return f"{meta['name'][:200]}.{key}"


def _now() -> str:
    return rfc3339.now()


class EventRecorder:
    """post(body, type=, reason=, message=): best effort (an Event that cannot be written is logged, never
    raised: it must not fail a reconcile)."""

    def __init__(self, settings: Settings, call: Callable[..., tuple[int, Any]] | None = None) -> None:
        self._settings = settings
        self._call = call or self._http
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._instance = socket.gethostname()

    def _http(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        from controller.kube.client import OBJECT_TIMEOUT, raw

        return raw(self._settings, method, path, body, timeout=OBJECT_TIMEOUT)

    def post(self, body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
        meta = body["metadata"]
        ns = meta.get("namespace") or "default"
        message = " ".join(str(message).split())[:MAX_MESSAGE]
        name = event_name(meta, type, str(reason), message)
        path = f"/api/v1/namespaces/{ns}/events"
        now = _now()
        try:
            with self._lock:
                known = self._counts.get(name)
            if known is not None:
                status, _ = self._call("PATCH", f"{path}/{name}", {"count": known + 1, "lastTimestamp": now})
                if status < 300:
                    self._remember(name, known + 1)
                    return
                if status != 404:  # gone (Events expire after an hour): write it anew below
                    raise RuntimeError(f"HTTP {status}")
            event = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": {
                    "apiVersion": body.get("apiVersion"),
                    "kind": body.get("kind"),
                    "name": meta.get("name"),
                    "namespace": ns,
                    "uid": meta.get("uid"),
                },
                "type": type,
                "reason": str(reason),
                "message": message,
                "source": {"component": COMPONENT},
                "reportingComponent": COMPONENT,
                "reportingInstance": self._instance,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            }
            status, _ = self._call("POST", path, event)
            if status == 409:  # written before this process started: continue its count
                status, existing = self._call("GET", f"{path}/{name}")
                count = int((existing or {}).get("count") or 1) + 1
                status, _ = self._call("PATCH", f"{path}/{name}", {"count": count, "lastTimestamp": now})
                if status < 300:
                    self._remember(name, count)
                    return
            if status >= 300:
                raise RuntimeError(f"HTTP {status}")
            self._remember(name, 1)
        except Exception as exc:
            log.warning(f"could not write Event {reason} on {ns}/{meta.get('name')}: {exc}")

    def _remember(self, name: str, count: int) -> None:
        with self._lock:
            self._counts[name] = count
            self._counts.move_to_end(name)
            while len(self._counts) > _CACHE:
                self._counts.popitem(last=False)
