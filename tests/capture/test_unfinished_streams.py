"""Streams that never finish: cut by the network, closed early, abandoned, or never read. Each is
recorded exactly once: with the provider's counts if they came, else estimated offline from the
request and the text received, flagged ``estimated``."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import openai
import pytest

import llmledger
from llmledger import Ledger
from llmledger.estimate import estimate_messages_tokens, estimate_tokens
from tests.capture import wire
from tests.capture.conftest import needs, only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply, Request
from tests.capture.http_libs import SDK_HTTP

MESSAGES = [{"role": "user", "content": "Say hello"}]
PIECES = ["Hel", "lo", " there", "!"]
PROMPT_ESTIMATE = estimate_messages_tokens(MESSAGES)
# What the app sees of a body cut short: newer SDKs wrap the HTTP library's error, older ones
# let it through. The event names the cut itself, whichever the release.
CUT = (openai.APIConnectionError, SDK_HTTP.RemoteProtocolError)


def stream_route(**reply_kw: Any) -> Any:
    def respond(request: Request) -> Reply:
        frames = wire.chat_chunks(
            request.model or "?",
            PIECES,
            wire.OPENAI_CHAT_USAGE,
            include_usage=request.include_usage,
        )
        return Reply(frames=frames, **reply_kw)

    return respond


def estimated_event(ledger: Ledger, text_received: str, end: str) -> Any:
    event = only(ledger)
    assert event.estimated is True, event
    assert event.details is not None and event.details["stream_end"] == end
    assert event.details["estimator"] == "o200k_base"
    assert event.input_tokens == PROMPT_ESTIMATE == 9
    assert event.output_tokens == estimate_tokens(text_received)
    assert event.cache_read_tokens == 0 and event.reasoning_tokens == 0
    return event


def test_stream_cut_before_the_usage_chunk_is_estimated(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    # Frames: role, 4 pieces, finish, usage, [DONE]; the connection drops before the usage.
    upstream.route("/chat/completions", stream_route(cut_after=6))
    client = llmledger.instrument(openai_client, ledger=ledger, user_id="u1")

    received: list[str] = []
    with pytest.raises(CUT):
        for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "Hello there!"
    event = estimated_event(ledger, "Hello there!", "error")
    assert event.output_tokens == 3  # "Hello", " there", "!"
    assert not event.success and event.status == "RemoteProtocolError"
    assert event.user_id == "u1" and event.model == "gpt-4o"


def test_stream_cut_after_the_usage_chunk_keeps_the_provider_counts(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", stream_route(cut_after=7))  # [DONE] never comes
    client = llmledger.instrument(openai_client, ledger=ledger)

    with pytest.raises(CUT):
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass

    event = only(ledger)
    assert not event.estimated and tokens(event)["output"] == 48 and event.total_tokens == 173


def test_stream_closed_early_is_estimated_from_what_was_read(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", stream_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    received = [next(iter(stream)).choices[0].delta.content for _ in range(3)]
    stream.close()
    stream.close()  # closing twice records nothing more
    del stream
    gc.collect()

    assert received == ["", "Hel", "lo"]
    estimated_event(ledger, "Hello", "closed")


def test_break_inside_with_block_is_closed(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", stream_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as s:
        for chunk in s:
            if chunk.choices[0].delta.content == "Hel":
                break
    estimated_event(ledger, "Hel", "closed")


def test_abandoned_stream_is_recorded_when_collected(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", stream_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    iterator = iter(stream)
    next(iterator)
    next(iterator)  # "Hel"
    assert recorded(ledger) == []  # still open: nothing yet
    del stream, iterator
    gc.collect()

    estimated_event(ledger, "Hel", "abandoned")


def test_stream_never_read_counts_its_prompt(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", stream_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True).close()

    event = estimated_event(ledger, "", "closed")
    assert event.output_tokens == 0


def test_a_finished_stream_is_recorded_once_however_it_is_ended_after(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", stream_route())
    client = llmledger.instrument(openai_client, ledger=ledger)

    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    with stream:
        list(stream)
    stream.close()
    del stream
    gc.collect()

    event = only(ledger)
    assert not event.estimated and event.total_tokens == 173


def test_responses_stream_cut_before_the_terminal_event(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    def respond(request: Request) -> Reply:
        frames = wire.response_events(request.model or "?", PIECES, wire.RESPONSES_USAGE)
        return Reply(frames=frames, cut_after=len(frames) - 1)

    upstream.route("/responses", respond)
    client = llmledger.instrument(openai_client, ledger=ledger)
    needs(client, "responses")

    with pytest.raises(CUT):
        for _ in client.responses.create(model="gpt-5", input="Say hello", stream=True):
            pass

    event = only(ledger)
    assert event.estimated and not event.success
    assert event.input_tokens == estimate_tokens("Say hello") == 2
    assert event.output_tokens == estimate_tokens("Hello there!")


def test_async_stream_closed_early_and_abandoned(
    upstream: FakeUpstream, async_openai_client: openai.AsyncOpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", stream_route())
    client = llmledger.instrument(async_openai_client, ledger=ledger)

    async def main() -> None:
        with llmledger.attribute(session_id="closed"):
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            )
            async for chunk in stream:
                if chunk.choices[0].delta.content == "lo":
                    break
            await stream.close()
        with llmledger.attribute(session_id="abandoned"):
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            )
            iterator = stream.__aiter__()
            await iterator.__anext__()
            await iterator.__anext__()  # "Hel"
            del stream, iterator
            gc.collect()
        await client.close()

    asyncio.run(main())
    gc.collect()
    events = {e.session_id: e for e in recorded(ledger)}
    assert set(events) == {"closed", "abandoned"}
    closed, abandoned = events["closed"], events["abandoned"]
    assert closed.estimated and closed.details is not None
    assert closed.details["stream_end"] == "closed"
    assert closed.output_tokens == estimate_tokens("Hello")
    assert abandoned.estimated and abandoned.details is not None
    assert abandoned.details["stream_end"] == "abandoned"
    assert abandoned.output_tokens == estimate_tokens("Hel")
    assert closed.input_tokens == abandoned.input_tokens == PROMPT_ESTIMATE


def test_stream_ending_without_done_is_complete(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    def respond(request: Request) -> Reply:
        frames = wire.chat_chunks(
            request.model or "?", PIECES, wire.OPENAI_CHAT_USAGE, include_usage=True
        )
        return Reply(frames=[f for f in frames if f[1] != "[DONE]"])

    upstream.route("/chat/completions", respond)
    client = llmledger.instrument(openai_client, ledger=ledger)

    for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
        pass

    event = only(ledger)
    assert event.details is not None and event.details["stream_end"] == "complete"
    assert event.success and not event.estimated and event.total_tokens == 173


def test_error_event_raised_by_the_sdk_is_an_error(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    def respond(request: Request) -> Reply:
        frames = wire.chat_chunks(
            request.model or "?", PIECES, wire.OPENAI_CHAT_USAGE, include_usage=True
        )
        error = wire.frame({"error": {"message": "overloaded", "type": "server_error"}})
        return Reply(frames=[*frames[:3], error])

    upstream.route("/chat/completions", respond)
    client = llmledger.instrument(openai_client, ledger=ledger)

    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass

    event = estimated_event(ledger, "Hello", "error")
    assert not event.success and event.status == "server_error"  # the error event's type
