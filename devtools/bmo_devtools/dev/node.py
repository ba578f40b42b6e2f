"""A real Kubernetes node on this machine: containerd + runc, kubelet and kube-scheduler, joined to a local
control plane (bmo_devtools.dev.controlplane).

What runs in its pods really runs: images built here (hack/build-images.sh) and imported into the node's
own containerd, the pod's security context applied by runc, memory limits enforced by the kernel's cgroups.
Nothing is routed off the machine: the node registers as `localhost`; a pod of its own network gets an
address on a bridge of this node's own that has no gateway, no address on the host and no masquerade (it
reaches other pods of this node, nothing else: containerd's CRI wants an eth0, so a loopback-only CNI
configuration is not enough); pods that must reach a local service (the apiserver, the emulated AWS) use
`hostNetwork` and the services' 127.0.0.1 addresses.

The settings this machine needs (cgroup v1, root without CAP_SYS_RESOURCE, Debian's containerd 1.6) are
in docs and in the comments where they are set. Teardown kills every container the node started,
unmounts what kubelet and containerd mounted, and removes their folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bmo_devtools.dev.controlplane import (
    REPO_ROOT,
    ControlPlane,
    ControlPlaneError,
    LoggedProcess,
    binaries_dir,
    free_port,
    spawn_logged,
)

NODE_NAME = "localhost"  # resolves to 127.0.0.1: the apiserver reaches the kubelet by this name
PAUSE_IMAGE = "localhost/pause:local"
INSTALL_SCRIPT = REPO_ROOT / "hack" / "install-node-runtime.sh"
IMAGES_SCRIPT = REPO_ROOT / "hack" / "build-images.sh"


@dataclass(frozen=True)
class BuiltImages:
    """What hack/build-images.sh built: docker archives to import, and the operator image's name."""

    pause: Path
    operator: Path
    operator_image: str
    base_image: str


def build_images() -> BuiltImages:
    """Build (or find cached) the pause image and the project's Dockerfile image; see the script."""
    proc = subprocess.run(
        ["bash", str(IMAGES_SCRIPT)], stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )
    if proc.returncode != 0:
        raise ControlPlaneError(f"{IMAGES_SCRIPT} failed with exit code {proc.returncode}")
    out = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return BuiltImages(Path(out["pause"]), Path(out["operator"]), out["operator_image"], out["base"])


def install_runtime() -> None:
    """containerd, runc, the CNI plugins and buildah from Debian's packages, when missing."""
    if subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False).returncode != 0:
        raise ControlPlaneError(f"{INSTALL_SCRIPT} failed: the local node needs containerd and runc")


