"""Read what the rules need from a model folder, as little as possible, and return a Report.

Small JSON files are fetched whole (each under a cap checked against the listed size before reading);
each safetensors header costs one ranged read of its first 16 KiB (a second only for a larger header);
headers are read concurrently. Weights are never read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from controller.artifacts.limits import JOB_LIMITS, ByteBudget, Limits
from controller.artifacts.pin import source_digest
from controller.artifacts.report import Finding, Report, Severity
from controller.artifacts.rules import Inputs, judge
from controller.artifacts.safetensors_header import (
    FIRST_READ_BYTES,
    ParsedHeader,
    header_length,
    parse_header,
)
from controller.artifacts.sources import FileInfo, ModelSource, SourceAccessError
from controller.artifacts.weights_sample import sample_weights as sample_tensors

MiB = 1024 * 1024
TOKENIZER_JSON_CAP = 256 * MiB
_JSON_CODES = {
    "config.json": "InvalidConfig",
    "generation_config.json": "InvalidGenerationConfig",
    "tokenizer_config.json": "InvalidTokenizerConfig",
    "chat_template.json": "InvalidChatTemplate",
}

Progress = Callable[[int, int], None]


def _load_json(
    source: ModelSource, info: FileInfo, cap: int, code: str, budget: ByteBudget, mode: str = "Job"
) -> tuple[Any, Finding | None]:
    if info.size > cap:
        return None, Finding(
            code,
            f"{info.name} is {info.size} bytes (limit {cap} for {mode} validation): not a real "
            f"{info.name}; replace it",
            Severity.ERROR,
            info.name,
        )
    with budget.hold(info.size):  # the text and its parse are the peak: at most the budget at once
        try:
            doc = json.loads(source.read(info.name, 0, info.size).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return None, Finding(
                code,
                f"{info.name} is not valid JSON ({str(exc)[:100]}); re-save it",
                Severity.ERROR,
                info.name,
            )
    if not isinstance(doc, dict):
        return None, Finding(code, f"{info.name} must be a JSON object", Severity.ERROR, info.name)
    return doc, None


def read_header(
    source: ModelSource, info: FileInfo, limits: Limits = JOB_LIMITS, budget: ByteBudget | None = None
) -> ParsedHeader:
    """Fetch and check one safetensors header: one ranged read, two for a header over 16 KiB. The header's
    bytes count against the folder's total and wait for their share of the in-flight budget."""
    budget = budget or ByteBudget(limits.in_flight_bytes, limits.total_header_bytes)
    first = source.read(info.name, 0, min(FIRST_READ_BYTES, info.size))
    n, problem = header_length(first, info.name, info.size, limits.header_bytes, limits.name)
    if problem is not None or n is None:
        return ParsedHeader(info.name, 0, errors=[problem] if problem else [])
    if not budget.count(n):
        too_much = Finding(
            "SafetensorsHeadersTooLarge",
            f"{info.name}: the folder's safetensors headers together pass {limits.total_header_bytes} bytes "
            f"(the limit for {limits.name} validation): not a real model; check the folder",
            Severity.ERROR,
            info.name,
        )
        return ParsedHeader(info.name, n, errors=[too_much])
    with budget.hold(n):
        return _read_rest(source, info, first, n)


def _read_rest(source: ModelSource, info: FileInfo, first: bytes, n: int) -> ParsedHeader:
    raw = first[8 : 8 + n]
    if len(raw) < n:
        raw += source.read(info.name, 8 + len(raw), n - len(raw))
    if len(raw) < n:
        return ParsedHeader(
            info.name,
            n,
            errors=[
                Finding(
                    "SafetensorsTruncated",
                    f"{info.name}: header cut short; upload the file again",
                    Severity.ERROR,
                    info.name,
                )
            ],
        )
    return parse_header(raw, info.name, info.size)


