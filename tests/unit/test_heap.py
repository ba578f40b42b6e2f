"""Memory freed after a burst goes back to the system (`controller.runtime.heap`)."""

from __future__ import annotations

import pytest

from controller.runtime.heap import Trimmer, release_free_memory


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0])


def test_freed_heap_memory_is_returned_to_the_system() -> None:
    if not release_free_memory():
        pytest.skip("this C library has no malloc_trim")
    chunks = [bytearray(48 * 1024) for _ in range(2000)]  # ~94 MiB on the heap (below mmap's threshold)
    pin = bytearray(48 * 1024)  # allocated last: the heap cannot shrink from its top
    del chunks
    before = _rss_kib()
    assert release_free_memory()
    after = _rss_kib()
    assert before - after > 40 * 1024, (before, after)  # most of the 94 MiB freed in the middle is back
    del pin


def test_the_clock_trims_at_most_once_per_period() -> None:
    now = [0.0]
    trimmer = Trimmer(every=60.0, clock=lambda: now[0])
    calls = []
    for second in range(1, 200):
        now[0] = float(second)
        if trimmer.maybe():
            calls.append(second)
    assert calls == [60, 120, 180] or not release_free_memory()
