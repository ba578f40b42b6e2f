"""What the Dockerfile's builder stage does, checked without Docker (none on this machine): install only the
runtime dependencies from uv.lock (no dev group) and run the operator's entry points from that install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bmo_devtools.dev.model_factory import ModelSpec, build_model

ROOT = Path(__file__).resolve().parents[2]


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
    # the workspace names its dev-tools member; as in the Dockerfile, only its pyproject is there
    (app / "devtools").mkdir()
    shutil.copy(ROOT / "devtools" / "pyproject.toml", app / "devtools" / "pyproject.toml")
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
    for dev_only in ("moto", "pytest", "numpy", "ruff", "bmo_devtools", "cryptography"):
        assert not list((venv / "lib").glob(f"python*/site-packages/{dev_only}")), f"{dev_only} in the image"
    exe = str(venv / "bin" / "bedrock-model-operator")
    assert subprocess.run([exe, "run", "--help"], capture_output=True, text=True).returncode == 0
    model = build_model(tmp_path / "model", ModelSpec(kind="mistral"))
    out = subprocess.run([exe, "validate", str(model), "--output", "json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    python = str(venv / "bin" / "python")
    imports = "import controller.runtime.registry, controller.kube.validation_jobs, controller.runtime.main"
    check = subprocess.run([python, "-c", imports], capture_output=True, text=True, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    for dev_module in ("controller.dev", "bmo_devtools"):  # the dev tools are not part of the operator
        gone = subprocess.run(
            [python, "-c", f"import {dev_module}"], capture_output=True, text=True, cwd=tmp_path
        )
        assert gone.returncode != 0 and "No module named" in gone.stderr, dev_module
    commands = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
    assert "validate" in commands and "run" in commands and " dev " not in commands
