"""A stand-in for the kubelet, for validation Job pods only (there is no kubelet in the test cluster).

It is honest about what it does: for each pod the real job controller creates, it marks the pod Running,
runs the pod's real command and args as a local process with the pod's env (plus the fake AWS
credentials IRSA would provide in a cluster), maps the container's terminationMessagePath to a temp file
(as the kubelet mounts one), then reports the real exit code and termination message through the pod
status API. Some tests ask it to *report* what it cannot produce for real: OOMKilled (exit 137), a crash
(exit 139, no message), an image pull failure, or to never start a pod (so the Job's deadline passes).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from kubernetes import client, watch

LABEL = "app.kubernetes.io/managed-by=bedrock-model-operator"

#: How to treat a pod: "run" (default), "oom", "crash", "hold" (never start), "imagepull".
Mode = str
#: Per "<namespace>/<model name>": the mode tests ask for (default "run").
MODES: dict[str, Mode] = {}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubelet:
    def __init__(
        self, api: client.ApiClient, extra_env: dict[str, str], mode: Callable[[client.V1Pod], Mode]
    ):
        self.core = client.CoreV1Api(api)
        self.extra_env = extra_env
        self.mode = mode
        self.ran: list[dict] = []  # what it ran: pod, argv, exit code
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fake-kubelet", daemon=True)

    def start(self) -> FakeKubelet:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for event in w.stream(
                    self.core.list_pod_for_all_namespaces, label_selector=LABEL, timeout_seconds=5
                ):
                    pod = event["object"]
                    if (
                        event["type"] == "ADDED"
                        and pod.metadata.uid not in self._seen
                        and pod.status.phase not in ("Succeeded", "Failed")
                    ):
                        self._seen.add(pod.metadata.uid)
                        threading.Thread(target=self._handle, args=(pod,), daemon=True).start()
                    if self._stop.is_set():
                        break
            except Exception:  # the apiserver closed the watch; start another
                continue

    def _status(self, pod: client.V1Pod, phase: str, state: dict, ready: bool = False) -> None:
        c = pod.spec.containers[0]
        body = {
            "status": {
                "phase": phase,
                "startTime": _now(),
                "containerStatuses": [
                    {
                        "name": c.name,
                        "image": c.image,
                        "imageID": "",
                        "ready": ready,
                        "restartCount": 0,
                        "started": phase == "Running",
                        "state": state,
                    }
                ],
            }
        }
        if phase in ("Succeeded", "Failed"):
            body["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "PodCompleted"}]
        self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, body)

    def _handle(self, pod: client.V1Pod) -> None:
        mode = self.mode(pod)
        if mode == "hold":
            return
        if mode == "imagepull":
            self._status(
                pod,
                "Pending",
                {
                    "waiting": {
                        "reason": "ErrImagePull",
                        "message": f"pull access denied for {pod.spec.containers[0].image}",
                    }
                },
            )
            return
        self._status(pod, "Running", {"running": {"startedAt": _now()}}, ready=True)
        if mode == "oom":
            self._terminated(pod, 137, "OOMKilled", "")
            return
        if mode == "crash":
            self._terminated(pod, 139, "Error", "")
            return
        c = pod.spec.containers[0]
        with tempfile.TemporaryDirectory() as tmp:
            term = Path(tmp) / "termination-log"
            term.touch()
            argv = [*(c.command or []), *(c.args or [])]
            argv = [str(term) if a == c.termination_message_path else a for a in argv]
            exe = shutil.which(
                argv[0], path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
            )
            argv[0] = exe or argv[0]
            env = {"PATH": os.environ.get("PATH", ""), **self.extra_env}
            env |= {e.name: e.value for e in c.env or [] if e.value is not None}
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=tmp)
            message = term.read_text()[:4096]
        self.ran.append(
            {"pod": pod.metadata.name, "argv": argv, "exit": proc.returncode, "stderr": proc.stderr}
        )
        self._terminated(pod, proc.returncode, "Completed" if proc.returncode == 0 else "Error", message)

    def _terminated(self, pod: client.V1Pod, code: int, reason: str, message: str) -> None:
        state = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "message": message,
                "startedAt": _now(),
                "finishedAt": _now(),
            }
        }
        self._status(pod, "Succeeded" if code == 0 else "Failed", state)
