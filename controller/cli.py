"""The `bedrock-model-operator` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _dev(args: argparse.Namespace) -> int:
    from controller.dev.stack import run_dev_stack

    return run_dev_stack(args)


def _crd(args: argparse.Namespace) -> int:
    from controller.api.crd import render_crd_yaml

    sys.stdout.write(render_crd_yaml())
    return 0


def _settings(args: argparse.Namespace) -> int:
    from controller.settings import settings_markdown

    sys.stdout.write(settings_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bedrock-model-operator",
        description="Manage Amazon Bedrock Custom Model Import declaratively from Kubernetes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser(
        "dev",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="run the whole product locally: control plane, AWS emulators, operator, examples",
        description="Start a local Kubernetes control plane, moto and the local Bedrock on loopback, the "
        "operator, and the examples; print how to reach them; run until Ctrl-C. Needs no AWS account.",
    )
    dev.add_argument(
        "--workdir", help="where the stack keeps its files (default ~/.cache/bedrock-model-operator/dev)"
    )
    dev.add_argument(
        "--use-current-context",
        action="store_true",
        help="use the cluster of the current kubeconfig context instead of a local control plane",
    )
    dev.add_argument("--job-duration", type=float, default=5.0, help="seconds each emulated import job runs")
    dev.add_argument(
        "--timeout", type=float, default=300.0, help="give up waiting for final states after this"
    )
    dev.add_argument(
        "--exit-after-setup",
        action="store_true",
        help="stop once every model is final (for scripts and tests)",
    )
    dev.set_defaults(func=_dev)

    from controller import validate_cli

    validate_cli.add_parser(sub)

    from controller.emulator import main as emulator_main

    emulator_main.add_parser(sub)

    from controller import operator_main

    operator_main.add_parser(sub)

    crd = sub.add_parser(
        "crd",
        help="print the BedrockImportedModel CustomResourceDefinition (YAML)",
        description="Print the CustomResourceDefinition, generated from the API models (what crds/ holds).",
    )
    crd.set_defaults(func=_crd)

    settings = sub.add_parser(
        "settings",
        help="print every operator setting: environment variable, `run` flag, default (Markdown)",
        description="Print the operator's settings as the Markdown table the README holds.",
    )
    settings.set_defaults(func=_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
