"""The `bedrock-model-operator` command: its subcommands (run, validate, invoke, crd, settings)."""

from controller.cli.commands import main

__all__ = ["main"]
