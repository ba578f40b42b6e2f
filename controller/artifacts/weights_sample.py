"""Weights sanity before an import is paid for: a few small ranges of every float tensor, read and decoded.

A fine-tune that diverged leaves NaN or Inf in its weights; a save that went wrong leaves tensors of zeros.
Either imports (Bedrock does not look) and answers garbage. Reading all the weights is out of the question
(tens of GB), so each float tensor is sampled at its start, middle and end: `WINDOW_BYTES` each, the end
of one tensor and the start of the next read together. A shard's sampling stops at `SHARD_BUDGET_BYTES`
(the tensors past it are sampled at their start only). NaN or Inf in any sample is certain and an error;
a tensor whose samples are all zero is probably all zero and a warning. See docs/validation.md.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from controller.artifacts.report import Finding, Severity
from controller.artifacts.safetensors_header import ParsedHeader, TensorInfo
from controller.artifacts.sources import ModelSource

#: Bytes read at each sampled place of a tensor (a multiple of every float size).
WINDOW_BYTES = 64
#: Most sampled bytes per shard.
SHARD_BUDGET_BYTES = 256 * 1024
FLOAT_DTYPES = {"F32": 4, "F16": 2, "BF16": 2}
#: Tensor names shown in one finding (the rest are counted).
SHOWN = 5


def decode(dtype: str, raw: bytes) -> list[float]:
    """Little-endian floats of a safetensors dtype (BF16: the top half of an F32)."""
    size = FLOAT_DTYPES[dtype]
    raw = raw[: len(raw) - len(raw) % size]
    if dtype == "F32":
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if dtype == "F16":
        return list(struct.unpack(f"<{len(raw) // 2}e", raw))
    halves = struct.unpack(f"<{len(raw) // 2}H", raw)
    return list(
        struct.unpack(f"<{len(halves)}f", struct.pack(f"<{len(halves)}I", *(h << 16 for h in halves)))
    )


@dataclass
class TensorVerdict:
    name: str
    file: str
    dtype: str
    non_finite: int = 0  # NaN or Inf values seen
    values: int = 0
    nonzero: int = 0


@dataclass
class SampleResult:
    tensors: list[TensorVerdict] = field(default_factory=list)
    bytes_read: int = 0
    requests: int = 0

    def findings(self) -> list[Finding]:
        bad = [t for t in self.tensors if t.non_finite]
        zero = [t for t in self.tensors if t.values and not t.nonzero and not t.non_finite]
        out = []
        if bad:
            out.append(
                Finding(
                    "WeightsNotFinite",
                    f"NaN or Inf in {_names(bad)}: the fine-tune diverged or the weights were saved wrong; "
                    "the model would answer garbage. Re-export from a good checkpoint",
                    Severity.ERROR,
                    bad[0].file,
                )
            )
        if zero:
            out.append(
                Finding(
                    "WeightsAllZero",
                    f"every sampled value is zero in {_names(zero)}: those tensors are probably empty "
                    "(a failed save or merge); check them before paying for an import",
                    Severity.WARNING,
                    zero[0].file,
                )
            )
        return out


def _names(tensors: list[TensorVerdict]) -> str:
    shown = ", ".join(f"{_printable(t.name, 80)} ({_printable(t.file, 60)})" for t in tensors[:SHOWN])
    more = f" and {len(tensors) - SHOWN} more" if len(tensors) > SHOWN else ""
    return f"{len(tensors)} tensor(s): {shown}{more}"


def _printable(text: str, limit: int) -> str:
    """A name from a tenant's file, safe to show: control characters escaped, bounded."""
    shown = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _windows(t: TensorInfo, base: int, full: bool) -> list[tuple[int, int]]:
    """(absolute start, length) of the sampled places of one tensor: start, middle and end."""
    size = t.end - t.begin
    if size <= 0:
        return []
    w = min(WINDOW_BYTES, size)
    if not full or size <= 3 * w:
        return [(base + t.begin, min(size, 3 * w) if full else w)]
    step = FLOAT_DTYPES[t.dtype]
    middle = t.begin + (size // 2) // step * step  # on an element boundary of this tensor
    return [(base + t.begin, w), (base + middle, w), (base + t.end - w, w)]


def _coalesced(places: list[tuple[int, int, int]]) -> list[tuple[int, int, list[tuple[int, int, int]]]]:
    """Adjacent places (the end of one tensor, the start of the next) become one ranged read."""
    reads: list[tuple[int, int, list[tuple[int, int, int]]]] = []
    for start, length, idx in sorted(places):
        if reads and reads[-1][0] + reads[-1][1] == start:
            first, total, parts = reads[-1]
            reads[-1] = (first, total + length, [*parts, (start, length, idx)])
        else:
            reads.append((start, length, [(start, length, idx)]))
    return reads


def sample_weights(
    source: ModelSource, headers: Iterable[ParsedHeader], concurrency: int = 16
) -> SampleResult:
    """Read and judge the sampled places of every float tensor of every readable shard."""
    result = SampleResult()
    jobs: list[tuple[str, int, int, list[tuple[int, int, int]]]] = []
    for header in headers:
        if not header.ok:
            continue
        base = 8 + header.header_len
        places: list[tuple[int, int, int]] = []
        spent = 0
        for t in sorted(header.tensors, key=lambda t: t.begin):
            if t.dtype not in FLOAT_DTYPES:
                continue
            result.tensors.append(TensorVerdict(t.name, header.file, t.dtype))
            idx = len(result.tensors) - 1
            for start, length in _windows(t, base, full=spent < SHARD_BUDGET_BYTES):
                places.append((start, length, idx))
                spent += length
        for start, length, parts in _coalesced(places):
            jobs.append((header.file, start, length, parts))

    def read(job: tuple[str, int, int, list[tuple[int, int, int]]]) -> tuple[bytes, list]:
        file, start, length, parts = job
        return source.read(file, start, length), [(s - start, n, i) for s, n, i in parts]

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for data, parts in pool.map(read, jobs):
            result.requests += 1
            result.bytes_read += len(data)
            for offset, length, idx in parts:
                verdict = result.tensors[idx]
                values = decode(verdict.dtype, data[offset : offset + length])
                verdict.values += len(values)
                verdict.non_finite += sum(1 for v in values if not math.isfinite(v))
                verdict.nonzero += sum(1 for v in values if v != 0.0)
    return result
