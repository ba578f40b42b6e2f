"""Start and stop a real local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager.

Used by the test suite (one per session) and by `bedrock-model-operator dev`. Binaries come from
`hack/build-control-plane.sh` (built once from the Go module proxy, cached outside the repository).
Everything binds to 127.0.0.1 on free ports; every process's log is kept so a failure can show it.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bmo_devtools.dev.pki import CertPair, LocalPKI


def _repository() -> Path:
    """The checkout the dev tools run from: they build the control plane with its hack/ scripts and apply
    its crds/ and examples/, which no wheel carries (BMO_REPO_ROOT names it when running from elsewhere)."""
    override = os.environ.get("BMO_REPO_ROOT")
    if override:
        return Path(override)
    for folder in Path(__file__).resolve().parents:
        if (folder / "hack" / "build-control-plane.sh").exists() and (folder / "crds").is_dir():
            return folder
    return Path.cwd()  # not in a checkout: the first file it needs says so


REPO_ROOT = _repository()
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-control-plane.sh"
CRD_FILE = REPO_ROOT / "crds" / "bedrock.modelops.io_bedrockimportedmodels.yaml"
POLICY_CRD_FILE = REPO_ROOT / "crds" / "bedrock.modelops.io_bedrockimportpolicies.yaml"
OBSERVED_CRD_FILE = REPO_ROOT / "crds" / "bedrock.modelops.io_bedrockobservedmodels.yaml"
#: Every CRD the operator serves, applied together.
CRD_FILES = (CRD_FILE, POLICY_CRD_FILE, OBSERVED_CRD_FILE)

#: Controllers this project relies on (namespace cleanup, ownerReference GC, SA tokens, Jobs).
CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "job-controller",
    "ttl-after-finished-controller",
    "pod-garbage-collector-controller",
    "replicaset-controller",
    "deployment-controller",
    "root-ca-certificate-publisher-controller",  # kube-root-ca.crt: real pods' service-account volumes
    "node-lifecycle-controller",  # a local node's not-ready taint is lifted once it is Ready
    "clusterrole-aggregation-controller",  # the tenant roles aggregate into edit/admin/view as in a cluster
)


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or did not become ready; the message carries log tails."""


def binaries_dir() -> Path:
    """Directory with kube-apiserver, kube-controller-manager and etcd, building them on first use."""
    override = os.environ.get("BMO_CONTROL_PLANE_BIN")
    if override:
        return Path(override)
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )
    if proc.returncode != 0:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed with exit code {proc.returncode}")
    return Path(proc.stdout.strip().splitlines()[-1])


