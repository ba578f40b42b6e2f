"""`bedrock-model-operator model-folder`: a small Hugging Face model folder to try the operator with.

The five-minute path needs a model before it needs a fine-tune: this writes one of the architectures Bedrock
imports (real config.json and tokenizer files, tiny safetensors weights), or one broken the way real uploads
break, so that `validate` and the operator can be seen refusing it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bmo_devtools.dev.model_factory import TEMPLATES, ModelSpec, build_model
from controller.cli.help_format import DefaultsHelpFormatter

#: What each --broken writes, and the validator's reason for it.
BROKEN: dict[str, tuple[str, str]] = {
    "quantized": ("config.json declares a 4-bit GPTQ quantization", "QuantizedModel"),
    "nan-weights": ("the first layer's weights are NaN (a fine-tune that diverged)", "WeightsNotFinite"),
    "wrong-vocab": ("config.json's vocab_size is one more than the embedding's rows", "VocabSizeMismatch"),
    "no-tokenizer": ("the tokenizer files are left out", "MissingTokenizer"),
}


def spec_for(architecture: str, broken: str | None, shards: int) -> ModelSpec:
    """The factory's spec for a folder of `architecture`, sound or broken one way."""
    spec = ModelSpec(kind=architecture, shards=shards)
    config = TEMPLATES[architecture]["config"]
    if broken == "quantized":
        spec.config_overrides = {"quantization_config": {"quant_method": "gptq", "bits": 4}}
    elif broken == "nan-weights":
        spec.poison = {_first_float_tensor(spec): "nan"}
    elif broken == "wrong-vocab":
        vocab = config.get("vocab_size") or config.get("text_config", {}).get("vocab_size")
        spec.vocab = vocab
        spec.config_overrides = {"vocab_size": vocab + 1}
    elif broken == "no-tokenizer":
        spec.drop = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "spiece.model"}
    return spec


def _first_float_tensor(spec: ModelSpec) -> str:
    from bmo_devtools.dev.model_factory import default_tensors

    config = TEMPLATES[spec.kind]["config"]
    vocab = config.get("vocab_size") or config.get("text_config", {}).get("vocab_size") or 32
    names = [
        n for n in default_tensors(spec.kind, spec.dtype, spec.layers, spec.hidden, vocab) if "layers" in n
    ]
    return names[0]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "model-folder",
        formatter_class=DefaultsHelpFormatter,
        help="write a small, valid (or deliberately broken) Hugging Face model folder to try things with",
        description="Write a tiny model folder of an architecture Bedrock imports: config.json, tokenizer "
        "files and safetensors weights, as save_pretrained() lays them out (megabytes, not gigabytes). "
        "--broken writes one that validation refuses, to see what the refusal says.",
    )
    p.add_argument("folder", help="where to write it (created; files of the same name are replaced)")
    p.add_argument(
        "--architecture",
        choices=sorted(t for t in TEMPLATES if t != "bert-embedding"),
        default="llama3",
        help="the model family",
    )
    p.add_argument(
        "--broken",
        choices=sorted(BROKEN),
        help="break it the way real uploads break: "
        + "; ".join(f"{k}: {what} ({reason})" for k, (what, reason) in sorted(BROKEN.items())),
    )
    p.add_argument("--shards", type=int, default=1, help="safetensors files to split the weights into")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.shards < 1:
        print("bedrock-model-operator model-folder: --shards must be 1 or more", file=sys.stderr)
        return 2
    folder = Path(args.folder)
    build_model(folder, spec_for(args.architecture, args.broken, args.shards))
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    size = sum((folder / f).stat().st_size for f in files)
    what = f"broken: {BROKEN[args.broken][0]}" if args.broken else "importable"
    shown = args.folder.rstrip("/") or "/"  # as typed: ./my-model stays ./my-model
    print(f"Wrote {shown}/: {args.architecture}, {what}, {len(files)} files, {size / 1024:.0f} KiB")
    print("  " + " ".join(files))
    return 0
