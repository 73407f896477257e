"""What transport-level capture gets right that hooks into SDK internals got wrong on some
releases (run here against whichever openai / anthropic is installed; CI runs the floor and the
newest releases): every request the SDK sends is metered, whatever path, helper or stream class
a release uses."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

import llmledger
from llmledger import Ledger, PriceBook
from tests.capture import wire
from tests.capture.conftest import needs, only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply, Request
from tests.capture.test_anthropic_sdk import EXPECTED as ANTHROPIC_EXPECTED
from tests.capture.test_anthropic_sdk import MODEL, messages_route
from tests.capture.test_openai_sdk import MESSAGES, PIECES

CUT = r"incomplete|peer|onnection"  # how httpx and the SDKs word a body cut short
RESPONSES_EXPECTED = {
    "input": 27,
    "cache_read": 98,
    "cache_write": 0,
    "cache_write_1h": 0,
    "output": 48,
    "reasoning": 20,
}


@contextmanager
def no_garbage_collection() -> Iterator[None]:
    """Nothing recorded in here was recorded by a finalizer."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- anthropic: beta.messages posted with ?beta=true (anthropic 0.40 ... 1.17) ------------------


def test_messages_posted_with_a_query_are_metered(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(anthropic_client, ledger=ledger)
    # What beta.messages.create sends on the releases that post to /v1/messages?beta=true.
    client.messages.create(
        model=MODEL, max_tokens=16, messages=MESSAGES, extra_query={"beta": "true"}
    )
    client.beta.messages.create(model=MODEL, max_tokens=16, messages=MESSAGES)
    assert upstream.requests[0].path.endswith("/v1/messages?beta=true")
    events = recorded(ledger)
    assert [tokens(e) for e in events] == [ANTHROPIC_EXPECTED] * 2


def test_beta_stream_helper_is_metered(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(anthropic_client, ledger=ledger)
    needs(client.beta.messages, "stream")
    with client.beta.messages.stream(model=MODEL, max_tokens=16, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello there!"
    event = only(ledger)
    assert tokens(event) == ANTHROPIC_EXPECTED and event.details is not None
    assert event.details["stream_end"] == "complete"


# -- anthropic <= 0.40: messages.stream() builds a new stream from the raw response ------------


def test_a_stream_read_from_the_raw_response_is_metered(
    upstream: FakeUpstream, anthropic_client: anthropic.Anthropic, ledger: Ledger
) -> None:
    """However the body is turned into events (the SDK's stream class, a helper building its
    own from the raw response, the app's own line reader), the bytes pass the transport."""
    upstream.route("/v1/messages", messages_route())
    client = llmledger.instrument(anthropic_client, ledger=ledger, user_id="raw")

    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=16, messages=MESSAGES, stream=True
    )
    kinds = [event.type for event in raw.parse()]  # a Stream made from the raw response
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=16, messages=MESSAGES, stream=True
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len([line for line in lines if '"ping"' not in line]) == len(kinds)  # SDKs skip pings

    events = recorded(ledger)
    assert [tokens(e) for e in events] == [ANTHROPIC_EXPECTED] * 2
    assert all(not e.estimated and e.user_id == "raw" for e in events)
    assert [e.details["stream_end"] for e in events if e.details] == ["complete"] * 2


# -- openai 1.x: a cut stream was recorded only when collected, as abandoned and successful --


def test_a_cut_stream_is_recorded_when_it_is_cut_even_if_the_ledger_closes_next(
    upstream: FakeUpstream, tmp_path: Path, prices: PriceBook
) -> None:
    upstream.route(
        "/chat/completions",
        lambda r: Reply(
            frames=wire.chat_chunks(r.model or "?", PIECES, None, include_usage=False),
            cut_after=3,
        ),
    )
    ledger = Ledger(tmp_path / "cut.db", prices=prices)
    client = llmledger.instrument(
        openai.OpenAI(api_key="sk", base_url=upstream.url + "/v1", max_retries=0), ledger
    )
    with no_garbage_collection():
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        with pytest.raises(Exception, match=CUT):
            for _ in stream:
                pass
        ledger.close()  # still holding the stream: nothing but the cut can have recorded it
        del stream
    reopened = Ledger(tmp_path / "cut.db", prices=prices)
    try:
        event = only(reopened)
    finally:
        reopened.close()
    assert (event.success, event.status) == (False, "RemoteProtocolError")
    assert event.details is not None and event.details["stream_end"] == "error"
    assert event.estimated and event.output_tokens == 1  # "Hel" was received


def test_an_async_cut_stream_is_recorded_when_it_is_cut(
    upstream: FakeUpstream, async_openai_client: openai.AsyncOpenAI, ledger: Ledger
) -> None:
    upstream.route(
        "/chat/completions",
        lambda r: Reply(
            frames=wire.chat_chunks(r.model or "?", PIECES, None, include_usage=False),
            cut_after=3,
        ),
    )
    client = llmledger.instrument(async_openai_client, ledger=ledger)

    async def main() -> list[Any]:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        with pytest.raises(Exception, match=CUT):
            async for _ in stream:
                pass
        assert ledger.flush(10)
        found = list(ledger.events())  # before the stream is dropped
        await client.close()
        return found

    with no_garbage_collection():
        events = asyncio.run(main())
    assert len(events) == 1 and not events[0].success
    assert events[0].details is not None and events[0].details["stream_end"] == "error"


# -- responses.compact() reports usage ------------------------------------------------------------


def test_responses_compact_is_metered(
    upstream: FakeUpstream, openai_client: openai.OpenAI, ledger: Ledger
) -> None:
    upstream.route(
        "/responses/compact",
        lambda r: Reply(json=wire.compaction_json(r.model or "?", wire.RESPONSES_USAGE)),
    )
    client = llmledger.instrument(openai_client, ledger=ledger, provider="openai")
    if not hasattr(getattr(client, "responses", None), "compact"):  # an older release
        body = client.post(
            "/responses/compact",
            body={"model": "gpt-5", "input": "Say hello"},
            cast_to=object,
        )
        response_id = body["id"]  # type: ignore[index]
    else:
        response_id = client.responses.compact(model="gpt-5", input="Say hello").id
    event = only(ledger)
    assert event.id == f"call:{response_id}" and event.details == {"api": "responses"}
    assert tokens(event) == RESPONSES_EXPECTED and not event.estimated


# -- retries: every attempt the SDK makes is one HTTP exchange -----------------------------------


def test_a_retried_call_records_the_failed_attempt_and_the_answer(
    upstream: FakeUpstream, ledger: Ledger
) -> None:
    attempts: list[str] = []

    def respond(request: Request) -> Reply:
        attempts.append(request.headers.get("x-stainless-retry-count", "?"))
        if len(attempts) == 1:
            return Reply(
                json=wire.error_json("slow down"), status=429, headers={"retry-after-ms": "1"}
            )
        return Reply(json=wire.chat_completion(request.model or "?", "hi", wire.KIMI_USAGE))

    upstream.route("/chat/completions", respond)
    client = llmledger.instrument(
        openai.OpenAI(api_key="sk", base_url=upstream.url + "/v1", max_retries=1), ledger
    )
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    events = recorded(ledger)
    assert [(e.success, e.status, e.total_tokens) for e in events] == [
        (False, "429", 0),
        (True, "ok", 89),
    ]
    assert attempts == ["0", "1"]
