"""The operator's start-up listing (`controller/runtime/operator.py`, `Operator.model_pages`): the import
queue is rebuilt from every page of it before the first pass. Each test names the branch it drives
(docs/coverage-branches.md)."""

from __future__ import annotations

import copy
import logging
from typing import Any

from controller.reconcile import Reconciler
from controller.runtime import operator as runtime
from controller.settings import Settings


def test_the_import_queue_is_rebuilt_from_every_page_of_the_start_up_listing(monkeypatch):
    """`Operator.model_pages`: `if not token: break` false (a `continue` token: the next page). With
    more than 100 models, the LIST at start-up is paged: an object on page 3 whose import job runs keeps
    its region's slot, and the line keeps its order, instead of the first page deciding who starts."""

    def body(i: int, status: dict[str, Any]) -> dict[str, Any]:
        return {
            "metadata": {"uid": f"u{i}", "namespace": "team", "name": f"m{i}", "generation": 1},
            "spec": {
                "source": {"s3Uri": f"s3://models/m{i}/"},
                "serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/r"},
                "region": "us-east-1",
            },
            "status": status,
        }

    running = {
        "importJob": {
            "revision": "r",
            "region": "us-east-1",
            "attempt": 1,
            "jobName": "j",
            "modelName": "m",
            "state": "InProgress",
        }
    }
    bodies = [body(i, {"phase": "Ready"}) for i in range(250)]
    bodies[0] = body(0, {"phase": "Queued", "queuedAt": "2026-01-01T10:00:09Z/000000000009"})  # page 1
    bodies[120] = body(120, {"phase": "Queued", "queuedAt": "2026-01-01T10:00:01Z/000000000001"})  # page 2
    bodies[249] = body(249, running)  # page 3

    class Api:
        def list_cluster_custom_object(self, group, version, plural, limit, _continue=None):
            start = int(_continue or 0)
            more = start + limit < len(bodies)
            meta = {"continue": str(start + limit)} if more else {}
            return {"items": copy.deepcopy(bodies[start : start + limit]), "metadata": meta}

    monkeypatch.setattr(runtime.client, "CustomObjectsApi", lambda _api=None: Api())
    monkeypatch.setattr(runtime, "api_client", lambda settings: None)
    settings = Settings(cluster_id="c")
    rec = Reconciler(settings)
    op = runtime.Operator(settings, reconciler=rec)
    seed = next(h.fn for h in op.registry()._activities.get_all_handlers() if h.fn.__name__ == "seed_queue")
    seed(logger=logging.getLogger("test"))
    assert rec.queue.holders("us-east-1") == {"u249"}, "the running job on page 3 holds the slot"
    assert not rec.queue.may_start("us-east-1", "u0")
    rec.queue.forget("u249")  # its job ended
    assert rec.queue.may_start("us-east-1", "u120") and not rec.queue.may_start("us-east-1", "u0")
    assert op.work.find("u249") is not None, "its turn can wake it before its own first pass"
    op.executor.shutdown(wait=False)
