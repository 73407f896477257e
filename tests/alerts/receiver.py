"""A webhook receiver on 127.0.0.1 (its own event loop on a thread): it answers each POST
with the next status of ``script`` (then 200), verifies the HMAC signature when it has the
secret, and keeps every request; ``accepted`` are the bodies it answered 2xx."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    path: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    signature_ok: bool | None  # None: no secret to check with


@dataclass
class Receiver:
    secret: str | None = None
    script: list[int] = field(default_factory=list)  # statuses for the next requests
    always: int | None = None  # answer every request with this status
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Receiver:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10)
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        assert self._loop is not None and self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        signature_ok = None
        if self.secret is not None:
            timestamp = request.headers.get("X-LLMLedger-Timestamp", "")
            expected = hmac.new(
                self.secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
            ).hexdigest()
            given = request.headers.get("X-LLMLedger-Signature", "")
            signature_ok = hmac.compare_digest(given, "sha256=" + expected)
        status = self.always or (self.script.pop(0) if self.script else 200)
        self.received.append(
            Received(request.path, status, json.loads(raw), dict(request.headers), signature_ok)
        )
        return web.json_response({"ok": 200 <= status < 300}, status=status)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]
