"""How weights sanity spends its reads: a request costs its latency whatever its length (S3 serves one range
per GET), so a shard costs about one read per large tensor, runs of small tensors cost one read, no read is
longer than its cap, and a shard's bytes stop at its budget. Each broken tensor is still found wherever it
sits between its neighbours."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmo_devtools.dev.model_factory import write_safetensors
from controller.artifacts.sources import LocalFolder
from controller.artifacts.validate import read_header
from controller.artifacts.weights_sample import (
    EDGE_BYTES,
    MAX_READ_BYTES,
    MERGE_GAP_BYTES,
    SHARD_BUDGET_BYTES,
    WINDOW_BYTES,
    sample_weights,
)

#: A large tensor: its two ends are further apart than a merge gap (BF16, 256 KiB).
BIG = ("BF16", (128, 1024))
#: A norm between two large tensors (BF16, 8 KiB): read with its neighbours' ends.
NORM = ("BF16", (4096,))


class Recording(LocalFolder):
    """A folder that remembers every ranged read (file, start, length)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads: list[tuple[str, int, int]] = []

    def read(self, name: str, start: int, length: int) -> bytes:
        self.reads.append((name, start, length))
        return super().read(name, start, length)


def _layers(n: int) -> dict:
    """`n` decoder-like layers in file order: a norm, then a large matrix."""
    out = {}
    for i in range(n):
        out[f"model.layers.{i}.input_layernorm.weight"] = NORM
        out[f"model.layers.{i}.mlp.down_proj.weight"] = BIG
    return out


def _shards(tmp_path: Path, shards: dict[str, dict], poison: dict[str, str] | None = None) -> tuple:
    """The shards written to a folder, as a recording source with every header read (reads cleared)."""
    folder = tmp_path / "m"
    folder.mkdir()
    for name, tensors in shards.items():
        write_safetensors(folder / name, tensors, poison=poison)
    source = Recording(folder)
    headers = [
        read_header(source, info) for info in source.list_files() if info.name.endswith(".safetensors")
    ]
    source.reads.clear()
    return source, headers


def _sample(tmp_path: Path, shards: dict[str, dict], poison: dict[str, str] | None = None):
    source, headers = _shards(tmp_path, shards, poison)
    return sample_weights(source, headers), source.reads


