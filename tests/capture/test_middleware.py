"""UsageMiddleware in a real Starlette app served by uvicorn on 127.0.0.1, calling the fake
provider: usage in JSON and SSE responses recorded with the provider's counts, SSE passed through
event by event, attribution from request.state and headers, clients that leave mid-stream."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import llmledger
from llmledger import Ledger, UsageEvent
from llmledger.capture.middleware import UsageMiddleware
from llmledger.estimate import estimate_messages_tokens, estimate_tokens
from tests.capture import wire
from tests.capture.asgi_app import AppServer, Gates, build_app
from tests.capture.conftest import only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply, Request
from tests.capture.test_anthropic_sdk import EXPECTED as ANTHROPIC_EXPECTED
from tests.capture.test_anthropic_sdk import messages_route
from tests.capture.test_openai_sdk import MESSAGES, PIECES, chat_route

CHAT_EXPECTED = {
    "input": 27,
    "cache_read": 98,
    "cache_write": 0,
    "cache_write_1h": 0,
    "output": 48,
    "reasoning": 16,
}


@pytest.fixture(scope="module")
def gates() -> Gates:
    return Gates()


@pytest.fixture(scope="module")
def app_server(_server: FakeUpstream, gates: Gates) -> Iterator[AppServer]:
    server = AppServer(build_app(_server.url, gates)).start()
    yield server
    server.stop()


@pytest.fixture
def metered(ledger: Ledger, upstream: FakeUpstream, app_server: AppServer) -> Ledger:
    """The middleware records into the default ledger: this test's."""
    llmledger.set_default_ledger(ledger)
    return ledger


def connect(server: AppServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)


def post(
    server: AppServer, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, str, bytes]:
    conn = connect(server)
    conn.request(
        "POST", path, json.dumps(body), {"content-type": "application/json", **(headers or {})}
    )
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheader("content-type") or "", data


def sse_events(response: http.client.HTTPResponse) -> Iterator[str]:
    """``data`` of each SSE event as it arrives (read line by line from the chunked body)."""
    data: list[str] = []
    while line := response.readline():
        text = line.decode().rstrip("\r\n")
        if text.startswith("data:"):
            data.append(text[5:].strip())
        elif not text and data:
            yield "\n".join(data)
            data = []


