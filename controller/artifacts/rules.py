"""Decide whether a model folder will import, from what was read. Pure: no I/O, so every rule unit-tests.

Each rule adds Findings with a stable code. Sources for the rules:
docs/bedrock-facts.md ("The model folder"); each code: docs/validation.md.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from controller.architectures import ARCHITECTURES, BY_NAME, IMPORT_REGIONS, SUPPORTED_MODEL_TYPES
from controller.artifacts.report import Finding, Severity, Summary
from controller.artifacts.safetensors_header import FLOAT_WEIGHT_DTYPES, ParsedHeader
from controller.artifacts.sources import FileInfo

GB = 10**9
TEXT_MODEL_LIMIT = 200 * GB
MULTIMODAL_MODEL_LIMIT = 100 * GB
MAX_CONTEXT = 131072
TESTED_TRANSFORMERS = "4.51.3"
GPT_OSS_EOS = [200002, 199999, 200012]
SUPPORTED_TOKENIZERS = frozenset(
    {
        "T5Tokenizer",
        "LlamaTokenizer",
        "CodeLlamaTokenizer",
        "GPT2Tokenizer",
        "GPTNeoXTokenizer",
        "PreTrainedTokenizer",
        "Qwen2Tokenizer",
    }
)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
QUANTIZED_NAME_PATTERNS = (
    "*.qweight",
    "*.qzeros",
    "*.g_idx",
    "*.SCB",
    "*.weight_format",
    "*.absmax",
    "*.quant_map",
    "*.quant_state*",
    "*.weight_scale",
    "*.weight_scale_inv",
    "*.input_scale",
    "*.nested_absmax",
)
#: Llama 3.2's rope factor (its other rope values are Llama 3.1's).
LLAMA32_ROPE_FACTOR = 32.0
LLAMA3_ROPE = {
    "original_max_position_embeddings": 8192,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
}


@dataclass
class Inputs:
    """What the reader gathered: listing, small JSON files (or why they could not be read), headers."""

    files: list[FileInfo]
    json: dict[str, Any] = field(default_factory=dict)  # name -> parsed document
    read_findings: list[Finding] = field(default_factory=list)  # problems met while reading
    headers: dict[str, ParsedHeader] = field(default_factory=dict)
    tokenizer_json_head: bytes | None = None
    declared_architecture: str | None = None
    region: str | None = None
    architecture_label: str = "spec.architecture"  # how messages name it (the CLI: --architecture)
    subfolders: list[str] = field(default_factory=list)  # folders one level down (not imported by Bedrock)


def _bounded(value: object, limit: int = 64) -> str:
    """A value copied from a tenant's file into a message or status: never longer than `limit`."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _err(code: str, message: str, file: str | None = None) -> Finding:
    return Finding(code, message, Severity.ERROR, file)


def _warn(code: str, message: str, file: str | None = None) -> Finding:
    return Finding(code, message, Severity.WARNING, file)


def detect_architecture(config: dict[str, Any]) -> str | None:
    """Our architecture name for a config.json, as precisely as the config allows."""
    model_type = config.get("model_type")
    if model_type == "llama":
        vocab = config.get("vocab_size")
        if isinstance(vocab, int) and vocab >= 128000:
            rope = config.get("rope_scaling")
            if not (isinstance(rope, dict) and rope.get("rope_type") == "llama3"):
                return "Llama3"
            # Llama 3.2 (1B, 3B) ships the llama3 rope with factor 32; 3.1 and 3.3 with factor 8
            return "Llama3.2" if rope.get("factor") == LLAMA32_ROPE_FACTOR else "Llama3.1"
        return "Llama2"
    for arch in ARCHITECTURES:
        if model_type in arch.model_types:
            return arch.name
    return None


