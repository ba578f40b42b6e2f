"""What the Dockerfile's builder stage does, checked without Docker (none on this machine): install only the
runtime dependencies from uv.lock (no dev group) and run the operator's entry points from that install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from controller.dev.model_factory import ModelSpec, build_model

ROOT = Path(__file__).resolve().parents[1]


def test_runtime_only_install_runs_the_operator_and_validator(tmp_path):
    uv = (
        subprocess.run(
            ["bash", str(ROOT / "hack" / "ensure-uv.sh")], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .split()
    )
    app = tmp_path / "app"
    app.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, app / name)
    shutil.copytree(ROOT / "controller", app / "controller")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    proc = subprocess.run(
        [*uv, "sync", "--frozen", "--no-dev", "--no-editable", "--quiet"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    venv = app / ".venv"
    for dev_only in ("moto", "pytest", "numpy", "ruff"):
        assert not list((venv / "lib").glob(f"python*/site-packages/{dev_only}")), f"{dev_only} in the image"
    exe = str(venv / "bin" / "bedrock-model-operator")
    assert subprocess.run([exe, "run", "--help"], capture_output=True, text=True).returncode == 0
    model = build_model(tmp_path / "model", ModelSpec(kind="mistral"))
    out = subprocess.run([exe, "validate", str(model), "--output", "json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    imports = "import controller.handlers, controller.emulator.server, controller.validation_jobs"
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", imports], capture_output=True, text=True, cwd=tmp_path
    )
    assert check.returncode == 0, check.stderr
