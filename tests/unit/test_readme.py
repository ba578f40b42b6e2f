"""docs/troubleshooting.md names every reason the operator can write."""

from __future__ import annotations

from pathlib import Path

from controller.api.reasons import ConditionType, EventReason, Reason

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"


def _section() -> str:
    text = PAGE.read_text()
    start = text.index("# Troubleshooting: condition reasons and what to do")
    end = text.find("\n# ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_every_reason_is_explained_in_the_troubleshooting_page():
    section = _section()
    missing = [r.value for r in [*Reason, *EventReason] if f"`{r.value}`" not in section]
    assert missing == [], f"add these reasons to docs/troubleshooting.md's table: {missing}"


def test_every_condition_type_has_rows():
    section = _section()
    assert all(f"| {c.value}" in section or f", {c.value}" in section for c in ConditionType)


def test_every_test_the_behaviour_table_names_exists():
    """docs/behaviour-tests.md maps each documented behaviour to its tests: a test renamed or moved must
    not leave the table pointing at nothing."""
    import ast
    import re

    root = PAGE.parents[1]
    text = (root / "docs" / "behaviour-tests.md").read_text()
    files = set(re.findall(r"`(tests/[a-z]+/test_[a-z_]+\.py)", text))
    gone = sorted(f for f in files if not (root / f).exists())
    assert files and gone == []
    defined = {
        n.name
        for path in (root / "tests").rglob("test_*.py")
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.FunctionDef)
    }
    named = set(re.findall(r"::(test_[a-z_0-9]+)`", text))
    assert named and named <= defined, sorted(named - defined)