@dataclass
class LocalNode:
    """A node named `localhost` in `cp`'s cluster. Use as a context manager or call start()/stop()."""

    cp: ControlPlane
    workdir: Path
    images: tuple[Path, ...] = ()  # docker archives imported into the node's containerd at start
    socket: Path = field(init=False)
    kubelet_port: int = field(init=False, default=0)
    _daemons: list[LoggedProcess] = field(init=False, default_factory=list)

    def __enter__(self) -> LocalNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self.workdir = self.workdir.resolve()  # shims and mounts are found by this exact path

    def start(self, timeout: float = 90.0) -> None:
        install_runtime()
        clean_leftovers(self.workdir)  # what a run killed with -9 left in this folder
        socket = self.workdir / "containerd" / "containerd.sock.ttrpc"
        if len(str(socket)) >= 104:  # sun_path holds 108 bytes; containerd says only "bind: invalid argument"
            raise ControlPlaneError(
                f"the node's folder {self.workdir} is too deep for a unix socket path ({len(str(socket))} "
                "characters of at most 103): choose a shorter --workdir or BMO_CACHE_DIR"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start(binaries_dir(), timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, bins: Path, timeout: float) -> None:
        containerd_dir = self.workdir / "containerd"
        self.socket = containerd_dir / "containerd.sock"
        cni_dir = self.workdir / "cni"
        cni_dir.mkdir(parents=True, exist_ok=True)
        (cni_dir / "10-isolated.conflist").write_text(json.dumps(self._cni_network()))
        config = containerd_dir / "config.toml"
        containerd_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(_containerd_config(containerd_dir, self.socket, cni_dir))
        self._spawn("containerd", ["containerd", f"--config={config}"])
        self._wait(lambda: self.socket.exists() and self._ctr("version").returncode == 0, timeout, "runtime")
        for archive in self.images:
            self.import_image(archive)

        kubelet_dir = self.workdir / "kubelet"
        kubelet_dir.mkdir(parents=True, exist_ok=True)
        cert = self.cp.pki.issue("kubelet", f"system:node:{NODE_NAME}", orgs=("system:nodes",))
        kubelet_kubeconfig = self.workdir / "kubelet.kubeconfig"
        self.cp.write_kubeconfig(kubelet_kubeconfig, cert, f"system:node:{NODE_NAME}")
        self.kubelet_port, healthz_port = free_port(), free_port()
        kubelet_config = self.workdir / "kubelet-config.yaml"
        kubelet_config.write_text(yaml.safe_dump(self._kubelet_config(healthz_port)))
        self._spawn(
            "kubelet",
            [
                str(bins / "kubelet"),
                f"--config={kubelet_config}",
                f"--kubeconfig={kubelet_kubeconfig}",
                f"--root-dir={kubelet_dir}",
                f"--hostname-override={NODE_NAME}",
                "--v=1",
            ],
        )
        sched = self.cp.pki.issue("kube-scheduler", "system:kube-scheduler")
        sched_kubeconfig = self.workdir / "kube-scheduler.kubeconfig"
        self.cp.write_kubeconfig(sched_kubeconfig, sched, "system:kube-scheduler")
        self._spawn(
            "kube-scheduler",
            [
                str(bins / "kube-scheduler"),
                f"--kubeconfig={sched_kubeconfig}",
                f"--authentication-kubeconfig={sched_kubeconfig}",
                f"--authorization-kubeconfig={sched_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--leader-elect=false",
                "--v=1",
            ],
        )
        self._wait(self._ready, timeout, "node Ready")

    def stop(self) -> None:
        """Kill every container this node started, stop its daemons, unmount and remove its folders."""
        by_name = {d.name: d for d in self._daemons}
        for name in ("kube-scheduler", "kubelet"):
            if name in by_name:
                _terminate(by_name[name].popen)
        if "containerd" in by_name and by_name["containerd"].popen.poll() is None:
            self._kill_containers()
            _terminate(by_name["containerd"].popen)
        self._daemons.clear()
        clean_leftovers(self.workdir)
        if not os.environ.get("BMO_KEEP_CONTROL_PLANE"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- what tests and the dev stack use ----------------------------------------------------------
    def import_image(self, archive: Path) -> None:
        proc = self._ctr("images", "import", str(archive))  # unpacked now, not at the first pod
        if proc.returncode != 0:
            raise ControlPlaneError(f"importing {archive} into the node's containerd failed: {proc.stderr}")

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"----- {d.name} ({d.log}) -----\n{d.tail(lines)}" for d in self._daemons)

    # -- internals ---------------------------------------------------------------------------------
    def _cni_network(self) -> dict:
        return {
            "cniVersion": "0.4.0",
            "name": "bmo-isolated",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": bridge_name(self.workdir),
                    "isGateway": False,  # the host gets no address on it: no route in or out
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": "10.244.0.0/24"}]],
                        "dataDir": str(self.workdir / "cni-ipam"),
                    },
                }
            ],
        }

    def _kubelet_config(self, healthz_port: int) -> dict:
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": False,  # this machine has cgroup v1 hierarchies only (kubelet 1.35+ refuses them)
            "cgroupDriver": "cgroupfs",
            "cgroupsPerQOS": False,  # no kubepods hierarchy: pods' cgroups sit beside the host's
            "enforceNodeAllocatable": [],
            "failSwapOn": False,
            "address": "127.0.0.1",
            "port": self.kubelet_port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": healthz_port,
            # only holders of a certificate of this cluster's CA (the apiserver's kubelet client, the admin)
            # may use the kubelet's API (logs, exec): no anonymous caller from this machine's loopback
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": False},
                "x509": {"clientCAFile": str(self.cp.pki.ca_cert)},
            },
            "authorization": {"mode": "AlwaysAllow"},
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            # a shared disk: evict only when it is really full, never collect the images built here
            "evictionHard": {"nodefs.available": "1%", "imagefs.available": "1%", "memory.available": "50Mi"},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            # emptyDir usage is measured this often (default 1m): a pod over its sizeLimit is evicted soon
            "volumeStatsAggPeriod": "5s",
            "resolvConf": "/etc/resolv.conf",
            "registerNode": True,
        }

    def _ready(self) -> bool:
        proc = subprocess.run(
            ["kubectl", "get", "node", NODE_NAME, "-o", "json"],
            env=self.cp.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            return False
        conditions = json.loads(proc.stdout).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._daemons.append(spawn_logged(name, argv, self.workdir))

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in self._daemons:
                if d.popen.poll() is not None:
                    raise ControlPlaneError(f"{d.name} exited with {d.popen.returncode}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.5)
        raise ControlPlaneError(f"{what} not reached after {timeout:.0f}s\n{self.logs()}")

    def _ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", f"--address={self.socket}", "--namespace=k8s.io", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def _kill_containers(self) -> None:
        """runc's containers outlive containerd and its shims: SIGKILL each task, then delete it."""
        tasks = self._ctr("tasks", "list", "--quiet").stdout.split()
        for task in tasks:
            self._ctr("tasks", "kill", "--signal=SIGKILL", "--all", task)
        deadline = time.monotonic() + 15
        for task in tasks:
            while self._ctr("tasks", "delete", task).returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.2)


def bridge_name(workdir: Path) -> str:
    """The node's bridge (at most 15 characters, one per folder: two nodes never share one)."""
    return "bmo" + hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:8]


