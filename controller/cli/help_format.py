"""One help style for every subcommand: argparse's "(default: X)" only where there is a default to tell."""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """As argparse.ArgumentDefaultsHelpFormatter, without "(default: None)" and "(default: False)" on flags
    that have no default worth reading."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text
