"""A TCP proxy on loopback that can make a service go away the two ways networks do: connections refused
(the port closed, open connections reset) or connections that hang (accepted, never answered, open ones
frozen). The chaos tests put it between the operator and the local Bedrock (or the apiserver) and switch it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

PASS, REFUSE, HANG = "pass", "refuse", "hang"


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, port: int = 0, latency: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.mode = PASS
        self.latency = latency  # seconds added before each request is passed on (a far-away service)
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = port
        self._stopped = False
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def set(self, mode: str) -> None:
        """pass, refuse (close the port, reset every open connection) or hang (accept, answer nothing)."""
        with self._lock:
            before, self.mode = self.mode, mode
            if mode == REFUSE and self._listener is not None:
                self._listener.close()
                self._listener = None
                for conn in list(self._conns):
                    with contextlib.suppress(OSError):
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                        )
                        conn.close()
                self._conns.clear()
            if mode != REFUSE and before == REFUSE:
                self._listen()

    def stop(self) -> None:
        self._stopped = True
        self.set(REFUSE)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: refusing, or stopped
            with self._lock:
                self._conns.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        while self.mode == HANG:  # accepted, and nothing more: the caller waits for its read timeout
            time.sleep(0.1)
        if self.mode != PASS:
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._conns.add(upstream)
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream, upstream=True)

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool = False) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream and self.latency:  # a round trip's worth, once per request sent
                    time.sleep(self.latency)
                while self.mode == HANG:  # an open connection freezes too
                    time.sleep(0.1)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
                with self._lock:
                    self._conns.discard(s)
