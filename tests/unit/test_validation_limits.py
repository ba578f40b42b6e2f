"""Inline validation runs tenants' files inside the operator: whatever a folder holds, the validator keeps
under INLINE_PEAK_BUDGET of traced memory and refuses what passes a cap, naming the cap and the mode.
Job validation (its own pod) keeps the wider limits."""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import pytest

from controller.artifacts.limits import INLINE_LIMITS, INLINE_PEAK_BUDGET, JOB_LIMITS, MiB
from controller.artifacts.sources import LocalFolder
from controller.artifacts.validate import validate_source

CONFIG = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 8}


def _shard(path: Path, header_bytes: int, short_names: bool = False) -> int:
    """A valid safetensors file whose header is `header_bytes` long, give or take one entry (2-byte
    tensors; short names pack the most tensors into a byte)."""
    entries, size, offset, i = [], 2, 0, 0
    while True:
        name = f"t{i}" if short_names else f"model.layers.{i}.self_attn.q_proj.weight.padding"
        entry = json.dumps({name: {"dtype": "BF16", "shape": [1], "data_offsets": [offset, offset + 2]}})[
            1:-1
        ]
        if size + len(entry) + 1 > header_bytes:
            break
        entries.append(entry)
        size, offset, i = size + len(entry) + 1, offset + 2, i + 1
    raw = ("{" + ",".join(entries) + "}").encode()
    raw += b" " * (header_bytes - len(raw))  # JSON allows trailing spaces: exactly the size asked
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return len(raw)


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    return folder


def _peak(folder: Path, limits=INLINE_LIMITS) -> tuple[int, list[str]]:
    tracemalloc.start()
    try:
        report = validate_source(LocalFolder(folder), limits=limits, concurrency=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sorted({f.code for f in report.errors})


def _many_big_headers(folder: Path, short: bool) -> None:
    for k in range(12):  # 12 headers just under the 1 MiB cap: the 4 MiB total stops the fifth
        _shard(folder / f"model-{k:05d}-of-00012.safetensors", MiB - 4096, short_names=short)
    weight_map = {
        f"model.layers.{i}.mlp.weight.some-padding": "model-00001-of-00012.safetensors" for i in range(50_000)
    }
    index = json.dumps({"metadata": {}, "weight_map": weight_map})
    (folder / "model.safetensors.index.json").write_text(
        index[: 4 * MiB - 200]
        if len(index) < 4 * MiB
        else json.dumps({"metadata": {}, "weight_map": dict(list(weight_map.items())[:40_000])})
    )
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "x" * (4 * MiB - 100)}))


def _dense_json(size: int, wrap=lambda d: d) -> str:
    """A JSON object of `size` bytes made of the smallest entries (the most objects per byte to parse)."""
    entries = {}
    used, i = 2, 0
    while used + len(f'"{i}":1,') <= size - 64:
        entries[str(i)] = 1
        used, i = used + len(f'"{i}":1,'), i + 1
    return json.dumps(wrap(entries), separators=(",", ":"))


def _dense_jsons(folder: Path, index_bytes: int) -> None:
    """Every JSON the validator parses at its Inline cap (the index at `index_bytes`), of the densest
    content, next to short-name headers up to their total."""
    caps = INLINE_LIMITS.json_bytes
    (folder / "config.json").write_text(_dense_json(caps["config.json"], lambda d: {**CONFIG, "x": d}))
    for name in ("tokenizer_config.json", "generation_config.json", "chat_template.json"):
        (folder / name).write_text(_dense_json(caps[name]))
    (folder / "model.safetensors.index.json").write_text(
        _dense_json(index_bytes, lambda d: {"weight_map": d})
    )
    for k in range(5):
        _shard(folder / f"model-{k:05d}-of-00005.safetensors", MiB - 4096, short_names=True)


@pytest.mark.parametrize(
    "case,build,code",
    [
        ("JSON files past their total", lambda f: _dense_jsons(f, 4 * MiB - 64), "MetadataFilesTooLarge"),
        (
            "JSON files at their total, densest",
            lambda f: _dense_jsons(f, 2 * MiB + 512 * 1024),
            "MissingTokenizer",
        ),
        (
            "headers at the cap, long names",
            lambda f: _many_big_headers(f, short=False),
            "SafetensorsHeadersTooLarge",
        ),
        (
            "headers at the cap, short names",
            lambda f: _many_big_headers(f, short=True),
            "SafetensorsHeadersTooLarge",
        ),
        (
            "a header just over the cap",
            lambda f: _shard(f / "model.safetensors", MiB + 4096),
            "SafetensorsHeaderTooLarge",
        ),
        (
            "a file count past the cap",
            lambda f: [(f / f"x{i}.txt").write_text("") for i in range(INLINE_LIMITS.files + 1)],
            "TooManyFiles",
        ),
        (
            "an index past the cap",
            lambda f: (f / "model.safetensors.index.json").write_text(" " * (4 * MiB + 1)),
            "InvalidShardIndex",
        ),
        (
            "a config past the cap",
            lambda f: (f / "tokenizer_config.json").write_text(" " * (4 * MiB + 1)),
            "InvalidTokenizerConfig",
        ),
    ],
)
def test_inline_validation_stays_in_its_memory_budget_and_names_the_cap(tmp_path, case, build, code):
    folder = _folder(tmp_path, "hostile")
    build(folder)
    peak, codes = _peak(folder)
    assert code in codes, codes
    assert peak <= INLINE_PEAK_BUDGET, (
        f"{case}: peak {peak / MiB:.1f} MiB > {INLINE_PEAK_BUDGET / MiB:.0f} MiB"
    )
    print(f"{case}: peak {peak / MiB:.1f} MiB")


def test_refusals_say_which_modes_limit_it_was(tmp_path):
    folder = _folder(tmp_path, "big-header")
    _shard(folder / "model.safetensors", 2 * MiB)
    inline = validate_source(LocalFolder(folder), limits=INLINE_LIMITS)
    [finding] = [f for f in inline.errors if f.code == "SafetensorsHeaderTooLarge"]
    assert f"limit {MiB} for Inline validation" in finding.message
    job = validate_source(LocalFolder(folder), limits=JOB_LIMITS)
    assert "SafetensorsHeaderTooLarge" not in {f.code for f in job.errors}  # Job mode reads it


def test_a_real_sized_folder_is_within_every_inline_cap(tmp_path):
    """A 191-shard folder with Llama-405B-sized headers (about 6 kB each) and index passes Inline."""
    folder = _folder(tmp_path, "big-model")
    for k in range(191):
        _shard(folder / f"model-{k + 1:05d}-of-00191.safetensors", 6000)
    peak, codes = _peak(folder)
    assert not {"SafetensorsHeadersTooLarge", "SafetensorsHeaderTooLarge", "TooManyFiles"} & set(codes), codes
    assert peak <= INLINE_PEAK_BUDGET
