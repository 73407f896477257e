"""Capture's own SSE decoding of openai Chat streams (``capture.streams._EventReader``) against
the SDK's decoder it replaces: the same events after the same network chunk, the same errors,
and the same screening as the SDK's decoder followed by ``_filter_events``."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai._streaming import ServerSentEvent, SSEDecoder

from llmledger.capture.calls import make_spec
from llmledger.capture.context import EMPTY
from llmledger.capture.record import Sink, StreamRecorder
from llmledger.capture.streams import (
    _aread_events,
    _filter_events,
    _read_events,
    _ScreeningDecoder,
    _sdk_event_class,
)

# Pieces of SSE, well-formed or not: every field, comments, each line end (CR LF split across
# chunks included), multi-byte UTF-8 cut anywhere, invalid UTF-8, NUL, a BOM.
FRAGMENTS = [
    b"data:",
    b"data: ",
    b"data",
    b"event: ",
    b"event:",
    b"id: ",
    b"id:",
    b"retry: ",
    b"retry:",
    b":",
    b": ping",
    b"1",
    b"x",
    b" ",
    b"\x00",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"{}",
    "é".encode(),
    "日本".encode(),
    b"\xff",
    b"\xe6",
    b"\xef\xbb\xbf",
    b'"usage"',
    b"[DONE]",
]

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def recorder(hide: bool) -> StreamRecorder:
    spec = make_spec("chat", "openai", {"model": "m"}, True)
    spec.injected_usage_option = hide
    return StreamRecorder(Sink(None), spec, EMPTY)


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def logged(chunks: list[bytes], log: list[Any]) -> Iterator[bytes]:
    for i, chunk in enumerate(chunks):
        log.append(("chunk", i))
        yield chunk


async def alogged(chunks: list[bytes], log: list[Any]) -> AsyncIterator[bytes]:
    for i, chunk in enumerate(chunks):
        log.append(("chunk", i))
        yield chunk


def shown(sse: Any) -> tuple[Any, ...]:
    try:
        payload = sse.json()
    except ValueError:
        payload = "<not json>"
    return ("event", sse.event, sse.data, sse.id, sse.retry, payload)


def run(events: Iterator[Any], log: list[Any]) -> list[Any]:
    try:
        for sse in events:
            log.append(shown(sse))
    except Exception as exc:
        log.append(("error", type(exc).__name__, str(exc)))
    return log


async def arun(events: AsyncIterator[Any], log: list[Any]) -> list[Any]:
    try:
        async for sse in events:
            log.append(shown(sse))
    except Exception as exc:
        log.append(("error", type(exc).__name__, str(exc)))
    return log


def sdk_log(chunks: list[bytes]) -> list[Any]:
    log: list[Any] = []
    return run(SSEDecoder().iter_bytes(logged(chunks, log)), log)


def capture_log(chunks: list[bytes], rec: StreamRecorder) -> list[Any]:
    log: list[Any] = []
    return run(_read_events(logged(chunks, log), rec, ServerSentEvent), log)


@st.composite
def chunked(draw: st.DrawFn, pieces: st.SearchStrategy[bytes]) -> list[bytes]:
    body = b"".join(draw(st.lists(pieces, max_size=60)))
    cuts = draw(st.lists(st.integers(0, len(body)), max_size=12))
    return split(body, cuts)


@SETTINGS
@given(chunked(st.sampled_from(FRAGMENTS)))
def test_reader_decodes_exactly_like_the_sdk(chunks: list[bytes]) -> None:
    rec = recorder(hide=False)
    assert capture_log(chunks, rec) == sdk_log(chunks)


@SETTINGS
@given(chunked(st.sampled_from(FRAGMENTS)))
def test_async_reader_decodes_exactly_like_the_sdk(chunks: list[bytes]) -> None:
    async def both() -> tuple[list[Any], list[Any]]:
        log: list[Any] = []
        sdk = await arun(SSEDecoder().aiter_bytes(alogged(chunks, log)), log)
        mine: list[Any] = []
        events = _aread_events(alogged(chunks, mine), recorder(hide=False), ServerSentEvent)
        return await arun(events, mine), sdk

    mine, sdk = asyncio.run(both())
    assert mine == sdk


# Chat Completions data as providers send it, compact and spaced, for the screen.
DATA = [
    '{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}',
    '{"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": null}',
    '{"id":"c","choices":[{"index":0}],"usage":null,"obfuscation":"Zz"}',
    '{"id":"c","choices":[{"index":0}],"usage":null,"usage":null}',
    '{"id":"c","choices":[{"index":0,"usage":null}]}',
    '{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
    '{"id": "c", "choices": [], "usage": {"prompt_tokens": 3}}',
    '{"id":"c","choices":[],"usage":null}',
    '{"id":"c","choices":[{"index":0,"finish_reason":"stop"}]}',
    "[DONE]",
]


@st.composite
def chat_stream(draw: st.DrawFn) -> list[bytes]:
    end = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    parts = [b"data: " + d.encode() + end + end for d in draw(st.lists(st.sampled_from(DATA)))]
    body = b"".join(parts)
    cuts = draw(st.lists(st.integers(0, len(body)), max_size=8))
    return split(body, cuts)


@SETTINGS
@given(chat_stream(), st.booleans())
def test_reader_screens_like_the_sdk_decoder_and_the_filter(
    chunks: list[bytes], hide: bool
) -> None:
    old, new = recorder(hide), recorder(hide)
    old_log: list[Any] = []
    run(_filter_events(SSEDecoder().iter_bytes(logged(chunks, old_log)), old), old_log)
    assert capture_log(chunks, new) == old_log
    assert new.usage_chunk == old.usage_chunk
    assert new.raw == old.raw
    assert new.events_ended == old.events_ended
    assert (new.first_at is None) == (old.first_at is None)


def test_invalid_utf8_is_raised_after_the_events_before_it() -> None:
    chunks = [b"data: a\n\ndata: b\n\ndata: \xff\n\ndata: c\n\n"]
    rec = recorder(hide=False)
    log = capture_log(chunks, rec)
    assert [entry[0] for entry in log] == ["chunk", "event", "event", "error"]
    assert log[-1][1] == "UnicodeDecodeError"
    assert log == sdk_log(chunks)


def test_an_unterminated_last_line_is_decoded_like_the_sdk() -> None:
    for tail in (b"data: x", b"data: \xff"):
        chunks = [b"data: a\n\n", tail]
        assert capture_log(chunks, recorder(hide=False)) == sdk_log(chunks)


class OtherDecoder:
    """Not openai's SSEDecoder: its events are screened after it, never decoded by capture."""

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[Any]:
        for chunk in iterator:
            yield ServerSentEvent(data=json.dumps({"raw": chunk.decode()}))


