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
