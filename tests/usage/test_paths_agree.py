"""One provider payload, every path that meters it, identical token fields.

Each case is a provider's response as it comes over the wire. It goes through
(a) the ``usage/`` normalizer of its API (and ``normalize_usage``, which detects the shape),
(b) the agent-log parser whose agent logs that provider's usage object (Claude Code:
    Anthropic; Codex: Responses under Codex's names; Qwen Code and Gemini CLI: Gemini), fed a
    minimal log line the way the agent writes it,
(c) the gateway's ASGI app in-process, its upstream transport answering with the payload,
(d) capture: ``UsageMiddleware`` around an app that returns the payload, and an instrumented
    SDK client (openai, anthropic) against a fake provider on loopback,
and every path must produce the case's token fields. Paths a case has no way through are
listed with it (no agent logs Chat Completions usage; Codex has no cache-write field; there
is no Gemini gateway endpoint and no Gemini SDK installed).

Where two paths used to disagree, the case says which rule decided it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from tests.usage.fake_providers import FakeUpstream, ProviderHandler, ProviderServer
from tests.usage.provider_payloads import (
    CASES,
    IDS,
    Case,
    Tokens,
    sse_body,
    usage_node,
    wire_body,
)

import llmledger
from llmledger.capture.middleware import UsageMiddleware
from llmledger.events import UsageEvent
from llmledger.gateway import create_app
from llmledger.gateway.config import parse_gateway_config
from llmledger.gateway.keys import issue_key
from llmledger.ledger import Ledger
from llmledger.sources import claude_code, codex, gemini_cli, qwen_code
from llmledger.sources.base import Record
from llmledger.usage import (
    OpenAIChatStream,
    TokenCounts,
    anthropic_usage,
    gemini_usage,
    normalize_usage,
    openai_chat_usage,
    openai_responses_usage,
)

API_NORMALIZERS: dict[str, Callable[[object], TokenCounts | None]] = {
    "anthropic": anthropic_usage,
    "chat": openai_chat_usage,
    "responses": openai_responses_usage,
    "gemini": gemini_usage,
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback only (the SDK path talks to a fake provider on 127.0.0.1)."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"network access attempted: {address!r}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def fields(source: TokenCounts | UsageEvent | Record) -> Tokens:
    return (
        source.input_tokens,
        source.cache_read_tokens,
        source.cache_write_tokens,
        source.cache_write_1h_tokens,
        source.output_tokens,
        source.reasoning_tokens,
    )


# --- (a) the normalizers -----------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_normalizers(case: Case) -> None:
    counts = API_NORMALIZERS[case.api](case.body)
    assert counts is not None and fields(counts) == case.expected
    detected = normalize_usage(case.body)
    assert detected is not None and fields(detected) == case.expected
    if case.stream:
        stream = OpenAIChatStream()
        stream.feed_bytes(sse_body(case))
        stream.close()
        assert stream.usage is not None and fields(stream.usage) == case.expected


# --- (b) the agent-log parsers -------------------------------------------------------------


def claude_code_record(case: Case, tmp_path: Path) -> Record | None:
    line = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/Users/x/proj",
        "sessionId": "s1",
        "version": "2.0.31",
        "message": case.body,
        "requestId": "req_1",
        "type": "assistant",
        "uuid": "u1",
        "timestamp": "2025-09-28T06:17:23.678Z",
    }
    return claude_code.parse_line(json.dumps(line).encode(), "s1", "proj")


def codex_record(case: Case, tmp_path: Path) -> Record | None:
    usage = usage_node(case)
    tokens = {
        "input_tokens": usage["input_tokens"],
        "cached_input_tokens": usage["input_tokens_details"]["cached_tokens"],
        "output_tokens": usage["output_tokens"],
        "reasoning_output_tokens": usage["output_tokens_details"]["reasoning_tokens"],
        "total_tokens": usage["total_tokens"],
    }
    session = "019b7f94-51b4-7593-922e-ba12b5b73b52"
    lines = [
        {
            "timestamp": "2026-07-03T18:15:00.000Z",
            "type": "session_meta",
            "payload": {"id": session},
        },
        {
            "timestamp": "2026-07-03T18:15:01.000Z",
            "type": "turn_context",
            "payload": {"model": case.model},
        },
        {
            "timestamp": "2026-07-03T18:15:19.978Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": tokens, "last_token_usage": tokens},
            },
        },
    ]
    path = tmp_path / f"rollout-2026-07-03T18-15-00-{session}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (record,) = codex.parse_file(path, 0, None, 1 << 30).records
    return record


def qwen_code_record(case: Case, tmp_path: Path) -> Record | None:
    line = {
        "uuid": "q1",
        "sessionId": "qs",
        "timestamp": "2025-11-02T10:00:00.000Z",
        "type": "assistant",
        "cwd": "/src/app",
        "model": case.model,
        "usageMetadata": usage_node(case),
    }
    return qwen_code.parse_line(json.dumps(line).encode(), "qs", "proj")


def gemini_cli_record(case: Case, tmp_path: Path) -> Record | None:
    usage = usage_node(case)
    tokens = {  # Gemini CLI's names for the usageMetadata counts
        "input": usage.get("promptTokenCount", 0),
        "output": usage.get("candidatesTokenCount", 0),
        "cached": usage.get("cachedContentTokenCount", 0),
        "thoughts": usage.get("thoughtsTokenCount", 0),
        "tool": usage.get("toolUsePromptTokenCount", 0),
        "total": usage.get("totalTokenCount", 0),
    }
    session = {
        "sessionId": "sess-1",
        "projectHash": "abc123",
        "messages": [
            {
                "id": "g1",
                "timestamp": "2026-07-31T12:50:23.468Z",
                "type": "gemini",
                "content": "Hello there!",
                "tokens": tokens,
                "model": case.model,
            }
        ],
    }
    path = tmp_path / "session-2026-07-31T12-50-aaaa1111.json"
    (record,) = gemini_cli.parse_document(json.dumps(session).encode(), path)
    return record


LOG_PARSERS: dict[str, Callable[[Case, Path], Record | None]] = {
    "claude-code": claude_code_record,
    "codex": codex_record,
    "qwen-code": qwen_code_record,
    "gemini-cli": gemini_cli_record,
}
LOG_CASES = [(case, log) for case in CASES for log in case.logs]


@pytest.mark.parametrize(
    ("case", "log"), LOG_CASES, ids=[f"{log}: {case.name}" for case, log in LOG_CASES]
)
def test_agent_log_parsers(case: Case, log: str, tmp_path: Path) -> None:
    record = LOG_PARSERS[log](case, tmp_path)
    assert record is not None and fields(record) == case.expected
    if log in ("claude-code", "qwen-code"):  # the provider's own usage object, verbatim
        counts = API_NORMALIZERS[case.api](case.body)
        assert counts is not None and record.details == counts.details


# --- (c) the gateway -------------------------------------------------------------------------


GATEWAY_CONFIG = {
    "gateway": {"access_log": "off"},
    "upstreams": [
        {
            "name": "claude",
            "protocol": "anthropic",
            "base_url": "https://claude.example",
            "models": ["claude-*"],
            "accounts": [{"name": "main", "api_key_env": "K"}],
        },
        {
            "name": "oai",
            "protocol": "openai",
            "base_url": "https://llm.example/v1",
            "models": ["*"],
            "accounts": [{"name": "main", "api_key_env": "K"}],
        },
    ],
}
GATEWAY_PATHS = {"anthropic": "/v1/messages", "chat": "/v1/chat/completions"}
GATEWAY_PATHS["responses"] = "/v1/responses"


def request_body(case: Case) -> dict[str, Any]:
    if case.api == "responses":
        return {"model": case.model, "input": "Hi"}
    body: dict[str, Any] = {"model": case.model, "messages": [{"role": "user", "content": "Hi"}]}
    if case.api == "anthropic":
        body["max_tokens"] = 256
    if case.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


GATEWAY_CASES = [case for case in CASES if case.api in GATEWAY_PATHS]


@pytest.mark.parametrize("case", GATEWAY_CASES, ids=[c.name for c in GATEWAY_CASES])
def test_gateway(case: Case, ledger_url: str) -> None:
    body, content_type = wire_body(case)
    upstream = FakeUpstream(body, content_type)
    with Ledger(ledger_url) as ledger:
        key, _ = issue_key(ledger.keys, user_id="u1")
        app = create_app(
            parse_gateway_config(GATEWAY_CONFIG, {"K": "sk-up"}), ledger, transport=upstream
        )

        async def call() -> None:
            async with app.router.lifespan_context(app):
                transport = httpx2.ASGITransport(app=app)
                async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as client:
                    reply = await client.post(
                        GATEWAY_PATHS[case.api],
                        json=request_body(case),
                        headers={"authorization": f"Bearer {key}"},
                    )
                    assert reply.status_code == 200, reply.text

        asyncio.run(call())
        assert len(upstream.sent) == 1
        (event,) = recorded(ledger, "proxy")
    assert fields(event) == case.expected and not event.estimated
    assert_details_kept(case, event)


# --- (d) capture: the ASGI middleware and the instrumented SDKs ---------------------------


def recorded(ledger: Ledger, source: str) -> list[UsageEvent]:
    assert ledger.flush(10)
    return [event for event in ledger.events() if event.source == source]


def assert_details_kept(case: Case, event: UsageEvent) -> None:
    """The normalizer's provider facts are in the event's details (next to the path's own)."""
    counts = API_NORMALIZERS[case.api](case.body)
    assert counts is not None
    for key, value in (counts.details or {}).items():
        assert (event.details or {}).get(key) == value, key


def plain_app(body: bytes, content_type: bytes) -> Any:
    """An ASGI app answering every request with ``body``: what the middleware watches."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_middleware(case: Case, ledger_url: str) -> None:
    body, content_type = wire_body(case, "mw-" + case.name.replace(" ", "-"))
    request = json.dumps(request_body(case)).encode()
    sent: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": request, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/llm",
        "raw_path": b"/api/llm",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    with Ledger(ledger_url) as ledger:
        app = UsageMiddleware(plain_app(body, content_type), ledger=ledger)
        asyncio.run(app(scope, receive, send))
        assert b"".join(sent) == body  # watched, not changed
        (event,) = recorded(ledger, "middleware")
    assert fields(event) == case.expected and not event.estimated
    assert_details_kept(case, event)


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    server = ProviderServer(("127.0.0.1", 0), ProviderHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def call_sdk(case: Case, url: str, ledger: Ledger) -> None:
    request = request_body(case)
    if case.api == "anthropic":
        claude = llmledger.instrument(
            anthropic.Anthropic(api_key="sk-ant", base_url=url, max_retries=0), ledger=ledger
        )
        claude.messages.create(**request)
        return
    client = llmledger.instrument(
        openai.OpenAI(api_key="sk", base_url=url + "/v1", max_retries=0), ledger=ledger
    )
    if case.api == "responses":
        client.responses.create(**request)
    elif case.stream:
        for _ in client.chat.completions.create(**request):
            pass
    else:
        client.chat.completions.create(**request)


SDK_CASES = [case for case in CASES if case.sdk]


@pytest.mark.parametrize("case", SDK_CASES, ids=[c.name for c in SDK_CASES])
def test_sdk(case: Case, ledger_url: str, provider: ProviderServer) -> None:
    provider.reply = wire_body(case, "sdk-" + case.name.replace(" ", "-"))
    url = f"http://127.0.0.1:{provider.server_address[1]}"
    with Ledger(ledger_url) as ledger:
        call_sdk(case, url, ledger)
        (event,) = recorded(ledger, "sdk")
    assert fields(event) == case.expected and not event.estimated
    assert_details_kept(case, event)
