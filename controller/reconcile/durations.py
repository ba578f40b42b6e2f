"""How long imports took lately, by region, in this process: what "typically" means in an import's status
(Bedrock gives no estimate; the fleet's own recent jobs are the best guide). Forgotten on restart."""

from __future__ import annotations

import statistics
import threading
from collections import deque

KEEP = 20  # the last jobs of a region that count
AT_LEAST = 3  # fewer say nothing typical


class RecentDurations:
    def __init__(self) -> None:
        self._by_region: dict[str, deque[tuple[str, float]]] = {}
        self._lock = threading.Lock()

    def add(self, region: str, job: str, seconds: float) -> None:
        """A job's duration, once (a job seen ended on several passes counts once)."""
        with self._lock:
            recent = self._by_region.setdefault(region, deque(maxlen=KEEP))
            if all(name != job for name, _ in recent):
                recent.append((job, max(0.0, seconds)))

    def typical(self, region: str) -> str | None:
        """ "imports in us-east-1 took about 12 min (median of the last 5)", or None below AT_LEAST jobs."""
        with self._lock:
            recent = [seconds for _, seconds in self._by_region.get(region, ())]
        if len(recent) < AT_LEAST:
            return None
        median = statistics.median(recent)
        took = f"about {median / 60:.0f} min" if median >= 90 else f"about {median:.0f} s"
        return f"imports in {region} took {took} (median of the last {len(recent)})"
