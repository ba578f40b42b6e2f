"""The README's troubleshooting section names every reason the operator can write."""

from __future__ import annotations

from pathlib import Path

from controller.api.reasons import ConditionType, EventReason, Reason

README = Path(__file__).resolve().parents[1] / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("## Troubleshooting: condition reasons and what to do")
    return text[start : text.index("\n## ", start + 1)]


def test_every_reason_is_explained_in_the_readme():
    section = _section()
    missing = [r.value for r in [*Reason, *EventReason] if f"`{r.value}`" not in section]
    assert missing == [], f"add these reasons to the README's troubleshooting table: {missing}"


def test_every_condition_type_has_rows():
    section = _section()
    assert all(f"| {c.value}" in section or f", {c.value}" in section for c in ConditionType)
