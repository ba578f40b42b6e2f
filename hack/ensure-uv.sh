#!/usr/bin/env bash
# Prints a command that runs uv, installing uv from PyPI first when the machine has none.
set -euo pipefail
if command -v uv >/dev/null 2>&1; then command -v uv; exit 0; fi
if [[ -x "$HOME/.local/bin/uv" ]]; then echo "$HOME/.local/bin/uv"; exit 0; fi
python3 -m pip install --quiet --user uv >&2 || python3 -m pip install --quiet uv >&2
if command -v uv >/dev/null 2>&1; then command -v uv; elif [[ -x "$HOME/.local/bin/uv" ]]; then echo "$HOME/.local/bin/uv"; else echo "python3 -m uv"; fi
