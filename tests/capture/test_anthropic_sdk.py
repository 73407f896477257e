"""The real ``anthropic`` SDK (sync and async) against the fake upstream: fresh input, cache
reads and 5-minute / 1-hour writes exactly as the server reported them; stream usage is
cumulative (overwritten, never summed)."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import pytest

import llmledger
from llmledger import Ledger
from tests.capture import wire
from tests.capture.conftest import only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply, Request

MESSAGES = [{"role": "user", "content": "Say hello"}]
PIECES = ["Hel", "lo", " there", "!"]
MODEL = "claude-sonnet-4-6"

EXPECTED = {
    "input": 3,
    "cache_read": 2048,
    "cache_write": 12000,
    "cache_write_1h": 304,
    "output": 550,
    "reasoning": 0,
}


def messages_route(usage: dict[str, Any] = wire.ANTHROPIC_USAGE, **reply_kw: Any) -> Any:
    def respond(request: Request) -> Reply:
        model = request.model or "?"
        if request.body.get("stream"):
            return Reply(frames=wire.anthropic_events(model, PIECES, usage), **reply_kw)
        return Reply(json=wire.anthropic_message(model, "Hello there!", usage))

    return respond


def test_create_records_fresh_input_cache_reads_and_both_write_ttls(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(anthropic_client, ledger=ledger, org_id="acme")
    assert client is anthropic_client

    with llmledger.attribute(user_id="u1", request_type="summary"):
        message = client.messages.create(model=MODEL, max_tokens=1024, messages=MESSAGES)

    assert message.content[0].type == "text" and message.content[0].text == "Hello there!"
    event = only(ledger)
    assert event.id == f"call:{message.id}"
    assert (event.source, event.provider, event.model) == ("sdk", "anthropic", MODEL)
    assert tokens(event) == EXPECTED
    assert (event.user_id, event.org_id, event.request_type) == ("u1", "acme", "summary")
    assert event.success and not event.estimated and event.cost_status == "computed"
    assert event.details is not None and event.details["api"] == "messages"
    assert event.details["service_tier"] == "standard"


def test_stream_true_overwrites_cumulative_usage(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(anthropic_client, ledger=ledger)

    stream = client.messages.create(model=MODEL, max_tokens=1024, messages=MESSAGES, stream=True)
    kinds = [event.type for event in stream]

    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    event = only(ledger)
    # message_start said output 1 and the delta repeated the input side: summing would give
    # 551 output and twice the cache tokens.
    assert tokens(event) == EXPECTED
    assert event.details is not None and event.details["stream_end"] == "complete"
    assert "stream_options" not in upstream.requests[-1].body


def test_messages_stream_helper(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(anthropic_client, ledger=ledger, user_id="u2")

    with client.messages.stream(model=MODEL, max_tokens=1024, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == "Hello there!" and final.usage.output_tokens == 550
    event = only(ledger)
    assert tokens(event) == EXPECTED and event.user_id == "u2"
    assert event.id == f"call:{final.id}"


def test_stream_cut_after_message_start_keeps_the_reported_input_side(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route(cut_after=5))  # start, block, ping, 2 deltas
    client = llmledger.instrument(anthropic_client, ledger=ledger)

    seen: list[str] = []
    # The SDK lets the transport's error through (httpx's RemoteProtocolError).
    with pytest.raises(Exception, match="incomplete chunked read"):
        for event in client.messages.create(
            model=MODEL, max_tokens=1024, messages=MESSAGES, stream=True
        ):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                seen.append(event.delta.text)

    assert seen == ["Hel", "lo"]
    event = only(ledger)
    assert event.estimated and not event.success
    assert event.details is not None and event.details["stream_end"] == "error"
    # The input side came from message_start; the output is estimated from "Hello".
    assert (event.input_tokens, event.cache_read_tokens) == (3, 2048)
    assert (event.cache_write_tokens, event.cache_write_1h_tokens) == (12000, 304)
    assert event.output_tokens == 1  # "Hello" is one o200k token, as is the reported start


def test_failed_call_records_no_tokens(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route(
        "/v1/messages",
        Reply(
            json={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
            status=529,
        ),
    )
    client = llmledger.instrument(anthropic_client, ledger=ledger, user_id="u3")
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES)
    event = only(ledger)
    assert not event.success and event.status == "529" and event.total_tokens == 0
    assert event.model == MODEL and event.user_id == "u3"


def test_beta_messages_are_metered(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(anthropic_client, ledger=ledger)
    client.beta.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES)
    assert tokens(only(ledger)) == EXPECTED


def test_async_create_stream_and_helper(
    upstream: FakeUpstream, async_anthropic_client: anthropic.AsyncAnthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(async_anthropic_client, ledger=ledger)

    async def main() -> str:
        async with client:
            with llmledger.attribute(session_id="s-create"):
                await client.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES)
            with llmledger.attribute(session_id="s-stream"):
                stream = await client.messages.create(
                    model=MODEL, max_tokens=16, messages=MESSAGES, stream=True
                )
                async for _ in stream:
                    pass
            with llmledger.attribute(session_id="s-helper"):
                async with client.messages.stream(
                    model=MODEL, max_tokens=16, messages=MESSAGES
                ) as helper:
                    return "".join([text async for text in helper.text_stream])

    assert asyncio.run(main()) == "Hello there!"
    events = recorded(ledger)
    assert sorted(e.session_id or "" for e in events) == ["s-create", "s-helper", "s-stream"]
    for event in events:
        assert tokens(event) == EXPECTED and not event.estimated and event.success
