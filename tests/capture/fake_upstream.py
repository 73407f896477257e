"""A fake LLM provider on 127.0.0.1: real HTTP/1.1 (keep-alive, chunked SSE), in a thread.

Tests route requests by API path and requested model to a ``Reply``: a JSON body, an SSE stream
(optionally cut: the connection is dropped mid-body, so the client sees a truncated chunked
response exactly as a network failure), or an HTTP error. Replies may be functions of the
request, so a stream can honour ``stream_options.include_usage`` like the real APIs do.
Every request is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.capture.wire import Frame


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True


@dataclass
class Reply:
    """``json`` body, or SSE ``frames`` (cut after ``cut_after`` frames if set), or both
    absent with an error ``status``. ``delay`` seconds pass before each SSE frame. ``gzip``
    compresses a JSON body (``content-encoding: gzip``), as api.openai.com does."""

    json: dict[str, Any] | None = None
    frames: Sequence[Frame] | None = None
    status: int = 200
    cut_after: int | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    gzip: bool = False


Responder = Callable[[Request], Reply]


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._routes: dict[tuple[str, str | None], Responder] = {}
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"upstream": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self.requests.clear()

    def route(self, path: str, responder: Responder | Reply, model: str | None = None) -> None:
        """Answer POSTs to a path ending with ``path`` (for ``model`` only, if given)."""
        fn = responder if callable(responder) else (lambda _req, r=responder: r)
        with self._lock:
            self._routes[(path, model)] = fn

    def respond(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            fn = self._find(request)
        # Responders run outside the lock: they may wait for other requests (a barrier).
        if fn is None:
            return Reply(json={"error": {"message": f"no route for {request.path}"}}, status=404)
        return fn(request)

    def _find(self, request: Request) -> Responder | None:
        path_only = request.path.split("?")[0]
        for wanted in (request.model, None):
            for (path, model), fn in self._routes.items():
                if path_only.endswith(path) and model == wanted:
                    return fn
        return None


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up (closed streams) are part of the tests


class _Handler(BaseHTTPRequestHandler):
    upstream: FakeUpstream
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Small writes must leave at once (no Nagle + delayed-ACK stalls of ~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        request = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = self.upstream.respond(request)
        if reply.frames is not None and reply.status == 200:
            self._send_sse(reply)
        else:
            self._send_json(reply)

    def _send_json(self, reply: Reply) -> None:
        data = json.dumps(reply.json if reply.json is not None else {}).encode()
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        if reply.gzip:
            data = gzip.compress(data)
            self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_test")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_sse(self, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        frames = list(reply.frames or ())
        for index, (event, data) in enumerate(frames):
            if reply.cut_after is not None and index >= reply.cut_after:
                self._cut()
                return
            if reply.delay:
                time.sleep(reply.delay)
            text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
            payload = text.encode()
            try:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
        if reply.cut_after is not None:
            self._cut()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection mid-body: no terminating chunk, as a network failure looks."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
