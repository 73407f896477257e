"""Watching a stream leaves nothing for the garbage collector: a stream read to the end or
closed is freed by reference counting, as a plain client's is (a reference cycle would keep
every finished stream, its response and its request alive until a collection)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import openai
import pytest

import llmledger
from llmledger import Ledger
from llmledger.capture.record import StreamRecorder
from tests.capture import wire
from tests.capture.conftest import recorded
from tests.capture.fake_upstream import FakeUpstream, Reply, Request
from tests.capture.http_libs import SDK_HTTP

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def chat(upstream: FakeUpstream) -> None:
    def respond(request: Request) -> Reply:
        frames = wire.chat_chunks(
            request.model or "?",
            ["Hel", "lo"],
            wire.OPENAI_CHAT_USAGE,
            include_usage=request.include_usage,
        )
        return Reply(frames=frames)

    upstream.route("/chat/completions", respond)


WATCHED = (openai.Stream, openai.AsyncStream, SDK_HTTP.Response, StreamRecorder)


def watched_garbage() -> list[str]:
    """The streams, responses and recorders a collection would free now (other threads, such
    as the ledger's writer, may leave garbage of their own: not counted)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = [type(o).__name__ for o in gc.garbage if isinstance(o, WATCHED)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


@contextmanager
def collector_off() -> Iterator[Callable[[], list[str]]]:
    """Turns the collector off; yields ``watched_garbage``."""
    gc.collect()
    gc.disable()
    try:
        yield watched_garbage
    finally:
        gc.enable()


@pytest.mark.usefixtures("chat")
def test_sync_streams_leave_no_cycles(openai_client: openai.OpenAI, ledger: Ledger) -> None:
    client = llmledger.instrument(openai_client, ledger=ledger)
    for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
        pass  # warm up: the first call creates long-lived SDK state
    with collector_off() as garbage:
        for _ in range(3):
            for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
                pass
        with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as s:
            next(iter(s))
        del s
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True).close()
        assert garbage() == []

    ends = sorted(e.details["stream_end"] for e in recorded(ledger) if e.details)
    assert ends == ["closed", "closed"] + ["complete"] * 4


@pytest.mark.usefixtures("chat")
def test_async_streams_leave_no_cycles(
    async_openai_client: openai.AsyncOpenAI, ledger: Ledger
) -> None:
    client = llmledger.instrument(async_openai_client, ledger=ledger)

    async def main() -> list[str]:
        for _ in range(3):  # warm up: first calls create long-lived SDK and asyncio state
            async for _ in await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            ):
                pass
        gc.collect()
        gc.disable()
        try:
            for _ in range(3):
                async for _ in await client.chat.completions.create(
                    model="gpt-4o", messages=MESSAGES, stream=True
                ):
                    pass
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            )
            await stream.close()
            del stream
            return watched_garbage()
        finally:
            gc.enable()
            await client.close()

    assert asyncio.run(main()) == []
    ends = sorted(e.details["stream_end"] for e in recorded(ledger) if e.details)
    assert ends == ["closed"] + ["complete"] * 6
