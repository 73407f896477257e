"""Apps calling providers with ``aiohttp`` (the original app's DashScope / DeepSeek / Kimi code)
get the same metering through a client middleware: JSON and SSE, the usage chunk asked for and
hidden, streams closed, cut or dropped, a provider refusing the option."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

import llmledger
from llmledger import Ledger
from llmledger.capture.sdk import is_instrumented, metering_middleware
from tests.capture import wire
from tests.capture.conftest import only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply, Request
from tests.capture.test_anthropic_sdk import EXPECTED as ANTHROPIC_EXPECTED
from tests.capture.test_anthropic_sdk import MODEL as CLAUDE
from tests.capture.test_anthropic_sdk import messages_route
from tests.capture.test_openai_sdk import MESSAGES, PIECES, chat_route

T = TypeVar("T")
CHAT = {"model": "qwen-plus", "messages": MESSAGES}
STREAM = {**CHAT, "stream": True}
CHAT_EXPECTED = {
    "input": 27,
    "cache_read": 98,
    "cache_write": 0,
    "cache_write_1h": 0,
    "output": 48,
    "reasoning": 16,
}


def run(ledger: Ledger, work: Callable[[aiohttp.ClientSession], Awaitable[T]], **kw: Any) -> T:
    """``work`` with an instrumented session, in a fresh event loop."""

    async def main() -> T:
        async with aiohttp.ClientSession() as session:
            llmledger.instrument(session, ledger, **kw)
            assert is_instrumented(session)
            return await work(session)

    return asyncio.run(main())


def data_lines(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in lines if line.startswith(b"data: {")]


def test_json_call(upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route("/chat/completions", chat_route())

    async def work(session: aiohttp.ClientSession) -> Any:
        with llmledger.attribute(user_id="u1", session_id="s1"):
            async with session.post(
                f"{upstream.url}/compatible-mode/v1/chat/completions", json=CHAT
            ) as r:
                return await r.json()

    reply = run(ledger, work, provider="dashscope")
    assert reply["choices"][0]["message"]["content"] == "Hello there!"
    event = only(ledger)
    assert (event.provider, event.model, event.user_id, event.session_id) == (
        "dashscope",
        "qwen-plus",
        "u1",
        "s1",
    )
    assert tokens(event) == CHAT_EXPECTED and event.id == f"call:{reply['id']}"


def test_stream_gets_the_usage_chunk_asked_for_and_hidden(
    upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())

    async def work(session: aiohttp.ClientSession) -> list[bytes]:
        async with session.post(f"{upstream.url}/v1/chat/completions", json=STREAM) as r:
            return [line.rstrip(b"\n") async for line in r.content]

    chunks = data_lines(run(ledger, work, provider="deepseek"))
    assert all(chunk["choices"] and "usage" not in chunk for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello there!"
    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    event = only(ledger)
    assert tokens(event) == CHAT_EXPECTED and event.provider == "deepseek"
    assert event.details is not None and event.details["stream_end"] == "complete"


def test_kimi_stream_whose_caller_asked_for_usage(upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route("/chat/completions", chat_route(wire.KIMI_USAGE, usage_in_choice=True))
    body = {**STREAM, "model": "kimi-k2", "stream_options": {"include_usage": True}}

    async def work(session: aiohttp.ClientSession) -> bytes:
        async with session.post(f"{upstream.url}/v1/chat/completions", json=body) as r:
            return await r.read()

    raw = run(ledger, work, provider="moonshot")
    assert raw.count(b"data: ") == 7 and raw.endswith(b"data: [DONE]\n\n")
    event = only(ledger)
    assert (event.input_tokens, event.output_tokens, event.estimated) == (10, 79, False)


def test_anthropic_messages_with_a_query(upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route("/v1/messages", messages_route())
    body = {"model": CLAUDE, "max_tokens": 16, "messages": MESSAGES}

    async def work(session: aiohttp.ClientSession) -> None:
        url = f"{upstream.url}/v1/messages"
        async with session.post(url + "?beta=true", json=body) as r:
            await r.json()
        async with session.post(url, json={**body, "stream": True}) as r:
            async for _ in r.content.iter_any():
                pass

    run(ledger, work)
    assert [tokens(e) for e in recorded(ledger)] == [ANTHROPIC_EXPECTED] * 2


def test_a_stream_closed_early_is_estimated(upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route(
        "/chat/completions",
        lambda r: Reply(frames=wire.chat_chunks("m", PIECES, None, include_usage=True), delay=0.2),
    )

    async def work(session: aiohttp.ClientSession) -> bytes:
        r = await session.post(f"{upstream.url}/v1/chat/completions", json=STREAM)
        first = await r.content.readline()
        r.close()
        return first

    assert run(ledger, work).startswith(b"data: {")
    event = only(ledger)
    assert event.details is not None and event.details["stream_end"] == "closed"
    assert event.estimated and event.success and event.input_tokens == 9


def test_a_cut_stream_is_a_failed_estimated_event(upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route(
        "/chat/completions",
        lambda r: Reply(
            frames=wire.chat_chunks("m", PIECES, None, include_usage=False), cut_after=3
        ),
    )

    async def work(session: aiohttp.ClientSession) -> None:
        async with session.post(f"{upstream.url}/v1/chat/completions", json=STREAM) as r:
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()

    run(ledger, work)
    event = only(ledger)
    assert (event.success, event.estimated, event.output_tokens) == (False, True, 1)
    assert event.details is not None and event.details["stream_end"] == "error"


def test_a_response_dropped_unread_is_read_to_its_end(
    upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())

    async def work(session: aiohttp.ClientSession) -> None:
        await session.post(f"{upstream.url}/v1/chat/completions", json=STREAM)
        for _ in range(100):
            if ledger.flush(1) and list(ledger.events()):
                return
            await asyncio.sleep(0.01)

    run(ledger, work)
    event = only(ledger)
    assert tokens(event) == CHAT_EXPECTED and not event.estimated


def test_a_provider_refusing_the_option_gets_the_request_again(
    upstream: FakeUpstream, ledger: Ledger
) -> None:
    def respond(request: Request) -> Reply:
        if "stream_options" in request.body:
            return Reply(json=wire.error_json("Unknown parameter: stream_options"), status=400)
        return Reply(frames=wire.chat_chunks("m", PIECES, None, include_usage=False))

    upstream.route("/chat/completions", respond)

    async def work(session: aiohttp.ClientSession) -> list[int]:
        statuses = []
        for _ in range(2):
            async with session.post(f"{upstream.url}/v1/chat/completions", json=STREAM) as r:
                statuses.append(r.status)
                await r.read()
        return statuses

    assert run(ledger, work) == [200, 200]
    assert ["stream_options" in r.body for r in upstream.requests] == [True, False, False]
    events = recorded(ledger)
    assert [(e.success, e.estimated, e.input_tokens) for e in events] == [(True, True, 9)] * 2


def test_a_middleware_for_a_new_session(upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route("/chat/completions", chat_route())

    async def main() -> None:
        middleware = metering_middleware(ledger, org_id="acme")
        url = f"{upstream.url}/v1/chat/completions"
        async with (
            aiohttp.ClientSession(middlewares=[middleware]) as session,
            session.post(url, json=CHAT) as r,
        ):
            await r.json()

    asyncio.run(main())
    event = only(ledger)
    assert tokens(event) == CHAT_EXPECTED and event.org_id == "acme"