def explain_architecture(config: dict[str, Any]) -> str:
    """Why detect_architecture chose what it chose, in the config's own terms."""
    model_type = config.get("model_type")
    parts = [f"model_type {model_type}"]
    if model_type == "llama":
        vocab = config.get("vocab_size")
        rope = config.get("rope_scaling")
        rope_type = rope.get("rope_type") if isinstance(rope, dict) else None
        if isinstance(vocab, int) and vocab >= 128000:
            parts.append(f"vocab_size {vocab}: Llama 3's tokenizer")
            if rope_type == "llama3":
                factor = rope.get("factor") if isinstance(rope, dict) else None
                parts.append(f"rope_type llama3 with factor {factor}")
            else:
                parts.append("no llama3 rope scaling")
        else:
            parts.append(f"vocab_size {vocab}: below Llama 3's 128000")
    return ", ".join(parts)


#: Architectures whose reference tokenizer is SentencePiece: without tokenizer.json they need tokenizer.model
SENTENCEPIECE_ARCHITECTURES = {"Llama2", "Mistral", "Mixtral", "FlanT5"}
#: Embedding matrices whose row count must equal config.json's vocab_size
EMBEDDING_TENSORS = (
    "model.embed_tokens.weight",
    "shared.weight",
    "transformer.wte.weight",
    "model.language_model.embed_tokens.weight",
    "language_model.model.embed_tokens.weight",
)

_FAMILIES = ({"Llama3", "Llama3.1", "Llama3.2", "Llama3.3"}, {"Qwen2", "Qwen2.5"})
#: names whose config.json is the same (model_type qwen2; Llama 3.1 and 3.3's rope factor 8)
_ALIKE = ({"Qwen2", "Qwen2.5"}, {"Llama3.1", "Llama3.3"})


def compatible(declared: str, detected: str) -> bool:
    return declared == detected or any(declared in f and detected in f for f in _FAMILIES)


def context_length(config: dict[str, Any]) -> int | None:
    for cfg in (config, config.get("text_config") if isinstance(config.get("text_config"), dict) else None):
        if not cfg:
            continue
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = cfg.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def judge(inp: Inputs, summary: Summary) -> list[Finding]:
    findings = list(inp.read_findings)
    names = {f.name: f for f in inp.files}
    summary.files = len(inp.files)
    summary.total_bytes = sum(f.size for f in inp.files)
    if not inp.files:
        if inp.subfolders:  # the files are one level down: say which folder to point at (not an upload to
            shown = ", ".join(_bounded(s, 80) for s in inp.subfolders[:5])  # wait for: a wrong URI)
            return [
                *findings,
                _err(
                    "SourceInSubfolder",
                    f"the folder has no files: it holds only the subfolder(s) {shown}: point the source at "
                    "the one with config.json and the .safetensors files",
                ),
            ]
        return [
            *findings,
            _err(
                "SourceEmpty",
                "the folder has no files: check the S3 URI or path (it must point at the folder holding "
                "config.json and the .safetensors files)",
            ),
        ]

    config = inp.json.get("config.json")
    findings += _files_rules(inp, names)
    if isinstance(config, dict):
        findings += _config_rules(inp, config, names, summary)
    findings += _tokenizer_rules(inp, names, config if isinstance(config, dict) else {})
    findings += _weights_rules(inp, names, config if isinstance(config, dict) else {}, summary)
    if inp.region and inp.region not in IMPORT_REGIONS:
        findings.append(
            _err(
                "RegionNotSupported",
                f"Custom Model Import is not offered in {inp.region}; use one of {', '.join(IMPORT_REGIONS)}",
            )
        )
    return findings


