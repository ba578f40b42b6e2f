"""Bedrock runs one import job per account and region at a time: objects wait here, first come first served
(one line per `slot_of(region, account role)`; "region" below means that key).

(The number of slots is a setting only because the quota might one day change; it defaults to 1.)

Each pass of an object ends by saying where the object stands, in one call: it holds a slot (its job
runs, or its create is in flight), it waits (since `queuedAt`, persisted so the order survives a
restart), or it is out (paused, failed, validating, backing off, done, deleted). So no path can leave an
object holding a slot it no longer uses, and a head of line that cannot start does not block the others.
Bedrock remains the authority: a create that still meets ServiceQuotaExceeded just waits in line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def slot_of(region: str, account_role: str | None) -> str:
    """The queue a job waits in: Bedrock's one slot is per account and region, so a team importing into its
    own account (a BedrockImportPolicy's account.roleArn) waits only for that account's jobs."""
    if not account_role:
        return region
    parts = account_role.split(":")
    return f"{region}/{parts[4] if len(parts) > 4 and parts[4] else account_role}"


def shown_time(key: str | None) -> str | None:
    """The time part of a line key (`<RFC 3339>/<arrival count>`): what status.queuedAt shows a person."""
    return key.split("/", 1)[0] if key else key


def arrival_order(arrival: str | None, queued_at: str) -> int | None:
    """The arrival count of an arrival key of the same second as `queued_at` (None: another second)."""
    if not arrival or "/" not in arrival or shown_time(arrival) != queued_at:
        return None
    return int(arrival.split("/", 1)[1])


def line_key(queued_at: str, order: int | None) -> str:
    """The key the line is ordered by: the time, then (within a second) the order the operator saw objects."""
    return queued_at if order is None else f"{queued_at}/{order:012d}"


class ImportQueue:
    def __init__(
        self, slots_per_region: int = 1, clock: Callable[[], float] = time.monotonic, busy_for: float = 10.0
    ) -> None:
        self.slots_per_region = max(1, slots_per_region)
        self.clock, self.busy_for = clock, busy_for
        self._busy_until: dict[str, float] = {}  # region -> a job outside the operator holds its slot until
        self._lock = threading.Lock()
        self._waiting: dict[str, dict[str, str]] = {}  # region -> {uid: queuedAt}
        self._slots: dict[str, set[str]] = {}  # region -> uids holding a slot
        self._names: dict[str, str] = {}  # uid -> namespace/name, to say who holds a slot

    def _drop(self, uid: str) -> None:
        for waiting in self._waiting.values():
            waiting.pop(uid, None)
        for slots in self._slots.values():
            slots.discard(uid)

    def enqueue(self, region: str, uid: str, queued_at: str) -> int:
        """Wait in line (and only there); return the 1-based position."""
        with self._lock:
            if uid not in self._waiting.get(region, {}):
                self._drop(uid)
                self._waiting.setdefault(region, {})[uid] = queued_at
            return self._position(region, uid)

    def _order(self, region: str) -> list[str]:
        """The region's line, first first: by queuedAt (creation time, then arrival), then uid."""
        return [u for u, _ in sorted(self._waiting.get(region, {}).items(), key=lambda kv: (kv[1], kv[0]))]

    def _position(self, region: str, uid: str) -> int:
        return self._order(region).index(uid) + 1

    def busy_outside(self, region: str) -> None:
        """Bedrock refused a create for the slot: nobody here tries again for `busy_for` seconds."""
        with self._lock:
            self._busy_until[region] = self.clock() + self.busy_for

    def _busy(self, region: str) -> bool:
        return self.clock() < self._busy_until.get(region, 0.0)

    def _can_start(self, region: str, uid: str) -> bool:
        running = self._slots.get(region, set())
        if uid in running:
            return True
        if self._busy(region):
            return False
        free = self.slots_per_region - len(running)
        if free <= 0:
            return False
        return uid not in self._waiting.get(region, {}) or self._position(region, uid) <= free

    def may_start(self, region: str, uid: str) -> bool:
        """True when a slot is free (or already ours) and the object is early enough in line to use it."""
        with self._lock:
            return self._can_start(region, uid)

    def try_start(self, region: str, uid: str) -> bool:
        """`may_start` and taking the slot in one step: two workers can never both take the last slot."""
        with self._lock:
            if not self._can_start(region, uid):
                return False
            self._drop(uid)
            self._slots.setdefault(region, set()).add(uid)
            return True

    def hold(self, region: str, uid: str) -> None:
        with self._lock:
            self._drop(uid)
            self._slots.setdefault(region, set()).add(uid)

    def release(self, uid: str) -> bool:
        """Its job is no longer running in Bedrock (the shared listing stopped showing it): its slot is free
        for the next in line now, before its own pass has recorded the end. True: it held one."""
        with self._lock:
            holding = [slots for slots in self._slots.values() if uid in slots]
            for slots in holding:
                slots.discard(uid)
            return bool(holding)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._drop(uid)
            self._names.pop(uid, None)

    def name(self, uid: str, who: str) -> None:
        """How to call the object in a message to the objects waiting behind it."""
        with self._lock:
            self._names[uid] = who

    def holder_names(self, region: str) -> list[str]:
        """Who holds the line's slots (for "waiting for team-a/llama's import"); unnamed ones are left out."""
        with self._lock:
            return sorted(self._names[u] for u in self._slots.get(region, set()) if u in self._names)

    def next_up(self) -> list[str]:
        """Objects whose turn it is now: the head of each region's line, as many as it has free slots.
        Waking them at once (not at their next poll) keeps the slot from idling between jobs."""
        with self._lock:
            ready = []
            for region in self._waiting:
                if self._busy(region):
                    continue  # its next poll tries; a wake would only draw the same refusal
                free = self.slots_per_region - len(self._slots.get(region, set()))
                ready += self._order(region)[: max(0, free)]
            return ready

    def holds(self, uid: str) -> bool:
        """Whether the object holds a slot anywhere (its job runs, or its create may have reached Bedrock)."""
        with self._lock:
            return any(uid in slots for slots in self._slots.values())

    def holders(self, region: str) -> set[str]:
        with self._lock:
            return set(self._slots.get(region, set()))

    def regions(self) -> list[str]:
        with self._lock:
            return sorted(set(self._waiting) | set(self._slots))

    def length(self, region: str | None = None) -> int:
        with self._lock:
            if region is not None:
                return len(self._waiting.get(region, {}))
            return sum(len(w) for w in self._waiting.values())
