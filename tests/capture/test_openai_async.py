"""The real ``openai`` SDK's async client against the fake upstream: chat, streams, the
streaming helpers, responses and embeddings each recorded with the server's counts."""

from __future__ import annotations

import asyncio

import openai
import pytest

import llmledger
from llmledger import Ledger
from tests.capture import wire
from tests.capture.conftest import needs, only, recorded, tokens
from tests.capture.fake_upstream import FakeUpstream, Reply, Request
from tests.capture.test_openai_sdk import MESSAGES, PIECES, chat_route

CHAT_EXPECTED = {
    "input": 27,
    "cache_read": 98,
    "cache_write": 0,
    "cache_write_1h": 0,
    "output": 48,
    "reasoning": 16,
}


def test_async_chat_create_stream_and_helper(
    upstream: FakeUpstream, async_openai_client: openai.AsyncOpenAI, ledger: Ledger
) -> None:
    upstream.route("/chat/completions", chat_route())
    client = llmledger.instrument(async_openai_client, ledger=ledger, project="p1")
    assert type(client) is openai.AsyncOpenAI
    needs(client.chat.completions, "stream")

    async def main() -> list[str]:
        texts = []
        async with client:
            with llmledger.attribute(session_id="create"):
                reply = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                texts.append(reply.choices[0].message.content or "")
            with llmledger.attribute(session_id="stream"):
                stream = await client.chat.completions.create(
                    model="gpt-4o", messages=MESSAGES, stream=True
                )
                assert type(stream) is openai.AsyncStream
                texts.append("".join([c.choices[0].delta.content or "" async for c in stream]))
            with llmledger.attribute(session_id="helper"):
                async with client.chat.completions.stream(
                    model="gpt-4o", messages=MESSAGES
                ) as helper:
                    async for _ in helper:
                        pass
                    final = await helper.get_final_completion()
                texts.append(final.choices[0].message.content or "")
        return texts

    assert asyncio.run(main()) == ["Hello there!"] * 3
    events = recorded(ledger)
    assert sorted(e.session_id or "" for e in events) == ["create", "helper", "stream"]
    for event in events:
        assert tokens(event) == CHAT_EXPECTED and event.project == "p1"
        assert not event.estimated and event.success
    # Both streams asked for the usage chunk; the app saw none of it.
    assert [r.include_usage for r in upstream.requests] == [False, True, True]


def test_async_responses_embeddings_and_failure(
    upstream: FakeUpstream, async_openai_client: openai.AsyncOpenAI, ledger: Ledger
) -> None:
    def responses(request: Request) -> Reply:
        model = request.model or "?"
        if request.body.get("stream"):
            return Reply(frames=wire.response_events(model, PIECES, wire.RESPONSES_USAGE))
        return Reply(json=wire.response_json(model, "Hello there!", wire.RESPONSES_USAGE))

    upstream.route("/responses", responses)
    upstream.route("/embeddings", lambda r: Reply(json=wire.embeddings_json("e", 1, tokens=9)))
    upstream.route("/chat/completions", Reply(json=wire.error_json("boom"), status=500))
    client = llmledger.instrument(async_openai_client, ledger=ledger)
    needs(client, "responses", "stream")

    async def main() -> None:
        async with client:
            await client.responses.create(model="gpt-5", input="hi")
            stream = await client.responses.create(model="gpt-5", input="hi", stream=True)
            async for _ in stream:
                pass
            async with client.responses.stream(model="gpt-5", input="hi") as helper:
                await helper.until_done()
            await client.embeddings.create(model="text-embedding-3-small", input="hi")
            with pytest.raises(openai.InternalServerError):
                await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    asyncio.run(main())
    events = recorded(ledger)
    apis = sorted((e.details or {}).get("api", "") for e in events)
    assert apis == ["chat", "embeddings", "responses", "responses", "responses"]
    for event in events:
        api = (event.details or {})["api"]
        if api == "responses":
            assert event.total_tokens == 173 and event.reasoning_tokens == 20
        elif api == "embeddings":
            assert (event.input_tokens, event.output_tokens) == (9, 0)
        else:
            assert not event.success and event.status == "500" and event.total_tokens == 0


def test_async_failure_never_changes_the_exception(
    async_openai_client: openai.AsyncOpenAI, ledger: Ledger, upstream: FakeUpstream
) -> None:
    upstream.route("/chat/completions", Reply(json=wire.error_json("nope", "invalid"), status=400))
    client = llmledger.instrument(async_openai_client, ledger=ledger)

    async def main() -> BaseException:
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        await client.close()
        return info.value

    exc = asyncio.run(main())
    assert "nope" in str(exc)
    assert only(ledger).status == "400"
