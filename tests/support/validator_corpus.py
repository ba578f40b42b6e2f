"""A corpus of model folders, importable and not, built from real headers and sparse data.

Each case: (id, how to build it, kwargs for validate_source, expected verdict, expected code or None,
local_only). `local_only` cases use sparse multi-GB files that only a local folder can hold cheaply.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bmo_devtools.dev.model_factory import (
    FILL_BYTE,
    ModelSpec,
    build_model,
    build_sharded_model,
    safetensors_bytes_header,
    write_safetensors,
)

GB = 10**9


@dataclass
class Case:
    id: str
    build: Callable[[Path], Path]
    verdict: str
    code: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    local_only: bool = False


def spec(**kw: Any) -> Callable[[Path], Path]:
    return lambda folder: build_model(folder, ModelSpec(**kw))


def then(base: Callable[[Path], Path], fn: Callable[[Path], None]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        base(folder)
        fn(folder)
        return folder

    return build


def _raw_safetensors(name: str, header: bytes, data_len: int, declared_len: int | None = None):
    def write(folder: Path) -> None:
        (folder / "model.safetensors").unlink(missing_ok=True)
        n = len(header) if declared_len is None else declared_len
        with open(folder / name, "wb") as fh:
            fh.write(struct.pack("<Q", n) + header)
            fh.write(FILL_BYTE * data_len)  # finite, non-zero weights (the validator samples them)
            fh.truncate(8 + len(header) + data_len)

    return write


def _tensor_header(entries: dict[str, dict]) -> bytes:
    return json.dumps(entries).encode()


def _duplicate_tensor(folder: Path) -> None:
    idx = json.loads((folder / "model.safetensors.index.json").read_text())
    first = next(iter(idx["weight_map"]))
    write_safetensors(folder / "model-stale.safetensors", {first: ("BF16", (64, 64))})


def _index_points_elsewhere(folder: Path) -> None:
    p = folder / "model.safetensors.index.json"
    idx = json.loads(p.read_text())
    first = next(iter(idx["weight_map"]))
    idx["weight_map"][first] = "model-00002-of-00002.safetensors"
    p.write_text(json.dumps(idx))


def _index_with(path: str) -> Callable[[Path], None]:
    def fn(folder: Path) -> None:
        p = folder / "model.safetensors.index.json"
        idx = json.loads(p.read_text())
        idx["weight_map"]["extra.weight"] = path
        p.write_text(json.dumps(idx))

    return fn


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def _sparse(name: str, size: int) -> Callable[[Path], None]:
    def fn(folder: Path) -> None:
        with open(folder / name, "wb") as fh:
            fh.write(b'{"version": "1.0"}')
            fh.truncate(size)

    return fn


def _huge_shards(total: int, shards: int, kind: str = "llama3") -> Callable[[Path], Path]:
    return lambda folder: build_sharded_model(folder, total, shards, kind)


_gap = _tensor_header(
    {
        "a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]},
        "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]},
    }
)
_shape = _tensor_header({"a": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 8]}})
_ok_one = _tensor_header({"a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}})
_odd_names = _tensor_header(
    {
        "": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]},
        "\U0001f999.weight": {"dtype": "BF16", "shape": [1], "data_offsets": [2, 4]},
        "a\u0000b" + "x" * 5000: {"dtype": "BF16", "shape": [1], "data_offsets": [4, 6]},
        "__proto__": {"dtype": "BF16", "shape": [1], "data_offsets": [6, 8]},
    }
)

CASES: list[Case] = [
    # --- importable ---------------------------------------------------------------------------------
    Case("llama3-single-file", spec(kind="llama3"), "importable", None),
    Case("llama2", spec(kind="llama2", dtype="F16"), "importable", None),
    Case("mistral-3-shards", spec(kind="mistral", shards=3), "importable", None),
    Case("mixtral", spec(kind="mixtral", shards=2), "importable", None),
    Case("flan-t5", spec(kind="flan-t5"), "importable", None),
    Case("qwen2.5", spec(kind="qwen2.5"), "importable", None),
    Case("qwen3", spec(kind="qwen3"), "importable", None),
    Case("mllama", spec(kind="mllama"), "importable", None),
    Case(
        "sentencepiece-model-without-tokenizer-model",
        spec(kind="llama2", drop={"tokenizer.model"}),
        "importable",
        "NoTokenizerModel",
    ),
    Case("vocab-size-mismatch", spec(kind="llama2", vocab=32004), "not-importable", "VocabSizeMismatch"),
    Case("gpt-oss-mxfp4", spec(kind="gpt-oss"), "importable", None, {"region": "us-east-1"}),
    Case("fp32-noted", spec(kind="llama2", dtype="F32"), "importable", "Fp32Converted"),
    Case(
        "no-chat-template-warns",
        spec(kind="mistral", tokenizer_overrides={"chat_template": None}),
        "importable",
        "NoChatTemplate",
    ),
    Case(
        "other-transformers-warns",
        spec(kind="llama2", config_overrides={"transformers_version": "4.44.0"}),
        "importable",
        "TransformersVersion",
    ),
    Case(
        "pickles-beside-safetensors",
        then(spec(kind="llama2"), _write("pytorch_model.bin", b"\x80\x04")),
        "importable",
        "PickleFilesIgnored",
    ),
    Case("declared-family-member", spec(kind="llama3"), "importable", None, {"architecture": "Llama3.3"}),
    Case(
        "unindexed-extra-shard",
        then(
            spec(kind="mistral", shards=2),
            lambda f: write_safetensors(f / "extra.safetensors", {"x": ("BF16", (2,))}),
        ),
        "importable",
        "UnindexedShard",
    ),
    Case(
        "odd-tensor-names",
        then(spec(kind="llama2"), _raw_safetensors("model.safetensors", _odd_names, 8)),
        "importable",
        None,
    ),
    Case(
        "header-over-first-read",
        spec(kind="llama2", tensors={f"model.layers.{i}.mlp.weight": ("BF16", (2,)) for i in range(2000)}),
        "importable",
        None,
    ),
    # sparse files hold zeros: sampling them is tests/unit/test_weights_sanity.py's subject, not this case's
    Case(
        "150GB-text-model",
        _huge_shards(150 * GB, 30),
        "importable",
        None,
        kwargs={"sample_weights": False},
        local_only=True,
    ),
    # --- not importable -----------------------------------------------------------------------------
    Case("empty-folder", lambda f: f, "not-importable", "SourceEmpty"),
    Case("no-config", spec(drop={"config.json"}), "not-importable", "MissingConfig"),
    Case(
        "pickle-only",
        then(spec(kind="llama2", drop={"model.safetensors"}), _write("pytorch_model.bin", b"\x80\x04")),
        "not-importable",
        "PickleWeightsOnly",
    ),
    Case("no-weights", spec(drop={"model.safetensors"}), "not-importable", "MissingWeights"),
    Case(
        "gptq-quantization-config",
        spec(config_overrides={"quantization_config": {"quant_method": "gptq"}}),
        "not-importable",
        "QuantizedModel",
    ),
    Case("int8-weights", spec(kind="llama2", dtype="I8"), "not-importable", "QuantizedWeights"),
    Case("fp8-weights", spec(kind="llama2", dtype="F8_E4M3"), "not-importable", "QuantizedWeights"),
    Case(
        "awq-tensor-names",
        spec(
            kind="llama2",
            tensors={
                "model.layers.0.q_proj.qweight": ("F16", (8, 8)),
                "model.layers.0.q_proj.scales": ("F16", (8,)),
            },
        ),
        "not-importable",
        "QuantizedWeights",
    ),
    Case("f64-weights", spec(kind="llama2", dtype="F64"), "not-importable", "UnsupportedDtype"),
    Case("embedding-model", spec(kind="bert-embedding"), "not-importable", "EmbeddingModel"),
    Case(
        "unsupported-model-type",
        spec(config_overrides={"model_type": "falcon", "architectures": ["FalconForCausalLM"]}),
        "not-importable",
        "UnsupportedArchitecture",
    ),
    Case(
        "qwen3-wrong-class",
        spec(kind="qwen3", config_overrides={"architectures": ["Qwen3MoeForCausalLM"]}),
        "not-importable",
        "UnsupportedArchitectureClass",
    ),
    Case(
        "declared-mistral-is-llama",
        spec(kind="llama3"),
        "not-importable",
        "ArchitectureMismatch",
        {"architecture": "Mistral"},
    ),
    Case(
        "declared-llama2-is-llama3",
        spec(kind="llama3"),
        "not-importable",
        "ArchitectureMismatch",
        {"architecture": "Llama2"},
    ),
    Case(
        "context-too-long",
        spec(config_overrides={"max_position_embeddings": 262144}),
        "not-importable",
        "ContextTooLong",
    ),
    Case(
        "shard-missing",
        spec(kind="mistral", shards=3, drop={"model-00002-of-00003.safetensors"}),
        "not-importable",
        "ShardMissing",
    ),
    Case(
        "shard-path-escapes",
        then(spec(kind="mistral", shards=2), _index_with("../other/evil.safetensors")),
        "not-importable",
        "ShardPathOutsideFolder",
    ),
    Case(
        "tensor-in-two-shards",
        then(spec(kind="mistral", shards=2), _duplicate_tensor),
        "not-importable",
        "TensorInTwoShards",
    ),
    Case(
        "index-disagrees-with-headers",
        then(spec(kind="mistral", shards=2), _index_points_elsewhere),
        "not-importable",
        "ShardIndexMismatch",
    ),
    Case("no-tokenizer", spec(kind="llama3", drop={"tokenizer.json"}), "not-importable", "MissingTokenizer"),
    Case(
        "no-tokenizer-config",
        spec(drop={"tokenizer_config.json"}),
        "not-importable",
        "MissingTokenizerConfig",
    ),
    Case(
        "unsupported-tokenizer",
        spec(tokenizer_overrides={"tokenizer_class": "BertTokenizerFast"}),
        "not-importable",
        "UnsupportedTokenizer",
    ),
    Case(
        "gpt-oss-wrong-region",
        spec(kind="gpt-oss"),
        "not-importable",
        "RegionNotSupported",
        {"region": "us-west-2"},
    ),
    Case(
        "gpt-oss-no-generation-config",
        spec(kind="gpt-oss", drop={"generation_config.json"}),
        "not-importable",
        "MissingGenerationConfig",
    ),
    Case(
        "gpt-oss-wrong-eos",
        then(spec(kind="gpt-oss"), _write("generation_config.json", b'{"eos_token_id": 2}')),
        "not-importable",
        "GenerationConfigEos",
    ),
    Case(
        "unknown-region", spec(kind="llama2"), "not-importable", "RegionNotSupported", {"region": "eu-west-9"}
    ),
    # --- hostile or broken files -------------------------------------------------------------------
    Case(
        "header-length-10GB",
        then(spec(), _raw_safetensors("model.safetensors", _ok_one, 8, 10 * GB)),
        "not-importable",
        "SafetensorsHeaderTooLarge",
    ),
    Case(
        "header-not-json",
        then(spec(), _raw_safetensors("model.safetensors", b"\x00\xff garbage" * 10, 0)),
        "not-importable",
        "SafetensorsHeaderInvalid",
    ),
    Case(
        "header-duplicate-keys",
        then(
            spec(),
            _raw_safetensors(
                "model.safetensors",
                b'{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},'
                b'"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}',
                2,
            ),
        ),
        "not-importable",
        "SafetensorsHeaderInvalid",
    ),
    Case(
        "header-deeply-nested",
        then(spec(), _raw_safetensors("model.safetensors", b'{"a":' + b"[" * 200000, 0)),
        "not-importable",
        "SafetensorsHeaderInvalid",
    ),
    Case(
        "truncated-upload",
        then(spec(), lambda f: _truncate(f / "model.safetensors", 1000)),
        "not-importable",
        "SafetensorsTruncated",
    ),
    Case(
        "tiny-file",
        then(spec(), _write("model.safetensors", b"\x01\x02")),
        "not-importable",
        "SafetensorsTruncated",
    ),
    Case(
        "offsets-gap",
        then(spec(), _raw_safetensors("model.safetensors", _gap, 24)),
        "not-importable",
        "SafetensorsOffsetsInvalid",
    ),
    Case(
        "shape-mismatch",
        then(spec(), _raw_safetensors("model.safetensors", _shape, 8)),
        "not-importable",
        "SafetensorsShapeMismatch",
    ),
    Case(
        "trailing-bytes",
        then(spec(), _raw_safetensors("model.safetensors", _ok_one, 100)),
        "not-importable",
        "SafetensorsSizeMismatch",
    ),
    Case(
        "config-not-json",
        then(spec(), _write("config.json", b"{model_type: llama")),
        "not-importable",
        "InvalidConfig",
    ),
    Case(
        "config-recursive",
        then(spec(), _write("config.json", b"[" * 100000 + b"]" * 100000)),
        "not-importable",
        "InvalidConfig",
    ),
    Case(
        "config-2MB",
        then(spec(), _write("config.json", b'{"pad": "' + b"x" * 2_000_000 + b'"}')),
        "not-importable",
        "InvalidConfig",
    ),
    Case(
        "tokenizer-json-2GB",
        then(spec(), _sparse("tokenizer.json", 2 * 1024**3)),
        "not-importable",
        "TokenizerFileTooLarge",
        local_only=True,
    ),
    Case("200GB-text-model", _huge_shards(200 * GB, 30), "not-importable", "ModelTooLarge", local_only=True),
    Case(
        "120GB-multimodal",
        _huge_shards(120 * GB, 30, kind="mllama"),
        "not-importable",
        "ModelTooLarge",
        local_only=True,
    ),
]


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


assert len({c.id for c in CASES}) == len(CASES)
__all__ = ["CASES", "Case", "safetensors_bytes_header"]
