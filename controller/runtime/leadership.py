"""One active operator among replicas: leader election on a coordination.k8s.io Lease.

Two replicas keep the queue going when one dies (a node drained, a kill -9): the standby takes the Lease
once the leader has not renewed it for a lease duration, and only then starts reconciling. The election is
the official client's (`kubernetes.leaderelection`, client-go's algorithm: the Lease is replaced with its
resourceVersion, so two candidates cannot both win; expiry is judged by when a candidate last saw the
record change, not by comparing clocks). What this module adds is what the operator needs around it:

- the client is given the operator's own API credentials (the library's default client has none);
- a leader that cannot renew within the renew deadline stops reconciling and exits (the pod restarts as a
  standby), so it has stopped before anyone else may take over;
- a leader that stops cleanly (SIGTERM, a rolling update) releases the Lease, so the standby takes over at
  its next try instead of a lease duration later;
- while standing by, the liveness URL answers (kopf serves it only once it runs), so the standby's probes
  pass and it counts as available.

Replicas do nothing else in common: everything they must agree on (queue order, jobs started, models
owned) is in the objects' status and Bedrock's tags already, which is what makes a takeover safe.
"""

from __future__ import annotations

import http.server
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

from kubernetes import client
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from controller.kube.client import KUBE_ERRORS, api_client
from controller.runtime.preflight import first_line
from controller.settings import Settings

log = logging.getLogger("bmo.leadership")


def lease_name(settings: Settings) -> str:
    """The Lease's name: fixed per install (changing the watched namespaces must not give new replicas a
    Lease of their own while old ones still lead the old one). Shards installed in one namespace set
    BMO_LEADER_ELECTION_LEASE apart (Helm: the release name); in namespaces of their own they need not."""
    return settings.leader_election_lease or "bedrock-model-operator"


