"""The validator over a corpus of model folders, from a local folder and from S3 served by moto."""

from __future__ import annotations

import tracemalloc

import pytest

from controller.artifacts import LocalFolder, S3Folder, validate_source
from tests.support.validator_corpus import CASES, Case

LOCAL = [pytest.param(c, id=c.id) for c in CASES]
REMOTE = [pytest.param(c, id=c.id) for c in CASES if not c.local_only]


def _check(report, case: Case) -> None:
    codes = sorted(report.codes())
    assert report.verdict == case.verdict, f"{case.id}: {codes}: {[f.message for f in report.errors]}"
    if case.code:
        assert case.code in codes, f"{case.id}: expected {case.code}, got {codes}"
    elif case.verdict == "importable":
        assert report.errors == []
        # a model as Hugging Face saves it draws no warning either (noise teaches people to ignore them)
        assert [f.code for f in report.warnings] == [], f"{case.id}: {[f.message for f in report.warnings]}"
    for finding in report.findings:
        assert finding.message and len(finding.message) < 600


@pytest.mark.parametrize("case", LOCAL)
def test_local_folder(case: Case, tmp_path):
    folder = case.build(tmp_path / "model")
    folder.mkdir(exist_ok=True)
    tracemalloc.start()
    try:
        report = validate_source(LocalFolder(folder), **case.kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _check(report, case)
    assert peak < 64 * 1024 * 1024, f"validation used {peak} bytes of Python memory"
    if report.summary.total_bytes > 10**9:
        assert report.summary.bytes_read / report.summary.total_bytes < 1e-4


@pytest.mark.parametrize("case", REMOTE)
def test_s3_folder(case: Case, tmp_path, s3, upload_folder):
    folder = case.build(tmp_path / "model")
    folder.mkdir(exist_ok=True)
    uri = upload_folder(folder, f"corpus/{case.id}/")
    report = validate_source(S3Folder(uri, client=s3), **case.kwargs)
    _check(report, case)
    assert report.source == uri


def test_one_mistake_is_one_error(tmp_path):
    """A GPTQ checkpoint is quantized in config.json, in its tensor names and in its dtypes: the user made
    one mistake (uploaded the quantized export) and reads one error saying so."""
    from bmo_devtools.dev.model_factory import ModelSpec, build_model
    from controller.artifacts.sources import open_source
    from controller.artifacts.validate import validate_source

    folder = build_model(
        tmp_path / "gptq",
        ModelSpec(
            kind="llama2",
            config_overrides={"quantization_config": {"quant_method": "gptq"}},
            tensors={
                "model.embed_tokens.weight": ("F16", (32000, 8)),
                "model.layers.0.self_attn.q_proj.qweight": ("I32", (8, 8)),
                "model.layers.0.self_attn.q_proj.scales": ("F16", (8,)),
            },
        ),
    )
    report = validate_source(open_source(str(folder)))
    assert [f.code for f in report.errors] == ["QuantizedModel"], [f.message for f in report.errors]
    int8 = build_model(tmp_path / "int8", ModelSpec(kind="llama2", dtype="I8"))
    assert [f.code for f in validate_source(open_source(str(int8))).errors] == ["QuantizedWeights"]
