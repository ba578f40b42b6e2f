"""Hand the memory freed after a burst back to the system.

glibc keeps what the process frees in its heaps for later reuse: after 1,000 objects' first passes the
operator held ~21 MiB freed that nothing reused (and paid for it in its RSS, which is what a memory limit
counts). `malloc_trim` returns it; it takes milliseconds and the clock calls it once a minute. A C library
without it (musl) keeps its own ways: nothing is done there.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

TRIM_EVERY_SECONDS = 60.0


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError):
        return None


_trim = _malloc_trim()


def release_free_memory() -> bool:
    """Return the heaps' free pages to the system; False where the C library cannot."""
    if _trim is None:
        return False
    _trim(0)
    return True


class Trimmer:
    """Calls `release_free_memory` at most once per `every` seconds of a monotonic clock."""

    def __init__(self, every: float = TRIM_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self._clock = clock
        self._last = clock()

    def maybe(self) -> bool:
        now = self._clock()
        if now - self._last < self.every:
            return False
        self._last = now
        return release_free_memory()
