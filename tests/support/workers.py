"""The operator's worker pool, held for a test: what the clock hands a worker besides a pass (a listing's
refresh, a probe) runs at once, on the caller's thread; a pass waits until the test takes it, in the order
the operator's workers would take it (`WorkQueue.take`: wakes before routine ticks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.runtime.work_queue import Item, WorkQueue


class HeldWorkers:
    def __init__(self, work: WorkQueue) -> None:
        self.work = work
        self.handed = 0  # passes handed to a worker and not yet taken

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        if getattr(args[0] if args else fn, "__name__", "") == "run_next":  # (context.run, run_next)
            self.handed += 1
        else:
            fn(*args)

    def take(self) -> tuple[str, Item] | None:
        """The pass the next worker would run (its object no longer queued), or None."""
        while self.handed:
            self.handed -= 1
            taken = self.work.take()
            if taken is not None:
                return taken
        return None

    def take_all(self) -> list[str]:
        """The objects of every pass handed so far, in the order workers would run them."""
        out = []
        while (taken := self.take()) is not None:
            out.append(taken[0])
        return out
