"""Leader election (`controller/runtime/leadership.py`, armed by `controller/runtime/main.py`), no
servers: a leader that cannot renew its Lease stops before a standby may take over, never clears or
re-takes a Lease that is not its own, and each process stands as a new identity."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.settings import Settings


def test_a_leader_whose_renewals_stop_is_told_within_a_second(monkeypatch):
    """The watchdog: a leader whose last renewal is older than the renew deadline stops reconciling, on
    a monotonic clock, whatever the election library's loop is doing; a fresh renewal keeps it leading."""
    import threading
    import time

    from kubernetes import client

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())  # no call is made
    lead = Leadership(Settings(leader_lease_seconds=15))
    told = threading.Event()
    lead._lock.renewed_at = time.monotonic()
    lead.watchdog(told.set)
    assert not told.wait(0.6), "told to stop while its renewals are fresh"
    lead._lock.renewed_at = time.monotonic() - lead.deadline - 1  # renewals failing past the deadline
    assert told.wait(2.0), "a leader that cannot renew kept reconciling"
    lead.lost.set()


@pytest.mark.parametrize("lease_seconds", [5, 6, 10, 15, 30, 60, 137])  # the setting is >= 5
def test_a_leader_stops_before_a_standby_may_take_over(lease_seconds):
    """The renew deadline plus one retry (a request's timeout) stays below the lease duration: a leader that
    lost its renewals has stopped before a standby sees the Lease expire (never two leaders)."""
    from controller.runtime.leadership import timings

    duration, deadline, retry = timings(lease_seconds)
    assert deadline + retry < duration, (duration, deadline, retry)
    assert deadline > retry  # and a renewal may be retried at least once


def test_a_failed_lease_write_is_not_a_renewal_so_the_watchdog_fires_on_time(monkeypatch):
    """leadership.py `if ok:` false (in `_Lock._done`): a Lease create that loses a conflict (two replicas
    starting together) or a renewal that times out is a failed round. It must not refresh the last
    renewal: a leader whose writes keep failing is told to stop once the renew deadline has passed, before
    a standby may take the Lease (two leaders otherwise)."""
    from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    class FailingCoordination:
        def create_namespaced_lease(self, namespace: str, body: Any, **kw: Any) -> Any:
            raise ApiException(status=409, reason="Conflict")

        def replace_namespaced_lease(self, name: str, namespace: str, body: Any, **kw: Any) -> Any:
            raise urllib3.exceptions.ReadTimeoutError(None, "/apis/coordination.k8s.io", "read timed out")

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())  # no call is made
    lead = Leadership(Settings(leader_lease_seconds=15))
    lock = lead._lock
    lock.api_instance = leadership._TimedApi(FailingCoordination(), 1)
    stale = time.monotonic() - lead.deadline - 1  # the last good renewal is past the deadline
    lock.renewed_at = stale
    now = str(dt.datetime.now())  # as the library's election loop writes its times
    record = LeaderElectionRecord(lead.me, str(lead.duration), now, now)
    assert lock.create(lead.name, lead.namespace, record) is False
    lock.lease_reference = client.V1Lease(spec=client.V1LeaseSpec())
    assert lock.update(lead.name, lead.namespace, record) is False
    assert lock.renewed_at == stale
    told = threading.Event()
    lead.watchdog(told.set)
    try:
        assert told.wait(2.0), "a leader whose Lease writes fail kept reconciling"
    finally:
        lead.lost.set()


def test_a_stopping_replica_never_clears_another_replicas_lease(monkeypatch):
    from types import SimpleNamespace

    from kubernetes import client

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    replaced = []

    class FakeCoordination:
        def __init__(self, *_: Any) -> None:
            pass

        def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> Any:
            return SimpleNamespace(spec=SimpleNamespace(holder_identity=holder))

        def replace_namespaced_lease(self, name: str, namespace: str, lease: Any, **_: Any) -> None:
            replaced.append(lease.spec.holder_identity)

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())
    monkeypatch.setattr(leadership.client, "CoordinationV1Api", FakeCoordination)
    lead = Leadership(Settings())
    holder = "someone-else"
    lead.release()
    assert replaced == []  # the real leader's Lease is left alone
    holder = lead.me
    lead.release()
    assert replaced == [None]  # its own is handed over


def test_a_stopped_lease_lock_never_writes_again(monkeypatch):
    """A renewal in flight after a clean stop must not re-take the Lease the stop just released."""
    from kubernetes import client

    from controller.runtime import leadership
    from controller.runtime.leadership import Leadership

    monkeypatch.setattr(leadership, "api_client", lambda settings: client.ApiClient())
    lock = Leadership(Settings())._lock
    calls = []
    lock.stopped = True
    assert lock._write("renewing", lambda *a: calls.append(a) or True, "x") is False
    assert calls == []
    lock.stopped = False
    assert lock._write("renewing", lambda *a: calls.append(a) or True, "x") is True and calls == [("x",)]


def test_each_process_stands_for_election_as_a_new_identity(monkeypatch):
    """A restarted container (same pod name, often the same PID) must not pass for its predecessor and
    resume a Lease it never won."""
    from controller.runtime.leadership import identity

    monkeypatch.setenv("POD_NAME", "bmo-7d9f-abcde")
    first, second = identity(), identity()
    assert first.startswith("bmo-7d9f-abcde_") and first != second


def test_the_running_operator_arms_the_watchdog_and_exits_when_it_fires(monkeypatch):
    """The watchdog is only worth something if `run` arms it. A leader that can no longer renew
    must exit (a standby takes over) rather than keep reconciling beside the new leader."""
    import os
    import threading

    from controller.runtime import leadership
    from controller.runtime import main as operator_main

    armed: list = []

    class FakeLeadership:
        namespace, name, me, deadline = "ns", "lease", "me", 10.0

        def __init__(self, settings) -> None:
            self.leading, self.lost = threading.Event(), threading.Event()
            self.leading.set()

        def start(self) -> None:
            pass

        def watchdog(self, on_lost) -> None:
            armed.append(on_lost)

    exits: list[int] = []
    monkeypatch.setattr(leadership, "Leadership", FakeLeadership)
    monkeypatch.setattr(os, "_exit", exits.append)
    operator_main._lead(Settings(liveness=""))
    assert len(armed) == 1, "the watchdog was not armed"
    armed[0]()
    assert exits == [1], "a leader told it lost the Lease did not exit"
