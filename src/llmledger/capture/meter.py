"""Metering a response while it passes through: one piece of code for the ASGI middleware
(``capture/middleware.py``) and the gateway (``gateway/relay.py``).

Pure, no I/O. ``body_kind`` tells from the response head whether a body can be metered
(``json``, ``sse``, or None: compressed or another type). A JSON body is read whole and its
usage-bearing top-level fields decoded (``json_envelope``: the rest, e.g. embedding vectors,
is skipped, not built). An SSE body is fed, as its bytes arrive, to ``SSEMeter``:

* every event is framed and its JSON fed to a usage accumulator (``llmledger.usage.streams``),
  chosen from the stream's first event when the API is not known in advance;
* what ``feed`` returns is what to send on, byte for byte. A watching meter (the middleware)
  returns its input unchanged. The gateway's meter also holds back the terminal event
  (``data: [DONE]``, ``message_stop``, ``response.completed`` …) and what follows in ``held``
  until the usage is committed (``hold_end``), drops the usage-only chunk it asked for on the
  client's behalf (``hide_usage_chunk``), or holds the one the client asked for to send it
  with the committed cost added (``hold_usage_chunk``, ``usage_chunk``).
"""

from __future__ import annotations

from collections.abc import Iterable
from time import perf_counter
from typing import Any, Literal

import msgspec

from llmledger.usage.normalize import UsageShape
from llmledger.usage.sse import decode_json
from llmledger.usage.streams import StreamAccumulator, detect_stream_shape, stream_for

__all__ = ["BodyKind", "SSEMeter", "body_kind", "json_envelope"]

BodyKind = Literal["json", "sse"]

_MAX_EVENT_BYTES = 8 * 1024 * 1024  # a "frame" this large without a blank line: stop framing
_BOM = b"\xef\xbb\xbf"
_TERMINAL_EVENTS = frozenset(
    {b"message_stop", b"response.completed", b"response.incomplete", b"response.failed"}
)
_TERMINAL_TYPES = frozenset(name.decode() for name in _TERMINAL_EVENTS)


def body_kind(headers: Iterable[tuple[bytes, bytes]]) -> BodyKind | None:
    """``sse`` for ``text/event-stream``, ``json`` for JSON, None for anything else or a
    compressed body (which cannot be read in passing)."""
    content_type = encoding = b""
    for name, value in headers:
        lowered = bytes(name).lower()
        if lowered == b"content-type":
            content_type = bytes(value).lower()
        elif lowered == b"content-encoding":
            encoding = bytes(value).strip().lower()
    if encoding not in (b"", b"identity"):
        return None
    media = content_type.partition(b";")[0].strip()
    if media == b"text/event-stream":
        return "sse"
    if media == b"application/json" or media.endswith(b"+json"):
        return "json"
    return None


class _Envelope(msgspec.Struct):
    """The top-level fields of a JSON response that carry usage and identity."""

    id: Any = None
    model: Any = None
    usage: Any = None
    service_tier: Any = None
    usageMetadata: Any = None
    usage_metadata: Any = None
    modelVersion: Any = None
    responseId: Any = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_ENVELOPE_FIELDS = _Envelope.__struct_fields__


def json_envelope(body: bytes) -> dict[str, Any] | None:
    """The usage-bearing fields of a JSON object body (only those present); None when the
    body is not a JSON object."""
    try:
        envelope = _envelope_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return {
        name: value for name in _ENVELOPE_FIELDS if (value := getattr(envelope, name)) is not None
    }


