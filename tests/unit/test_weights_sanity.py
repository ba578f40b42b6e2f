"""Weights sanity before import: NaN, Inf and all-zero tensors found by sampling a few small ranges of every
float tensor, in each float dtype, in one shard of several, locally and in S3; the bytes read stay bounded
and a tiny part of the model."""

from __future__ import annotations

import pytest

from bmo_devtools.dev.model_factory import ModelSpec, build_model
from controller.artifacts.sources import LocalFolder, S3Folder
from controller.artifacts.validate import validate_source
from controller.artifacts.weights_sample import MAX_READ_BYTES, SHARD_BUDGET_BYTES

#: In the second of three shards (layer 2 of 4): the finding must name it, not the first shard.
TARGET = "model.layers.2.self_attn.v_proj.weight"


def _model(tmp_path, dtype: str, poison: dict[str, str]):
    spec = ModelSpec(kind="llama3", dtype=dtype, shards=3, layers=4, poison=poison)
    return build_model(tmp_path / f"{dtype}-{'-'.join(poison.values()) or 'clean'}", spec)


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
@pytest.mark.parametrize(
    "kind,code,severity",
    [
        ("nan", "WeightsNotFinite", "error"),
        ("inf", "WeightsNotFinite", "error"),
        ("zero", "WeightsAllZero", "warning"),
    ],
)
def test_a_broken_tensor_is_named_in_its_dtype(tmp_path, dtype, kind, code, severity):
    folder = _model(tmp_path, dtype, {TARGET: kind})
    report = validate_source(LocalFolder(folder))
    [finding] = [f for f in report.findings if f.code == code]
    assert finding.severity.value == severity
    assert TARGET in finding.message and "1 tensor(s)" in finding.message
    assert finding.file and finding.file.startswith("model-00002-of-00003")  # the shard that holds it
    assert report.verdict == ("not-importable" if severity == "error" else "importable")


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
def test_clean_weights_raise_nothing(tmp_path, dtype):
    report = validate_source(LocalFolder(_model(tmp_path, dtype, {})))
    assert not {"WeightsNotFinite", "WeightsAllZero"} & report.codes()
    assert report.summary.sampled_tensors == 4 * 6 + 3  # every float tensor of every shard


def test_in_s3_too(tmp_path, upload_folder, s3):
    folder = _model(tmp_path, "BF16", {TARGET: "nan", "model.norm.weight": "zero"})
    uri = upload_folder(folder, "weights-sanity/nan/")
    report = validate_source(S3Folder(uri, client=s3))
    assert {"WeightsNotFinite", "WeightsAllZero"} <= report.codes()
    assert TARGET in next(f for f in report.errors if f.code == "WeightsNotFinite").message


def test_bytes_read_are_bounded_and_a_tiny_part_of_the_model(tmp_path):
    spec = ModelSpec(kind="llama3", dtype="BF16", shards=2, layers=8, hidden=256)
    folder = build_model(tmp_path / "m", spec)
    plain = validate_source(LocalFolder(folder), sample_weights=False)
    sampled = validate_source(LocalFolder(folder))
    s = sampled.summary
    assert s.sample_bytes <= 2 * (SHARD_BUDGET_BYTES + MAX_READ_BYTES)  # two shards
    assert s.sample_bytes < s.weight_bytes / 100, (s.sample_bytes, s.weight_bytes)
    assert sampled.summary.bytes_read - plain.summary.bytes_read == s.sample_bytes
