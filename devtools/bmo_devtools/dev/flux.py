"""A real GitOps engine against the local control plane: Flux's source-controller and kustomize-controller
(v1.7.3, built from the Go module proxy by `hack/flux/build.sh`) and a git server on 127.0.0.1 holding the
manifests, for the tests and `dev --flux`. Each a process, like the control plane's.

Flux runs with the control plane's admin kubeconfig (no RBAC of its own, no leader election), watches every
namespace, and source-controller serves its artifacts on 127.0.0.1 for kustomize-controller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bmo_devtools.dev.controlplane import REPO_ROOT, ControlPlane, die_with_parent, free_port

BUILD_SCRIPT = REPO_ROOT / "hack" / "flux" / "build.sh"
NAMESPACE = "flux-system"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bmo",
    "GIT_AUTHOR_EMAIL": "bmo@example.invalid",
    "GIT_COMMITTER_NAME": "bmo",
    "GIT_COMMITTER_EMAIL": "bmo@example.invalid",
}


def build() -> Path:
    """The folder with source-controller, kustomize-controller, gitserver and crds/ (built once, cached)."""
    out = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"hack/flux/build.sh failed:\n{out.stderr[-3000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


@dataclass
class LocalFlux:
    cp: ControlPlane
    workdir: Path | None = None
    git_url: str = ""
    bin_dir: Path | None = None
    _procs: list[subprocess.Popen] = field(default_factory=list)

    def __enter__(self) -> LocalFlux:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- processes ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.bin_dir = self.bin_dir or build()
        self.workdir = self.workdir or Path(tempfile.mkdtemp(prefix="bmo-flux-"))
        for folder in ("repos", "artifacts"):  # source-controller refuses a storage path that does not exist
            (self.workdir / folder).mkdir(parents=True, exist_ok=True)
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(self.bin_dir / "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self.kubectl("create", "namespace", NAMESPACE, check=False)
        git = self._spawn(
            "gitserver", [str(self.bin_dir / "gitserver"), "--root", str(self.workdir / "repos")]
        )
        self.git_url = self._first_line(git, "gitserver")
        storage = free_port()
        env = {**self.cp.env(), "RUNTIME_NAMESPACE": NAMESPACE}
        common = ["--watch-all-namespaces=true", "--enable-leader-election=false", "--log-level=info"]
        self._spawn(
            "source-controller",
            [
                str(self.bin_dir / "source-controller"),
                *common,
                f"--storage-path={self.workdir / 'artifacts'}",
                f"--storage-addr=127.0.0.1:{storage}",
                f"--storage-adv-addr=127.0.0.1:{storage}",
                f"--metrics-addr=127.0.0.1:{free_port()}",
                f"--health-addr=127.0.0.1:{free_port()}",
            ],
            env,
        )
        self._spawn(
            "kustomize-controller",
            [
                str(self.bin_dir / "kustomize-controller"),
                *common,
                f"--metrics-addr=127.0.0.1:{free_port()}",
                f"--health-addr=127.0.0.1:{free_port()}",
            ],
            env,
        )

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        assert self.workdir is not None
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 (the process keeps it)
        proc = subprocess.Popen(
            argv,
            env=env or dict(os.environ),
            stdout=subprocess.PIPE if name == "gitserver" else log,
            stderr=log,
            preexec_fn=die_with_parent,
        )
        self._procs.append(proc)
        return proc

    def _first_line(self, proc: subprocess.Popen, name: str) -> str:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line:
            raise RuntimeError(f"{name} did not start; see {self.workdir}/{name}.log")
        return line

    def log(self, name: str) -> str:
        assert self.workdir is not None
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    # ---- the repository -----------------------------------------------------------------------------
    def push(self, repo: str, files: dict[str, str], message: str) -> str:
        """Make the repository's `main` branch hold exactly `files` (path -> text) in a new commit; the
        commit's hash."""
        assert self.workdir is not None
        clone = self.workdir / "clones" / repo
        if not clone.exists():
            clone.mkdir(parents=True)
            self._git(clone, "init", "-q", "-b", "main")
            self._git(clone, "remote", "add", "origin", f"{self.git_url}/{repo}.git")
        for child in clone.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        for path, text in files.items():
            target = clone / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self._git(clone, "add", "-A")
        self._git(clone, "commit", "-q", "--allow-empty", "-m", message)
        self._git(clone, "push", "-q", "-f", "origin", "main")
        return self._git(clone, "rev-parse", "HEAD").strip()

    def _git(self, where: Path, *args: str) -> str:
        env = {**os.environ, **GIT_IDENTITY, "GIT_TERMINAL_PROMPT": "0"}
        out = subprocess.run(["git", *args], cwd=where, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {out.stderr}")
        return out.stdout

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess:
        out = subprocess.run(
            ["kubectl", *args], env=self.cp.env(), capture_output=True, text=True, input=input, check=False
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out

    def sync(self, name: str, namespace: str, repo: str, path: str, **kustomization: Any) -> None:
        """A GitRepository for `repo` and a Kustomization applying `path` of it (prune and wait on)."""
        import yaml

        source = {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"interval": "2s", "url": f"{self.git_url}/{repo}.git", "ref": {"branch": "main"}},
        }
        apply = {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {
                "interval": "5s",
                "retryInterval": "2s",
                "path": path,
                "prune": True,
                "wait": True,
                "timeout": "2m",
                "targetNamespace": namespace,
                "sourceRef": {"kind": "GitRepository", "name": name},
                **kustomization,
            },
        }
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([source, apply]))

    def wait_until(self, done: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = done()
            if got:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}; logs in {self.workdir}")
            time.sleep(0.5)
