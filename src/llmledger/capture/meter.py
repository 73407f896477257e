"""Metering a response while it passes through: one piece of code for transport capture
(``capture/exchange.py``), the ASGI middleware (``capture/middleware.py``) and the gateway
(``gateway/relay.py``).

Pure, no I/O. ``body_kind`` tells from the response head whether a body can be metered
(``json``, ``sse``, or None: another type, or compressed when nobody decodes it). A JSON body is
read whole and its usage-bearing top-level fields decoded (``json_envelope``: the rest, e.g.
embedding vectors, is skipped, not built). An SSE body is fed, as its bytes arrive, to
``SSEMeter``:

* its events are split and read by the one SSE parser (``usage.sse.SSEFrames``) and their
  JSON kept for a usage accumulator (``llmledger.usage.streams``), chosen from the stream's
  first event when the API is not known in advance; the accumulator reads them when the result
  is asked for (``accumulator``), skipping text-only events once the usage is final;
* what ``feed`` returns is what to send on. A watching meter returns its input unchanged. A
  rewriting one returns whole events only: the gateway's holds back the terminal event
  (``data: [DONE]``, ``message_stop``, ``response.completed`` …) and what follows in ``held``
  until the usage is committed (``hold_end``), drops the usage-only chunk it asked for on the
  client's behalf (``hide_usage_chunk``), or holds the one the client asked for to send it
  with the committed cost added (``hold_usage_chunk``, ``usage_chunk``); capture's also drops
  the ``"usage": null`` the option adds to every other chunk (``strip_null_usage``), so the
  app reads the very chunks it would have read without the option.
"""

from __future__ import annotations

from collections.abc import Iterable
from time import perf_counter
from typing import Any, Literal

import msgspec

from llmledger.usage.normalize import UsageShape
from llmledger.usage.sse import SSEFrames, decode_json, event_fields, is_done
from llmledger.usage.streams import (
    DeferredStream,
    StreamAccumulator,
    detect_stream_shape,
    is_usage_only_chunk,
    stream_for,
)

__all__ = ["BodyKind", "SSEMeter", "body_kind", "content_codings", "json_envelope"]

BodyKind = Literal["json", "sse"]

_TERMINAL_EVENTS = frozenset(
    {b"message_stop", b"response.completed", b"response.incomplete", b"response.failed"}
)
_TERMINAL_TYPES = frozenset(name.decode() for name in _TERMINAL_EVENTS)
# Bytes of an event that must be read as it passes: the end of the stream, an error, a named
# event, a typed one (Responses and Anthropic terminals, error events). A quoted key is
# matched as ``text_only_json`` does: without escapes.
_LOOK_NOW = (b"[DONE]", b'"error"', b'"type"', b"\nevent")
# How a top-level ``"usage": null`` ends a chunk when it is the object's last member: OpenAI's
# compact JSON, and json.dumps' default separators.
_NULL_USAGE_TAILS = (b',"usage":null}', b', "usage": null}')


