"""The one Server-Sent Events parser every metering path reads streams with (the gateway, the
ASGI middleware, transport capture, the stream accumulators): ``SSEFrames`` splits bytes into
raw events, ``event_fields`` reads one; ``SSEEvent`` and tolerant JSON (``decode_json``); and
``splice_usage_option``, the request-side ask for the usage chunk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import msgspec

__all__ = [
    "SSEEvent",
    "SSEFrames",
    "decode_json",
    "event_fields",
    "is_done",
    "splice_usage_option",
]

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


# -- the SSE parser --------------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"
_DONE = b"[DONE]"
# A blank line: two line ends in a row, each CRLF, LF or CR (a CR that a LF follows is half of
# a CRLF, never a line end of its own).
_BLANK_LINE = re.compile(rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)")
MAX_EVENT_BYTES = 8 * 1024 * 1024


class SSEFrames:
    """Splits a ``text/event-stream`` body, fed in chunks split anywhere, into its events, each
    as the raw bytes it came as (its blank line included), so a relay can pass, hold, drop or
    rewrite whole events byte for byte. ``event_fields`` reads one.

    A would-be event larger than ``max_event_bytes`` without a blank line is handed out as it
    is (its bytes pass; read as an event it is garbage), so memory stays bounded.
    """

    __slots__ = ("_cr", "_pending", "_scanned", "max_event_bytes")

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._pending = bytearray()  # the start of an event whose blank line has not come
        self._scanned = 0  # how much of ``_pending`` holds no blank line for sure
        self._cr = False  # a CR was seen: line ends are not all LF

    def feed(self, data: bytes) -> list[bytes]:
        """The events ``data`` completed, in order."""
        if not self._cr and b"\r" in data:
            self._cr = True
        pending = self._pending
        whole = not pending and not self._cr and data.endswith(b"\n\n")
        if whole and data.find(b"\n\n") == len(data) - 2:
            return [data]  # the usual chunk: one whole event
        buffer: bytes | bytearray = data
        start = 0
        if pending:
            start = max(0, self._scanned - 3)  # a blank line may straddle the old end
            pending += data
            buffer = pending
        blocks: list[bytes] = []
        begin = 0
        while (end := self._blank_line_end(buffer, start)) >= 0:
            blocks.append(bytes(buffer[begin:end]))
            begin = start = end
        if buffer is pending:
            del pending[:begin]
        elif begin < len(data):
            pending += data[begin:]
        self._scanned = len(pending)
        if len(pending) > self.max_event_bytes:
            blocks.append(bytes(pending))
            pending.clear()
            self._scanned = 0
        return blocks

    @property
    def lf_only(self) -> bool:
        """No CR came yet: every ``\n\n`` ends an event, so cutting just after one is safe."""
        return not self._cr

    def feed_joined(self, data: bytes) -> bytes:
        """The events ``data`` completed, as one piece (``b"".join(self.feed(data))``, without
        splitting them when nothing is pending and the line ends are LF)."""
        if self._pending or self._cr or b"\r" in data:
            return b"".join(self.feed(data))
        end = data.rfind(b"\n\n")
        if end >= 0 and end == len(data) - 2:
            return data
        rest = len(data) - end - 2 if end >= 0 else len(data)
        if rest > self.max_event_bytes:
            return b"".join(self.feed(data))
        self._pending += data[len(data) - rest :]
        self._scanned = rest
        return data[: len(data) - rest]

    def close(self) -> bytes:
        """End of the body: the last event if it lacked its blank line (else b"")."""
        rest = bytes(self._pending)
        self._pending.clear()
        self._scanned = 0
        return rest

    def _blank_line_end(self, buffer: bytes | bytearray, start: int) -> int:
        if not self._cr:
            end = buffer.find(b"\n\n", start)
            return end + 2 if end >= 0 else -1
        match = _BLANK_LINE.search(buffer, start)
        return match.end() if match is not None else -1


def event_fields(block: bytes) -> tuple[bytes, bytes | None]:
    """``(event name, data)`` of one raw event: its ``event:`` field (b"" if none) and its
    ``data:`` lines joined by LF (None if it has none: a comment or keep-alive)."""
    usual = block[:6] == b"data: " and block.endswith(b"\n\n")
    if usual and block.find(b"\n") == len(block) - 2 and b"\r" not in block:
        return b"", block[6:-2]  # the usual event: one data line, LF line ends
    name = b""
    data: list[bytes] = []
    for line in block.removeprefix(_BOM).splitlines():
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value[:1] == b" " else value)
        elif line.startswith(b"event:"):
            value = line[6:]
            name = value[1:] if value[:1] == b" " else value
        elif line == b"data":
            data.append(b"")
        elif line == b"event":
            name = b""
    if not data:
        return name, None
    return name, data[0] if len(data) == 1 else b"\n".join(data)


def is_done(data: bytes) -> bool:
    """The OpenAI-style ``data: [DONE]`` end of a stream."""
    return data.strip() == _DONE


def splice_usage_option(body: bytes) -> bytes | None:
    """A JSON object body without ``stream_options``, asking for the usage chunk: the option
    spliced in after the opening brace, every other byte as the caller sent it. None when the
    body is not a non-empty object (the caller re-encodes instead)."""
    stripped = body.lstrip()
    if stripped[:1] == b"{" and stripped[1:].lstrip()[:1] not in (b"}", b""):
        return b'{"stream_options":{"include_usage":true},' + stripped[1:]
    return None
