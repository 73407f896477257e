"""The gateway's ASGI app in-process (``httpx2.ASGITransport``), its upstream transport swapped
for a fake: routing and errors, the shapes of its answers, and failing closed while the
ledger cannot record."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from llmledger.config import Config
from llmledger.estimate import estimate_tokens
from llmledger.gateway import create_app
from llmledger.gateway.config import parse_gateway_config
from llmledger.gateway.keys import issue_key
from llmledger.gateway.transport import UpstreamError, UpstreamRequest
from llmledger.ledger import Ledger
from llmledger.query import EventFilter

USAGE = {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}
REPLY = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini", "usage": USAGE}


@dataclass
class FakeResponse:
    status: int = 200
    body: bytes = json.dumps(REPLY).encode()
    raw_headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"application/json"),)
    cut: bool = False
    complete: bool = False
    _sent: bool = False

    def header(self, name: str) -> str | None:
        return next((v.decode() for k, v in self.raw_headers if k.decode() == name), None)

    async def read(self) -> bytes:
        if self.cut:
            raise UpstreamError("the response was cut short")
        self.complete = True
        return self.body

    async def next_chunk(self) -> bytes | None:
        if not self._sent:
            self._sent = True
            return self.body
        if self.cut:
            raise UpstreamError("the response was cut short")
        self.complete = True
        return None

    def set_deadline(self, when: float) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class FakeTransport:
    answer: Callable[[UpstreamRequest], FakeResponse] = lambda request: FakeResponse()
    sent: list[UpstreamRequest] = field(default_factory=list)
    closed: bool = False

    async def send(self, request: UpstreamRequest) -> FakeResponse:
        self.sent.append(request)
        return self.answer(request)

    async def close(self) -> None:
        self.closed = True


UPSTREAMS = {
    "gateway": {"access_log": "off"},
    "upstreams": [
        {
            "name": "oai",
            "protocol": "openai",
            "base_url": "https://llm.example/v1",
            "models": ["gpt-*"],
            "accounts": [{"name": "a", "api_key_env": "K"}, {"name": "b", "api_key_env": "K"}],
        },
        {
            "name": "claude",
            "protocol": "anthropic",
            "base_url": "https://claude.example",
            "models": ["claude-*"],
            "accounts": [{"name": "main", "api_key_env": "K"}],
        },
    ],
}


@dataclass
class Harness:
    ledger: Ledger
    transport: FakeTransport
    key: str

    def run(self, scenario: Callable[[httpx2.AsyncClient, Any], Awaitable[None]]) -> None:
        """Run ``scenario(client, app)`` against the app with its lifespan started."""
        config = parse_gateway_config(UPSTREAMS, {"K": "sk-upstream"})
        app = create_app(config, self.ledger, transport=self.transport)

        async def main() -> None:
            async with app.router.lifespan_context(app):
                transport = httpx2.ASGITransport(app=app)
                async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as client:
                    await scenario(client, app)

        asyncio.run(main())

    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    ledger = Ledger(tmp_path / "ledger.db", config=Config())
    key, _ = issue_key(ledger.keys, user_id="u1")
    yield Harness(ledger, FakeTransport(), key)
    ledger.close()


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


ANSWER = {"index": 0, "message": {"role": "assistant", "content": "Hello there!"}}


def test_routes_methods_and_errors(harness: Harness) -> None:
    async def scenario(client: httpx2.AsyncClient, app: Any) -> None:
        for path in ("/v1/chat/completions", "/chat/completions"):
            reply = await client.post(path, json=CHAT, headers=harness.auth())
            assert reply.status_code == 200 and reply.json()["id"] == "chatcmpl-1"
            assert reply.headers["x-llmledger-total-tokens"] == "26"
        assert [r.url for r in harness.transport.sent] == [
            "https://llm.example/v1/chat/completions"
        ] * 2
        reply = await client.get("/v1/chat/completions")
        assert reply.status_code == 405 and reply.json()["error"]["code"] == "method_not_allowed"
        assert reply.headers["allow"] == "POST, OPTIONS"
        reply = await client.options("/v1/embeddings")
        assert (reply.status_code, reply.content) == (204, b"")
        reply = await client.head("/healthz")
        assert reply.status_code == 200 and reply.content == b""
        reply = await client.get("/v2/whatever")
        assert reply.status_code == 404 and reply.json()["error"]["code"] == "not_found"
        reply = await client.post("/v1/chat/completions", json=CHAT)
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "missing_api_key"
        reply = await client.post("/v1/messages", json={"model": "claude-x"})
        assert reply.status_code == 401
        assert reply.json() == {
            "type": "error",
            "error": {"type": "authentication_error", "message": reply.json()["error"]["message"]},
        }
        reply = await client.post(
            "/v1/chat/completions", json={**CHAT, "model": "llama"}, headers=harness.auth()
        )
        assert reply.status_code == 404 and reply.json()["error"]["code"] == "model_not_found"
        reply = await client.post("/v1/chat/completions", content=b"{", headers=harness.auth())
        assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_json"
        too_big = b"{" + b" " * (32 * 1024 * 1024) + b"}"
        reply = await client.post("/v1/chat/completions", content=too_big)
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "body_too_large"
        assert len(harness.transport.sent) == 2  # none of the refused ones went upstream

    harness.run(scenario)


def test_query_strings_are_forwarded(harness: Harness) -> None:
    async def scenario(client: httpx2.AsyncClient, app: Any) -> None:
        await client.post(
            "/v1/chat/completions?api-version=2024-10-21&x=%2F",
            json=CHAT,
            headers=harness.auth(),
        )
        (sent,) = harness.transport.sent
        assert sent.url == "https://llm.example/v1/chat/completions?api-version=2024-10-21&x=%2F"

    harness.run(scenario)


def test_it_fails_closed_while_the_ledger_cannot_record(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = harness.ledger.store
    write = store.write_events

    def disk_full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    async def scenario(client: httpx2.AsyncClient, app: Any) -> None:
        app.state.gateway.recorder.retry_seconds = 0.05
        monkeypatch.setattr(store, "write_events", disk_full)
        reply = await client.post("/v1/chat/completions", json=CHAT, headers=harness.auth())
        assert reply.status_code == 503 and reply.json()["error"]["code"] == "ledger_unavailable"
        assert len(harness.transport.sent) == 1  # it learnt only once the commit failed
        health = await client.get("/healthz")
        assert health.status_code == 503 and "disk is full" in health.json()["error"]
        for _ in range(3):  # from now on: no upstream call at all
            reply = await client.post("/v1/chat/completions", json=CHAT, headers=harness.auth())
            assert reply.status_code == 503
        assert len(harness.transport.sent) == 1
        monkeypatch.setattr(store, "write_events", write)  # the disk has room again
        for _ in range(100):
            if (await client.get("/healthz")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        reply = await client.post("/v1/chat/completions", json=CHAT, headers=harness.auth())
        assert reply.status_code == 200 and len(harness.transport.sent) == 2

    harness.run(scenario)
    # The billed call answered with 503 was recorded once the ledger came back.
    events = list(harness.ledger.events(EventFilter(equals={"source": ("proxy",)})))
    assert len(events) == 2 and all(e.input_tokens == 21 for e in events)


def test_a_cut_or_unreadable_body_is_estimated(harness: Harness) -> None:
    answers = iter(
        [
            FakeResponse(body=b'{"id": "x", "choices": [{"message": {"content": "Hel', cut=True),
            FakeResponse(body=b"not json at all"),
            FakeResponse(body=json.dumps({"id": "y", "object": "chat.completion"}).encode()),
            FakeResponse(body=json.dumps({"id": "z", "choices": [ANSWER]}).encode()),
        ]
    )
    harness.transport.answer = lambda request: next(answers)

    async def scenario(client: httpx2.AsyncClient, app: Any) -> None:
        statuses = [
            (await client.post("/v1/chat/completions", json=CHAT, headers=harness.auth()))
            for _ in range(4)
        ]
        assert [r.status_code for r in statuses] == [502, 200, 200, 200]
        assert [r.headers.get("x-llmledger-estimated") for r in statuses[1:]] == ["true"] * 3

    harness.run(scenario)
    events = sorted(
        harness.ledger.events(EventFilter(equals={"source": ("proxy",)})), key=lambda e: e.ts
    )
    assert [(e.status, e.estimated) for e in events] == [
        ("502", True),
        ("200", True),
        ("200", True),
        ("200", True),
    ]
    assert [e.details["reason"] for e in events] == [
        "response cut",
        "unreadable response",
        "no usage in response",
        "no usage in response",
    ]
    assert [e.input_tokens for e in events] == [8, 8, 8, 8]  # "hi" in the chat framing
    # What arrived stands for the answer when it cannot be read.
    arrived = ['{"id": "x", "choices": [{"message": {"content": "Hel', "not json at all"]
    assert [e.output_tokens for e in events[:2]] == [estimate_tokens(text) for text in arrived]
    # A readable body without usage: its answer's text, not its JSON (no answer: nothing).
    assert [e.output_tokens for e in events[2:]] == [0, estimate_tokens("Hello there!")]


def test_create_app_reads_the_usual_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[upstreams]]\nname = "u"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["m"]\n'
        '  [[upstreams.accounts]]\n  name = "a"\n  api_key_env = "K"\n'
    )
    monkeypatch.setenv("LLMLEDGER_CONFIG", str(config))
    monkeypatch.setenv("LLMLEDGER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("K", "sk")
    app = create_app()

    async def main() -> dict[str, Any]:
        async with app.router.lifespan_context(app):
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as client:
                return (await client.get("/healthz")).json()

    assert asyncio.run(main())["upstreams"] == ["u"]
    assert (tmp_path / "home").is_dir()  # the ledger in the data dir
