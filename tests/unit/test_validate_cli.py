"""`bedrock-model-operator validate`: exit status, JSON and text output, access errors said plainly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from botocore.stub import Stubber

from bmo_devtools.dev.model_factory import ModelSpec, build_model
from controller.artifacts import S3Folder, SourceAccessError, validate_source


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", "validate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_importable_folder_exits_0_with_json_report(tmp_path):
    folder = build_model(tmp_path / "m", ModelSpec(kind="mistral", shards=3))
    proc = _cli(str(folder), "--architecture", "Mistral", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "importable"
    assert doc["errors"] == []
    s = doc["summary"]
    assert s["architecture"] == "Mistral" and s["model_type"] == "mistral"
    assert s["weight_files"] == 3 and s["dtypes"] == ["BF16"]
    assert s["context_length"] == 32768
    assert s["parameter_count"] > 0 and s["bytes_read"] > 0 and s["files"] == 8


def test_refused_folder_exits_1_and_says_what_to_fix(tmp_path):
    folder = build_model(
        tmp_path / "m", ModelSpec(config_overrides={"quantization_config": {"quant_method": "awq"}})
    )
    proc = _cli(str(folder))
    assert proc.returncode == 1
    assert "NOT importable" in proc.stdout
    assert "QuantizedModel" in proc.stdout and "upload the FP32/FP16/BF16 weights" in proc.stdout

    doc = json.loads(_cli(str(folder), "--output", "json").stdout)
    assert doc["verdict"] == "not-importable"
    assert [e["code"] for e in doc["errors"]] == ["QuantizedModel"]
    assert all(set(e) >= {"code", "message"} for e in doc["errors"] + doc["warnings"])


def test_missing_directory_exits_2(tmp_path):
    proc = _cli(str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "NoSuchDirectory" in proc.stderr


def test_usage_error_exits_2():
    assert _cli("--architecture", "Llama9", "x").returncode == 2


def test_missing_bucket_exits_2_naming_the_s3_error(moto_endpoint, aws_env):
    proc = _cli("s3://no-such-bucket-here/model/", "--endpoint-url", moto_endpoint, "--output", "json")
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "error" and doc["error"]["code"] == "NoSuchBucket"


def test_s3_model_validates_from_the_cli(tmp_path, s3, upload_folder, moto_endpoint):
    uri = upload_folder(build_model(tmp_path / "m", ModelSpec(kind="qwen3", shards=4)), "cli/qwen3/")
    proc = _cli(uri, "--endpoint-url", moto_endpoint, "--region", "us-east-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{uri}: importable" in proc.stdout
    assert "architecture Qwen3" in proc.stdout


def test_access_denied_is_an_access_error_not_a_verdict(s3):
    # moto does not enforce IAM here; botocore's Stubber returns S3's real AccessDenied response shape.
    stubbed = S3Folder("s3://models/secret/", client=s3)
    with Stubber(s3) as stub:
        stub.add_client_error("list_objects_v2", "AccessDenied", "Access Denied", 403)
        with pytest.raises(SourceAccessError) as err:
            validate_source(stubbed)
    assert err.value.code == "AccessDenied"
    assert "s3://models/secret/" in err.value.message


def test_reads_only_headers_of_a_large_sharded_model(tmp_path):
    from controller.artifacts.weights_sample import MAX_READ_BYTES, SHARD_BUDGET_BYTES
    from tests.support.validator_corpus import _huge_shards

    folder = _huge_shards(150 * 10**9, 30)(tmp_path / "big")
    proc = _cli(str(folder), "--output", "json")
    doc = json.loads(proc.stdout)
    s = doc["summary"]
    assert s["weight_bytes"] >= 150 * 10**9
    # one ranged read per shard's header, plus the small JSON files; then the weights' samples
    assert s["read_requests"] - s["sample_requests"] <= 30 + 5
    assert s["sample_bytes"] <= 30 * (SHARD_BUDGET_BYTES + MAX_READ_BYTES)  # each shard's sampling budget
    assert s["bytes_read"] / s["total_bytes"] < 1e-4  # "well under 0.01%", samples included


def test_every_reason_code_is_documented():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    codes = {"UnsupportedModelClass"}  # chosen at run time in rules.py
    for path in (root / "controller" / "artifacts").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("_err", "_warn", "Finding", "bad")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(node.args[0].value)
    from controller.artifacts.validate import _JSON_CODES

    codes |= set(_JSON_CODES.values())
    doc = (root / "docs" / "validation.md").read_text()
    assert sorted(c for c in codes if f"| {c} |" not in doc) == []


def test_the_readme_sample_is_what_validate_prints(tmp_path):
    """docs/api.md's sample output of `validate` is the real output for the folders it names."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    from bmo_devtools.dev.model_factory import ModelSpec, build_model

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "api.md").read_text()
    start = text.index("<!-- validate-sample -->")
    sample = text[text.index("```\n", start) + 4 :]
    sample = sample[: sample.index("```")]
    build_model(tmp_path / "my-model", ModelSpec(kind="llama3"))
    gptq = {"quantization_config": {"quant_method": "gptq"}}
    build_model(tmp_path / "quantized", ModelSpec(kind="llama3", config_overrides=gptq))
    printed = []
    for command in re.findall(r"^\$ bedrock-model-operator (.+)$", sample, re.M):
        printed.append(f"$ bedrock-model-operator {command}")
        out = subprocess.run(
            [sys.executable, "-m", "controller.cli", *command.split()],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        printed.append(out.stdout.rstrip("\n"))
    assert "\n".join(printed) + "\n" == sample


def test_an_https_url_is_refused_with_what_to_give_instead():
    import json
    import subprocess
    import sys

    url = "https://my-models.s3.amazonaws.com/llama3/"
    text = subprocess.run(
        [sys.executable, "-m", "controller.cli", "validate", url], capture_output=True, text=True, timeout=60
    )
    assert text.returncode == 2
    assert "is a URL; give the folder as s3://bucket/prefix/" in text.stderr
    as_json = subprocess.run(
        [sys.executable, "-m", "controller.cli", "validate", url, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["code"] == "NotAnS3Uri"


def test_tensors_left_unread_by_the_cap_are_said(tmp_path, monkeypatch, capsys):
    from dataclasses import replace
    from functools import partial

    from bmo_devtools.dev.model_factory import ModelSpec, build_model
    from controller.artifacts.limits import JOB_LIMITS
    from controller.cli import validate as validate_cli
    from controller.cli.commands import main

    folder = build_model(
        tmp_path / "m", ModelSpec(kind="llama3", dtype="BF16", shards=3, layers=8, hidden=256)
    )
    capped = partial(validate_cli.validate_source, limits=replace(JOB_LIMITS, sample_reads=6))
    monkeypatch.setattr(validate_cli, "validate_source", capped)
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "weights sanity sampled" in out and "unread (the cap on reads" in out
