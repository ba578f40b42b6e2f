"""`bedrock-model-operator dev`: the whole product on one machine.

A real control plane (or the current kubeconfig context with --use-current-context), moto and the
Bedrock emulator on loopback, example model folders uploaded to the emulated S3, the CRD, the operator
as its own process, and `examples/` applied; then `kubectl get bedrockmodels` until every model is
Ready or Failed, and it keeps running until Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import yaml

from bmo_devtools.dev.aws import LocalAws
from bmo_devtools.dev.controlplane import CRD_FILES, REPO_ROOT, ControlPlane, die_with_parent

#: The file that marks a folder as the dev stack's own: only such a folder is ever emptied.
WORKDIR_MARK = ".bedrock-model-operator-dev"
DEPLOY = REPO_ROOT / "deploy" / "base"


class WorkdirRefused(SystemExit):
    """The folder holds files the stack did not make: it is never emptied."""


def prepare_workdir(workdir: Path, ours: bool = False) -> Path:
    """Start every run from an empty folder, but never empty a folder the stack did not create: a folder
    that exists, is not empty and has no mark is refused (a user's `--workdir .` keeps its files).
    `ours`: the default folder under the cache, the stack's own even from versions before the mark."""
    if workdir.exists() and not workdir.is_dir():
        raise WorkdirRefused(f"--workdir {workdir} is a file, not a folder: choose a folder")
    if ours and workdir.is_dir():
        (workdir / WORKDIR_MARK).touch()
    if workdir.is_dir() and any(workdir.iterdir()) and not (workdir / WORKDIR_MARK).exists():
        raise WorkdirRefused(
            f"--workdir {workdir} is not empty and was not made by the dev stack; it would be emptied on "
            "every start, so it is refused: choose a new or empty folder (or omit --workdir)"
        )
    if (workdir / WORKDIR_MARK).exists():
        from bmo_devtools.dev.node import clean_leftovers

        # ours: a node of a run killed with -9 left its containers and mounts in node/ (only there)
        clean_leftovers(workdir / "node")
        for child in workdir.iterdir():  # ours: every run starts from an empty cluster
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / WORKDIR_MARK).write_text("made by `bedrock-model-operator dev`; emptied on its every start\n")
    return workdir


#: Fixed ports of the dev stack, so a second terminal (and the commands it printed) work across restarts;
#: a port in use is replaced by a random free one, and the printed commands say which.
DEV_API_PORT, DEV_MOTO_PORT, DEV_BEDROCK_PORT, DEV_METRICS_PORT = 16443, 15000, 15001, 19090


def default_workdir() -> Path:
    """A stable place for the dev cluster's files, so its kubeconfig path is the same every run."""
    root = os.environ.get("BMO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bedrock-model-operator"
    )
    return Path(root) / "dev"


class _CurrentContext:
    """Stand-in for ControlPlane when the user brings their own cluster."""

    def __init__(self) -> None:
        self.kubeconfig = Path(os.environ.get("KUBECONFIG", os.path.expanduser("~/.kube/config")))
        self.server = "(current kubeconfig context)"

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _kubectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], env=env, text=True, capture_output=True, check=False)


def _apply(env: dict[str, str], path: Path) -> None:
    proc = _kubectl(env, "apply", "-f", str(path))
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"kubectl apply -f {path} failed:\n{proc.stderr}")


def install_admission(env: dict[str, str]) -> None:
    """The shipped ValidatingAdmissionPolicy and its bindings, for an `open` cluster (as deploy/overlays/local
    patches them): creates pass where no BedrockImportPolicy exists, the policies that exist are enforced at
    `kubectl apply` (examples/tenancy/)."""
    docs = [yaml.safe_load((DEPLOY / "admission-policy.yaml").read_text())]
    for binding in yaml.safe_load_all((DEPLOY / "admission-policy-binding.yaml").read_text()):
        binding["spec"]["paramRef"]["parameterNotFoundAction"] = "Allow"
        docs.append(binding)
    proc = subprocess.run(
        ["kubectl", "apply", "-f", "-"],
        input=yaml.safe_dump_all(docs),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"installing the admission policy failed: {proc.stderr}")


def _final_states(env: dict[str, str]) -> tuple[bool, str]:
    listing = _kubectl(env, "get", "bedrockmodels", "-A", "-o", "json")
    if listing.returncode != 0:
        return False, listing.stderr
    items = json.loads(listing.stdout)["items"]
    done = bool(items) and all(
        any(
            c.get("type") == "Ready"
            and (
                c.get("status") == "True"
                or c.get("reason") not in (None, "Reconciling", "Queued", "Importing")
            )
            for c in (i.get("status") or {}).get("conditions", [])
        )
        and (i.get("status") or {}).get("phase") in ("Ready", "Failed")
        for i in items
    )
    return done, _kubectl(env, "get", "bedrockmodels", "-A").stdout


