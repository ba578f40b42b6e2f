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

import hashlib
import http.server
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from controller.kube import api_client
from controller.settings import Settings

log = logging.getLogger("bmo.leadership")


def lease_name(settings: Settings) -> str:
    """One Lease per set of watched namespaces: shards (operators each given their own namespaces) never
    compete for one, replicas of one shard always do."""
    if settings.leader_election_lease:
        return settings.leader_election_lease
    if not settings.namespaces:
        return "bedrock-model-operator"
    digest = hashlib.sha256(",".join(sorted(settings.namespaces)).encode()).hexdigest()[:10]
    return f"bedrock-model-operator-{digest}"


def identity() -> str:
    """The pod's name (the Deployment's downward API sets POD_NAME) or the host name, and a nonce: a
    restarted process never passes for the one before it."""
    who = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{who}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def timings(lease_seconds: float) -> tuple[int, int, int]:
    """(lease duration, renew deadline, retry period), whole seconds as the library takes them: the leader
    gives up well before the lease runs out (client-go's 15/10/2, scaled)."""
    duration = max(3, round(lease_seconds))
    retry = max(1, duration // 5)
    deadline = max(int(1.2 * retry) + 1, (duration * 2) // 3)
    return duration, deadline, retry


@dataclass
class Leadership:
    settings: Settings
    me: str = field(default_factory=identity)
    leading: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.name = lease_name(self.settings)
        self.namespace = self.settings.leader_election_namespace
        self._lock = LeaseLock(self.name, self.namespace, self.me)
        self._lock.api_instance = client.CoordinationV1Api(api_client(self.settings))

    def start(self) -> None:
        """Stand for election in a thread of its own; `leading` is set on winning, `lost` when a renewal
        failed past the deadline (the process must then stop reconciling)."""
        duration, deadline, retry = timings(self.settings.leader_lease_seconds)
        config = electionconfig.Config(
            self._lock,
            lease_duration=duration,
            renew_deadline=deadline,
            retry_period=retry,
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

    def release(self) -> None:
        """Give the Lease up (a clean stop): a standby sees no holder and takes it at its next try."""
        coordination = client.CoordinationV1Api(api_client(self.settings))
        try:
            lease = coordination.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity != self.me:
                return
            lease.spec.holder_identity = None
            coordination.replace_namespaced_lease(self.name, self.namespace, lease)
            log.info("released Lease %s/%s", self.namespace, self.name)
        except ApiException as exc:  # a conflict or a lost apiserver: the lease then simply runs out
            log.warning("could not release Lease %s/%s: %s", self.namespace, self.name, exc.reason)


class StandbyHealth:
    """Answers the liveness URL with 200 while the process waits to lead (kopf serves it once it runs)."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        path = parsed.path or "/"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path.split("?")[0] == path
                self.send_response(200 if ok else 404)
                self.end_headers()
                self.wfile.write(b"standing by\n" if ok else b"")

            def log_message(self, *args: object) -> None:  # probes every few seconds: not worth a line
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(
            (parsed.hostname or "0.0.0.0", parsed.port or 80), Handler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="standby-health", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