class SSEMeter:
    """Frames an SSE body as it passes, meters its events, holds back what it is told to."""

    def __init__(
        self,
        shape: UsageShape | None = None,
        provider: str | None = None,
        *,
        hold_end: bool = False,
        hide_usage_chunk: bool = False,
        hold_usage_chunk: bool = False,
    ) -> None:
        # The API's shape, or None: told by the first event whose shape is known.
        self.shape = shape
        self.provider = provider
        self.accumulator: StreamAccumulator | None = (
            None if shape is None else stream_for(shape, provider)
        )
        self.hold_end = hold_end
        self.hide_usage_chunk = hide_usage_chunk
        self.hold_usage_chunk = hold_usage_chunk
        self.watching = not (hold_end or hide_usage_chunk or hold_usage_chunk)
        self.held = b""
        self.terminal_seen = False
        self.framing = True
        self.hidden_chunks = 0
        self.first_at: float | None = None  # perf_counter() of the first event with data
        self._usage_block = b""  # the client's usage-only chunk, raw, while held back
        self._usage_payload: dict[str, Any] | None = None
        self._buffer = bytearray()
        self._started = False

    def feed(self, data: bytes) -> bytes:
        """Body bytes in; the bytes to send on now out."""
        if not self.framing:
            self._feed_raw(data)
            return data if self.watching else self._hold_or_pass(data)
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        start = 0
        while True:
            end = _frame_end(buffer, start)
            if end < 0:
                break
            block = bytes(buffer[start:end])
            start = end
            if self.terminal_seen and self.hold_end:
                self.held += block
            elif self._event(block):
                if self._usage_block:  # something follows the usage chunk: keep the order
                    out.append(self._usage_block)
                    self._usage_block, self._usage_payload = b"", None
                out.append(block)
        if start:
            del buffer[:start]
        if len(buffer) > _MAX_EVENT_BYTES:
            # Not SSE as we know it: stop framing, pass bytes through, let the parser cope.
            self.framing = False
            rest = bytes(buffer)
            buffer.clear()
            self._feed_raw(rest)
            out.append(rest if self.watching else self._hold_or_pass(rest))
        if self.watching:
            return data
        return out[0] if len(out) == 1 else b"".join(out)

    def close(self) -> bytes:
        """End of the body: meters an unterminated last event; returns its bytes when they
        were held for framing (a watching meter passed them on already)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        if rest and self.framing:
            if self.terminal_seen and self.hold_end:
                self.held += rest
                rest = b""
            else:
                self._event(rest)
        if self.accumulator is not None:
            self.accumulator.close()
        return b"" if self.watching else rest

    def _hold_or_pass(self, data: bytes) -> bytes:
        if self.terminal_seen and self.hold_end:
            self.held += data
            return b""
        return data

    def _feed_raw(self, data: bytes) -> None:
        if self.accumulator is None:
            return
        self.accumulator.feed_bytes(data)
        if self.accumulator.finished:
            self.terminal_seen = True

    def _ended(self, block: bytes) -> bool:
        """The terminal event was seen: hold it (and send nothing more) or pass it."""
        self.terminal_seen = True
        if self.hold_end:
            self.held += block
            return False
        return True

    def _event(self, block: bytes) -> bool:
        """Meter one raw event; True to send it on now, False to drop or hold it."""
        name = b""
        data: list[bytes] = []
        lines = block
        if not self._started:
            self._started = True
            lines = block.removeprefix(_BOM)
        for line in lines.splitlines():
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            elif line.startswith(b"event:"):
                name = line[6:].strip()
        if not data:
            return True
        if self.first_at is None:
            self.first_at = perf_counter()
        payload_bytes = data[0] if len(data) == 1 else b"\n".join(data)
        if payload_bytes.strip() == b"[DONE]":
            if self.accumulator is not None:
                self.accumulator.finished = True
            return self._ended(block)
        payload = decode_json(payload_bytes)
        accumulator = self.accumulator
        if accumulator is None:
            self.shape = detect_stream_shape(payload)
            if self.shape is None:
                return True
            accumulator = self.accumulator = stream_for(self.shape, self.provider)
        if payload is None:
            return True
        accumulator.feed(payload)
        if not isinstance(payload, dict):
            return True
        if name in _TERMINAL_EVENTS or payload.get("type") in _TERMINAL_TYPES:
            return self._ended(block)
        if payload.get("choices") == [] and isinstance(payload.get("usage"), dict):
            if self.hide_usage_chunk:
                self.hidden_chunks += 1
                return False
            if self.hold_usage_chunk and not self._usage_block:
                self._usage_block, self._usage_payload = block, payload
                return False
        return True

    def usage_chunk(self, annotation: dict[str, Any]) -> bytes:
        """The held usage-only chunk with ``"llmledger": annotation`` added (b"" if none)."""
        if self._usage_payload is None:
            return self._usage_block
        payload = {**self._usage_payload, "llmledger": annotation}
        return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def _frame_end(buffer: bytearray, start: int) -> int:
    """Index just past the blank line that ends the event starting at ``start``, or -1."""
    lf = buffer.find(b"\n\n", start)
    crlf = buffer.find(b"\r\n\r\n", start)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 4
    if lf >= 0:
        return lf + 2
    cr = buffer.find(b"\r\r", start)
    return cr + 2 if cr >= 0 else -1
