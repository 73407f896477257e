"""Incremental Server-Sent Events parser, fed arbitrary byte chunks (WHATWG SSE rules).

Shared by the gateway proxy, the ASGI middleware and the stream accumulators: chunk boundaries
may fall anywhere (inside a line, a CRLF pair or a UTF-8 character); CR, LF and CRLF all end a
line; ``:`` comments and unknown fields are ignored; invalid UTF-8 is replaced, never fatal.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

import msgspec

__all__ = ["SSEEvent", "SSEParser", "aiter_sse", "decode_json", "iter_sse"]

_EOL = re.compile(r"\r\n|\r|\n")
DONE = "[DONE]"


def decode_json(text: str | bytes) -> object:
    """Parse JSON, returning None for anything malformed (never raises)."""
    try:
        return msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        pass
    try:  # stdlib accepts what msgspec rejects as out of range (1e400, NaN)
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: ``data`` lines joined by newlines, the ``event:`` name if any."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    @property
    def is_done(self) -> bool:
        """The OpenAI-style ``data: [DONE]`` end-of-stream sentinel."""
        return self.data.strip() == DONE

    def json(self) -> object:
        """The data parsed as JSON, or None for ``[DONE]`` and malformed data."""
        return None if self.is_done else decode_json(self.data)


class SSEParser:
    """Feed bytes (or text) as they arrive; get back the events each chunk completed.

    ``close()`` flushes a final event that lacks its trailing blank line (the spec drops it;
    a meter would rather keep a last usage event). A line longer than ``max_line_chars`` is
    discarded and counted in ``dropped_lines`` so a garbage stream cannot exhaust memory.
    """

    def __init__(self, max_line_chars: int = 64 * 1024 * 1024) -> None:
        self.max_line_chars = max_line_chars
        self.dropped_lines = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._started = False
        self._skip_lf = False
        self._pending: list[str] = []
        self._pending_len = 0
        self._discarding = False
        self._data: list[str] = []
        self._event: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes | bytearray | memoryview | str) -> list[SSEEvent]:
        text = chunk if isinstance(chunk, str) else self._decoder.decode(bytes(chunk))
        return self._feed_text(text)

    def close(self) -> list[SSEEvent]:
        """End of stream: flush the decoder, the last unterminated line and pending event."""
        events = self._feed_text(self._decoder.decode(b"", final=True))
        if self._pending and not self._discarding:
            self._line("".join(self._pending), events)
        self._pending, self._pending_len, self._discarding = [], 0, False
        self._dispatch(events)
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if not text:
            return events
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf:
            self._skip_lf = False
            text = text.removeprefix("\n")
        pos = 0
        for match in _EOL.finditer(text):
            part = text[pos : match.start()]
            if self._discarding:
                self._discarding = False
            elif self._pending:
                self._line("".join(self._pending) + part, events)
            else:
                self._line(part, events)
            self._pending, self._pending_len = [], 0
            pos = match.end()
            if match.group() == "\r" and pos == len(text):
                self._skip_lf = True  # a CRLF may be split across chunks
        rest = text[pos:]
        if rest and not self._discarding:
            self._pending.append(rest)
            self._pending_len += len(rest)
            if self._pending_len > self.max_line_chars:
                self._pending, self._pending_len = [], 0
                self._discarding = True
                self.dropped_lines += 1
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent("\n".join(self._data), self._event, self._last_id, self._retry))
        self._data, self._event = [], None


def iter_sse(chunks: Iterable[bytes | str]) -> Iterator[SSEEvent]:
    """Events from an iterable of raw chunks (e.g. ``httpx.Response.iter_bytes()``)."""
    parser = SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()


async def aiter_sse(chunks: AsyncIterable[bytes | str]) -> AsyncIterator[SSEEvent]:
    """Async twin of ``iter_sse``."""
    parser = SSEParser()
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
    for event in parser.close():
        yield event
