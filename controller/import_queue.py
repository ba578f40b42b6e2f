"""Bedrock runs one import job per region at a time: objects wait here, first come first served.

The order is each object's `status.queuedAt` (persisted, so the order survives an operator restart);
the slot owner is the object whose job is InProgress. Bedrock remains the authority: a create that
still meets ServiceQuotaExceeded (a job started outside the operator) just stays queued.
"""

from __future__ import annotations

import threading


class ImportQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, dict[str, str]] = {}  # region -> {uid: queuedAt}
        self._slot: dict[str, str] = {}  # region -> uid holding the import slot

    def enqueue(self, region: str, uid: str, queued_at: str) -> int:
        """Add (or keep) the object in line; return its 1-based position."""
        with self._lock:
            waiting = self._waiting.setdefault(region, {})
            waiting.setdefault(uid, queued_at)
            return self._position(region, uid)

    def _position(self, region: str, uid: str) -> int:
        order = sorted(self._waiting.get(region, {}).items(), key=lambda kv: (kv[1], kv[0]))
        return [u for u, _ in order].index(uid) + 1

    def may_start(self, region: str, uid: str) -> bool:
        """True when the slot is free (or ours) and the object is first in line."""
        with self._lock:
            owner = self._slot.get(region)
            if owner not in (None, uid):
                return False
            return uid not in self._waiting.get(region, {}) or self._position(region, uid) == 1

    def take_slot(self, region: str, uid: str) -> None:
        with self._lock:
            self._slot[region] = uid
            self._waiting.get(region, {}).pop(uid, None)

    def release(self, region: str, uid: str) -> None:
        """Forget the object: its job ended, it failed, or it was deleted."""
        with self._lock:
            if self._slot.get(region) == uid:
                del self._slot[region]
            self._waiting.get(region, {}).pop(uid, None)

    def length(self, region: str | None = None) -> int:
        with self._lock:
            if region is not None:
                return len(self._waiting.get(region, {}))
            return sum(len(w) for w in self._waiting.values())
