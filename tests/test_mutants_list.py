"""hack/mutants.py is run by hand: each listed mutation must still name exactly one spot of the tree, or a
later run silently mutates nothing (found when a second `forget; return out; try:` appeared)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_mutation_names_exactly_one_spot():
    spec = importlib.util.spec_from_file_location("bmo_mutants", ROOT / "hack" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bmo_mutants"] = module
    spec.loader.exec_module(module)
    mutations = [
        m
        for v in vars(module).values()
        if isinstance(v, (list, tuple))
        for m in v
        if isinstance(m, module.Mutation)
    ]
    assert len(mutations) >= 25
    for m in mutations:
        count = (ROOT / m.file).read_text().count(m.find)
        assert count == 1, f"{m.id}: its text occurs {count} times in {m.file}"
