"""Fake providers for tests/usage/test_paths_agree.py: an upstream transport the gateway
calls in-process, and an HTTP server on loopback the SDKs call. Both answer every request with
one fixed body."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llmledger.gateway.transport import UpstreamRequest


@dataclass
class FakeUpstreamResponse:
    body: bytes
    content_type: bytes
    status: int = 200
    complete: bool = False
    _sent: bool = False

    @property
    def raw_headers(self) -> Sequence[tuple[bytes, bytes]]:
        return ((b"content-type", self.content_type),)

    def header(self, name: str) -> str | None:
        return self.content_type.decode() if name == "content-type" else None

    async def read(self) -> bytes:
        self.complete = True
        return self.body

    async def next_chunk(self) -> bytes | None:
        if self._sent:
            self.complete = True
            return None
        self._sent = True
        return self.body

    def set_deadline(self, when: float) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class FakeUpstream:
    body: bytes
    content_type: bytes
    sent: list[UpstreamRequest] = field(default_factory=list)

    async def send(self, request: UpstreamRequest) -> FakeUpstreamResponse:
        self.sent.append(request)
        return FakeUpstreamResponse(self.body, self.content_type)

    async def close(self) -> None:
        pass


class ProviderHandler(BaseHTTPRequestHandler):
    """Answers every POST with the server's current reply (a fake provider on loopback)."""

    server: ProviderServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body, content_type = self.server.reply
        self.send_response(200)
        self.send_header("content-type", content_type.decode())
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    reply: tuple[bytes, bytes] = (b"{}", b"application/json")
