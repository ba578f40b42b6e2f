"""`bedrock-model-operator dev`: the whole product on one machine.

Today it brings up the local control plane, installs the CRDs from `crds/` and applies `examples/`;
the AWS emulators and the operator join as they land.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from controller.dev.controlplane import REPO_ROOT, ControlPlane


def _kubectl(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], env=cp.env(), text=True, capture_output=True, check=False)


def _apply_dir(cp: ControlPlane, folder: Path) -> None:
    if not folder.is_dir() or not any(folder.glob("*.yaml")):
        return
    proc = _kubectl(cp, "apply", "-f", str(folder))
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"kubectl apply -f {folder} failed:\n{proc.stderr}")


def default_workdir() -> Path:
    """A stable place for the dev cluster's files, so its kubeconfig path is the same every run."""
    root = os.environ.get("BMO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bedrock-model-operator"
    )
    return Path(root) / "dev"


def run_dev_stack(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    workdir = Path(args.workdir) if args.workdir else default_workdir()
    shutil.rmtree(workdir, ignore_errors=True)  # every run starts from an empty cluster
    print("Starting the local control plane (first run builds it from the Go module proxy)...", flush=True)
    with ControlPlane(workdir=workdir) as cp:
        crds = REPO_ROOT / "crds"
        _apply_dir(cp, crds)
        if crds.is_dir():
            _kubectl(cp, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        _apply_dir(cp, REPO_ROOT / "examples")
        listing = _kubectl(cp, "get", "bedrockmodels", "-o", "wide")
        if listing.returncode == 0:
            print("\n$ kubectl get bedrockmodels -o wide\n" + listing.stdout, end="")
        print(
            "\nThe local control plane is up.\n"
            f"  apiserver:  {cp.server}\n"
            f"  kubeconfig: export KUBECONFIG={cp.kubeconfig}\n"
            "  try:       kubectl get namespaces\n",
            flush=True,
        )
        if args.exit_after_setup:
            return 0
        print("Press Ctrl-C to stop everything.", flush=True)
        stop.wait()
        print("\nStopping...", flush=True)
    return 0
