"""How many Inline validations run at once in the operator's process, and who is next. Each one's memory is
bounded (INLINE_PEAK_BUDGET); how many reconcile threads could start one is not, so they take turns. An
object that found every turn taken is woken as soon as one frees, first come first served, instead of at its
next poll (200 models applied at once took 10 s polls to get through one at a time)."""

from __future__ import annotations

import threading


class InlineGate:
    def __init__(self, slots: int = 1) -> None:
        self._slots = slots
        self._in_use = 0
        self._waiting: dict[str, None] = {}  # uids in the order they found it full
        self._cond = threading.Condition()

    def resize(self, slots: int) -> None:
        with self._cond:
            self._slots = max(1, slots)
            self._cond.notify_all()

    def acquire(self, uid: str, timeout: float) -> bool:
        """A turn for `uid` within `timeout`; else it is remembered as waiting (and False)."""
        with self._cond:
            got = self._cond.wait_for(lambda: self._in_use < self._slots, timeout=timeout)
            if got:
                self._in_use += 1
                self._waiting.pop(uid, None)
            else:
                self._waiting.setdefault(uid, None)
            return got

    def release(self) -> None:
        with self._cond:
            self._in_use -= 1
            self._cond.notify_all()

    def next_up(self) -> list[str]:
        """The waiting objects that a free turn could take now (taken off the list: one that finds the gate
        full again puts itself back at the end)."""
        with self._cond:
            free = self._slots - self._in_use
            woken = list(self._waiting)[: max(0, free)]
            for uid in woken:
                del self._waiting[uid]
            return woken

    def forget(self, uid: str) -> None:
        with self._cond:
            self._waiting.pop(uid, None)
