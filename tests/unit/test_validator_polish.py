"""Validator details found in review: Llama 3.2 recognised (not warned as an overridden 3.1), values copied
from a tenant's config bounded everywhere they go, and a folder whose files sit one level down named."""

from __future__ import annotations

from bmo_devtools.dev.model_factory import ModelSpec, build_model
from controller.artifacts.sources import LocalFolder
from controller.artifacts.validate import validate_source
from controller.artifacts.verdict import TERMINATION_LIMIT, Verdict

LLAMA32_ROPE = {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3",
}


def test_llama_3_2_is_detected_and_not_warned_about_its_rope(tmp_path):
    folder = build_model(
        tmp_path / "m", ModelSpec(kind="llama3", config_overrides={"rope_scaling": LLAMA32_ROPE})
    )
    report = validate_source(LocalFolder(folder), architecture="Llama3.2")
    assert report.summary.architecture == "Llama3.2"
    assert "RopeScalingOverridden" not in {f.code for f in report.findings}
    assert report.verdict == "importable", [f.code for f in report.errors]
    # a 3.1 config with its own rope values is still told that Bedrock replaces them
    odd = dict(LLAMA32_ROPE, factor=16.0)
    folder31 = build_model(tmp_path / "m31", ModelSpec(kind="llama3", config_overrides={"rope_scaling": odd}))
    assert "RopeScalingOverridden" in {f.code for f in validate_source(LocalFolder(folder31)).warnings}


def test_a_huge_model_type_stays_bounded_in_status_and_the_termination_message(tmp_path):
    folder = build_model(
        tmp_path / "m", ModelSpec(kind="llama3", config_overrides={"model_type": "x" * 900_000})
    )
    report = validate_source(LocalFolder(folder))
    assert len(report.summary.to_status()["modelType"]) <= 64
    text = Verdict.of_report(report).to_message()
    assert len(text.encode()) <= TERMINATION_LIMIT
    read = Verdict.read(text)  # still a readable verdict, not ValidationResultMissing
    assert read is not None and read.verdict == "not-importable"


def test_a_folder_whose_files_sit_one_level_down_names_the_subfolder(tmp_path):
    build_model(tmp_path / "upload" / "llama3-8b", ModelSpec(kind="llama3"))
    report = validate_source(LocalFolder(tmp_path / "upload"))
    [finding] = [f for f in report.errors if f.code == "SourceInSubfolder"]
    assert "llama3-8b/" in finding.message and "point the source at" in finding.message


def test_a_region_bedrock_does_not_import_into_is_one_error_not_one_per_rule(tmp_path):
    """eu-west-1 offers no Custom Model Import at all: said once (not again as "Mistral cannot be imported
    there"); a region that imports, but not this architecture, is still said for the architecture."""
    build_model(tmp_path / "m", ModelSpec(kind="mistral"))
    nowhere = validate_source(LocalFolder(tmp_path / "m"), region="eu-west-1")
    assert [f.code for f in nowhere.errors] == ["RegionNotSupported"]
    assert "not offered in eu-west-1" in nowhere.errors[0].message
    oss = tmp_path / "oss"
    build_model(oss, ModelSpec(kind="gpt-oss"))
    elsewhere = validate_source(LocalFolder(oss), region="us-west-2")
    assert [f.code for f in elsewhere.errors] == ["RegionNotSupported"]
    assert "us-west-2" in elsewhere.errors[0].message
