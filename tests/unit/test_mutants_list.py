"""hack/mutants.py is run by hand: each listed mutation must still name exactly one spot of the tree, or a
later run silently mutates nothing (found when a second `forget; return out; try:` appeared)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
        target, why = module.locate(m)
        assert target is not None, f"{m.id} ({m.file}): {why}"
    ids = [m.id for m in mutations]
    assert len(ids) == len(set(ids)), "mutation ids are unique"


def test_a_mutation_follows_its_code_to_another_module(tmp_path):
    """Code moves between modules: a mutation whose file no longer holds its
    text mutates the one file that does, and says `stale` (never mutating nothing) when none or several do."""
    spec = importlib.util.spec_from_file_location("bmo_mutants_locate", ROOT / "hack" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bmo_mutants_locate"] = module
    spec.loader.exec_module(module)
    (tmp_path / "controller" / "runtime").mkdir(parents=True)
    (tmp_path / "controller" / "old.py").write_text("x = 1\n")
    (tmp_path / "controller" / "runtime" / "queue.py").write_text("def f():\n    return 42\n")
    m = module.Mutation("moved", "controller/old.py", "return 42", "return 0", (), "moved code")
    target, why = module.locate(m, tmp_path)
    assert target == tmp_path / "controller" / "runtime" / "queue.py" and why == ""
    (tmp_path / "controller" / "copy.py").write_text("def g():\n    return 42\n")
    target, why = module.locate(m, tmp_path)
    assert target is None and why.startswith("stale (the text to mutate is in 2 files")
    gone = module.Mutation("gone", "controller/old.py", "return 7", "return 0", (), "deleted code")
    assert module.locate(gone, tmp_path) == (None, "stale (the text to mutate is in 0 files)")
