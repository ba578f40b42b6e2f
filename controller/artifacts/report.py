"""The validator's result: a verdict, findings with stable codes, and facts about the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    code: str  # stable, CamelCase: the reason a condition and a script can rely on
    message: str  # what is wrong and what to do about it
    severity: Severity = Severity.ERROR
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"code": self.code, "message": self.message}
        if self.file:
            out["file"] = self.file
        return out


@dataclass
class Summary:
    architecture: str | None = None
    model_type: str | None = None
    files: int = 0
    weight_files: int = 0
    total_bytes: int = 0
    weight_bytes: int = 0
    parameter_count: int = 0
    dtypes: list[str] = field(default_factory=list)
    context_length: int | None = None
    bytes_read: int = 0
    read_requests: int = 0
    architecture_reason: str | None = None  # why detection chose it (shown by the CLI; not in status)
    sampled_tensors: int = 0  # float tensors whose weights were sampled (NaN/Inf/all-zero)
    unsampled_tensors: int = 0  # float tensors left unread: past the folder's cap on sampling reads
    sample_bytes: int = 0  # bytes of weights read to sample them
    sample_requests: int = 0  # ranged reads of weights
    source_digest: str | None = None  # the files as listed when validation began (artifacts/pin.py)

    def to_status(self) -> dict[str, Any]:
        """The summary as status.validation carries it (camelCase, the CRD's field names)."""
        return {
            "architecture": self.architecture,
            "modelType": self.model_type,
            "files": self.files,
            "weightBytes": self.weight_bytes,
            "parameterCount": self.parameter_count,
            "dtypes": self.dtypes,
            "contextLength": self.context_length,
            "bytesRead": self.bytes_read,
            "sourceDigest": self.source_digest,
        }


@dataclass
class Report:
    source: str
    findings: list[Finding] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def importable(self) -> bool:
        return not self.errors

    @property
    def verdict(self) -> str:
        return "importable" if self.importable else "not-importable"

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "verdict": self.verdict,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "summary": asdict(self.summary),
        }
