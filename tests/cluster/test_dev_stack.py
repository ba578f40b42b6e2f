"""`bedrock-model-operator dev` (the README's main command) comes up, serves kubectl, and stops cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from bmo_devtools.dev.node import bridge_name
from bmo_devtools.dev.stack import WORKDIR_MARK, WorkdirRefused, prepare_workdir
from tests.support.helpers import LineReader

ROOT = Path(__file__).resolve().parents[2]


def test_workdir_that_is_not_ours_is_never_emptied(tmp_path):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "train.py").write_text("precious")
    with pytest.raises(WorkdirRefused, match="not empty and was not made by the dev stack"):
        prepare_workdir(mine)
    assert (mine / "train.py").read_text() == "precious"
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(WorkdirRefused, match="is a file"):
        prepare_workdir(afile)


def test_workdir_made_by_the_stack_is_emptied_on_each_start(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare_workdir(empty) == empty  # an empty folder is accepted and marked
    (empty / "cluster").mkdir()
    (empty / "cluster" / "etcd.log").write_text("old run")
    prepare_workdir(empty)
    assert sorted(p.name for p in empty.iterdir()) == [WORKDIR_MARK]
    fresh = prepare_workdir(tmp_path / "new" / "dev")
    assert (fresh / WORKDIR_MARK).exists()
    legacy = tmp_path / "cache-dev"  # the default folder, left by a version without the mark
    legacy.mkdir()
    (legacy / "old.log").write_text("x")
    prepare_workdir(legacy, ours=True)
    assert sorted(p.name for p in legacy.iterdir()) == [WORKDIR_MARK]


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    tree: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        tree.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for c in tree.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "zombie" not in fh.read().lower()
    except FileNotFoundError:
        return False


def _stack_models(output: str) -> list[dict]:
    """The stack's models, asked of its cluster from a second shell with the KUBECONFIG it printed."""
    kubeconfig = re.search(r"export KUBECONFIG=(\S+)", output).group(1)
    got = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "get", "bedrockmodels", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)["items"]


def _start_stack(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, LineReader]:
    """`bedrock-model-operator dev ARGS` as a user starts it, its output read with deadlines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "dev", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return proc, LineReader(proc.stdout)


def _newcomer_block() -> str:
    """The README's "your own model in five minutes" commands, exactly as printed there."""
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- newcomer-path")
    body = text[text.index("```sh\n", start) + len("```sh\n") :]
    return body[: body.index("```")]


