"""Weights sanity before an import is paid for: both ends of every float tensor, read and decoded.

A fine-tune that diverged leaves NaN or Inf in its weights; a save that went wrong leaves tensors of zeros.
Either imports (Bedrock does not look) and answers garbage. Reading all the weights is out of the question
(tens of GB), so each float tensor is sampled at its start and its end, `EDGE_BYTES` each.

What a sample costs is the request, not its bytes: S3 serves one byte range per GET, so a read costs its
latency (tens of ms) whatever its length, and the end of one tensor and the start of the next (with the
small norms between them) are one read. Places at most `MERGE_GAP_BYTES` apart are read together, so a run
of small tensors costs one request. A shard therefore costs about one read per large tensor, the fewest
that touch every tensor without reading them whole; a middle sample would cost a request of its own per
tensor (it was dropped: half the requests, for 64 bytes of a tensor's midpoint). A shard's sampling stops
at `SHARD_BUDGET_BYTES` read (the tensors past it are sampled at their start only, `WINDOW_BYTES`), and no
read is longer than `MAX_READ_BYTES`, which bounds memory. A folder makes at most its mode's
`Limits.sample_reads` reads (their time holds a validation turn): past it each shard keeps its fair share,
spread evenly over the shard, and the tensors left unread are counted, not judged. NaN or Inf in any sample
is certain and an error; a tensor whose samples are all zero is probably all zero and a warning; a shard
that returns fewer bytes than its header promised changed under us, and is an error. See
docs/validation.md.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

from controller.artifacts.limits import JOB_LIMITS
from controller.artifacts.report import Finding, Severity
from controller.artifacts.safetensors_header import ParsedHeader, TensorInfo
from controller.artifacts.sources import ModelSource

#: Bytes read at each end of a tensor (a multiple of every float size): 1,024 BF16 values.
EDGE_BYTES = 2048
#: Bytes read at the start of a tensor past the shard's budget.
WINDOW_BYTES = 64
#: Two places at most this far apart are one read: reading the gap costs less than a request's latency.
MERGE_GAP_BYTES = 64 * 1024
#: Longest single read (what one read holds in memory; four reads per worker are held at most).
MAX_READ_BYTES = 256 * 1024
#: Most bytes read per shard, gaps included.
SHARD_BUDGET_BYTES = 1024 * 1024
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
    size: int = 0  # bytes
    non_finite: int = 0  # NaN or Inf values seen
    values: int = 0
    nonzero: int = 0


@dataclass
class SampleResult:
    tensors: list[TensorVerdict] = field(default_factory=list)
    bytes_read: int = 0
    requests: int = 0
    short: list[tuple[str, int, int, int]] = field(default_factory=list)  # file, offset, asked, got

    def findings(self) -> list[Finding]:
        bad = [t for t in self.tensors if t.non_finite]
        zero = [t for t in self.tensors if t.values and not t.nonzero and not t.non_finite]
        out = []
        if self.short:
            file, offset, asked, got = self.short[0]
            out.append(
                Finding(
                    "WeightsUnreadable",
                    f"{_printable(file, 60)} returned {got} of the {asked} bytes its header places at "
                    f"offset {offset} ({len(self.short)} short read(s)): the file changed or was cut "
                    "while it was validated. Finish the upload, then validate again",
                    Severity.ERROR,
                    file,
                )
            )
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


def _places(t: TensorInfo, base: int, full: bool) -> list[tuple[int, int]]:
    """(absolute start, length) of the sampled places of one tensor: both ends, or its start only."""
    size = t.end - t.begin
    if size <= 0:
        return []
    if not full:
        return [(base + t.begin, min(WINDOW_BYTES, size))]
    if size <= 2 * EDGE_BYTES:
        return [(base + t.begin, size)]
    return [(base + t.begin, EDGE_BYTES), (base + t.end - EDGE_BYTES, EDGE_BYTES)]


@dataclass
class _Read:
    """One ranged read of a shard and the tensor places it serves: (absolute start, length, tensor)."""

    file: str
    start: int
    end: int
    parts: list[tuple[int, int, int]]


class _ShardPlan:
    """The reads of one shard, built place by place in file order, counting the bytes they will read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.reads: list[_Read] = []
        self.spent = 0

    def add(self, start: int, length: int, idx: int) -> None:
        last = self.reads[-1] if self.reads else None
        end = start + length
        gap = MERGE_GAP_BYTES if self.spent < SHARD_BUDGET_BYTES else 0  # past the budget, no gap is read
        if last and start - last.end <= gap and end - last.start <= MAX_READ_BYTES:
            self.spent += max(0, end - last.end)
            last.end = max(last.end, end)
            last.parts.append((start, length, idx))
        else:
            self.spent += length
            self.reads.append(_Read(self.file, start, end, [(start, length, idx)]))


def _judge(result: SampleResult, job: _Read, data: bytes) -> None:
    """Decode the places one read served into their tensors' verdicts."""
    result.requests += 1
    result.bytes_read += len(data)
    if len(data) < job.end - job.start:
        result.short.append((job.file, job.start, job.end - job.start, len(data)))
    for start, length, idx in job.parts:
        offset = start - job.start
        if offset + length > len(data):
            continue  # not returned: the short read is the finding, not this tensor
        verdict = result.tensors[idx]
        values = decode(verdict.dtype, data[offset : offset + length])
        verdict.values += len(values)
        verdict.non_finite += sum(1 for v in values if not math.isfinite(v))
        verdict.nonzero += sum(1 for v in values if v != 0.0)


def _thinned(plans: list[list[_Read]], max_reads: int) -> list[_Read]:
    """At most `max_reads` reads: each shard its fair share (a shard needing less leaves the rest to the
    others), kept evenly spaced over the shard so the sampled tensors span its layers."""
    kept: list[_Read] = []
    remaining = max(0, max_reads)
    for k, reads in enumerate(sorted(plans, key=len)):
        keep = min(len(reads), remaining // (len(plans) - k))
        remaining -= keep
        kept += reads if keep == len(reads) else [reads[i * len(reads) // keep] for i in range(keep)]
    return kept


def sample_weights(
    source: ModelSource,
    headers: Iterable[ParsedHeader],
    concurrency: int = 16,
    max_reads: int = JOB_LIMITS.sample_reads,
) -> SampleResult:
    """Read and judge the sampled places of every float tensor of every readable shard."""
    result = SampleResult()
    plans: list[list[_Read]] = []
    for header in headers:
        if not header.ok:
            continue
        base = 8 + header.header_len
        plan = _ShardPlan(header.file)
        for t in sorted(header.tensors, key=lambda t: t.begin):
            if t.dtype not in FLOAT_DTYPES:
                continue
            result.tensors.append(TensorVerdict(t.name, header.file, t.dtype, t.end - t.begin))
            for start, length in _places(t, base, full=plan.spent < SHARD_BUDGET_BYTES):
                plan.add(start, length, len(result.tensors) - 1)
        plans.append(plan.reads)
    jobs = _thinned(plans, max_reads)

    def read(job: _Read) -> tuple[_Read, bytes]:
        return job, source.read(job.file, job.start, job.end - job.start)

    workers = max(1, concurrency)
    window = 4 * workers  # reads started and not yet judged: what the sampling holds in memory
    todo = iter(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        started = deque(pool.submit(read, job) for job in islice(todo, window))
        while started:
            job, data = started.popleft().result()
            following = next(todo, None)  # keep the workers busy while this read is judged
            if following is not None:
                started.append(pool.submit(read, following))
            _judge(result, job, data)
    return result
