"""An apiserver that accepts a request and never answers (its etcd going away mid-restart) must not keep a
reconcile thread: every call of the operator's own client has a timeout, and a pass's one-object read and
status write a short one, so the object's next tick tries again instead of waiting on a held request."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from controller.kube import client as kube_client
from controller.kube import status_store
from controller.kube.client import KUBE_ERRORS, TimedApiClient
from controller.settings import Settings


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback server that accepts connections, reads, and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def _client(url: str) -> TimedApiClient:
    configuration = client.Configuration()
    configuration.host = url
    return TimedApiClient(configuration)


def _failed_within(call) -> float:
    started = time.monotonic()
    with pytest.raises(KUBE_ERRORS):
        call()
    return time.monotonic() - started


@pytest.mark.timeout(20)  # a regression holds the call for good: fail in seconds, not the suite's 10 min
def test_a_call_naming_no_timeout_gets_the_clients_own(black_hole, monkeypatch):
    monkeypatch.setattr(kube_client, "CALL_TIMEOUT", (1.0, 0.5))
    api = client.CustomObjectsApi(_client(black_hole))
    took = _failed_within(lambda: api.list_cluster_custom_object("g", "v1", "things"))
    assert took < 1.5, f"a held request kept the caller {took:.1f} s (one read timeout is 0.5 s)"


@pytest.mark.timeout(20)
def test_a_pass_reads_and_writes_one_object_with_the_short_timeout(black_hole, monkeypatch):
    monkeypatch.setattr(kube_client, "CALL_TIMEOUT", (60.0, 60.0))  # would hold the test: not used here
    monkeypatch.setattr(status_store, "OBJECT_TIMEOUT", (1.0, 0.5))
    monkeypatch.setattr(kube_client, "_api", _client(black_hole))
    store = status_store.ModelStatusStore(Settings())
    assert _failed_within(lambda: store.read("ns", "m")) < 1.5, "the read waited on the held request"
    assert _failed_within(lambda: store.write("ns", "m", {"status": {}})) < 1.5, "so did the write"


@pytest.mark.timeout(30)
def test_an_event_posted_to_a_held_apiserver_gives_up_with_the_short_timeout(black_hole, monkeypatch):
    """After a status write timed out, the pass's Events go to the same apiserver: each must not hold the
    object's lock for the long timeout of a list."""
    from controller.kube import events

    monkeypatch.setattr(kube_client, "CALL_TIMEOUT", (60.0, 60.0))
    monkeypatch.setattr(kube_client, "OBJECT_TIMEOUT", (1.0, 0.5))
    monkeypatch.setattr(kube_client, "_api", _client(black_hole))
    recorder = events.EventRecorder(Settings())
    body = {"metadata": {"namespace": "ns", "name": "m", "uid": "u"}}
    started = time.monotonic()
    recorder.post(body, type="Normal", reason="ImportStarted", message="import job j started")
    assert time.monotonic() - started < 3, "the Event waited on the held request"


@pytest.mark.timeout(60)
def test_releasing_the_lease_through_a_held_apiserver_ends_quietly(black_hole, monkeypatch):
    """A clean stop gives the Lease up; an apiserver that holds the request must not keep the process past
    its termination grace, nor end it with a traceback: the Lease then simply runs out."""
    from controller.runtime.leadership import Leadership

    monkeypatch.setattr(kube_client, "CALL_TIMEOUT", (60.0, 60.0))
    monkeypatch.setattr(kube_client, "_api", _client(black_hole))
    leadership = Leadership(Settings(leader_lease_seconds=5))
    started = time.monotonic()
    leadership.release()  # raises nothing
    assert time.monotonic() - started < 3 * leadership.retry + 2


@pytest.fixture
def slow_apiserver() -> Iterator[str]:
    """A loopback server that answers every request with an empty object, 1.5 s late (an apiserver queuing
    requests under load, or behind a slow admission webhook)."""
    import http.server

    class Slow(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(1.5)
            body = b'{"metadata": {"name": "m"}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = _answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.timeout(30)
def test_a_slow_but_answering_apiserver_is_waited_for(slow_apiserver, monkeypatch):
    """The timeouts bound a held request; they must not turn a slow answer into a failed pass (a timeout
    cut to a second or two would fail every pass on a loaded apiserver, and the writes that landed would be
    retried with backoff)."""
    monkeypatch.setattr(kube_client, "_api", _client(slow_apiserver))
    store = status_store.ModelStatusStore(Settings())
    assert store.read("ns", "m") == {"metadata": {"name": "m"}}
    store.write("ns", "m", {"status": {}})  # raises nothing
    assert min(status_store.OBJECT_TIMEOUT[1], kube_client.CALL_TIMEOUT[1]) >= 10, "room for a slow webhook"
