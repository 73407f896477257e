"""The one SSE parser (``usage.sse.SSEFrames`` splitting a body into raw events,
``event_fields`` reading one), fed bytes split anywhere: the events of the SSE rules read from
the whole body at once, and the raw events add up to the body byte for byte (a relay passes them
on unchanged)."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmledger.usage.sse import SSEFrames, event_fields
from llmledger.usage.streams import OpenAIChatStream

# Pieces of SSE, well-formed or not: every field, comments, each line end (CR LF split across
# chunks included), multi-byte UTF-8 cut anywhere, invalid UTF-8, NUL.
FRAGMENTS = [
    b"data:",
    b"data: ",
    b"data",
    b"event: ",
    b"event:",
    b"event",
    b"id: ",
    b"retry: 1",
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
    b'"usage"',
    b"[DONE]",
]
BOM = b"\xef\xbb\xbf"
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(body: bytes) -> list[tuple[bytes, bytes]]:
    """(event name, data) of every event with data, as the SSE rules read a whole body; a last
    event without its blank line is kept, as meters do at the end of a body."""
    events = []
    name, data = b"", []
    for line in [*re.split(rb"\r\n|\r|\n", body.removeprefix(BOM)), b""]:
        if not line:
            if data:
                events.append((name, b"\n".join(data)))
            name, data = b"", []
            continue
        field, _, value = line.partition(b":")
        value = value[1:] if value[:1] == b" " else value
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value
    return events


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def parse(chunks: list[bytes]) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    frames = SSEFrames()
    blocks = [block for chunk in chunks for block in frames.feed(chunk)]
    rest = frames.close()
    if rest:
        blocks.append(rest)
    events = []
    for block in blocks:
        name, data = event_fields(block)
        if data is not None:
            events.append((name, data))
    return blocks, events


@st.composite
def chunked(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    body = b"".join(draw(st.lists(st.sampled_from(FRAGMENTS), max_size=60)))
    if draw(st.booleans()):
        body = BOM + body
    cuts = draw(st.lists(st.integers(0, len(body)), max_size=12))
    return body, split(body, cuts)


@SETTINGS
@given(chunked())
def test_events_are_those_of_the_whole_body_however_it_is_split(
    case: tuple[bytes, list[bytes]],
) -> None:
    body, chunks = case
    blocks, events = parse(chunks)
    assert b"".join(blocks) == body
    assert events == reference(body)
    one_byte_at_a_time = [body[i : i + 1] for i in range(len(body))]
    assert parse(one_byte_at_a_time)[1] == events


@SETTINGS
@given(chunked())
def test_joined_runs_hold_the_same_events(case: tuple[bytes, list[bytes]]) -> None:
    """``feed_joined`` (whole events as one piece, for a meter that keeps them unsplit) hands
    out the same bytes; with LF line ends, its pieces split alone give the same events."""
    body, chunks = case
    frames = SSEFrames()
    runs = [frames.feed_joined(chunk) for chunk in chunks]
    rest = frames.close()
    assert b"".join(runs) + rest == body
    if b"\r" not in body:
        events = [event for run in [*runs, rest] for event in parse([run])[1]]
        assert events == reference(body)


def test_line_ends_of_every_kind_and_a_crlf_split_across_chunks() -> None:
    body = b"data: a\r\n\r\nevent: e\rdata: b\r\rdata: c\n\ndata: d\r\ndata: e\r\n\r\n"
    for cut in range(len(body) + 1):
        blocks, events = parse([body[:cut], body[cut:]])
        assert events == [(b"", b"a"), (b"e", b"b"), (b"", b"c"), (b"", b"d\ne")], cut
        assert b"".join(blocks) == body


def test_an_event_past_the_size_bound_is_handed_out_as_it_is() -> None:
    frames = SSEFrames(max_event_bytes=10)
    assert frames.feed(b"data: 0123") == []
    assert frames.feed(b"456789") == [b"data: 0123456789"]  # garbage as an event, bytes kept
    assert frames.feed(b"\n\ndata: x\n\n") == [b"\n\n", b"data: x\n\n"]


def test_accumulators_read_bytes_through_the_same_parser() -> None:
    body = (
        b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"hi"}}]}\r\n\r\n'
        b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\r\n\r\n'
        b"data: [DONE]"
    )
    for cut in range(len(body) + 1):
        stream = OpenAIChatStream()
        stream.feed_bytes(body[:cut])
        stream.feed_bytes(body[cut:])
        stream.close()
        assert stream.usage is not None and stream.finished
        assert (stream.usage.input_tokens, stream.usage.output_tokens, stream.text) == (3, 2, "hi")