def identity() -> str:
    """The pod's name (the Deployment's downward API sets POD_NAME) or the host name, and a nonce: a
    restarted process never passes for the one before it."""
    who = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{who}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def timings(lease_seconds: float) -> tuple[int, int, int]:
    """(lease duration, renew deadline, retry period), whole seconds as the library takes them. The leader
    stops (exits) once it has not renewed for the deadline; a standby takes over only after a full
    duration without a change: deadline + retry (a request's timeout) stays below the duration."""
    duration = max(3, round(lease_seconds))
    retry = max(1, duration // 5)
    deadline = max(int(1.2 * retry) + 1, duration - 2 * retry)
    return duration, deadline, retry


class _Lock(LeaseLock):
    """The library's LeaseLock, made safe for a leader: every call has a timeout, a connection error is a
    failed round (not a dead election thread), the last successful renewal is kept on a monotonic clock
    for the watchdog, repeated failures are logged, and a stopped lock never renews again (so releasing
    the Lease on a clean stop cannot be undone by a renewal in flight)."""

    def __init__(
        self, name: str, namespace: str, identity: str, api: client.CoordinationV1Api, timeout: float
    ):
        super().__init__(name, namespace, identity)
        self.api_instance = _TimedApi(api, timeout)
        self.renewed_at = 0.0  # monotonic
        self.stopped = False
        self.last_error = ""
        self._failures = 0

    def _done(self, ok: bool, what: str) -> bool:
        if ok:
            self._failures = 0
            self.renewed_at = time.monotonic()
        else:
            self._failures += 1
            if self._failures in (3, 30) or self._failures % 300 == 0:
                log.warning(
                    "leader election: %s of Lease %s/%s failed %d times in a row (%s)",
                    what,
                    self.namespace,
                    self.name,
                    self._failures,
                    self.last_error,
                )
        return ok

    def get(self, name, namespace):
        try:
            return super().get(name, namespace)
        except KUBE_ERRORS as exc:
            self.last_error = first_line(exc)
            self._done(False, "reading")
            return False, exc

    def create(self, name, namespace, election_record):
        return self._write("creating", super().create, name, namespace, election_record)

    def update(self, name, namespace, updated_record):
        return self._write("renewing", super().update, name, namespace, updated_record)

    def _write(self, what: str, call, *args) -> bool:
        """A create or a renewal: never once stopped; an API error is a failed round, not an exception."""
        if self.stopped:
            return False
        try:
            return self._done(call(*args), what)
        except KUBE_ERRORS as exc:
            self.last_error = first_line(exc)
            return self._done(False, what)


class _TimedApi:
    """CoordinationV1Api with a request timeout on every call (a black-holed apiserver must not keep a
    renewal waiting past the deadline)."""

    def __init__(self, api: client.CoordinationV1Api, timeout: float) -> None:
        self._api, self._timeout = api, timeout

    def __getattr__(self, name: str):
        call = getattr(self._api, name)
        return lambda *a, **kw: call(*a, _request_timeout=self._timeout, **kw)


@dataclass
class Leadership:
    settings: Settings
    me: str = field(default_factory=identity)
    leading: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.name = lease_name(self.settings)
        self.namespace = self.settings.leader_election_namespace
        self.duration, self.deadline, self.retry = timings(self.settings.leader_lease_seconds)
        api = client.CoordinationV1Api(api_client(self.settings))
        self._lock = _Lock(self.name, self.namespace, self.me, api, timeout=self.retry)

    def start(self) -> None:
        """Stand for election in a thread of its own; `leading` is set on winning, `lost` when a renewal
        failed past the deadline (the process must then stop reconciling)."""
        config = electionconfig.Config(
            self._lock,
            lease_duration=self.duration,
            renew_deadline=self.deadline,
            retry_period=self.retry,
            onstarted_leading=self._started,
            onstopped_leading=self.lost.set,
        )
        election = leaderelection.LeaderElection(config)
        threading.Thread(target=self._run, args=(election,), name="leader-election", daemon=True).start()
        log.info("standing for election on Lease %s/%s as %s", self.namespace, self.name, self.me)

    def _run(self, election: leaderelection.LeaderElection) -> None:
        try:
            election.run()
        finally:
            self.lost.set()  # however the election ended, this process no longer leads

    def _started(self) -> None:
        log.info("leading: Lease %s/%s is held by %s", self.namespace, self.name, self.me)
        self.leading.set()

    def watchdog(self, on_lost) -> None:
        """While leading: call `on_lost` as soon as the last renewal is older than the renew deadline (on a
        monotonic clock, whatever the library's loop is doing) or the election has ended."""

        def watch() -> None:
            while not self.lost.wait(0.25):
                if time.monotonic() - self._lock.renewed_at > self.deadline:
                    break
            on_lost()

        threading.Thread(target=watch, name="leader-watchdog", daemon=True).start()

    def release(self) -> None:
        """Give the Lease up (a clean stop, once nothing reconciles any more): renewals stop first, then the
        holder is cleared, and a standby takes it at its next try (within the retry period)."""
        self._lock.stopped = True
        coordination = client.CoordinationV1Api(api_client(self.settings))
        try:
            lease = coordination.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.retry)
            if lease.spec.holder_identity != self.me:
                return
            lease.spec.holder_identity = None
            coordination.replace_namespaced_lease(
                self.name, self.namespace, lease, _request_timeout=self.retry
            )
            log.info("released Lease %s/%s", self.namespace, self.name)
        except KUBE_ERRORS as exc:  # a conflict or a lost apiserver: the lease then simply runs out
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.warning("could not release Lease %s/%s: %s", self.namespace, self.name, reason)


class StandbyHealth:
    """Answers the liveness URL with 200 while the process waits to lead (kopf serves it once it runs)."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        path = parsed.path or "/"
        host = parsed.hostname or "localhost"  # as kopf binds it

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path.split("?")[0] == path
                self.send_response(200 if ok else 404)
                self.end_headers()
                self.wfile.write(b"standing by\n" if ok else b"")

            def log_message(self, *args: object) -> None:  # probes every few seconds: not worth a line
                pass

        self._server = http.server.ThreadingHTTPServer((host, parsed.port or 80), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="standby-health", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
