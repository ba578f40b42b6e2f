"""`bedrock-model-operator model-folder`: the five-minute path's model, sound for every architecture it offers
and broken exactly the way its help says, as the validator (the same one the operator runs) judges it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bmo_devtools.dev.model_factory import TEMPLATES
from bmo_devtools.dev.model_folder import BROKEN
from controller.artifacts import validate_source
from controller.artifacts.sources import LocalFolder

ARCHITECTURES = sorted(t for t in TEMPLATES if t != "bert-embedding")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *args], capture_output=True, text=True, timeout=60
    )


def _write(folder, *args: str) -> None:
    import argparse

    from bmo_devtools.cli import add_parsers  # the real parser: the flags as a user types them

    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    ns = parser.parse_args(["model-folder", str(folder), *args])
    assert ns.func(ns) == 0


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_architecture_is_written_importable(tmp_path, architecture):
    _write(tmp_path / "m", "--architecture", architecture)
    report = validate_source(LocalFolder(tmp_path / "m"))
    assert report.importable, [f.to_dict() for f in report.findings]
    assert sum(p.stat().st_size for p in (tmp_path / "m").iterdir()) < 8 * 1024 * 1024  # small to upload


@pytest.mark.parametrize("broken", sorted(BROKEN))
@pytest.mark.parametrize("architecture", ["llama3", "mistral", "qwen2.5"])
def test_each_breakage_is_refused_for_the_reason_the_help_names(tmp_path, broken, architecture):
    _write(tmp_path / "m", "--architecture", architecture, "--broken", broken)
    report = validate_source(LocalFolder(tmp_path / "m"))
    assert not report.importable
    assert BROKEN[broken][1] in [f.code for f in report.errors]


def test_sharded_and_the_commands_own_words(tmp_path):
    proc = _cli("model-folder", str(tmp_path / "m"), "--architecture", "mistral", "--shards", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Wrote {tmp_path / 'm'}/: mistral, importable, 7 files")
    assert "model-00002-of-00002.safetensors" in proc.stdout
    assert validate_source(LocalFolder(tmp_path / "m")).importable
    bad = _cli("model-folder", str(tmp_path / "n"), "--shards", "0")
    assert bad.returncode == 2 and "--shards must be 1 or more" in bad.stderr


@pytest.mark.parametrize(
    "declared,detected",
    [("Qwen2.5", "Qwen2.5"), ("Qwen2", "Qwen2"), (None, "Qwen2")],
)
def test_a_declared_name_the_config_cannot_tell_apart_is_the_one_status_shows(tmp_path, declared, detected):
    """Qwen2 and Qwen2.5 share model_type qwen2: the validator found "Qwen2" where the spec said "Qwen2.5",
    and status showed both spellings. The declared name wins within what the config cannot tell apart."""
    _write(tmp_path / "m", "--architecture", "qwen2.5")
    report = validate_source(LocalFolder(tmp_path / "m"), architecture=declared)
    assert report.importable, [f.to_dict() for f in report.findings]
    assert report.summary.architecture == detected
    if declared == "Qwen2.5":
        assert (
            "which Qwen2 and Qwen2.5 share: spec.architecture names it" in report.summary.architecture_reason
        )


def test_a_declared_name_the_config_contradicts_is_still_refused(tmp_path):
    _write(tmp_path / "m", "--architecture", "qwen2.5")
    report = validate_source(LocalFolder(tmp_path / "m"), architecture="Mistral")
    assert "ArchitectureMismatch" in [f.code for f in report.errors]
