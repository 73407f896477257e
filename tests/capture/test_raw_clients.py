"""Apps that call providers with their own ``httpx`` / ``httpx2`` client (no SDK) get the SDKs'
metering through the same transport seam: JSON and streams, the usage chunk asked for and
hidden, compressed bodies, cut streams, and calls that are not LLM calls left alone."""

from __future__ import annotations

import asyncio
import json
from types import ModuleType
from typing import Any

import pytest

import llmledger
from llmledger import Ledger
from llmledger.capture import exchange
from llmledger.capture.sdk import is_instrumented, metered_transport
from tests.capture import wire
from tests.capture.conftest import only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply
from tests.capture.http_libs import LIBRARIES
from tests.capture.test_anthropic_sdk import EXPECTED as ANTHROPIC_EXPECTED
from tests.capture.test_anthropic_sdk import MODEL as CLAUDE
from tests.capture.test_anthropic_sdk import messages_route
from tests.capture.test_openai_sdk import MESSAGES, chat_route

CHAT = {"model": "qwen-plus", "messages": MESSAGES}
CHAT_EXPECTED = {
    "input": 27,
    "cache_read": 98,
    "cache_write": 0,
    "cache_write_1h": 0,
    "output": 48,
    "reasoning": 16,
}


@pytest.fixture(params=LIBRARIES, ids=lambda m: m.__name__)
def http(request: pytest.FixtureRequest) -> ModuleType:
    """``httpx2`` and ``httpx``, whichever are installed."""
    return request.param  # type: ignore[no-any-return]


