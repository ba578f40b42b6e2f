"""The levels of the test suite: tests/unit/ starts no server, and the no-cluster selection
(`-m "not controlplane"`) collects nothing of tests/cluster/ or tests/node/."""

from __future__ import annotations

from pathlib import Path


def test_no_unit_test_starts_a_server():
    """`pytest tests/unit` (and `-m "not controlplane"`) must not start servers: a test that takes the control
    plane's, the operator's or the node's fixtures lives in tests/cluster/ or tests/node/, whose conftest
    marks every test there (tests/test_smoke_e2e.py once ran without its mark)."""
    import ast

    servers = {"kubectl", "operator", "control_plane", "crd_installed", "node", "node_images"}
    found = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        for f in ast.walk(ast.parse(path.read_text())):
            is_test = isinstance(f, ast.FunctionDef) and f.name.startswith("test_")
            if is_test and {a.arg for a in f.args.args} & servers:
                found.append(f"{path.name}::{f.name}")
    assert found == []


def test_the_no_cluster_selection_collects_nothing_of_the_cluster_or_node_levels():
    """`-m "not controlplane"` (what a contributor without a cluster runs) selects no test of tests/cluster/
    or tests/node/: their conftest files mark every test there, whether or not the test says so."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not controlplane",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    picked = [ln for ln in out.splitlines() if ln.startswith(("tests/cluster/", "tests/node/"))]
    assert picked == []
    assert any(ln.startswith("tests/unit/") for ln in out.splitlines())
