"""Test helpers: the real kubectl, and waiting on a condition with a deadline."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO

from bmo_devtools.dev.controlplane import ControlPlane


class KubectlError(RuntimeError):
    """kubectl exited non-zero (e.g. the object does not exist yet): `wait_for` waits on it."""


class Kubectl:
    """Runs the real kubectl against the test cluster."""

    def __init__(self, cp: ControlPlane) -> None:
        self._env = cp.env()

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["kubectl", *args], env=self._env, input=input, text=True, capture_output=True, timeout=120
        )
        if check and proc.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc


def wait_for(predicate: Callable[[], object], *, timeout: float = 60.0, what: str = "condition") -> object:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds.

    An assertion inside the predicate fails the test at once (e.g. "never Failed on the way to Ready");
    any other exception (the thing may not exist yet) is waited on.
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except AssertionError:
            raise
        except Exception as exc:  # the thing may not exist yet
            last_exc = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_exc})")


class LineReader:
    """A child's output read line by line with a deadline: `readline()` alone blocks forever on a child
    that hangs without printing or exiting."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)  # end of output: the child exited or closed it

    def until(self, predicate: Callable[[str], bool], *, timeout: float, what: str) -> str:
        """The first line (from now) for which `predicate` holds; fails at the deadline or end of output."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self._lines.put(None)  # stays ended for the next call
                raise AssertionError(f"output ended before {what}:\n{''.join(self.seen)[-3000:]}")
            self.seen.append(line)
            if predicate(line):
                return line
        tail = "".join(self.seen)[-3000:]
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}:\n{tail}")