def test_a_shard_costs_one_read_per_large_tensor_and_one_more(tmp_path):
    result, reads = _sample(tmp_path, {"a.safetensors": _layers(10), "b.safetensors": _layers(10)})
    assert result.requests == len(reads) == 2 * 11  # the first norm + start, 9 boundaries, the last end
    assert len(result.tensors) == 40
    assert all(t.values and t.nonzero == t.values and not t.non_finite for t in result.tensors)
    big = [t for t in result.tensors if t.name.endswith("down_proj.weight")]
    assert {t.values for t in big} == {2 * EDGE_BYTES // 2}  # both ends, EDGE_BYTES each, BF16


def test_small_tensors_together_cost_one_read(tmp_path):
    tensors = {f"model.layers.{i}.norm.weight": NORM for i in range(20)}  # 160 KiB, gaps under MERGE_GAP
    result, reads = _sample(tmp_path, {"a.safetensors": tensors})
    assert len(reads) == 1 and result.requests == 1
    assert all(t.values == 2 * EDGE_BYTES // 2 for t in result.tensors)  # both ends of each


def test_no_read_is_longer_than_its_cap_and_a_shard_reads_at_most_its_budget(tmp_path):
    # 48 tensors of 32 KiB back to back (1.5 MiB): their ends are closer than a merge gap, so the gaps are
    # read too (fewer, longer requests), and they count against the shard's budget.
    tensors = {f"t.{i:02d}.weight": ("BF16", (16 * 1024,)) for i in range(48)}
    result, reads = _sample(tmp_path, {"a.safetensors": tensors})
    assert max(length for _, _, length in reads) <= MAX_READ_BYTES
    assert sum(length for _, _, length in reads) <= SHARD_BUDGET_BYTES + MAX_READ_BYTES
    assert len(result.tensors) == 48
    assert result.tensors[0].values == 2 * EDGE_BYTES // 2  # both ends, within the budget
    assert result.tensors[-1].values == WINDOW_BYTES // 2  # past it: the start only


def test_past_its_budget_a_shard_reads_only_the_start_of_each_tensor(tmp_path):
    # Large tensors far apart: each costs 2 * EDGE_BYTES, so the budget is spent after about 256 of them.
    n = SHARD_BUDGET_BYTES // (2 * EDGE_BYTES) + 40
    tensors = {f"t.{i:04d}.weight": ("F32", (MERGE_GAP_BYTES // 4 + EDGE_BYTES,)) for i in range(n)}
    result, _ = _sample(tmp_path, {"a.safetensors": tensors})
    assert len(result.tensors) == n  # every tensor is still sampled...
    late = result.tensors[-30:]
    assert all(t.values == WINDOW_BYTES // 4 for t in late)  # ...the late ones at their start only
    assert result.bytes_read <= SHARD_BUDGET_BYTES + 2 * EDGE_BYTES + n * WINDOW_BYTES


@pytest.mark.parametrize("where", [0, 4, 9])
@pytest.mark.parametrize("kind", ["nan", "inf", "zero"])
def test_a_broken_large_tensor_is_found_between_its_neighbours(tmp_path, where, kind):
    target = f"model.layers.{where}.mlp.down_proj.weight"
    result, reads = _sample(tmp_path, {"a.safetensors": _layers(10)}, poison={target: kind})
    assert len(reads) == 11
    [bad] = [t for t in result.tensors if t.non_finite or not t.nonzero]
    assert bad.name == target
    [finding] = result.findings()
    assert finding.code == ("WeightsAllZero" if kind == "zero" else "WeightsNotFinite")
    assert target in finding.message


def test_a_tensor_broken_only_in_its_second_half_is_found(tmp_path):
    """A save cut short (or a merge that wrote half a matrix) leaves the start of a tensor good."""
    target = "model.layers.3.mlp.down_proj.weight"
    folder = tmp_path / "m"
    folder.mkdir()
    path = folder / "a.safetensors"
    write_safetensors(path, _layers(6))
    source = Recording(folder)
    [header] = [read_header(source, info) for info in source.list_files()]
    t = next(t for t in header.tensors if t.name == target)
    half = (t.end - t.begin) // 2
    with open(path, "r+b") as fh:  # NaN over the second half only (BF16 0x7fc0)
        fh.seek(8 + header.header_len + t.begin + half)
        fh.write(b"\xc0\x7f" * (half // 2))
    result = sample_weights(source, [header])
    assert [t.name for t in result.tensors if t.non_finite] == [target]


def test_memory_held_stays_bounded_however_many_shards(tmp_path):
    """Reads finish faster than they are judged; the finished ones must not pile up shard after shard."""
    import tracemalloc

    tensors = {f"t.{i:02d}.weight": ("BF16", (16 * 1024,)) for i in range(40)}  # 1.25 MiB, read to budget
    source, headers = _shards(tmp_path, {f"s{n:02d}.safetensors": tensors for n in range(12)})
    tracemalloc.start()
    try:
        result = sample_weights(source, headers, concurrency=2)  # a batch: 8 reads
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.bytes_read > 12 * SHARD_BUDGET_BYTES  # ~13 MiB read in all...
    assert peak < 8 * MAX_READ_BYTES + 3 * 1024 * 1024, peak  # ...at most a batch of reads held


def test_a_folder_built_to_make_countless_reads_makes_at_most_its_cap(tmp_path):
    """Past a shard's budget each tensor costs a read of its own: thousands of tiny float tensors after a
    few large ones would hold a validation turn for minutes. The folder's reads stop at the cap."""
    big = {f"big.{i:02d}.weight": ("BF16", (34 * 1024,)) for i in range(20)}  # 68 KiB each: the budget
    tiny = {f"tiny.{i:05d}.weight": ("BF16", (33,)) for i in range(3000)}  # 66 bytes: one read each
    source, headers = _shards(tmp_path, {"a.safetensors": big | tiny, "b.safetensors": _layers(4)})
    result = sample_weights(source, headers, max_reads=100)
    assert result.requests == len(source.reads) == 100
    b = [t for t in result.tensors if t.file == "b.safetensors"]
    assert all(t.values for t in b)  # the small shard keeps every read it needs (5)...
    a = [t for t in result.tensors if t.file == "a.safetensors"]
    sampled = [i for i, t in enumerate(a) if t.values]
    assert len(sampled) >= 90  # ...the large one the rest, spread over it: its last tensors too
    assert sampled[0] == 0 and sampled[-1] > len(a) * 0.95
    assert len(a) - len(sampled) > 2900  # the others are left unread, not judged clean


def test_the_cap_is_the_modes_and_the_unread_tensors_are_counted(tmp_path):
    from dataclasses import replace

    from bmo_devtools.dev.model_factory import ModelSpec, build_model
    from controller.artifacts.limits import INLINE_LIMITS, JOB_LIMITS
    from controller.artifacts.validate import validate_source

    assert INLINE_LIMITS.sample_reads < JOB_LIMITS.sample_reads
    folder = build_model(
        tmp_path / "m", ModelSpec(kind="llama3", dtype="BF16", shards=3, layers=8, hidden=256)
    )
    full = validate_source(LocalFolder(folder))
    assert full.summary.sample_requests > 6 and full.summary.unsampled_tensors == 0
    capped = validate_source(LocalFolder(folder), limits=replace(JOB_LIMITS, sample_reads=6))
    s = capped.summary
    assert s.sample_requests == 6
    assert s.unsampled_tensors > 0 and s.sampled_tensors + s.unsampled_tensors == full.summary.sampled_tensors


class Cut(Recording):
    """A shard cut short after its header was read: every later read returns less than was asked."""

    def read(self, name: str, start: int, length: int) -> bytes:
        return super().read(name, start, length)[: length // 2]


def test_a_shard_that_returns_less_than_its_header_promised_is_an_error(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    write_safetensors(
        folder / "a.safetensors", _layers(3), poison={"model.layers.1.mlp.down_proj.weight": "nan"}
    )
    headers = [read_header(LocalFolder(folder), info) for info in LocalFolder(folder).list_files()]
    result = sample_weights(Cut(folder), headers)
    unreadable = [f for f in result.findings() if f.code == "WeightsUnreadable"]
    assert unreadable and unreadable[0].severity.value == "error" and "a.safetensors" in unreadable[0].message
    assert "validate again" in unreadable[0].message