def _files_rules(inp: Inputs, names: dict[str, FileInfo]) -> list[Finding]:
    out = []
    if "config.json" not in names:
        out.append(
            _err(
                "MissingConfig",
                "config.json is missing: save the model with save_pretrained() and "
                "upload config.json next to the weights",
            )
        )
    weights = [n for n in names if n.endswith(".safetensors")]
    pickles = [n for n in names if n.endswith(PICKLE_SUFFIXES)]
    if not weights and pickles:
        out.append(
            _err(
                "PickleWeightsOnly",
                f"weights are only in pickle files ({', '.join(pickles[:3])}): "
                "Bedrock needs .safetensors; convert with save_pretrained(safe_serialization=True)",
            )
        )
    elif not weights:
        out.append(_err("MissingWeights", "no .safetensors weight files in the folder"))
    elif pickles:
        out.append(
            _warn(
                "PickleFilesIgnored",
                f"pickle files ({', '.join(pickles[:3])}) are ignored; only "
                ".safetensors weights are imported. Remove them to save storage.",
            )
        )
    if "quantize_config.json" in names:
        out.append(
            _err(
                "QuantizedModel",
                "quantize_config.json (GPTQ) found: quantized models cannot be "
                "imported; upload the FP16/BF16 weights",
            )
        )
    if "modules.json" in names or "sentence_bert_config.json" in names:
        out.append(
            _err(
                "EmbeddingModel",
                "this is a sentence-transformers embedding model; Bedrock imports "
                "text-generation models only",
            )
        )
    return out


