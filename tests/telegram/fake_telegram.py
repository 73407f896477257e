"""A fake Telegram Bot API on 127.0.0.1 speaking the real JSON: ``getMe``, ``getUpdates`` (long
polling with ``offset`` and ``timeout``), ``sendMessage``, ``deleteWebhook``; everything else
answers ``{"ok": true, "result": true}``. Faults on demand: 429s with
``parameters.retry_after`` for the next sendMessage calls, dropped connections for the next
getUpdates calls. Tests feed it user messages and read what the bot sent."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Ledger",
    "username": "ledger_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Sent:
    chat_id: int
    text: str
    parse_mode: str | None


@dataclass
class FakeTelegram:
    token: str
    rate_limit_next: int = 0  # how many sendMessage calls answer 429 before one succeeds
    retry_after: int = 1
    drop_next_polls: int = 0  # how many getUpdates calls lose their connection
    sent: list[Sent] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    params: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (method, params)
    rejected_sends: int = 0
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    url: str = ""
    _closing: bool = False

    async def start(self) -> str:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/bot"
        return self.url

    async def stop(self) -> None:
        assert self._changed is not None
        async with self._changed:  # long polls pending answer at once
            self._closing = True
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests do -------------------------------------------------------------------------

    async def say(self, user_id: int, text: str, first_name: str = "Ada") -> None:
        """A private message from ``user_id`` to the bot."""
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        user = {"id": user_id, "is_bot": False, "first_name": first_name}
        message = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "date": int(time.time()),
            "text": text,
            "entities": entities,
        }
        assert self._changed is not None
        async with self._changed:
            self._updates.append({"update_id": next(self._update_ids), "message": message})
            self._changed.notify_all()

    async def wait_sent(self, count: int, timeout: float = 15.0) -> list[Sent]:
        """Wait until ``count`` messages in all were sent; then a moment more for extras."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.sent) >= count), timeout)
        await asyncio.sleep(0.3)
        return list(self.sent)

    # -- the Bot API ---------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            try:
                params[key] = json.loads(text)
            except json.JSONDecodeError:
                params[key] = text
        return params

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        self.calls.append(method)
        params = await self._params(request)
        self.params.append((method, params))
        if method == "getMe":
            return _ok(BOT_USER)
        if method == "getUpdates":
            return await self._get_updates(request, params)
        if method == "sendMessage":
            return await self._send_message(params)
        return _ok(True)

    async def _get_updates(self, request: web.Request, params: dict[str, Any]) -> web.Response:
        if self.drop_next_polls > 0:
            self.drop_next_polls -= 1
            assert request.transport is not None
            request.transport.close()  # the network drops mid-request
            raise web.HTTPBadGateway()
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        assert self._changed is not None

        def pending() -> list[dict[str, Any]]:
            return [u for u in self._updates if u["update_id"] >= offset]

        async with self._changed:
            self._updates = pending()  # confirmed updates are forgotten, as Telegram does
            if not self._updates and timeout > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(pending()) or self._closing), timeout
                    )
            return _ok(pending())

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.rejected_sends += 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.retry_after}",
                    "parameters": {"retry_after": self.retry_after},
                },
                status=429,
            )
        text = str(params["text"])
        if len(text) > 4096:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"},
                status=400,
            )
        chat_id = int(params["chat_id"])
        assert self._changed is not None
        async with self._changed:
            self.sent.append(Sent(chat_id, text, params.get("parse_mode")))
            self._changed.notify_all()
        return _ok(
            {
                "message_id": next(self._message_ids),
                "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private", "first_name": "Ada"},
                "date": int(time.time()),
                "text": text,
            }
        )


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})
