"""HTTP front of the emulator: Bedrock's routes plus a small admin API for tests.

POST /_emulator/faults   JSON of Faults fields to change (throttle_rate, error_rate, ...)
GET  /_emulator/state    jobs, models, per-operation call counts, current faults
POST /_emulator/reset    forget everything (keeps job duration and model quota)
GET  /_emulator/trace    [wall time, operation, job or model named] of every call answered, with --trace

Faults can strike after a call was applied: `drop_responses` closes the connection instead of answering
(the caller sees a connection error and cannot know the call went through), `hold_responses` answers late
(past the caller's read timeout it is a timeout after the fact), `hold_requests` waits before applying.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bmo_devtools.emulator import runtime
from bmo_devtools.emulator.accounts import Accounts
from bmo_devtools.emulator.protocol import (
    ApiError,
    Route,
    build_routes,
    encode_body,
    encode_error,
    parse_request,
)
from bmo_devtools.emulator.state import BedrockState

_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/bedrock/aws4_request")

_HANDLERS = {
    "CreateModelImportJob": "create_job",
    "GetModelImportJob": "get_job",
    "ListModelImportJobs": "list_jobs",
    "GetImportedModel": "get_model",
    "ListImportedModels": "list_models",
    "DeleteImportedModel": "delete_model",
    "TagResource": "tag",
    "UntagResource": "untag",
    "ListTagsForResource": "list_tags",
}


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], state: BedrockState, accounts: Accounts | None = None
    ) -> None:
        self.state = state  # the default account's
        self.accounts = accounts or Accounts(state)
        self.routes: list[Route] = build_routes()
        #: (wall time, operation, the job or model it names) of every model-import call answered without an
        #: error, when on (`--trace`): how a bench tells where a freed slot's time went
        self.trace: list[tuple[float, str, str]] | None = None
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="bedrock-emulator", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not logs
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._body()
        path, _, query = self.path.partition("?")
        if path.startswith("/_emulator/"):
            return self._admin(path, body)
        try:
            state = self.server.accounts.for_request(self.headers.get("Authorization", ""))
        except ApiError as err:
            status, headers, payload = encode_error(err)
            return self._send(status, payload, headers)
        if (call := runtime.route(self.command, path)) is not None:
            return self._runtime(state, *call, body)
        for route in self.server.routes:
            match = route.regex.match(path)
            if match and route.method == self.command:
                break
        else:
            err = ApiError(
                "UnknownOperationException", f"No Bedrock model-import operation at {self.command} {path}"
            )
            return self._send(
                404,
                json.dumps({"message": err.message}).encode(),
                {"x-amzn-ErrorType": "UnknownOperationException"},
            )
        name = route.operation.name
        try:
            auth = self.headers.get("Authorization", "")
            region_match = _REGION.search(auth)
            if not region_match:
                raise ApiError("AccessDeniedException", "Missing or malformed SigV4 Authorization header.")
            state.before_request(name)
            params = parse_request(route, match, query, body)
            if wait := state.before_apply(name, params):
                time.sleep(wait)
            result = getattr(state, _HANDLERS[name])(region_match.group(1), params)
            if self.server.trace is not None:
                named = params.get("jobName") or params.get("jobIdentifier") or params.get("modelIdentifier")
                self.server.trace.append((time.time(), name, str(named or "")))
            hold, drop = state.after_apply(name, params)
            if hold:
                time.sleep(hold)
            if drop:
                return self._lose_response()
            try:
                self._send(route.status, encode_body(result))
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # a held answer whose caller gave up (timed out, was killed)
        except ApiError as err:
            with state._lock:
                state.errors[f"{name}:{err.type_name}"] += 1
            status, headers, payload = encode_error(err)
            self._send(status, payload, headers)

    def _runtime(self, state: BedrockState, operation: str, model_id: str, body: bytes) -> None:
        """bedrock-runtime: InvokeModel (JSON in, JSON out), its event stream, and Converse."""
        try:
            region_match = _REGION.search(self.headers.get("Authorization", ""))
            if not region_match:
                raise ApiError("AccessDeniedException", "Missing or malformed SigV4 Authorization header.")
            state.before_request(operation)
            doc = runtime._body(body)
            if operation == "Converse":
                runtime.converse(model_id, "", True, doc)  # the body first: a bad one is a 400 even when cold
            else:
                runtime.completion(model_id, doc)
            model = state.invoke(region_match.group(1), model_id)
            if operation == "InvokeModel":
                answer_doc = runtime.completion(model.name, doc)
                if state.guardrail_intervenes():
                    answer_doc = runtime.intervened(answer_doc)
                answer = encode_body(answer_doc)
                return self._send(200, answer, {"Content-Type": "application/json"})
            if operation == "Converse":
                answer = encode_body(runtime.converse(model.name, model.architecture, model.instruct, doc))
                return self._send(200, answer, {"Content-Type": "application/json"})
            events = runtime.stream(model.name, doc)
            headers = {
                "Content-Type": "application/vnd.amazon.eventstream",
                "x-amzn-bedrock-content-type": "application/json",
            }
            return self._send(200, events, headers)
        except ApiError as err:
            with state._lock:
                state.errors[f"{operation}:{err.type_name}"] += 1
            status, headers, payload = encode_error(err, "bedrock-runtime")
            self._send(status, payload, headers)

    def _lose_response(self) -> None:
        """Close the connection without a byte of answer: the call was applied, the caller never hears."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the peer may be gone already
            self.connection.shutdown(socket.SHUT_RDWR)

    def _admin(self, path: str, body: bytes) -> None:
        state, accounts = self.server.state, self.server.accounts
        if path == "/_emulator/state" and self.command == "GET":
            others = {account: s.snapshot() for account, s in accounts.others().items()}
            return self._send(200, encode_body(state.snapshot() | {"accounts": others}))
        if path == "/_emulator/trace" and self.command == "GET":
            return self._send(200, json.dumps(self.server.trace or []).encode())
        if path == "/_emulator/faults" and self.command == "POST":
            try:
                changes = json.loads(body or b"{}")
                faults = state.set_faults(changes)
                for other in accounts.others().values():  # the same faults in every account
                    other.set_faults(changes)
            except (KeyError, ValueError, TypeError) as exc:
                return self._send(400, json.dumps({"message": f"bad fault setting: {exc}"}).encode())
            return self._send(200, json.dumps(faults.__dict__).encode())
        if path == "/_emulator/reset" and self.command == "POST":
            for each in accounts.all():
                each.reset()
            return self._send(200, b"{}")
        return self._send(404, b'{"message": "unknown admin endpoint"}')

    do_GET = do_POST = do_DELETE = do_PUT = _dispatch
