"""What the operator process remembers about each object between passes, in one place with one forget.

Nothing here is needed for correctness after a restart (status and Bedrock hold the truth); it makes the
process cheap and fair: one reconcile at a time per object, backoff, an event that arrived mid-pass, the
queue's arrival order, and when the model was last checked against Bedrock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ObjectState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: int = 0  # consecutive retryable failures
    next_try: float = 0.0  # monotonic time before which a tick does not retry
    missed_event: bool = False  # an event came while a pass of this object was running
    arrival: str | None = None  # queue tie-break: creationTimestamp, then the order the operator saw it
    last_sync: tuple[float, int] | None = None  # (monotonic, generation) of the last check against Bedrock
    last_tag_check: float | None = None  # monotonic time the model's tags were last read and set right
    gone: bool = False  # the object left the API while a pass of it may still be running
    cached: dict[str, Any] | None = None  # `ticks.glance` at its last watch event: its ticks and wakes
    last_tick: float | None = None  # monotonic time of its last tick (None: not yet seen by the clock)
    wake_pending: bool = False  # a pass (a tick, or a wake for its turn in the queue) is queued, not run yet


class ObjectStates:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._states: dict[str, ObjectState] = {}
        self._arrivals = 0

    def get(self, uid: str) -> ObjectState:
        with self._guard:
            return self._states.setdefault(uid, ObjectState())

    def note_arrival(self, uid: str, created: str) -> str:
        """Queue key in the order objects reached the operator (called on the event loop, in watch order).

        creationTimestamp first (persisted by the apiserver, so the order survives a restart), then the
        arrival count to order objects created within the same second.
        """
        state = self.get(uid)
        with self._guard:
            if state.arrival is None:
                self._arrivals += 1
                state.arrival = f"{created}/{self._arrivals:012d}"
            return state.arrival

    def find(self, uid: str) -> ObjectState | None:
        with self._guard:
            return self._states.get(uid)

    def observe(self, uid: str, cached: dict[str, Any]) -> ObjectState:
        """The object as its latest watch event shows it (a `ticks.glance`)."""
        state = self.get(uid)
        state.cached = cached
        return state

    def claim_wake(self, uid: str) -> ObjectState | None:
        """The object's state if it is known, seen and has no pass queued yet (then it has one)."""
        with self._guard:
            state = self._states.get(uid)
            if state is None or state.cached is None or state.wake_pending:
                return None
            state.wake_pending = True
            return state

    def snapshot(self) -> list[tuple[str, ObjectState]]:
        with self._guard:
            return list(self._states.items())

    def wake_all(self) -> None:
        """Every object's next tick makes a full pass (a policy or a namespace's labels changed)."""
        with self._guard:
            for state in self._states.values():
                state.missed_event = True

    def forget(self, uid: str) -> None:
        with self._guard:
            state = self._states.pop(uid, None)
        if state is not None:
            state.gone = True
