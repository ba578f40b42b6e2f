"""The operator's real metrics, healthy and then with each fault the shipped alerts are about, from a World
run in a process of its own (a fresh registry: no other test's counts). `python -m
tests.support.metrics_scenario` prints {"healthy": <exposition text>, "faulty": <exposition text>} (only
the `bmo_` families)."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY, generate_latest

#: what the faulty run leaves, which each alert's test expects
FAILED_JOBS = 1
QUEUED = 1
SUPERSEDED = 1
ORPHANS = 1


def scrape() -> str:
    lines = generate_latest(REGISTRY).decode().splitlines()
    ours = [line for line in lines if re.sub(r"^# (HELP|TYPE) ", "", line).startswith("bmo_")]
    return "\n".join(ours) + "\n"


def run() -> dict[str, str]:
    from tests.support.world import World
    from tests.unit.test_invariants import spec

    def src(name: str) -> str:
        return f"s3://models/{name}/"

    w = World()
    c = w.cluster("east")
    models = {
        name: c.create("team-a", name, spec(src(name), "us-east-1", "Delete", {"team": "a"}, None))
        for i, name in enumerate(("serving", "orphaned"))
    }
    w.advance(120.0)
    assert all(b["status"]["phase"] == "Ready" for b in models.values()), [
        b["status"].get("phase") for b in models.values()
    ]
    assert c.operator.count_orphans() == 0
    healthy = scrape()

    # an import job fails
    w.set_faults({"fail_jobs": FAILED_JOBS})
    failed = c.create("team-a", "failed", spec(src("failed"), "us-east-1", "Delete", {"team": "a"}, None))
    w.advance(60.0)
    assert failed["status"]["phase"] == "Failed", failed["status"]
    # a new revision serves, and the operator's role may not delete the old one (AccessDenied)
    w.set_faults({"deny_deletes": 10_000})
    c.edit_spec(models["serving"], source={"s3Uri": src("serving-v2")})
    w.advance(120.0)
    superseded = models["serving"]["status"].get("superseded") or []
    assert len(superseded) == SUPERSEDED and superseded[0].get("lastError"), models["serving"]["status"]
    # an object removed without its finalizer: its model stays, tagged for an object that is gone
    gone = models["orphaned"]
    del c.store.objects[("team-a", "orphaned")]
    c.operator.gone(gone["metadata"]["uid"], "team-a")
    assert c.operator.count_orphans() == ORPHANS
    # an import that never ends holds the region's one slot, and the next model waits behind it
    w.set_faults({"job_duration_seconds": 10**6})
    c.create("team-a", "long", spec(src("long"), "us-east-1", "Delete", {"team": "a"}, None))
    w.advance(20.0)
    waiting = c.create("team-a", "waiting", spec(src("waiting"), "us-east-1", "Delete", {"team": "a"}, None))
    w.advance(20.0)
    assert waiting["status"]["phase"] == "Queued", waiting["status"]
    return {"healthy": healthy, "faulty": scrape()}


if __name__ == "__main__":
    print(json.dumps(run()))