def test_only_the_sdks_own_decoder_is_replaced() -> None:
    assert _sdk_event_class(SSEDecoder()) is ServerSentEvent
    assert _sdk_event_class(OtherDecoder()) is None
    rec = recorder(hide=True)
    events = list(_ScreeningDecoder(OtherDecoder(), rec).iter_bytes(iter([b"a\n", b"b"])))
    assert [sse.json() for sse in events] == [{"raw": "a\n"}, {"raw": "b"}]
    assert rec.events_ended is True


@pytest.mark.parametrize("hide", [True, False])
def test_usage_chunk_is_taken_and_hidden_only_when_capture_asked(hide: bool) -> None:
    usage = '{"id":"c","choices":[],"usage":{"prompt_tokens":3}}'
    body = f"data: {DATA[0]}\n\ndata: {usage}\n\ndata: [DONE]\n\n".encode()
    rec = recorder(hide)
    seen = [sse.data for sse in _read_events(iter([body]), rec, ServerSentEvent)]
    chunk = DATA[0].removesuffix(',"usage":null}') + "}" if hide else DATA[0]
    assert seen == ([chunk, "[DONE]"] if hide else [chunk, usage, "[DONE]"])
    assert rec.usage_chunk == json.loads(usage)
    assert (rec.raw[-1], rec.events_ended) == ("[DONE]", True)
