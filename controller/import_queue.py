"""Bedrock runs one import job per region at a time: objects wait here, first come first served.

(The number of slots is a setting only because the quota might one day change; it defaults to 1.)

The order is each object's `status.queuedAt` (persisted, so the order survives an operator restart);
the slot owner is the object whose job is InProgress. Bedrock remains the authority: a create that
still meets ServiceQuotaExceeded (a job started outside the operator) just stays queued.
"""

from __future__ import annotations

import threading


class ImportQueue:
    def __init__(self, slots_per_region: int = 1) -> None:
        self.slots_per_region = max(1, slots_per_region)
        self._lock = threading.Lock()
        self._waiting: dict[str, dict[str, str]] = {}  # region -> {uid: queuedAt}
        self._slots: dict[str, set[str]] = {}  # region -> uids whose import job is running

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
        """True when a slot is free (or already ours) and the object is early enough in line to use it."""
        with self._lock:
            running = self._slots.get(region, set())
            if uid in running:
                return True
            free = self.slots_per_region - len(running)
            if free <= 0:
                return False
            return uid not in self._waiting.get(region, {}) or self._position(region, uid) <= free

    def take_slot(self, region: str, uid: str) -> None:
        with self._lock:
            self._slots.setdefault(region, set()).add(uid)
            self._waiting.get(region, {}).pop(uid, None)

    def release(self, region: str, uid: str) -> None:
        """Forget the object: its job ended, it failed, or it was deleted."""
        with self._lock:
            self._slots.get(region, set()).discard(uid)
            self._waiting.get(region, {}).pop(uid, None)

    def regions(self) -> list[str]:
        with self._lock:
            return sorted(set(self._waiting) | set(self._slots))

    def length(self, region: str | None = None) -> int:
        with self._lock:
            if region is not None:
                return len(self._waiting.get(region, {}))
            return sum(len(w) for w in self._waiting.values())