def _smoke_results(env: dict[str, str]) -> str:
    """Each example's smoke test (the dev stack smoke-tests every new model): result and answer."""
    listing = _kubectl(env, "get", "bedrockmodels", "-A", "-o", "json")
    if listing.returncode != 0:
        return ""
    lines = ["\nSmoke tests (InvokeModel on each new model before it serves):\n"]
    for item in json.loads(listing.stdout)["items"]:
        meta, status = item["metadata"], item.get("status") or {}
        smoke = status.get("smokeTest") or {}
        tested = next((c for c in status.get("conditions", []) if c.get("type") == "SmokeTested"), {})
        answer = f' "{smoke["excerpt"]}"' if smoke.get("excerpt") else ""
        lines.append(f"  {meta['namespace']}/{meta['name']}: {tested.get('reason', 'not tested')}{answer}\n")
    return "".join(lines)


def start_operator(env: dict[str, str], log: IO[str], *args: str) -> subprocess.Popen:
    """`bedrock-model-operator run` as its own process, logging to `log`, stopped if this process dies."""
    return subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "run", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )


def stop_operator(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (kopf stops its handlers cleanly), SIGKILL if it has not exited within `timeout`."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_dev_stack(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    if args.in_cluster and args.use_current_context:
        raise SystemExit("--in-cluster runs its own node and control plane: it cannot --use-current-context")
    if args.workdir:
        workdir = prepare_workdir(Path(args.workdir).resolve())
    else:
        workdir = prepare_workdir(default_workdir(), ours=True)
    if args.use_current_context:
        cluster_cm = _CurrentContext()
    else:
        print(
            "Starting the local control plane (the first run builds it from the Go module proxy)...",
            flush=True,
        )
        cluster_cm = ControlPlane(workdir=workdir / "cluster", api_port=DEV_API_PORT)
    local_aws = LocalAws(
        job_duration=args.job_duration,
        workdir=workdir / "aws",
        moto_port=DEV_MOTO_PORT,
        bedrock_port=DEV_BEDROCK_PORT,
    )
    with cluster_cm as cp:
        print(f"Cluster up at {cp.server}; elsewhere: export KUBECONFIG={cp.kubeconfig}", flush=True)
        with local_aws as aws, _node(cp, workdir, args) as image:
            return _run_on(cp, aws, workdir, args, stop, image, started)


@contextlib.contextmanager
def _node(cp, workdir: Path, args: argparse.Namespace) -> Iterator[str | None]:
    """--in-cluster: the images built from the Dockerfile and a real node; yields the operator's image."""
    if not args.in_cluster:
        yield None
        return
    from bmo_devtools.dev.node import LocalNode, build_images

    print("Building the images: pause, a Debian base, the Dockerfile (cached by content)...", flush=True)
    t0 = time.monotonic()
    images = build_images()
    print(f"Images ready in {time.monotonic() - t0:.0f} s: {images.operator_image}", flush=True)
    t0 = time.monotonic()
    with LocalNode(cp, workdir / "node", images=(images.pause, images.operator)):
        print(
            f"Node `localhost` Ready in {time.monotonic() - t0:.0f} s (kubelet, containerd, runc)", flush=True
        )
        yield images.operator_image


def _aws_cli_env() -> str:
    return " ".join(f"{k}={v}" for k, v in LocalAws.credentials().items())


def _run_on(
    cp,
    aws: LocalAws,
    workdir: Path,
    args: argparse.Namespace,
    stop: threading.Event,
    image: str | None,
    started: float,
) -> int:
    """The stack once its cluster and local AWS are up: examples, the operator (a host process, or with
    `image` the deployed pod), then wait for Ctrl-C."""
    print(f"AWS emulators up: moto {aws.moto_url}, Bedrock {aws.bedrock_url}", flush=True)
    aws.seed_examples()
    aws.seed_tenancy()
    manifests = len(list((REPO_ROOT / "examples").glob("*.yaml")))  # tenancy/ holds policies, not models
    print(
        f"Uploaded example models to s3://bmo-examples/ ({manifests} manifests in examples/)",
        flush=True,
    )
    settings = {
        "BMO_POLL_SECONDS": "1",
        "BMO_RESYNC_SECONDS": "30",
        "BMO_CLUSTER_NAME": "dev",
        "BMO_IMPORT_POLICY_DEFAULT": "open",  # your own cluster: no BedrockImportPolicy needed
        "BMO_SMOKE_TEST_DEFAULT_PROMPT": "Say hello in five words.",  # each example answers before it serves
    }
    env = {**cp.env(), **aws.env(), **settings}
    oplog = workdir / "operator.log"
    operator = None
    if image:
        from bmo_devtools.dev import in_cluster

        print("Installing the operator from deploy/overlays/local (a Deployment on the node)...", flush=True)
        metrics_port = in_cluster.install(cp, aws, image, **settings).metrics_port
        # the examples' namespace: the validation Jobs' ServiceAccount (IRSA-annotated in a real cluster)
        _kubectl(env, "create", "serviceaccount", "bedrock-model-validator", "-n", "default")
        print(_kubectl(env, "get", "pods", "-n", in_cluster.NAMESPACE).stdout, end="", flush=True)
        oplog_hint = f"kubectl -n {in_cluster.NAMESPACE} logs deploy/{in_cluster.DEPLOYMENT}"
    else:
        from bmo_devtools.dev.controlplane import free_port

        metrics_port = free_port(DEV_METRICS_PORT)  # what the shipped alerts and dashboard read
        env |= {"BMO_METRICS_PORT": str(metrics_port), "BMO_METRICS_ADDRESS": "127.0.0.1"}
        for crd_file in CRD_FILES:
            _apply(env, crd_file)
        _kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        install_admission(env)
        with oplog.open("w") as fh:
            operator = start_operator(env, fh)
        oplog_hint = str(oplog)
    flux = None
    try:
        if getattr(args, "flux", False):
            flux = _flux_examples(cp, workdir)
        else:
            _apply(env, REPO_ROOT / "examples")
        print("\nWaiting for every model to be Ready or Failed...", flush=True)
        deadline = time.monotonic() + args.timeout
        last = ""
        while not stop.is_set() and time.monotonic() < deadline:
            done, table = _final_states(env)
            if table != last:
                print(
                    f"\n$ kubectl get bedrockmodels -A   ({time.strftime('%H:%M:%S')})\n{table}",
                    end="",
                    flush=True,
                )
                last = table
            if done:
                print(f"\nEvery model final {time.monotonic() - started:.0f} s after the start.", flush=True)
                break
            stop.wait(2)
        print(_smoke_results(env), end="", flush=True)
        if image:  # what ran as real pods: the operator, and each example's validation Job
            print("\n$ kubectl -n bedrock-model-operator get pods", flush=True)
            print(_kubectl(env, "get", "pods", "-n", "bedrock-model-operator").stdout, end="")
            print("$ kubectl get jobs -A", flush=True)
            print(_kubectl(env, "get", "jobs", "-A").stdout, end="", flush=True)
        print(
            "\nThe dev stack is up.\n"
            f"  kubectl:  export KUBECONFIG={cp.kubeconfig}\n"
            "            kubectl get bedrockmodels -o wide\n"
            f"  AWS CLI:  export {_aws_cli_env()}\n"
            f"            aws bedrock list-imported-models --endpoint-url {aws.bedrock_url}\n"
            f"            aws s3 ls s3://bmo-examples/ --endpoint-url {aws.moto_url}\n"
            "  invoke:   .venv/bin/bedrock-model-operator invoke llama3-support-bot --prompt Hello "
            f"--endpoint-url {aws.bedrock_url}\n"
            f"  metrics:  curl -s http://127.0.0.1:{metrics_port}/metrics | grep ^bmo_\n"
            f"  logs:     {oplog_hint} and {workdir}/cluster, {workdir}/aws\n"
            + (
                "  pods:     kubectl -n bedrock-model-operator get pods; validation Jobs: kubectl get jobs\n"
                if image
                else ""
            ),
            flush=True,
        )
        if args.exit_after_setup:
            return 0
        print("Press Ctrl-C to stop everything.", flush=True)
        stop.wait()
        print("\nStopping...", flush=True)
    finally:
        if operator is not None:
            stop_operator(operator)
        if flux is not None:
            flux.stop()
    return 0


def _flux_examples(cp, workdir: Path):
    """--flux: the examples in a git repository on 127.0.0.1, synced by Flux into `default` (prune and wait
    on); a push to it changes the models."""
    from bmo_devtools.dev.flux import LocalFlux

    print("Starting Flux (the first run builds it from the Go module proxy: several minutes)...", flush=True)
    flux = LocalFlux(cp, workdir=workdir / "flux")
    flux.start()
    files = {f"examples/{p.name}": p.read_text() for p in sorted((REPO_ROOT / "examples").glob("*.yaml"))}
    flux.push("examples", files, "the examples")
    flux.sync("examples", "default", "examples", "./examples")
    print(
        f"Flux syncs {flux.git_url}/examples.git (branch main, ./examples) into namespace default:\n"
        f"  git clone {flux.git_url}/examples.git && cd examples  # edit, commit, git push\n"
        "  kubectl -n flux-system get kustomization examples  # Ready once every model serves",
        flush=True,
    )
    return flux
