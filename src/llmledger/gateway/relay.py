"""Watching a relayed SSE stream: pass events through, meter them, hold back the end.

``StreamMeter`` is pure (no I/O). The proxy feeds it the upstream's raw bytes as they arrive
and sends on whatever ``feed`` returns, byte for byte, event by event. Meanwhile:

* every event is fed to the usage accumulator from ``llmledger.usage.streams``;
* the usage-only chunk the gateway asked for (``stream_options.include_usage``) is dropped
  when the client did not ask for it, and held back when it did: the proxy sends it with the
  committed cost added (``usage_chunk``);
* the terminal event (``data: [DONE]``, ``message_stop``, ``response.completed`` …) and
  anything after it are held in ``held``: the proxy sends them only once the usage is
  committed, so a client that saw the end of a stream has its usage in the ledger.
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmledger.usage.sse import decode_json
from llmledger.usage.streams import StreamAccumulator

__all__ = ["StreamMeter"]

_MAX_EVENT_BYTES = 8 * 1024 * 1024  # a "frame" this large without a blank line: stop framing
_TERMINAL_EVENTS = frozenset(
    {
        b"message_stop",
        b"response.completed",
        b"response.incomplete",
        b"response.failed",
    }
)
_TERMINAL_TYPES = frozenset(name.decode() for name in _TERMINAL_EVENTS)


class StreamMeter:
    def __init__(self, accumulator: StreamAccumulator, *, hide_usage_chunk: bool = False) -> None:
        self.accumulator = accumulator
        self.hide_usage_chunk = hide_usage_chunk
        self.held = b""
        self.terminal_seen = False
        self.framing = True
        self.hidden_chunks = 0
        self._usage_block = b""  # the client's usage-only chunk, raw, while held back
        self._usage_payload: dict[str, Any] | None = None
        self._buffer = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Upstream bytes in; the bytes to send to the client now out."""
        if not self.framing:
            self._feed_raw(data)
            return self._hold_or_pass(data)
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
            if self.terminal_seen:
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
            out.append(self._hold_or_pass(rest))
        return out[0] if len(out) == 1 else b"".join(out)

    def close(self) -> bytes:
        """End of the upstream body: the bytes of an unterminated last event (if any)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        if rest and self.framing:
            self._event(rest)
        self.accumulator.close()
        return rest

    def _hold_or_pass(self, data: bytes) -> bytes:
        if self.terminal_seen:
            self.held += data
            return b""
        return data

    def _feed_raw(self, data: bytes) -> None:
        self.accumulator.feed_bytes(data)
        if self.accumulator.finished:
            self.terminal_seen = True

    def _event(self, block: bytes) -> bool:
        """Meter one raw event; True to send it on now, False to drop or hold it."""
        name = b""
        data: list[bytes] = []
        for line in block.splitlines():
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            elif line.startswith(b"event:"):
                name = line[6:].strip()
        if not data:
            return not self.terminal_seen
        payload_bytes = data[0] if len(data) == 1 else b"\n".join(data)
        accumulator = self.accumulator
        if payload_bytes.strip() == b"[DONE]":
            accumulator.finished = True
            self.terminal_seen = True
            self.held += block
            return False
        payload = decode_json(payload_bytes)
        if payload is None:
            return True
        accumulator.feed(payload)
        kind = payload.get("type") if isinstance(payload, dict) else None
        if name in _TERMINAL_EVENTS or kind in _TERMINAL_TYPES:
            self.terminal_seen = True
            self.held += block
            return False
        if (
            isinstance(payload, dict)
            and payload.get("choices") == []
            and isinstance(payload.get("usage"), dict)
        ):
            if self.hide_usage_chunk:
                self.hidden_chunks += 1
            elif not self._usage_block:
                self._usage_block, self._usage_payload = block, payload
            else:
                return True
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
