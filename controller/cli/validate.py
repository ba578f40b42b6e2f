"""`bedrock-model-operator validate SOURCE`: will this model folder import? Exit 0 yes, 1 no, 2 can't tell."""

from __future__ import annotations

import argparse
import json
import sys

from controller.architectures import ARCHITECTURE_NAMES
from controller.artifacts import SourceAccessError, open_source, validate_source
from controller.artifacts.verdict import Verdict
from controller.cli.help_format import DefaultsHelpFormatter

EXIT_IMPORTABLE, EXIT_NOT_IMPORTABLE, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        formatter_class=DefaultsHelpFormatter,
        help="check that a model folder (s3:// or local) will import into Bedrock",
        description="Judge a Hugging Face model folder for Bedrock Custom Model Import without reading the "
        "weights. Exit status: 0 importable, 1 not importable, 2 usage or access error.",
    )
    p.add_argument("source", help="s3://bucket/prefix/ or a local directory")
    p.add_argument("--architecture", choices=ARCHITECTURE_NAMES, help="architecture the model must have")
    p.add_argument("--region", help="AWS region the model will be imported into")
    p.add_argument(
        "--output", choices=("text", "json"), default="text", help="text for people, json for tools"
    )
    p.add_argument("--endpoint-url", help="S3 endpoint (e.g. a local emulator); default: AWS")
    p.add_argument(
        "--termination-log",
        help="also write a compact JSON result (< 4 KiB) here: the Kubernetes termination message of a "
        "validation Job pod (usually /dev/termination-log)",
    )
    p.add_argument(
        "--architecture-label",
        default="--architecture",
        help="how messages name the declared architecture (the operator's Jobs pass spec.architecture)",
    )
    p.add_argument(
        "--exit-zero-on-verdict",
        action="store_true",
        help="exit 0 for both verdicts (a Job pod then succeeds; the verdict is in the termination message)",
    )
    p.set_defaults(func=run)


def _write_termination(path: str | None, text: str) -> None:
    if path:
        with open(path, "w") as fh:
            fh.write(text)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def human_count(n: int) -> str:
    """8.03B, 125.3M, 82.9K, 512: parameters as people say them."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.2f}{unit}" if unit == "B" else f"{n / size:.1f}{unit}"
    return str(n)


def human_share(part: int, whole: int) -> str:
    """12.3%, or two significant digits below 0.1% (0.0021%): never eight decimals."""
    if not whole:
        return "0%"
    share = 100 * part / whole
    return f"{share:.1f}%" if share >= 0.1 or share == 0 else f"{share:.2g}%"


def run(args: argparse.Namespace) -> int:
    text = args.output == "text"

    def progress(done: int, total: int) -> None:
        """Progress on stderr for models with many shards (every shard on a terminal, else halfway)."""
        if not text or total < 4:
            return
        if sys.stderr.isatty() or done in (total // 2, total):
            print(f"  checked {done}/{total} safetensors headers", file=sys.stderr, flush=True)

    try:
        source = (
            open_source(args.source, endpoint_url=args.endpoint_url, region=args.region)
            if args.source.startswith("s3://")
            else open_source(args.source)
        )
        report = validate_source(
            source,
            architecture=args.architecture,
            region=args.region,
            architecture_label=args.architecture_label,
            progress=progress,
        )
    except SourceAccessError as exc:
        _write_termination(
            args.termination_log,
            Verdict.unreadable(exc.code, exc.message).to_message(),
        )
        if text:
            print(f"error: cannot read {args.source}: {exc.code}: {exc.message}", file=sys.stderr)
        else:
            print(
                json.dumps(
                    {
                        "source": args.source,
                        "verdict": "error",
                        "error": {"code": exc.code, "message": exc.message},
                    }
                )
            )
        return EXIT_USAGE

    _write_termination(args.termination_log, Verdict.of_report(report).to_message())
    if not text:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        s = report.summary
        mark = "importable" if report.importable else "NOT importable"
        print(f"{report.source}: {mark}")
        why = s.architecture_reason or f"model_type {s.model_type or '?'}"
        print(
            f"  architecture {s.architecture or '?'} ({why}), "
            f"{human_count(s.parameter_count)} parameters, {', '.join(s.dtypes) or 'no'} weights, "
            f"{_human_bytes(s.weight_bytes)} in {s.weight_files} file(s), context {s.context_length or '?'}"
        )
        for f in report.errors:
            print(f"  error   {f.code}: {f.message}")
        for f in report.warnings:
            print(f"  warning {f.code}: {f.message}")
        print(
            f"  read {_human_bytes(s.bytes_read)} of {_human_bytes(s.total_bytes)} "
            f"({human_share(s.bytes_read, s.total_bytes)}) in {s.read_requests} request(s)"
        )
        if s.unsampled_tensors:
            print(
                f"  weights sanity sampled {s.sampled_tensors} float tensor(s) and left "
                f"{s.unsampled_tensors} unread (the cap on reads; docs/validation.md)"
            )
    if args.exit_zero_on_verdict:
        return EXIT_IMPORTABLE
    return EXIT_IMPORTABLE if report.importable else EXIT_NOT_IMPORTABLE
