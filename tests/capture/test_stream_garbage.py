"""Watching a stream leaves nothing for the garbage collector that a plain client would not: a
stream read to the end or closed is freed by reference counting, as a plain client's is (a
reference cycle of capture's own would keep every finished stream, its response and its
request alive until a collection). Older SDK releases make a cycle of their own (a stream and
its generator); the streams they leave are the same with capture or without."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
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
SDK_OBJECTS = (openai.Stream, openai.AsyncStream, SDK_HTTP.Response)


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


@contextmanager
def collector_off() -> Iterator[Callable[[], Counter[str]]]:
    """Turns the collector off; yields what a collection would free now of the SDK's objects
    and capture's recorders (other threads, such as the ledger's writer, may leave garbage of
    their own: not counted)."""

    def garbage() -> Counter[str]:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            watched = (*SDK_OBJECTS, StreamRecorder)
            return Counter(type(o).__name__ for o in gc.garbage if isinstance(o, watched))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()

    gc.collect()
    gc.disable()
    try:
        yield garbage
    finally:
        gc.enable()


def same_garbage_as_plain(plain: Counter[str], metered: Counter[str]) -> None:
    """Capture adds no garbage: none at all where the SDK's streams leave none, else no more
    SDK objects than a plain client's (how many an older release leaves varies by timing)."""
    recorders = metered.pop("StreamRecorder", 0)
    assert metered <= plain
    if not plain:
        assert recorders == 0


def sync_streams(client: openai.OpenAI) -> None:
    for _ in range(3):
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass
    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as s:
        next(iter(s))
    del s
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True).close()


@pytest.mark.usefixtures("chat")
def test_sync_streams_leave_no_cycles(
    openai_client: openai.OpenAI, upstream: FakeUpstream, ledger: Ledger
) -> None:
    plain_client = openai.OpenAI(api_key="sk", base_url=upstream.url + "/v1", max_retries=0)
    client = llmledger.instrument(openai_client, ledger=ledger)
    found = []
    for each in (plain_client, client):
        for _ in each.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass  # warm up: the first call creates long-lived SDK state
        with collector_off() as garbage:
            sync_streams(each)
            found.append(garbage())
    same_garbage_as_plain(*found)

    ends = sorted(e.details["stream_end"] for e in recorded(ledger) if e.details)
    assert ends == ["closed", "closed"] + ["complete"] * 4


async def async_streams(client: openai.AsyncOpenAI) -> None:
    for _ in range(3):
        async for _ in await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        ):
            pass
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    await stream.close()


@pytest.mark.usefixtures("chat")
def test_async_streams_leave_no_cycles(upstream: FakeUpstream, ledger: Ledger) -> None:
    async def main() -> list[Counter[str]]:
        found = []
        for metered in (False, True):
            client = openai.AsyncOpenAI(api_key="sk", base_url=upstream.url + "/v1", max_retries=0)
            if metered:
                llmledger.instrument(client, ledger=ledger)
            await async_streams(client)  # warm up: long-lived SDK and asyncio state
            with collector_off() as garbage:
                await async_streams(client)
                found.append(garbage())
            await client.close()
        return found

    same_garbage_as_plain(*asyncio.run(main()))
    ends = sorted(e.details["stream_end"] for e in recorded(ledger) if e.details)
    assert ends == ["closed"] * 2 + ["complete"] * 6
