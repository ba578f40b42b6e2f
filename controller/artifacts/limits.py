"""How much of a model folder the validator will hold in memory, by where it runs.

In a Job pod (or the `validate` command) a hostile file can at most fail that pod. Inline, it runs inside
the operator, beside every other tenant's work: the caps are tighter and every parse waits for a share of
one byte budget, so the peak stays under `INLINE_PEAK_BUDGET` whatever the files say (measured by
tests/unit/test_validation_limits.py). Real models sit far below each cap: a Llama 3.1 405B folder has 191
shards whose headers total about 1.2 MB, and an index of about 100 kB.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    name: str  # said in each refusal, so a user knows which mode's cap it was
    header_bytes: int  # one safetensors header
    total_header_bytes: int  # every header of the folder (each stays parsed until the model is judged)
    index_bytes: int  # model.safetensors.index.json
    json_bytes: dict[str, int]  # each other JSON file the rules read (config, tokenizer_config, ...)
    total_json_bytes: int  # every JSON file together (each stays parsed until the model is judged)
    files: int  # files in the folder
    in_flight_bytes: int  # bytes being parsed at one time
    sample_reads: int  # ranged reads of weights sanity, the whole folder (its time at tens of ms each)


JOB_LIMITS = Limits(
    "Job",
    header_bytes=16 * MiB,
    total_header_bytes=256 * MiB,
    index_bytes=64 * MiB,
    json_bytes={
        "config.json": 1 * MiB,
        "generation_config.json": 1 * MiB,
        "tokenizer_config.json": 16 * MiB,
        "chat_template.json": 4 * MiB,
    },
    total_json_bytes=96 * MiB,
    files=20_000,
    in_flight_bytes=64 * MiB,
    sample_reads=4096,
)
INLINE_LIMITS = Limits(
    "Inline",
    header_bytes=1 * MiB,
    total_header_bytes=4 * MiB,
    index_bytes=4 * MiB,
    json_bytes={
        "config.json": 256 * 1024,
        "generation_config.json": 64 * 1024,
        "tokenizer_config.json": 1 * MiB,
        "chat_template.json": 1 * MiB,
    },
    total_json_bytes=5 * MiB,
    files=1_000,
    in_flight_bytes=2 * MiB,
    sample_reads=512,
)
#: Largest traced memory one Inline validation may take, hostile inputs included (a test holds it to this);
#: the operator runs one Inline validation at a time.
INLINE_PEAK_BUDGET = 96 * MiB


class ByteBudget:
    """Bytes being parsed at once, across threads: a parse waits until its bytes fit (alone, it always
    fits). And a running total that a folder's headers together may not pass."""

    def __init__(self, in_flight: int, total: int) -> None:
        self._cap = in_flight
        self._used = 0
        self._total_cap = total
        self.total = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, n: int) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._used == 0 or self._used + n <= self._cap)
            self._used += n
        try:
            yield
        finally:
            with self._cond:
                self._used -= n
                self._cond.notify_all()

    def count(self, n: int) -> bool:
        """Add `n` to the running total; False when that passes the total cap (nothing is added)."""
        with self._cond:
            if self.total + n > self._total_cap:
                return False
            self.total += n
            return True
