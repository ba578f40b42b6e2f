"""Build small but real Hugging Face model folders: real config and tokenizer files, valid safetensors.

Used by the tests (a corpus of importable and broken models), the benchmarks and the dev stack. Tensor
data of small files is finite and non-zero (the validator samples it); large files stay sparse (zeros the
filesystem does not store), so a "200 GB" model costs no disk.
"""

from __future__ import annotations

import copy
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.artifacts.safetensors_header import DTYPE_BITS

TensorSpec = tuple[str, tuple[int, ...]]  # (dtype, shape)


def safetensors_bytes_header(
    tensors: dict[str, TensorSpec], metadata: dict[str, str] | None = None
) -> tuple[bytes, int]:
    """The header (length prefix + JSON, space-padded to 8 bytes) and the data length it describes."""
    doc: dict[str, Any] = {}
    if metadata is not None:
        doc["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = math.prod(shape) * DTYPE_BITS[dtype] // 8
        doc[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(doc, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, offset


#: Tensor data is written for files up to this size (finite, non-zero: 0x3c in every byte is about 0.011 in
#: F32 and BF16 and 1.06 in F16); larger ones stay sparse zeros (the benchmarks' "200 GB" models).
FILL_LIMIT = 64 * 1024 * 1024
FILL_BYTE = b"\x3c"
#: What `ModelSpec.poison` can write over a whole tensor, per dtype.
POISON = {
    ("nan", "F32"): struct.pack("<f", math.nan),
    ("inf", "F32"): struct.pack("<f", math.inf),
    ("nan", "F16"): struct.pack("<e", math.nan),
    ("inf", "F16"): struct.pack("<e", -math.inf),
    ("nan", "BF16"): struct.pack("<f", math.nan)[2:],
    ("inf", "BF16"): struct.pack("<f", math.inf)[2:],
}


def write_safetensors(
    path: Path,
    tensors: dict[str, TensorSpec],
    metadata: dict[str, str] | None = None,
    poison: dict[str, str] | None = None,
) -> int:
    """Write a valid safetensors file. Its tensor data is finite and non-zero when the file is small, sparse
    zeros when large; `poison` makes whole tensors NaN, Inf or zero (name -> "nan" | "inf" | "zero").
    Returns the file size."""
    header, data_len = safetensors_bytes_header(tensors, metadata)
    with open(path, "wb") as fh:
        fh.write(header)
        if data_len <= FILL_LIMIT:
            fh.write(FILL_BYTE * data_len)
        fh.truncate(len(header) + data_len)
        offset = len(header)
        for name, (dtype, shape) in tensors.items():
            size = math.prod(shape) * DTYPE_BITS[dtype] // 8
            kind = (poison or {}).get(name)
            if kind is not None:
                fh.seek(offset)
                value = b"\0" * (DTYPE_BITS[dtype] // 8) if kind == "zero" else POISON[kind, dtype]
                fh.write(value * (size // len(value)))
            offset += size
    return len(header) + data_len


# ---- architectures --------------------------------------------------------------------------------

_LLAMA_TOKENIZER_CFG = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": "<|begin_of_text|>",
    "eos_token": "<|eot_id|>",
    "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
    "model_max_length": 131072,
}

TEMPLATES: dict[str, dict[str, Any]] = {
    "llama3": {
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": 128256,
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "max_position_embeddings": 131072,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.51.3",
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
        },
        "tokenizer_config": _LLAMA_TOKENIZER_CFG,
        "files": ["tokenizer.json"],
    },
    "llama2": {
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": 32000,
            "hidden_size": 4096,
            "max_position_embeddings": 4096,
            "torch_dtype": "float16",
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": {"tokenizer_class": "LlamaTokenizer", "chat_template": "{{ messages }}"},
        "files": ["tokenizer.json", "tokenizer.model"],
    },
    "mistral": {
        "config": {
            "architectures": ["MistralForCausalLM"],
            "model_type": "mistral",
            "vocab_size": 32768,
            "hidden_size": 4096,
            "max_position_embeddings": 32768,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": {
            "tokenizer_class": "LlamaTokenizerFast",
            "chat_template": "[INST] {{ m }} [/INST]",
        },
        "files": ["tokenizer.json", "tokenizer.model"],
    },
    "mixtral": {
        "config": {
            "architectures": ["MixtralForCausalLM"],
            "model_type": "mixtral",
            "vocab_size": 32000,
            "max_position_embeddings": 32768,
            "num_local_experts": 8,
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": {
            "tokenizer_class": "LlamaTokenizerFast",
            "chat_template": "[INST] {{ m }} [/INST]",
        },
        "files": ["tokenizer.json", "tokenizer.model"],
    },
    "flan-t5": {
        "config": {
            "architectures": ["T5ForConditionalGeneration"],
            "model_type": "t5",
            "vocab_size": 32128,
            "d_model": 1024,
            "n_positions": 512,
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": {"tokenizer_class": "T5Tokenizer", "chat_template": "{{ messages }}"},
        "files": ["tokenizer.json", "spiece.model"],
    },
    "qwen2.5": {
        "config": {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "vocab_size": 152064,
            "max_position_embeddings": 32768,
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": {"tokenizer_class": "Qwen2Tokenizer", "chat_template": "{{ messages }}"},
        "files": ["tokenizer.json"],
    },
    "qwen3": {
        "config": {
            "architectures": ["Qwen3ForCausalLM"],
            "model_type": "qwen3",
            "vocab_size": 151936,
            "max_position_embeddings": 40960,
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": {"tokenizer_class": "Qwen2TokenizerFast", "chat_template": "{{ messages }}"},
        "files": ["tokenizer.json"],
    },
    "mllama": {
        "config": {
            "architectures": ["MllamaForConditionalGeneration"],
            "model_type": "mllama",
            "text_config": {"model_type": "mllama_text_model", "max_position_embeddings": 131072},
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": _LLAMA_TOKENIZER_CFG,
        "files": ["tokenizer.json"],
    },
    "gpt-oss": {
        "config": {
            "architectures": ["GptOssForCausalLM"],
            "model_type": "gpt_oss",
            "vocab_size": 201088,
            "max_position_embeddings": 131072,
            "transformers_version": "4.55.0",
            "quantization_config": {
                "quant_method": "mxfp4",
                "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"],
            },
        },
        "tokenizer_config": {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": "{{ messages }}"},
        "files": ["tokenizer.json"],
        "generation_config": {"eos_token_id": [200002, 199999, 200012]},
    },
    "bert-embedding": {
        "config": {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": 30522,
            "max_position_embeddings": 512,
            "transformers_version": "4.51.3",
        },
        "tokenizer_config": {"tokenizer_class": "BertTokenizerFast"},
        "files": ["tokenizer.json", "modules.json"],
    },
}


def default_tensors(kind: str, dtype: str, layers: int, hidden: int, vocab: int) -> dict[str, TensorSpec]:
    """Tensor names and shapes shaped like the architecture's (dimensions scaled down)."""
    if kind == "flan-t5":
        t = {"shared.weight": (dtype, (vocab, hidden))}
        for i in range(layers):
            t[f"encoder.block.{i}.layer.0.SelfAttention.q.weight"] = (dtype, (hidden, hidden))
            t[f"decoder.block.{i}.layer.0.SelfAttention.q.weight"] = (dtype, (hidden, hidden))
        return t
    if kind == "gpt-oss":
        t = {"model.embed_tokens.weight": ("BF16", (vocab, hidden))}
        for i in range(layers):
            t[f"model.layers.{i}.mlp.experts.gate_up_proj_blocks"] = ("U8", (4, hidden, 16))
            t[f"model.layers.{i}.mlp.experts.gate_up_proj_scales"] = ("U8", (4, hidden))
            t[f"model.layers.{i}.self_attn.q_proj.weight"] = ("BF16", (hidden, hidden))
        return t
    t = {"model.embed_tokens.weight": (dtype, (vocab, hidden))}
    for i in range(layers):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t[f"model.layers.{i}.self_attn.{proj}.weight"] = (dtype, (hidden, hidden))
        t[f"model.layers.{i}.mlp.gate_proj.weight"] = (dtype, (hidden * 2, hidden))
        t[f"model.layers.{i}.input_layernorm.weight"] = (dtype, (hidden,))
    t["model.norm.weight"] = (dtype, (hidden,))
    t["lm_head.weight"] = (dtype, (vocab, hidden))
    return t


@dataclass
class ModelSpec:
    """A model folder to build. Start from a template, then break it the way a test needs."""

    kind: str = "llama3"
    dtype: str = "BF16"
    shards: int = 1
    layers: int = 2
    hidden: int = 8  # small: the embedding has a row per token of the real vocabulary
    vocab: int | None = None  # embedding rows (default: config.json's vocab_size, as a saved model has)
    config_overrides: dict[str, Any] = field(default_factory=dict)
    tokenizer_overrides: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, TensorSpec] | None = None
    drop: set[str] = field(default_factory=set)  # file names to leave out
    poison: dict[str, str] = field(default_factory=dict)  # tensor name -> "nan" | "inf" | "zero"
    extra_files: dict[str, bytes] = field(default_factory=dict)  # written verbatim (may be hostile)
    index: bool | None = None  # write model.safetensors.index.json (default: when sharded)


def _vocab_rows(spec: ModelSpec, config: dict[str, Any]) -> int:
    if spec.vocab is not None:
        return spec.vocab
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    vocab = text.get("vocab_size")
    return vocab if isinstance(vocab, int) and not isinstance(vocab, bool) else 256


def build_model(folder: Path, spec: ModelSpec | None = None) -> Path:
    """Write the model folder and return it."""
    spec = spec or ModelSpec()
    tpl = copy.deepcopy(TEMPLATES[spec.kind])
    folder.mkdir(parents=True, exist_ok=True)

    def put(name: str, data: bytes) -> None:
        if name not in spec.drop:
            (folder / name).write_bytes(data)

    config = tpl["config"] | spec.config_overrides
    config = {k: v for k, v in config.items() if v is not None}
    put("config.json", json.dumps(config, indent=2).encode())
    tok_cfg = {k: v for k, v in (tpl["tokenizer_config"] | spec.tokenizer_overrides).items() if v is not None}
    put("tokenizer_config.json", json.dumps(tok_cfg, indent=2).encode())
    for name in tpl["files"]:
        if name == "tokenizer.json":
            put(name, json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}}}).encode())
        elif name == "modules.json":
            put(
                name,
                b'[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]',
            )
        else:
            put(name, b"\x0a\x0bsentencepiece-model")
    if "generation_config" in tpl:
        put("generation_config.json", json.dumps(tpl["generation_config"]).encode())

    tensors = (
        spec.tensors
        if spec.tensors is not None
        else default_tensors(spec.kind, spec.dtype, spec.layers, spec.hidden, _vocab_rows(spec, config))
    )
    names = list(tensors)
    per_shard = max(1, math.ceil(len(names) / spec.shards))
    weight_map: dict[str, str] = {}
    for i in range(spec.shards):
        fname = (
            "model.safetensors" if spec.shards == 1 else f"model-{i + 1:05d}-of-{spec.shards:05d}.safetensors"
        )
        chunk = {n: tensors[n] for n in names[i * per_shard : (i + 1) * per_shard]}
        weight_map |= dict.fromkeys(chunk, fname)
        if fname not in spec.drop:
            write_safetensors(folder / fname, chunk, {"format": "pt"}, spec.poison)
    if spec.index if spec.index is not None else spec.shards > 1:
        put("model.safetensors.index.json", json.dumps({"metadata": {}, "weight_map": weight_map}).encode())
    for name, data in spec.extra_files.items():
        (folder / name).write_bytes(data)
    return folder


def build_sharded_model(
    folder: Path, total_bytes: int, shards: int, kind: str = "llama3", layers_per_shard: int = 10
) -> Path:
    """A model whose `shards` safetensors files add up to at least `total_bytes`: real headers, sparse data.

    Each shard holds `layers_per_shard` decoder layers named as in Llama checkpoints (so headers are
    the size of real ones, ~10 KB), the bulk of the bytes in each layer's MLP weight; the index maps
    every tensor to its shard.
    """
    build_model(folder, ModelSpec(kind=kind, tensors={}, index=False))
    (folder / "model.safetensors").unlink()
    small = (
        "self_attn.q_proj",
        "self_attn.k_proj",
        "self_attn.v_proj",
        "self_attn.o_proj",
        "mlp.gate_proj",
        "mlp.up_proj",
        "input_layernorm",
        "post_attention_layernorm",
    )
    rows = -(-total_bytes // (shards * layers_per_shard * 4096 * 2))
    weight_map = {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        tensors: dict[str, TensorSpec] = {}
        for j in range(i * layers_per_shard, (i + 1) * layers_per_shard):
            tensors |= {f"model.layers.{j}.{t}.weight": ("BF16", (64,)) for t in small}
            tensors[f"model.layers.{j}.mlp.down_proj.weight"] = ("BF16", (rows, 4096))
        write_safetensors(folder / name, tensors)
        weight_map |= dict.fromkeys(tensors, name)
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    return folder