def content_codings(headers: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """The body's content codings in the order they were applied (``identity`` left out)."""
    codings: list[bytes] = []
    for name, value in headers:
        if bytes(name).lower() == b"content-encoding":
            codings += (c.strip() for c in bytes(value).lower().split(b","))
    return [c for c in codings if c and c != b"identity"]


def body_kind(headers: Iterable[tuple[bytes, bytes]], *, decoded: bool = False) -> BodyKind | None:
    """``sse`` for ``text/event-stream``, ``json`` for JSON, None for anything else, and for a
    compressed body unless the reader decodes it (``decoded``)."""
    content_type = b""
    compressed = False
    for name, value in headers:
        lowered = bytes(name).lower()
        if lowered == b"content-type":
            content_type = bytes(value).lower()
        elif lowered == b"content-encoding":
            compressed = compressed or bytes(value).strip().lower() not in (b"", b"identity")
    if compressed and not decoded:
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
    """Splits an SSE body into events as it passes, meters them, holds back or rewrites what it
    is told to."""

    def __init__(
        self,
        shape: UsageShape | None = None,
        provider: str | None = None,
        *,
        hold_end: bool = False,
        hide_usage_chunk: bool = False,
        hold_usage_chunk: bool = False,
        strip_null_usage: bool = False,
    ) -> None:
        # The API's shape, or None: told by the first event whose shape is known.
        self.shape = shape
        self.provider = provider
        self.deferred: DeferredStream | None = (
            None if shape is None else DeferredStream(stream_for(shape, provider))
        )
        self.hold_end = hold_end
        self.hide_usage_chunk = hide_usage_chunk
        self.hold_usage_chunk = hold_usage_chunk
        self.strip_null_usage = strip_null_usage
        self.watching = not (hold_end or hide_usage_chunk or hold_usage_chunk or strip_null_usage)
        self.held = b""
        self.terminal_seen = False  # [DONE] or the API's terminal event came
        self.stream_error: str | None = None  # the kind of an error event that came, if any
        self.hidden_chunks = 0
        self.first_at: float | None = None  # perf_counter() of the first event with data
        self._usage_block = b""  # the client's usage-only chunk, raw, while held back
        self._usage_payload: dict[str, Any] | None = None
        self._frames = SSEFrames()
        # What an event holds when it must be read as it passes (``_pass_run``).
        self._markers = _LOOK_NOW + (
            (b'"usage"',) if hide_usage_chunk or hold_usage_chunk or strip_null_usage else ()
        )

    @property
    def accumulator(self) -> StreamAccumulator | None:
        """The stream's usage so far (None until its shape is known). Reads the events kept
        since the last call: ask when the stream is over, or rarely."""
        deferred = self.deferred
        return None if deferred is None else deferred.settle()

    def feed(self, data: bytes) -> bytes:
        """Body bytes in; the bytes to send on now out."""
        if self.strip_null_usage:
            # Every chunk's null usage at once, where it ends an event as usual (the rest are
            # cut one by one: ``_without_null_usage``).
            for tail in _NULL_USAGE_TAILS:
                data = data.replace(tail + b"\n\n", b"}\n\n")
        frames = self._frames
        if frames.lf_only and b"\r" not in data:
            run = frames.feed_joined(data)
            out = self._pass_run(run) if run else b""
        else:
            out = self._pass(frames.feed(data))
        return data if self.watching else out

    def _pass_run(self, run: bytes) -> bytes:
        """Whole events (LF line ends). The first data event of the stream is read at once (it
        times the first chunk); then those before the first event that may need a look now (a
        terminal, error, named or usage-bearing one, found by a few byte scans) are kept
        unsplit for the accumulator (``DeferredStream.add_events``) and sent on as they are;
        the rest are read one by one. (Splitting and reading each text delta here cost a stream
        4% of an SDK call; cutting a run after any ``\n\n`` is safe when line ends are LF.)"""
        head = b""
        if self.first_at is None:
            end = run.find(b"\n\n") + 2
            first, run = (run[:end], run[end:]) if end > 1 else (run, b"")
            head = self._pass([first])
            if not run:
                return head
        if (
            self.deferred is None
            or self.first_at is None
            or self._usage_block
            or (self.terminal_seen and self.hold_end)
        ):
            return head + self._pass(_events(run))
        cut = -1
        for marker in self._markers:
            at = run.find(marker)
            if at >= 0 and (cut < 0 or at < cut):
                cut = at + 1 if marker == b"\nevent" else at
        if run.startswith(b"event"):
            cut = 0
        if cut < 0:
            quiet, rest = run, b""
        else:
            end = run.rfind(b"\n\n", 0, cut)
            quiet, rest = (run[: end + 2], run[end + 2 :]) if end >= 0 else (b"", run)
        deferred = self.deferred
        if quiet and deferred is not None:
            deferred.add_events(quiet)
        if not rest:
            return head + quiet if head else quiet
        return b"".join((head, quiet, self._pass(_events(rest))))

    def close(self) -> bytes:
        """End of the body: meters an unterminated last event; returns its bytes when they
        were held for framing (a watching meter passed them on already)."""
        rest = self._frames.close()
        out = self._pass([rest]) if rest else b""
        return b"" if self.watching else out

    def _pass(self, blocks: list[bytes]) -> bytes:
        """Meter whole events; the bytes to send on for them."""
        out: list[bytes] = []
        hold_end = self.hold_end
        for block in blocks:
            if self.terminal_seen and hold_end:
                self.held += block
            elif (sent := self._event(block)) is not None:
                if self._usage_block:  # something follows the usage chunk: keep the order
                    out.append(self._usage_block)
                    self._usage_block, self._usage_payload = b"", None
                out.append(sent)
        return out[0] if len(out) == 1 else b"".join(out)

    def _ended(self, block: bytes) -> bytes | None:
        """The terminal event was seen: hold it (and send nothing more) or pass it."""
        self.terminal_seen = True
        if self.hold_end:
            self.held += block
            return None
        return block

    def _event(self, block: bytes) -> bytes | None:
        """Meter one raw event; the bytes to send on for it, None to drop or hold it."""
        name, data = event_fields(block)
        if data is None:
            return block
        if self.first_at is None:
            self.first_at = perf_counter()
        if is_done(data):
            if self.deferred is not None:
                self.deferred.accumulator.finished = True
            return self._ended(block)
        deferred = self.deferred
        if deferred is not None and not name and deferred.accumulator.text_only_json(data):
            # Most chunks are text deltas: kept as JSON text, parsed only if an estimate needs
            # their text (parsing each one here made a stream cost a third more).
            sent = _cut_null_usage(block, data) if self.strip_null_usage else block
            if sent is not None:
                deferred.add(data)
                return sent
        payload = decode_json(data)
        if deferred is None:
            self.shape = detect_stream_shape(payload)
            if self.shape is None:
                self.stream_error = self.stream_error or _error_kind(name, payload)
                return block
            deferred = self.deferred = DeferredStream(stream_for(self.shape, self.provider))
        if payload is None:
            return block
        deferred.add(payload)
        if type(payload) is not dict:
            return block
        if name in _TERMINAL_EVENTS or payload.get("type") in _TERMINAL_TYPES:
            return self._ended(block)
        if (kind := _error_kind(name, payload)) is not None:
            self.stream_error = kind
        if (self.hide_usage_chunk or self.hold_usage_chunk) and is_usage_only_chunk(payload):
            if self.hide_usage_chunk:
                self.hidden_chunks += 1
                return None
            if not self._usage_block:
                self._usage_block, self._usage_payload = block, payload
                return None
        if self.strip_null_usage and "usage" in payload and payload["usage"] is None:
            return _without_null_usage(block, data, payload)
        return block

    def usage_chunk(self, annotation: dict[str, Any]) -> bytes:
        """The held usage-only chunk with ``"llmledger": annotation`` added (b"" if none)."""
        if self._usage_payload is None:
            return self._usage_block
        payload = {**self._usage_payload, "llmledger": annotation}
        return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def _events(run: bytes) -> list[bytes]:
    """The raw events of ``run`` (whole events, the last one possibly without its blank line)."""
    frames = SSEFrames()
    blocks = frames.feed(run)
    last = frames.close()
    if last:
        blocks.append(last)
    return blocks


def _error_kind(name: bytes, payload: object) -> str | None:
    """The kind of an error event (Anthropic's ``event: error`` ``{"error": {"type": …}}``,
    an OpenAI chunk ``{"error": {"type": …}}``, a Responses ``{"type": "error", "code": …}``):
    ``overloaded_error``, ``server_error`` …, or ``error``; None for any other event."""
    if type(payload) is not dict:
        return "error" if name == b"error" else None
    named = name == b"error" or payload.get("type") == "error"
    if not named and ("error" not in payload or "choices" in payload):
        return None
    error = payload.get("error")
    kind = (error.get("type") or error.get("code")) if type(error) is dict else payload.get("code")
    return kind if isinstance(kind, str) and kind else "error"


def _cut_null_usage(block: bytes, data: bytes) -> bytes | None:
    """``block`` minus the ``"usage": null`` its JSON ``data`` ends with (the object's last
    member: its final ``}`` follows, so it is top-level); ``block`` itself when ``data`` has no
    ``"usage"``; None when it has one elsewhere (``_without_null_usage`` re-encodes)."""
    if b'"usage"' not in data:
        return block
    for tail in _NULL_USAGE_TAILS:
        if data.endswith(tail):
            return _with_data(block, data, data[: -len(tail)] + b"}")
    return None


def _without_null_usage(block: bytes, data: bytes, payload: dict[str, Any]) -> bytes:
    """``block`` minus the top-level ``"usage": null`` of its JSON ``data``: cut from the text
    when it is the object's last member, else re-encoded from the parsed ``payload``."""
    cut = _cut_null_usage(block, data)
    if cut is not None:
        return cut
    del payload["usage"]
    return _with_data(block, data, msgspec.json.encode(payload))


def _with_data(block: bytes, data: bytes, cut: bytes) -> bytes:
    """``block`` (an event whose data is ``data``) with ``cut`` as its data."""
    if len(block) == len(data) + 8 and block.startswith(b"data: ") and block.endswith(b"\n\n"):
        return b"data: " + cut + b"\n\n"  # the usual event: one data line, LF line ends
    others = [line for line in block.splitlines() if line and not line.startswith(b"data")]
    return b"\n".join([*others, b"data: " + cut]) + b"\n\n"