def clean_leftovers(workdir: Path) -> None:
    """Everything of a node in `workdir` that outlives its processes (also after a kill -9): its shims and
    their containers, its mounts, its bridge."""
    workdir = workdir.resolve()
    _kill_shims(workdir)
    unmount_under(workdir)
    if shutil.which("ip"):
        subprocess.run(["ip", "link", "delete", bridge_name(workdir)], capture_output=True, check=False)


def _kill_shims(workdir: Path) -> None:
    """Shims of this node's containerd socket that are left (also from a run killed with -9, whose
    containers outlived it): SIGKILL each shim's processes, its containers included, then the shim."""
    socket = str(workdir / "containerd" / "containerd.sock").encode()
    parents: dict[int, int] = {}
    shims = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and socket in argv:
            shims.append(int(proc.name))
    for shim in shims:
        family, grew = {shim}, True
        while grew:
            children = {pid for pid, parent in parents.items() if parent in family} - family
            family |= children
            grew = bool(children)
        for pid in [*sorted(family - {shim}), shim]:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)


def _containerd_config(root: Path, socket: Path, cni_dir: Path) -> str:
    """containerd 1.6 (config version 2), every path under `root`: two nodes on one machine never meet."""
    return f"""version = 2
root = "{root / "root"}"
state = "{root / "state"}"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # root in this VM lacks CAP_SYS_RESOURCE: a negative oom_score_adj (what CRI asks for the sandbox) is
  # refused, and runc reports it as "can't get final child's PID from pipe: EOF"
  restrict_oom_score_adj = true
  # pods' network namespaces are pinned under the state folder (not /var/run/netns), so teardown finds them
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_dir}"
"""


def _terminate(popen: subprocess.Popen, timeout: float = 10) -> None:
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=10)


def unmount_under(folder: Path) -> None:
    """Kubelet bind-mounts its root dir and pods' volumes; containerd mounts snapshots, shm and network
    namespaces: unmount each mount strictly below `folder` (deepest first, lazily) so it can be removed."""
    prefix = os.fsencode(folder.resolve()) + b"/"
    if prefix == b"//":
        return  # never below /
    try:
        lines = Path("/proc/self/mountinfo").read_bytes().splitlines()
    except OSError:
        return
    # mountinfo escapes space, tab, newline and backslash as octal (\040): undo it on bytes
    unescape = re.compile(rb"\\([0-7]{3})")
    points = set()
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            point = unescape.sub(lambda m: bytes([int(m.group(1), 8)]), fields[4])
            if point.startswith(prefix):
                points.add(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
