"""The validator's verdict as a validation Job's pod reports it: one JSON document in its container's
termination message, which Kubernetes cuts at 4 KiB. `bedrock-model-operator validate` writes it and the
operator reads it through this one model, so the two cannot drift apart (short keys: the findings' messages
are what is cut first)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Kubernetes keeps this much of a container's termination message.
TERMINATION_LIMIT = 4096


class Verdict(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    verdict: Literal["importable", "not-importable", "error"] = Field(alias="v")
    summary: dict[str, Any] = Field(default_factory=dict, alias="s")
    errors: list[tuple[str, str]] = Field(default_factory=list, alias="e")  # (code, message)
    warnings: list[tuple[str, str]] = Field(default_factory=list, alias="w")
    code: str | None = None  # verdict "error": the source could not be read, and why
    message: str | None = None

    @classmethod
    def of_report(cls, report: Any) -> Verdict:
        return cls(
            verdict=report.verdict,
            summary=report.summary.to_status(),
            errors=[(f.code, f.message) for f in report.errors],
            warnings=[(f.code, f.message) for f in report.warnings],
        )

    @classmethod
    def unreadable(cls, code: str, message: str) -> Verdict:
        return cls(verdict="error", code=code, message=message[:1000])

    def to_message(self) -> str:
        """The document under the limit: messages shortened (300, 120, then 0 characters) before any
        finding is dropped, so every code survives as long as it can."""
        doc = self.model_dump(by_alias=True, exclude_none=True)
        for cut in (300, 120, 0):
            doc["e"] = [[c, m[:cut]] for c, m in self.errors]
            doc["w"] = [[c, m[:cut]] for c, m in self.warnings]
            text = json.dumps(doc, separators=(",", ":"))
            if len(text.encode()) <= TERMINATION_LIMIT:
                return text
        doc["e"], doc["w"] = doc["e"][:20], doc["w"][:10]
        return json.dumps(doc, separators=(",", ":"))[:TERMINATION_LIMIT]

    @classmethod
    def read(cls, text: str | None) -> Verdict | None:
        """What a termination message says; None when it holds no verdict (empty, cut, or foreign)."""
        if not text:
            return None
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, ValidationError):
            return None