def _readme_sample_lines() -> list[str]:
    """Lines of the README's `make run` sample that do not depend on the machine (paths, times, ages)."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```\n$ make run\n") + len("```\n$ make run\n")
    sample = text[start : text.index("```", start)]
    keep = []
    for line in sample.splitlines():
        if not line.strip() or line == "..." or "/root/" in line or line.startswith("$ kubectl get"):
            continue
        if line.startswith("default "):
            continue  # rows: ages and the moment of the snapshot differ
        keep.append(line)
    return keep


@pytest.mark.controlplane
def test_dev_stack_runs_until_sigint_and_leaves_nothing_behind(tmp_path):
    """`make run` as a newcomer meets it: the stack comes up in the default folder, the README's own
    commands for a first model work as written in a second shell, and Ctrl-C leaves nothing running."""
    from bmo_devtools.dev.controlplane import binaries_dir

    cache = tmp_path / "cache"  # the default workdir, under a cache root of its own
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "BMO_CACHE_DIR": str(cache),
        "BMO_CONTROL_PLANE_BIN": str(binaries_dir()),
    }
    proc, reader = _start_stack(env, "--job-duration", "1")
    try:
        reader.until(lambda line: "Press Ctrl-C" in line, timeout=240, what="the stack to be up")
        output = "".join(reader.seen)
        assert re.search(r"llama3-support-bot", output), "examples are applied and listed"
        items = _stack_models(output)
        assert len(items) == 5
        ready = {
            i["metadata"]["name"]: [c["status"] for c in i["status"]["conditions"] if c["type"] == "Ready"]
            for i in items
        }
        assert all(v == ["True"] for v in ready.values()), ready
        # metrics are on, where the stack says: the fleet by phase, as the shipped dashboard reads it
        port = re.search(r"metrics:  curl -s http://127.0.0.1:(\d+)/metrics", output)
        assert port, output
        scraped = urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=5).read()
        assert 'bmo_models{phase="Ready"} 5.0' in scraped.decode()
        children = _children(proc.pid)
        assert len(children) >= 6  # etcd, apiserver, controller-manager, moto, Bedrock emulator, operator

        # the README's sample output is this output: every line of it that names no path or time
        printed = {" ".join(line.split()) for line in output.splitlines()}  # column widths vary
        for line in _readme_sample_lines():
            assert " ".join(line.split()) in printed, f"README shows {line!r}; the stack printed:\n{output}"

        # a second terminal at the repository's root, the README's block pasted as is
        second = tmp_path / "second-terminal"
        second.mkdir()
        (second / ".venv").symlink_to(ROOT / ".venv")
        shell = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BMO_CACHE_DIR": str(cache)}
        newcomer = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _newcomer_block()],
            cwd=second,
            env=shell,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert newcomer.returncode == 0, "".join(reader.seen)[-1500:] + newcomer.stdout + newcomer.stderr
        assert "Wrote ./my-model/: mistral, importable" in newcomer.stdout  # `model-folder`, as printed
        assert "s3://bmo-examples/my-model/: importable" in newcomer.stdout
        assert re.search(r"^my-model\s+Mistral\s+True\s+True\s+Ready\s+ModelReady", newcomer.stdout, re.M)
        assert (
            '"modelName": "default-my-model-' in newcomer.stdout
        )  # the AWS CLI sees it in the local Bedrock

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        alive = [pid for pid in children if _running(pid)]
        assert alive == []
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.controlplane
@pytest.mark.node
def test_dev_in_cluster_runs_the_operator_as_a_pod_and_validates_in_job_pods(node_images):
    """`dev --in-cluster`: a node of its own, the operator installed from deploy/overlays/local Running and
    Ready, the examples validated by real Job pods, and Ctrl-C leaves no process, mount or bridge."""
    import shutil
    import tempfile

    from bmo_devtools.dev.controlplane import binaries_dir

    workdir = Path(tempfile.mkdtemp(prefix="bmo-dev-"))  # short: containerd's socket path is at most 103
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BMO_CONTROL_PLANE_BIN": str(binaries_dir())}
    proc, reader = _start_stack(env, "--in-cluster", "--job-duration", "1", "--workdir", str(workdir / "dev"))
    try:
        reader.until(lambda line: "Press Ctrl-C" in line, timeout=300, what="the in-cluster stack to be up")
        output = "".join(reader.seen)
        assert "Every model final" in output, output[-3000:]
        pods = output[output.index("$ kubectl -n bedrock-model-operator get pods") :]
        assert re.search(r"bedrock-model-operator-\S+\s+1/1\s+Running", pods), pods
        jobs = output[output.index("$ kubectl get jobs -A") :]
        # every example validated in a Job pod, but mistral-summarizer, whose spec asks for Inline
        for name in (
            "flan-t5-classifier",
            "llama3-support-bot",
            "llama3-prod-retained",
            "qwen-from-sagemaker",
        ):
            assert re.search(rf"default\s+bmo-validate-{name}-\S+\s+(Complete|1/1)", jobs), jobs
        assert "bmo-validate-mistral-summarizer" not in jobs
        items = _stack_models(output)
        assert sorted(i["status"]["phase"] for i in items) == ["Ready"] * 5
        children = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
        assert not [pid for pid in children if _running(pid)], "no process of the stack is left"
        mounts = Path("/proc/self/mountinfo").read_text()
        assert str(workdir) not in mounts, "the node's mounts are gone"
        bridge = bridge_name(workdir / "dev" / "node")
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert bridge not in links, "the node's bridge is gone"
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