def chunks_read(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def test_json_call(http: ModuleType, upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(http.Client(base_url=upstream.url), ledger, provider="dashscope")
    assert is_instrumented(client)
    with llmledger.attribute(user_id="u1", request_type="diagram"):
        reply = client.post("/compatible-mode/v1/chat/completions", json=CHAT)
    assert reply.json()["choices"][0]["message"]["content"] == "Hello there!"
    event = only(ledger)
    assert (event.source, event.provider, event.model) == ("sdk", "dashscope", "qwen-plus")
    assert tokens(event) == CHAT_EXPECTED
    assert (event.user_id, event.request_type) == ("u1", "diagram")
    assert event.id == f"call:{reply.json()['id']}"


def test_stream_gets_the_usage_chunk_asked_for_and_hidden(
    http: ModuleType, upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(http.Client(base_url=upstream.url), ledger, provider="deepseek")
    with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as reply:
        lines = list(reply.iter_lines())
    chunks = chunks_read(lines)
    assert all(chunk["choices"] and "usage" not in chunk for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello there!"
    assert lines[-2:] == ["data: [DONE]", ""]
    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    assert upstream.requests[-1].headers["accept-encoding"] == "identity"
    event = only(ledger)
    assert tokens(event) == CHAT_EXPECTED and event.details is not None
    assert event.details["stream_end"] == "complete" and not event.estimated


def test_async_stream_whose_caller_asked_for_usage(
    http: ModuleType, upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(http.AsyncClient(base_url=upstream.url), ledger)
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}

    async def main() -> list[str]:
        async with client, client.stream("POST", "/v1/chat/completions", json=body) as reply:
            return [line async for line in reply.aiter_lines()]

    chunks = chunks_read(asyncio.run(main()))
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 125
    assert all("usage" in chunk for chunk in chunks)
    assert tokens(only(ledger)) == CHAT_EXPECTED


def test_anthropic_messages_with_a_query(
    http: ModuleType, upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(http.Client(base_url=upstream.url), ledger)
    body = {"model": CLAUDE, "max_tokens": 16, "messages": MESSAGES}
    client.post("/v1/messages?beta=true", json=body)
    with client.stream("POST", "/v1/messages", json={**body, "stream": True}) as reply:
        reply.read()
    events = recorded(ledger)
    assert [tokens(e) for e in events] == [ANTHROPIC_EXPECTED] * 2
    assert {e.provider for e in events} == {"anthropic"}  # what a Messages API host is


def test_a_gzip_json_body_is_read(http: ModuleType, upstream: FakeUpstream, ledger: Ledger) -> None:
    upstream.route(
        "/chat/completions",
        lambda r: Reply(
            json=wire.chat_completion("gpt-4o", "hi", wire.OPENAI_CHAT_USAGE), gzip=True
        ),
    )
    client = llmledger.instrument(http.Client(base_url=upstream.url), ledger)
    assert (
        client.post("/v1/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"]
        == "hi"
    )
    assert tokens(only(ledger)) == CHAT_EXPECTED


def test_other_requests_pass_untouched(
    http: ModuleType, upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route("/v1/files", Reply(json={"ok": True}))
    client = llmledger.instrument(http.Client(base_url=upstream.url), ledger)
    assert client.post("/v1/files", content=b"\x00raw").json() == {"ok": True}
    assert client.post("/v1/chat/completions/abc", json={"stream": True}).status_code == 404
    assert recorded(ledger) == []
    assert [r.body for r in upstream.requests] == [{}, {"stream": True}]


def test_a_cut_stream_is_a_failed_estimated_event(
    http: ModuleType, upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route(
        "/chat/completions",
        lambda r: Reply(
            frames=wire.chat_chunks("m", ["Hel", "lo"], None, include_usage=False), cut_after=2
        ),
    )
    client = llmledger.instrument(http.Client(base_url=upstream.url), ledger)
    with (
        pytest.raises(http.RemoteProtocolError),
        client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as reply,
    ):
        reply.read()
    event = only(ledger)
    assert (event.success, event.status, event.estimated) == (False, "RemoteProtocolError", True)
    assert event.details is not None and event.details["stream_end"] == "error"


def test_a_transport_made_for_a_new_client(
    http: ModuleType, upstream: FakeUpstream, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    transport = metered_transport(http.HTTPTransport(), ledger, project="p")
    with http.Client(base_url=upstream.url, transport=transport) as client:
        client.post("/v1/chat/completions", json=CHAT)
    event = only(ledger)
    assert tokens(event) == CHAT_EXPECTED and event.project == "p"


def test_a_connection_failure(http: ModuleType, ledger: Ledger) -> None:
    client = llmledger.instrument(http.Client(base_url="http://127.0.0.1:9"), ledger)
    with pytest.raises(http.ConnectError):
        client.post("/v1/chat/completions", json=CHAT)
    event = only(ledger)
    assert (event.success, event.status, event.model) == (False, "ConnectError", "qwen-plus")


def test_a_failure_in_capture_never_breaks_the_call(
    http: ModuleType,
    upstream: FakeUpstream,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upstream.route("/chat/completions", chat_route())

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(exchange, "make_spec", broken)
    client = llmledger.instrument(http.Client(base_url=upstream.url), ledger)
    with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as reply:
        assert reply.status_code == 200 and b"[DONE]" in reply.read()
    assert recorded(ledger) == []
    assert "could not meter a call; passing it through" in caplog.text


@pytest.mark.parametrize("asynchronous", [False, True], ids=["Client", "AsyncClient"])
def test_a_transport_with_both_sides_is_metered_on_its_clients_side(
    http: ModuleType, ledger: Ledger, asynchronous: bool
) -> None:
    """httpx's ``MockTransport`` (how apps test against a canned provider) serves sync and
    async clients alike: an instrumented client meters the side it sends through."""
    reply = wire.chat_completion("qwen-plus", "Hello there!", wire.OPENAI_CHAT_USAGE)

    def provider(request: Any) -> Any:
        return http.Response(200, json=reply)

    url = "https://dashscope.example/compatible-mode/v1/chat/completions"
    if asynchronous:

        async def call() -> Any:
            async with http.AsyncClient(transport=http.MockTransport(provider)) as client:
                llmledger.instrument(client, ledger, provider="dashscope")
                return await client.post(url, json=CHAT)

        answer = asyncio.run(call())
    else:
        client = http.Client(transport=http.MockTransport(provider))
        llmledger.instrument(client, ledger, provider="dashscope")
        answer = client.post(url, json=CHAT)
    assert answer.json()["choices"][0]["message"]["content"] == "Hello there!"
    assert tokens(only(ledger)) == CHAT_EXPECTED