def _config_rules(inp: Inputs, config: dict[str, Any], names: dict[str, FileInfo], summary: Summary) -> list:
    out: list[Finding] = []
    model_type = config.get("model_type")
    archs = config.get("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        archs = []
        out.append(_err("InvalidConfig", "config.json 'architectures' must be a list of class names"))
    summary.model_type = _bounded(model_type) if isinstance(model_type, str) else None
    if not isinstance(model_type, str):
        out.append(
            _err(
                "InvalidConfig",
                "config.json has no 'model_type': save the model with "
                "save_pretrained() so config.json is complete",
            )
        )
        return out
    detected = detect_architecture(config)
    summary.architecture = detected
    summary.architecture_reason = explain_architecture(config) if detected else None
    if archs and all(
        a.endswith("Model") or a.endswith(("ForSequenceClassification", "ForTokenClassification"))
        for a in archs
    ):
        code = "EmbeddingModel" if all(a.endswith("Model") for a in archs) else "UnsupportedModelClass"
        out.append(
            _err(
                code,
                f"config.json architectures {_bounded(archs, 120)} is not a text-generation model; Bedrock "
                "imports *ForCausalLM / *ForConditionalGeneration models only",
            )
        )
    if model_type not in SUPPORTED_MODEL_TYPES:
        supported = ", ".join(sorted(SUPPORTED_MODEL_TYPES))
        out.append(
            _err(
                "UnsupportedArchitecture",
                f"model_type {model_type[:60]!r} is not supported by "
                f"Custom Model Import (supported: {supported})",
            )
        )
    elif detected:
        arch = BY_NAME[detected]
        if arch.architectures and not set(archs) & set(arch.architectures):
            out.append(
                _err(
                    "UnsupportedArchitectureClass",
                    f"{detected} imports only {' or '.join(arch.architectures)}, not "
                    f"{_bounded(archs, 120) if archs else 'an unnamed class'}",
                )
            )
        declared = inp.declared_architecture
        if declared and declared != detected and any({declared, detected} <= f for f in _ALIKE):
            # names the config cannot tell apart: the declared one is the more precise, and status speaks
            # one spelling throughout (spec, validation, printer column)
            summary.architecture = declared
            summary.architecture_reason = (
                f"{explain_architecture(config)}, which {detected} and {declared} share: "
                f"{inp.architecture_label} names it"
            )
        if inp.declared_architecture and not compatible(inp.declared_architecture, detected):
            out.append(
                _err(
                    "ArchitectureMismatch",
                    f"{inp.architecture_label} is {inp.declared_architecture} but config.json describes "
                    f"{detected} ({explain_architecture(config)}); fix one of them",
                )
            )
        if (
            inp.region and inp.region not in arch.regions and inp.region in IMPORT_REGIONS
        ):  # else said once below
            out.append(
                _err(
                    "RegionNotSupported",
                    f"{detected} can only be imported in {', '.join(arch.regions)}, not {inp.region}",
                )
            )
        if model_type == "gpt_oss":
            out += _gpt_oss_rules(inp, names)
        if detected == "Llama3.1" and isinstance(config.get("rope_scaling"), dict):
            rope = config["rope_scaling"]
            if any(rope.get(k) != v for k, v in LLAMA3_ROPE.items()):
                out.append(
                    _warn(
                        "RopeScalingOverridden",
                        "Bedrock replaces Llama 3 rope_scaling with "
                        f"{LLAMA3_ROPE}; the model will run with those values",
                    )
                )

    quant = config.get("quantization_config")
    if quant is not None:
        method = quant.get("quant_method") if isinstance(quant, dict) else None
        if not (model_type == "gpt_oss" and method == "mxfp4"):
            out.append(
                _err(
                    "QuantizedModel",
                    f"config.json has quantization_config (quant_method "
                    f"{str(method)[:40]!r}): quantized models cannot be imported; upload the "
                    "FP32/FP16/BF16 weights (official GPT-OSS mxfp4 is the only exception)",
                )
            )

    ctx = context_length(config)
    summary.context_length = ctx
    if ctx is not None and ctx > MAX_CONTEXT:
        out.append(
            _err(
                "ContextTooLong",
                f"context length {ctx} exceeds Bedrock's {MAX_CONTEXT}: set "
                f"max_position_embeddings to at most {MAX_CONTEXT}",
            )
        )
    version = config.get("transformers_version")
    # GPT-OSS exists only from transformers 4.55: Bedrock's 4.51.3 note cannot apply to it
    if isinstance(version, str) and version != TESTED_TRANSFORMERS and model_type != "gpt_oss":
        out.append(
            _warn(
                "TransformersVersion",
                f"saved with transformers {version[:20]}; Bedrock documents "
                f"fine-tuning with {TESTED_TRANSFORMERS}. Usually fine; re-save if the import fails",
            )
        )
    return out


def _gpt_oss_rules(inp: Inputs, names: dict[str, FileInfo]) -> list[Finding]:
    gen = inp.json.get("generation_config.json")
    if "generation_config.json" not in names:
        return [
            _err(
                "MissingGenerationConfig",
                f"GPT-OSS needs generation_config.json with eos_token_id {GPT_OSS_EOS}",
            )
        ]
    if isinstance(gen, dict) and gen.get("eos_token_id") != GPT_OSS_EOS:
        return [
            _err(
                "GenerationConfigEos",
                f"GPT-OSS needs generation_config.json eos_token_id {GPT_OSS_EOS}, "
                f"found {str(gen.get('eos_token_id'))[:60]}",
            )
        ]
    return []


def _tokenizer_rules(inp: Inputs, names: dict[str, FileInfo], config: dict[str, Any]) -> list[Finding]:
    out = []
    has_json = "tokenizer.json" in names
    has_model = "tokenizer.model" in names or "spiece.model" in names
    if not has_json and not has_model:
        out.append(
            _err(
                "MissingTokenizer",
                "no tokenizer.json or tokenizer.model: save the tokenizer with "
                "tokenizer.save_pretrained() into the same folder",
            )
        )
    elif not has_model and detect_architecture(config) in SENTENCEPIECE_ARCHITECTURES:
        out.append(
            _warn(
                "NoTokenizerModel",
                f"no tokenizer.model: {detect_architecture(config)} models usually ship their SentencePiece "
                "tokenizer.model beside tokenizer.json; add it if the fine-tune saved one",
            )
        )
    if (
        has_json
        and inp.tokenizer_json_head is not None
        and not inp.tokenizer_json_head.lstrip().startswith(b"{")
    ):
        out.append(
            _err(
                "InvalidTokenizer",
                "tokenizer.json is not a JSON object; re-save the tokenizer",
                "tokenizer.json",
            )
        )
    tok_cfg = inp.json.get("tokenizer_config.json")
    if "tokenizer_config.json" not in names:
        out.append(
            _err(
                "MissingTokenizerConfig",
                "tokenizer_config.json is missing: save the tokenizer with tokenizer.save_pretrained()",
            )
        )
    elif isinstance(tok_cfg, dict):
        cls = tok_cfg.get("tokenizer_class")
        if isinstance(cls, str):
            base = cls.removesuffix("Fast")
            if base not in SUPPORTED_TOKENIZERS:
                out.append(
                    _err(
                        "UnsupportedTokenizer",
                        f"tokenizer_class {cls[:60]!r} is not supported; use one "
                        f"of {', '.join(sorted(SUPPORTED_TOKENIZERS))} (or its Fast variant)",
                        "tokenizer_config.json",
                    )
                )
        elif cls is not None:
            out.append(
                _err("InvalidTokenizerConfig", "tokenizer_class must be a string", "tokenizer_config.json")
            )
    has_template = (
        "chat_template.jinja" in names
        or "chat_template.json" in names
        or (isinstance(tok_cfg, dict) and bool(tok_cfg.get("chat_template")))
    )
    detected = detect_architecture(config) if config else None
    if not has_template and (detected is None or BY_NAME[detected].converse):
        out.append(
            _warn(
                "NoChatTemplate",
                "no chat template (chat_template.jinja, chat_template.json or "
                "tokenizer_config.json chat_template): the Converse API needs one",
            )
        )
    return out


def _weights_rules(inp: Inputs, names: dict[str, FileInfo], config: dict[str, Any], summary: Summary) -> list:
    out: list[Finding] = []
    weights = sorted(n for n in names if n.endswith(".safetensors"))
    summary.weight_files = len(weights)
    summary.weight_bytes = sum(names[n].size for n in weights)
    model_type = config.get("model_type")
    quant = config.get("quantization_config")
    mxfp4 = model_type == "gpt_oss" and isinstance(quant, dict) and quant.get("quant_method") == "mxfp4"

    detected = detect_architecture(config) if config else None
    multimodal = bool(detected and BY_NAME[detected].multimodal)
    limit = MULTIMODAL_MODEL_LIMIT if multimodal else TEXT_MODEL_LIMIT
    if summary.weight_bytes >= limit:
        kind = "multimodal" if multimodal else "text"
        out.append(
            _err(
                "ModelTooLarge",
                f"weights total {summary.weight_bytes / GB:.1f} GB; Bedrock imports "
                f"{kind} models under {limit // GB} GB",
            )
        )

    owner: dict[str, str] = {}
    dtypes: set[str] = set()
    params = 0
    quant_names: list[str] = []
    bad_dtypes: dict[str, str] = {}
    for file in weights:
        header = inp.headers.get(file)
        if header is None:
            continue
        out += header.errors
        for t in header.tensors:
            if t.name in owner:
                out.append(
                    _err(
                        "TensorInTwoShards",
                        f"tensor {t.name[:80]!r} is in both {owner[t.name]} and "
                        f"{file}: remove the stale shard",
                        file,
                    )
                )
                continue
            owner[t.name] = file
            dtypes.add(t.dtype)
            params += t.elements
            if any(fnmatch.fnmatchcase(t.name, p) for p in QUANTIZED_NAME_PATTERNS):
                quant_names.append(t.name)
            if t.dtype not in FLOAT_WEIGHT_DTYPES and not (mxfp4 and t.dtype == "U8"):
                bad_dtypes.setdefault(t.dtype, t.name)
    summary.parameter_count = params
    summary.dtypes = sorted(dtypes)
    out += _vocab_rules(inp, config, owner)
    if weights and inp.headers and all(h.ok for h in inp.headers.values()) and not owner:
        out.append(_err("NoTensors", "the .safetensors files hold no tensors"))
    # one mistake, one error: a quantized checkpoint says so in config.json (QuantizedModel), in its
    # tensor names and in its dtypes; only the first of these that applies is reported
    reported = quant is not None and not mxfp4
    if quant_names and not mxfp4 and not reported:
        reported = True
        out.append(
            _err(
                "QuantizedWeights",
                f"quantized tensors found ({', '.join(quant_names[:3])}): GPTQ, AWQ, "
                "bitsandbytes and FP8 checkpoints cannot be imported; upload FP16/BF16 weights",
            )
        )
    for dtype, example in sorted(bad_dtypes.items()):
        if re.match(r"^(U|I)\d+$|^F(4|6_|8_)", dtype):
            if reported:
                continue
            reported = True
            out.append(
                _err(
                    "QuantizedWeights",
                    f"{dtype} weight tensors (e.g. {example[:80]!r}) mean a "
                    "quantized model; only F32, F16 and BF16 weights import",
                )
            )
        else:
            out.append(
                _err(
                    "UnsupportedDtype",
                    f"{dtype} tensors (e.g. {example[:80]!r}) are not supported; "
                    "convert the weights to BF16 or FP16",
                )
            )
    if "F32" in dtypes:
        out.append(
            _warn(
                "Fp32Converted",
                "FP32 weights are converted to BF16 by Bedrock; save in BF16 to halve the upload and storage",
            )
        )
    out += _index_rules(inp, names, weights, owner)
    return out


def _vocab_rules(inp: Inputs, config: dict[str, Any], owner: dict[str, str]) -> list[Finding]:
    """config.json's vocab_size must be the embedding's row count, or the model does not load (a fine-tune
    that added tokens and saved the config before resize_token_embeddings())."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    vocab = text.get("vocab_size")
    if not isinstance(vocab, int) or isinstance(vocab, bool):
        return []
    for name in EMBEDDING_TENSORS:
        file = owner.get(name)
        if file is None:
            continue
        tensor = next((t for t in inp.headers[file].tensors if t.name == name), None)
        if tensor is None or not tensor.shape:
            continue
        rows = tensor.shape[0]
        if rows != vocab:
            return [
                _err(
                    "VocabSizeMismatch",
                    f"config.json has vocab_size {vocab} but {name} has {rows} rows: after adding tokens, "
                    "call resize_token_embeddings() and save the model and config again so they agree",
                    file,
                )
            ]
        return []
    return []


def _index_rules(inp: Inputs, names: dict[str, FileInfo], weights: list[str], owner: dict[str, str]) -> list:
    out: list[Finding] = []
    index_names = [n for n in names if n.endswith(".safetensors.index.json")]
    for index_name in index_names:
        index = inp.json.get(index_name)
        if not isinstance(index, dict):
            continue
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
        ):
            out.append(
                _err(
                    "InvalidShardIndex",
                    f"{index_name}: weight_map must map tensor names to files",
                    index_name,
                )
            )
            continue
        referenced = set(weight_map.values())
        for shard in sorted(referenced):
            if shard.startswith(("/", "\\")) or ".." in shard.replace("\\", "/").split("/") or ":" in shard:
                out.append(
                    _err(
                        "ShardPathOutsideFolder",
                        f"{index_name} points at {shard[:100]!r}, outside the "
                        "model folder; shards must sit next to the index",
                        index_name,
                    )
                )
            elif shard not in names:
                out.append(
                    _err(
                        "ShardMissing",
                        f"{index_name} lists {shard[:100]!r} but it is not in the folder: "
                        "upload the missing shard",
                        index_name,
                    )
                )
        mismatched = [
            t for t, shard in weight_map.items() if shard in names and owner.get(t) not in (None, shard)
        ]
        absent = [
            t
            for t, shard in weight_map.items()
            if shard in names and inp.headers.get(shard) and inp.headers[shard].ok and t not in owner
        ]
        for tensor in (mismatched + absent)[:1]:
            out.append(
                _err(
                    "ShardIndexMismatch",
                    f"{index_name} places {tensor[:80]!r} in "
                    f"{weight_map[tensor][:100]} but that shard's header "
                    f"{'does not contain it' if tensor in absent else 'is not where it is'}; the "
                    "index and shards come from different saves",
                    index_name,
                )
            )
        unlisted = [t for t, f in owner.items() if t not in weight_map and f in referenced]
        if unlisted:
            out.append(
                _err(
                    "ShardIndexMismatch",
                    f"{index_name} does not list tensor {unlisted[0][:80]!r} found in {owner[unlisted[0]]}",
                    index_name,
                )
            )
        for shard in weights:
            if shard not in referenced:
                out.append(
                    _warn(
                        "UnindexedShard",
                        f"{shard} is not listed in {index_name}; it will not be "
                        "loaded. Remove it or regenerate the index",
                        shard,
                    )
                )
    return out
