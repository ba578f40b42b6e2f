"""The `bedrock-model-operator` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence


def _crd(args: argparse.Namespace) -> int:
    from pathlib import Path

    from controller.api.crd import CRD_FILES, render_crd_yaml

    if args.write:
        for name in CRD_FILES:
            (Path(args.write) / name).write_text(render_crd_yaml(name))
        return 0
    sys.stdout.write(render_crd_yaml(list(CRD_FILES)[1] if args.policy else None))
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

    # the dev stack and the local Bedrock: only where the dev tools are installed (not in the image)
    if importlib.util.find_spec("bmo_devtools") is not None:
        from bmo_devtools.cli import add_parsers as add_dev_tools

        add_dev_tools(sub)

    from controller.cli import validate as validate_cli

    validate_cli.add_parser(sub)

    from controller.cli import invoke as invoke_cli

    invoke_cli.add_parser(sub)

    from controller.cli import orphans as orphans_cli

    orphans_cli.add_parser(sub)

    from controller.cli import plan as plan_cli

    plan_cli.add_parser(sub)

    from controller.runtime import main as operator_main

    operator_main.add_parser(sub)

    crd = sub.add_parser(
        "crd",
        help="print the BedrockImportedModel CustomResourceDefinition (YAML)",
        description="Print the CustomResourceDefinition, generated from the API models (what crds/ holds).",
    )
    crd.add_argument("--policy", action="store_true", help="print the BedrockImportPolicy CRD instead")
    crd.add_argument("--write", metavar="DIR", help="write every CRD file into DIR (what `make crds` does)")
    crd.set_defaults(func=_crd)

    settings = sub.add_parser(
        "settings",
        help="print every operator setting: environment variable, `run` flag, default (Markdown)",
        description="Print the operator's settings as the Markdown table docs/settings.md holds.",
    )
    settings.set_defaults(func=_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