def open_stream(
    server: AppServer, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = connect(server)
    conn.request(
        "POST", path, json.dumps(body), {"content-type": "application/json", **(headers or {})}
    )
    response = conn.getresponse()
    assert response.status == 200
    assert (response.getheader("content-type") or "").startswith("text/event-stream")
    return conn, response


def wait_for_events(ledger: Ledger, count: int) -> list[UsageEvent]:
    """The server records after the client is gone: wait (bounded) until it has."""
    for _ in range(200):
        events = recorded(ledger)
        if len(events) >= count:
            return events
        time.sleep(0.05)
    return recorded(ledger)


def test_json_response_usage_is_recorded_with_state_attribution(
    metered: Ledger, upstream: FakeUpstream, app_server: AppServer
) -> None:
    upstream.route("/chat/completions", chat_route())
    status, content_type, data = post(
        app_server,
        "/api/chat",
        {"model": "gpt-4o", "messages": MESSAGES},
        {"authorization": "Bearer 7", "x-user-id": "header-user", "x-session": "sess-1"},
    )

    assert status == 200 and content_type == "application/json"
    reply = json.loads(data)
    event = only(metered)
    assert event.id == f"call:{reply['id']}"
    assert (event.source, event.model) == ("middleware", "gpt-4o")
    assert tokens(event) == CHAT_EXPECTED and not event.estimated
    # request.state (set by the app's auth) wins over the client's header.
    assert (event.user_id, event.session_id, event.project) == ("user-7", "sess-1", "asgi-app")
    assert event.tags == ("authenticated",)
    assert event.details is not None and event.details["api"] == "chat"
    assert event.latency_ms is not None and event.latency_ms > 0


def test_header_attribution_when_the_app_sets_no_state(
    metered: Ledger, upstream: FakeUpstream, app_server: AppServer
) -> None:
    upstream.route("/chat/completions", chat_route())
    post(app_server, "/api/chat", {"model": "gpt-4o", "messages": MESSAGES}, {"x-user-id": "h1"})
    assert only(metered).user_id == "h1"


def test_sse_response_usage_is_recorded_and_passed_through_unchanged(
    metered: Ledger, upstream: FakeUpstream, app_server: AppServer
) -> None:
    upstream.route("/chat/completions", chat_route())
    body = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    conn, response = open_stream(app_server, "/api/chat", body, {"authorization": "Bearer 9"})
    events = list(sse_events(response))
    conn.close()

    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert (
        "".join((c["choices"] or [{}])[0].get("delta", {}).get("content") or "" for c in chunks)
        == "Hello there!"
    )
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 125
    event = only(metered)
    assert tokens(event) == CHAT_EXPECTED and not event.estimated
    assert event.user_id == "user-9" and event.id == f"call:{chunks[0]['id']}"
    assert event.details is not None and event.details["stream_end"] == "complete"


def test_anthropic_sse_relayed_byte_for_byte(
    metered: Ledger, upstream: FakeUpstream, app_server: AppServer
) -> None:
    upstream.route("/v1/messages", messages_route())
    body = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": MESSAGES, "stream": True}
    conn, response = open_stream(app_server, "/api/messages", body, {"x-user-id": "u-claude"})
    kinds = [json.loads(e)["type"] for e in sse_events(response)]
    conn.close()

    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    event = only(metered)
    assert tokens(event) == ANTHROPIC_EXPECTED and event.user_id == "u-claude"
    assert event.details is not None and event.details["api"] == "messages"


def test_sse_is_never_buffered(
    metered: Ledger, upstream: FakeUpstream, app_server: AppServer, gates: Gates
) -> None:
    upstream.route("/chat/completions", chat_route())
    gates.opened.clear()
    body = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    conn, response = open_stream(app_server, "/api/gated", body)
    stream = sse_events(response)

    first = json.loads(next(stream))  # arrives while the app waits for the gate
    gates.opened.set()
    rest = [json.loads(e) for e in stream]
    conn.close()

    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert all("error" not in e for e in rest)
    assert only(metered).total_tokens == 173


def test_client_leaving_mid_stream_is_recorded_once_estimated(
    metered: Ledger, upstream: FakeUpstream, app_server: AppServer
) -> None:
    def slow(request: Request) -> Reply:
        frames = wire.chat_chunks(
            request.model or "?", PIECES * 50, wire.OPENAI_CHAT_USAGE, include_usage=True
        )
        return Reply(frames=frames, delay=0.01)

    upstream.route("/chat/completions", slow)
    body = {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    conn, response = open_stream(app_server, "/api/chat", body, {"x-user-id": "leaver"})
    stream = sse_events(response)
    received = [
        json.loads(next(stream))["choices"][0]["delta"].get("content") or "" for _ in range(3)
    ]
    conn.close()  # the client leaves mid-stream

    events = wait_for_events(metered, 1)
    assert len(events) == 1
    event = events[0]
    assert received == ["", "Hel", "lo"]
    assert event.estimated and event.user_id == "leaver"
    assert event.details is not None and event.details["stream_end"] == "closed"
    assert event.input_tokens == estimate_messages_tokens(MESSAGES)
    # The middleware saw at least what the client read, never more than the whole answer.
    assert estimate_tokens("Hello") <= event.output_tokens <= estimate_tokens("Hello there!" * 50)


def test_unmetered_paths_plain_json_and_failures_record_nothing(
    metered: Ledger, upstream: FakeUpstream, app_server: AppServer
) -> None:
    upstream.route("/chat/completions", chat_route())
    assert post(app_server, "/outside/chat", {"model": "gpt-4o", "messages": MESSAGES})[0] == 200
    assert post(app_server, "/api/plain", {})[0] == 200
    assert post(app_server, "/api/fail", {})[0] == 500
    conn = connect(app_server)
    conn.request("GET", "/health")
    assert conn.getresponse().read() == b"ok"
    conn.close()
    assert recorded(metered) == []


def test_instrumented_client_inside_a_metered_app_is_recorded_once(
    ledger: Ledger, upstream: FakeUpstream, openai_client: openai.OpenAI
) -> None:
    """The SDK and the middleware see the same provider response id: one ledger row."""
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        payload = completion.model_dump_json().encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    server = AppServer(UsageMiddleware(app, ledger)).start()
    try:
        status, _, _ = post(server, "/anything", {"model": "gpt-4o", "messages": MESSAGES})
    finally:
        server.stop()
    assert status == 200
    event = only(ledger)
    assert event.source in ("sdk", "middleware") and tokens(event) == CHAT_EXPECTED


def test_bad_configuration_is_refused() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(TypeError, match="unknown attribution"):
        UsageMiddleware(app, headers={"x-who": "who"})
    with pytest.raises(TypeError, match="unknown attribution"):
        UsageMiddleware(app, user="u1")