def _port_range() -> tuple[int, int]:
    """Ports handed out lie below the kernel's ephemeral range, so no outgoing connection's source port
    takes one between the hand-out and the child's bind."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    return (max(1024, ephemeral_low - 12000), max(1025, ephemeral_low - 768))


#: A lock file per port keeps two processes of this user (parallel test sessions, dev stacks) from being
#: handed the same one; the locks are held for the process's life.
_PORT_LOCKS = Path(tempfile.gettempdir()) / f"bmo-ports-{os.getuid()}"
_held: dict[int, int] = {}  # port -> fd of its lock


def _reserve(port: int) -> bool:
    import fcntl

    if port in _held:
        return False
    try:
        _PORT_LOCKS.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(_PORT_LOCKS / f"{port}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # as the servers bind (SO_REUSEADDR): connections of a previous run in TIME_WAIT do not block
            # the port, a listener does
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(1)
    except OSError:
        os.close(fd)
        return False
    _held[port] = fd
    return True


def free_port(prefer: int | None = None) -> int:
    """A loopback port no one listens on, reserved for this process (see _port_range): `prefer` when it
    is free (the dev stack's fixed, documented ports), else any."""
    import random

    if prefer and _reserve(prefer):
        return prefer
    low, high = _port_range()
    start = random.randrange(low, high)
    for offset in range(high - low):
        port = low + (start - low + offset) % (high - low)
        if _reserve(port):
            return port
    raise RuntimeError(f"no free loopback port in {low}-{high}")


def die_with_parent() -> None:
    """preexec hook: ask Linux to SIGTERM the child if the Python process dies (even by kill -9)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def killed_with_parent() -> None:
    """preexec hook for the throw-away cluster's processes: SIGKILL when the Python process dies. A
    kube-apiserver whose etcd died with it hangs in its graceful shutdown on SIGTERM, orphaned for good."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn_logged(name: str, argv: list[str], workdir: Path) -> LoggedProcess:
    """Start a throw-away cluster's process in `workdir`, its output in `<name>.log` there, killed with
    this Python process (see killed_with_parent)."""
    log = workdir / f"{name}.log"
    with log.open("ab") as fh:
        popen = subprocess.Popen(
            argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=killed_with_parent,
            cwd=workdir,
        )
    return LoggedProcess(name, popen, log)


@dataclass
class LoggedProcess:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(line if len(line) <= 400 else line[:400] + " [...]" for line in text[-lines:])


@dataclass
class ControlPlane:
    """A running local control plane. Use as a context manager or call start()/stop()."""

    workdir: Path | None = None
    bin_dir: Path | None = None
    controllers: tuple[str, ...] = CONTROLLERS
    api_port: int | None = None  # preferred apiserver port (taken only when free)
    kubeconfig: Path = field(init=False)
    server: str = field(init=False, default="")
    pki: LocalPKI = field(init=False)  # signs the local node's certificates too (bmo_devtools.dev.node)
    _procs: list[LoggedProcess] = field(init=False, default_factory=list)
    _own_workdir: bool = field(init=False, default=False)
    _argv: dict[str, list[str]] = field(init=False, default_factory=dict)
    _admin: CertPair | None = field(init=False, default=None)

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> None:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="bmo-controlplane-"))
            self._own_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        bins = self.bin_dir or binaries_dir()
        try:
            self._start(bins, timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, bins: Path, timeout: float) -> None:
        assert self.workdir is not None
        self.pki = pki = LocalPKI(self.workdir / "pki")
        serving = pki.issue("apiserver", "kube-apiserver", server=True)
        kubelet_client = pki.issue("apiserver-kubelet-client", "kube-apiserver", orgs=("system:masters",))
        admin = self._admin = pki.issue("admin", "bmo-admin", orgs=("system:masters",))
        kcm = pki.issue("kube-controller-manager", "system:kube-controller-manager")
        sa = pki.service_account_keys()

        etcd_port, etcd_peer, kcm_port = (free_port() for _ in range(3))
        api_port = free_port(self.api_port)
        self.server = f"https://127.0.0.1:{api_port}"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.write_kubeconfig(self.kubeconfig, admin, "bmo-admin")
        kcm_kubeconfig = self.workdir / "kube-controller-manager.kubeconfig"
        self.write_kubeconfig(kcm_kubeconfig, kcm, "kube-controller-manager")

        self._spawn(
            "etcd",
            [
                str(bins / "etcd"),
                "--name=local",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=local=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync",  # a throw-away test store: durability is not wanted, speed is
                "--log-level=warn",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                str(bins / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--requestheader-client-ca-file={pki.ca_cert}",  # controllers' delegated authn wants one
                "--requestheader-allowed-names=front-proxy-client",
                "--authorization-mode=Node,RBAC",  # Node: a local node's kubelet acts as itself
                # a local node registers as `localhost` (a loopback node IP is refused): logs/exec reach
                # its kubelet by that name
                "--kubelet-preferred-address-types=Hostname,InternalIP,ExternalIP",
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                # as OpenShift and hardened clusters run: setting blockOwnerDeletion on an owner reference
                # (the validation Job's) needs `update` on the owner's finalizers
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                "--v=1",
            ],
        )
        self._wait_ready(f"{self.server}/readyz", pki.ca_cert, admin, timeout)
        self._spawn(
            "kube-controller-manager",
            [
                str(bins / "kube-controller-manager"),
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                f"--controllers={','.join(self.controllers)}",
                f"--service-account-private-key-file={sa.key}",
                f"--root-ca-file={pki.ca_cert}",
                "--use-service-account-credentials=true",  # each controller acts as its own SA
                "--leader-elect=false",
                "--v=1",
            ],
        )
        self._wait_ready(f"https://127.0.0.1:{kcm_port}/healthz", pki.ca_cert, kcm, timeout, verify=False)

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL) and remove a temporary workdir."""
        for proc in reversed(self._procs):
            if proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in reversed(self._procs):
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:  # a throw-away cluster needs no graceful drain
                proc.popen.kill()
                proc.popen.wait(timeout=10)
        self._procs.clear()
        if self._own_workdir and self.workdir is not None and not os.environ.get("BMO_KEEP_CONTROL_PLANE"):
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------
    def logs(self, lines: int = 40) -> str:
        """The last lines of each process's log, for a failing test's report."""
        return "\n".join(f"----- {p.name} ({p.log}) -----\n{p.tail(lines)}" for p in self._procs)

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (kubectl, the operator) that should talk to this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def _spawn(self, name: str, argv: list[str]) -> None:
        assert self.workdir is not None
        self._argv[name] = argv
        self._procs.append(spawn_logged(name, argv, self.workdir))

    def restart(self, name: str, down_seconds: float = 0.0, timeout: float = 120.0) -> None:
        """Stop one of the cluster's processes (SIGTERM; etcd keeps its data), leave it down for
        `down_seconds`, start it again as it was started, and wait until the apiserver is ready again: what
        clients see when a control-plane node restarts."""
        (proc,) = [p for p in self._procs if p.name == name]
        proc.popen.terminate()
        try:
            proc.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(timeout=10)
        time.sleep(down_seconds)
        assert self.workdir is not None
        self._procs[self._procs.index(proc)] = spawn_logged(name, self._argv[name], self.workdir)
        assert self._admin is not None
        self._wait_ready(f"{self.server}/readyz", self.pki.ca_cert, self._admin, timeout)

    def _wait_ready(
        self, url: str, ca: Path, client: CertPair, timeout: float, *, verify: bool = True
    ) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        if not verify:  # kube-controller-manager serves a self-signed cert of its own
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(str(client.cert), str(client.key))
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.popen.poll() is not None:
                    raise ControlPlaneError(f"{proc.name} exited with {proc.popen.returncode}\n{self.logs()}")
            try:
                with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
                    if resp.status == 200:
                        return
            except Exception as exc:  # not up yet: connection refused, 500 while post-start hooks run
                last = str(exc)
            time.sleep(0.25)
        raise ControlPlaneError(f"{url} not ready after {timeout:.0f}s ({last})\n{self.logs()}")

    def write_kubeconfig(self, path: Path, client: CertPair, user: str) -> None:
        """A kubeconfig for this cluster authenticating with `client` (a certificate from self.pki)."""
        ca = self.pki.ca_cert

        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "local", "cluster": {"server": self.server, "certificate-authority-data": b64(ca)}}
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": b64(client.cert),
                        "client-key-data": b64(client.key),
                    },
                }
            ],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
            "current-context": "local",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