def validate_source(
    source: ModelSource,
    *,
    architecture: str | None = None,
    region: str | None = None,
    architecture_label: str = "spec.architecture",
    concurrency: int = 16,
    progress: Progress | None = None,
    limits: Limits = JOB_LIMITS,
    sample_weights: bool = True,
) -> Report:
    """Judge the folder. Raises SourceAccessError only when the folder itself cannot be read."""
    report = Report(source=source.uri)
    files = source.list_files(limit=limits.files)
    report.summary.source_digest = source_digest(files)
    if len(files) > limits.files:
        report.findings = [
            Finding(
                "TooManyFiles",
                f"the folder holds more than {limits.files} files (the limit for {limits.name} validation): "
                "point the source at the model's own folder",
                Severity.ERROR,
            )
        ]
        return report
    budget = ByteBudget(limits.in_flight_bytes, limits.total_header_bytes)
    by_name = {f.name: f for f in files}
    inputs = Inputs(
        files=files,
        declared_architecture=architecture,
        region=region,
        architecture_label=architecture_label,
        subfolders=sorted(getattr(source, "subfolders", None) or []),
    )

    wanted = {n: cap for n, cap in limits.json_bytes.items() if n in by_name}
    wanted |= {n: limits.index_bytes for n in by_name if n.endswith(".safetensors.index.json")}
    json_total = sum(by_name[n].size for n in wanted if by_name[n].size <= wanted[n])
    if json_total > limits.total_json_bytes:
        report.findings = [
            Finding(
                "MetadataFilesTooLarge",
                f"the folder's JSON files ({', '.join(sorted(wanted))}) together hold {json_total} bytes "
                f"(limit {limits.total_json_bytes} for {limits.name} validation): not a real model; check "
                "the folder",
                Severity.ERROR,
            )
        ]
        return report
    weights = [f for f in files if f.name.endswith(".safetensors")]

    def load(name: str) -> tuple[str, Any, Finding | None]:
        code = _JSON_CODES.get(name, "InvalidShardIndex")
        doc, problem = _load_json(source, by_name[name], wanted[name], code, budget, limits.name)
        return name, doc, problem

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        json_jobs = [pool.submit(load, n) for n in wanted]
        header_jobs = {pool.submit(read_header, source, f, limits, budget): f.name for f in weights}
        tok = by_name.get("tokenizer.json")
        tok_job = None
        if tok is not None and tok.size <= TOKENIZER_JSON_CAP:
            tok_job = pool.submit(source.read, "tokenizer.json", 0, 64)
        for job in json_jobs:
            name, doc, problem = job.result()
            if problem:
                inputs.read_findings.append(problem)
            else:
                inputs.json[name] = doc
        for done, job in enumerate(as_completed(header_jobs), start=1):
            header = job.result()
            inputs.headers[header.file] = header
            if progress:
                progress(done, len(header_jobs))
        if tok is not None and tok.size > TOKENIZER_JSON_CAP:
            inputs.read_findings.append(
                Finding(
                    "TokenizerFileTooLarge",
                    f"tokenizer.json is {tok.size} bytes (limit {TOKENIZER_JSON_CAP}): not "
                    "a real tokenizer; re-save the tokenizer",
                    Severity.ERROR,
                    "tokenizer.json",
                )
            )
        elif tok_job is not None:
            inputs.tokenizer_json_head = tok_job.result()

    report.findings = judge(inputs, report.summary)
    if sample_weights and not report.errors:  # worth reading weights only for a model that would import
        sampled = sample_tensors(
            source, inputs.headers.values(), concurrency=concurrency, max_reads=limits.sample_reads
        )
        report.findings += sampled.findings()
        report.summary.sampled_tensors = sum(1 for t in sampled.tensors if t.values)
        report.summary.unsampled_tensors = sum(1 for t in sampled.tensors if not t.values and t.size)
        report.summary.sample_bytes = sampled.bytes_read
        report.summary.sample_requests = sampled.requests
    report.summary.bytes_read = getattr(source, "bytes_read", 0)
    report.summary.read_requests = getattr(source, "requests", 0)
    return report


__all__ = ["SourceAccessError", "read_header", "validate_source"]
