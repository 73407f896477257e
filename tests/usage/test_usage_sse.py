"""The incremental SSE parser: chunk boundaries anywhere, every line ending, garbage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmledger.usage import SSEEvent, SSEParser, aiter_sse, decode_json, iter_sse

# Shared machines are slow at times: no deadlines, no generation-speed health check.
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

TRANSCRIPT = (
    ": OPENROUTER PROCESSING\r\n"
    "\r\n"
    "event: message_start\r\n"
    'data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25}}}\r\n'
    "\r\n"
    "id: 7\n"
    "data: first line\n"
    "data:second line\n"
    "data\n"
    "retry: 3000\n"
    "\n"
    "event: ping\r"
    'data: {"type": "ping", "text": "héllo 你好 🙂"}\r'
    "\r"
    "garbage without a colon\n"
    "unknown: field\n"
    "data: [DONE]\n"
    "\n"
).encode()

EXPECTED = [
    SSEEvent(
        data='{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25}}}',
        event="message_start",
    ),
    SSEEvent(data="first line\nsecond line\n", id="7", retry=3000),
    SSEEvent(data='{"type": "ping", "text": "héllo 你好 🙂"}', event="ping", id="7", retry=3000),
    SSEEvent(data="[DONE]", id="7", retry=3000),
]


def parse_in_pieces(data: bytes, cuts: list[int]) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        events += parser.feed(data[start:cut])
        start = cut
    return events + parser.close()


def test_whole_transcript() -> None:
    assert parse_in_pieces(TRANSCRIPT, []) == EXPECTED


def test_split_at_every_byte_position() -> None:
    for cut in range(len(TRANSCRIPT) + 1):
        assert parse_in_pieces(TRANSCRIPT, [cut]) == EXPECTED, cut


def test_split_at_every_pair_of_positions() -> None:
    size = len(TRANSCRIPT)
    for first in range(0, size + 1, 3):
        for second in range(first, size + 1, 7):
            assert parse_in_pieces(TRANSCRIPT, [first, second]) == EXPECTED, (first, second)


def test_byte_by_byte() -> None:
    assert parse_in_pieces(TRANSCRIPT, list(range(len(TRANSCRIPT)))) == EXPECTED


@RELAXED
@given(st.lists(st.integers(min_value=0, max_value=len(TRANSCRIPT)), max_size=40))
def test_split_anywhere(cuts: list[int]) -> None:
    assert parse_in_pieces(TRANSCRIPT, cuts) == EXPECTED


def test_text_input_and_events_per_feed() -> None:
    parser = SSEParser()
    assert parser.feed("data: a\n") == []
    assert parser.feed("\ndata: b\n\n") == [SSEEvent("a"), SSEEvent("b")]
    assert parser.close() == []


def test_done_sentinel_and_json() -> None:
    done, chunk, broken = SSEEvent("[DONE]"), SSEEvent('{"usage": null}'), SSEEvent("{oops")
    assert (done.is_done, done.json()) == (True, None)
    assert not chunk.is_done and chunk.json() == {"usage": None}
    assert broken.json() is None


def test_decode_json_never_raises() -> None:
    assert decode_json(b'{"a": 1e400}') == {"a": float("inf")}
    assert decode_json('{"a": 123456789012345678901234567890}') == {
        "a": 123456789012345678901234567890
    }
    assert decode_json("[" * 100_000) is None
    assert decode_json(b"\xff\xfe") is None
    assert decode_json("") is None


def test_bom_is_skipped_only_at_the_start() -> None:
    data = "\ufeffdata: x\n\n".encode()
    assert parse_in_pieces(data, [1]) == [SSEEvent("x")]
    assert parse_in_pieces(data, [2]) == [SSEEvent("x")]


def test_crlf_split_between_chunks_is_one_line_ending() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\r") == [SSEEvent("a")]
    assert parser.feed(b"\n") == []
    assert parser.feed(b"data: b\r\n\r\n") == [SSEEvent("b")]


def test_event_without_data_is_not_dispatched() -> None:
    assert parse_in_pieces(b"event: ping\n\n: comment\n\n", []) == []


def test_close_flushes_an_unterminated_last_event() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"usage": {"prompt_tokens": 3}}') == []
    assert parser.close() == [SSEEvent('{"usage": {"prompt_tokens": 3}}')]


def test_invalid_utf8_is_replaced() -> None:
    assert parse_in_pieces(b"data: a\xffb\n\n", [8]) == [SSEEvent("a\ufffdb")]


def test_an_overlong_line_is_dropped_and_counted() -> None:
    parser = SSEParser(max_line_chars=10)
    events = parser.feed(b"data: 0123456789")
    events += parser.feed(b"abcdef")
    events += parser.feed(b"\n\ndata: ok\n\n")
    assert events == [SSEEvent("ok")]
    assert parser.dropped_lines == 1
    assert parser.close() == []


def test_iter_and_aiter() -> None:
    chunks = [TRANSCRIPT[i : i + 5] for i in range(0, len(TRANSCRIPT), 5)]
    assert list(iter_sse(chunks)) == EXPECTED

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def collect() -> list[SSEEvent]:
        return [event async for event in aiter_sse(source())]

    assert asyncio.run(collect()) == EXPECTED


@RELAXED
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    parser = SSEParser(max_line_chars=100)
    for chunk in chunks:
        for event in parser.feed(chunk):
            assert isinstance(event.data, str)
            event.json()
    parser.close()


line_text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"))


@RELAXED
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), line_text),
            st.lists(line_text, min_size=1),
        ),
        max_size=8,
    ),
    st.sampled_from(["\n", "\r", "\r\n"]),
    st.data(),
)
def test_generated_streams_round_trip(
    events: list[tuple[str | None, list[str]]], eol: str, data: st.DataObject
) -> None:
    text = ""
    expected = []
    for name, lines in events:
        if name is not None:
            text += f"event: {name}{eol}"
        text += "".join(f"data: {line}{eol}" for line in lines) + eol
        expected.append(SSEEvent("\n".join(lines), name))
    raw = text.encode()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=10))
    assert parse_in_pieces(raw, cuts) == expected
