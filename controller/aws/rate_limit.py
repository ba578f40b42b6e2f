"""Client-side rate limits for Bedrock's control-plane API, per region and operation.

Bedrock's control-plane APIs have low request-rate quotas per account and region. A fleet's resync must
spend them evenly instead of bursting into throttling, and throttling that still happens (another client
of the account, a quota lower than assumed) must slow every caller of that region, not only the object
whose call drew it: the next object's call would only draw it again.

So each region (of each AWS identity) has one token bucket per operation, at the rate the setting
`BMO_BEDROCK_RATE_LIMITS` gives (requests per second; `default` for operations it does not name), and one
region-wide pause that a throttled answer starts and doubles (1 s, 2 s, ... up to 30 s) and a successful
answer clears. botocore's own retries (standard mode) still retry the throttled call itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PAUSE_BASE_SECONDS, PAUSE_CAP_SECONDS = 1.0, 30.0


def parse_limits(text: str) -> dict[str, float]:
    """`Operation=rate,...` (requests per second; `default=` for the rest). Raises ValueError."""
    limits: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not sep or not name.strip() or rate <= 0:
            raise ValueError(f"{part!r}: write Operation=requests-per-second, e.g. GetImportedModel=5")
        limits[name.strip()] = rate
    limits.setdefault("default", 5.0)
    return limits


class RegionLimiter:
    """The buckets and the throttling pause of one region."""

    def __init__(
        self,
        limits: dict[str, float],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_free: dict[str, float] = {}  # operation -> when its next token is due
        self._paused_until = 0.0
        self._throttles = 0  # consecutive throttled answers
        self.waited = 0.0  # seconds callers spent waiting here (a metric for the benchmark)

    def acquire(self, operation: str) -> None:
        """Block until a call of `operation` may be sent (one token; no bursts above the rate)."""
        interval = 1.0 / self.limits.get(operation, self.limits["default"])
        with self._lock:
            now = self.clock()
            start = max(now, self._paused_until, self._next_free.get(operation, 0.0))
            self._next_free[operation] = start + interval
            wait = start - now
            self.waited += wait
        if wait > 0:
            self.sleep(wait)

    def throttled(self) -> float:
        """A throttled answer: pause the whole region (doubling while it goes on). Returns the pause."""
        with self._lock:
            now = self.clock()
            if now < self._paused_until:  # sent before the pause began: the pause already answers it
                return self._paused_until - now
            self._throttles += 1
            pause = min(PAUSE_CAP_SECONDS, PAUSE_BASE_SECONDS * 2 ** (self._throttles - 1))
            self._paused_until = now + pause
            return pause

    def succeeded(self) -> None:
        with self._lock:
            self._throttles = 0
