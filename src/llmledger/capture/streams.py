"""Watching an SDK stream (openai / anthropic ``Stream`` and ``AsyncStream``) without changing it.

The stream object the app gets is the SDK's own; capture swaps its internal iterator for one
that shows every chunk to a ``StreamRecorder`` (and hides the usage-only chunk capture asked
for), hooks the HTTP response's close, and registers a finalizer. Chat Completions streams are
watched before the SDK parses them, at their SSE events; with openai's own SSE decoder capture
decodes those events itself (``_EventReader``, exactly as the SDK would, at a fraction of the
cost) and screens them in the same generator. Whichever comes first ends
the recording, exactly once:

* the iterator is exhausted (``complete``) or raises (``error``: cut by the network);
* the HTTP response is closed by the app or a helper (``stream.close()``, leaving ``with``) while
  not inside the SDK's own iteration (``closed``), or by the SDK's generator cleanup when the
  stream is collected (``abandoned``);
* the stream object is garbage collected, or still alive at interpreter exit (``abandoned``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sys
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from time import perf_counter
from typing import Any

from llmledger.capture.record import StreamRecorder
from llmledger.usage.streams import is_usage_only_chunk

__all__ = ["watch_async_stream", "watch_stream"]

log = logging.getLogger("llmledger.capture")


def _is_usage_only(data: str) -> bool:
    return '"choices":[]' in data or '"choices": []' in data


def _json_without_null_usage(data: str) -> Any:
    """``json.loads(data)`` minus a top-level ``"usage": null``: what the chunk would have been
    had capture not asked for ``include_usage``."""
    payload = json.loads(data)
    if type(payload) is dict and "usage" in payload and payload["usage"] is None:
        del payload["usage"]
    return payload


_MAX_RAW = 4096  # raw events kept before they are parsed (memory stays bounded)
_NULL_USAGE_TAIL = ',"usage":null}'  # OpenAI's compact JSON
_SPACED_NULL_USAGE_TAIL = ', "usage": null}'  # json.dumps' default separators
_NULL_USAGE_TAILS = (_NULL_USAGE_TAIL, _SPACED_NULL_USAGE_TAIL)


def _screen(sse: Any, data: str, rec: StreamRecorder) -> bool:
    """One raw SSE event of a Chat Completions stream whose ``data`` names ``"usage"``; False
    to keep it from the SDK.

    The usage-only chunk is kept by ``rec`` (read as plain JSON, cheaper than the SDK's model)
    and hidden when capture asked for it. The ``"usage": null`` that ``include_usage`` adds to
    every other chunk is dropped before the SDK parses it (a few microseconds of model building
    a chunk), so a caller who did not ask for the option gets the very chunks it would have
    got without it: cut from the text when it is the object's last member (the object's final
    ``}`` follows it, so it is a top-level member), else from the parsed JSON.
    """
    if _is_usage_only(data) and rec.take_usage_chunk(data):
        return not rec.hide_usage_chunk
    if not rec.hide_usage_chunk or getattr(sse, "_data", None) is not data:
        return True
    if data.endswith(_NULL_USAGE_TAILS):
        sse._data = data[: data.rindex('"usage"')].rstrip(", ") + "}"
    else:
        sse.json = partial(_json_without_null_usage, data)
    return True


# The per-event loops below are written out (sync and async alike) rather than calling a
# shared step: on a 20-chunk stream a Python call per event cost as much as the screening.
# Each event: note the first; cut a trailing top-level ``"usage": null`` (the common case of
# ``_screen``, inline: one ``removesuffix`` per form); send other events naming ``"usage"``
# to ``_screen``; keep the ``data`` in ``rec.raw`` (its last item tells a stream that reached
# ``[DONE]``). How the stream ended is read when the SDK closes the response (``_CloseHook``).
# ``_read_events`` / ``_aread_events`` below do the same over capture's own decoding.


def _filter_events(events: Iterator[Any], rec: StreamRecorder) -> Iterator[Any]:
    """The SDK's raw SSE events, screened: the one layer capture adds to such a stream."""
    raw = rec.raw
    cut = rec.hide_usage_chunk
    for sse in events:
        if rec.first_at is None:
            rec.first_at = perf_counter()
        data: str = sse.data
        head = data.removesuffix(_NULL_USAGE_TAIL) if cut else data
        if head is data and cut:
            head = data.removesuffix(_SPACED_NULL_USAGE_TAIL)
        if head is not data and getattr(sse, "_data", None) is data:
            sse._data = head + "}"
        elif '"usage"' in data and not _screen(sse, data, rec):
            continue
        if len(raw) >= _MAX_RAW:
            rec.spill_raw()
        raw.append(data)
        yield sse
    rec.events_ended = True


async def _afilter_events(events: AsyncIterator[Any], rec: StreamRecorder) -> AsyncIterator[Any]:
    raw = rec.raw
    cut = rec.hide_usage_chunk
    async for sse in events:
        if rec.first_at is None:
            rec.first_at = perf_counter()
        data: str = sse.data
        head = data.removesuffix(_NULL_USAGE_TAIL) if cut else data
        if head is data and cut:
            head = data.removesuffix(_SPACED_NULL_USAGE_TAIL)
        if head is not data and getattr(sse, "_data", None) is data:
            sse._data = head + "}"
        elif '"usage"' in data and not _screen(sse, data, rec):
            continue
        if len(raw) >= _MAX_RAW:
            rec.spill_raw()
        raw.append(data)
        yield sse
    rec.events_ended = True


# SSE line ends as openai's ``_SSELineDecoder`` splits them: CR, LF or CRLF.
_LINE_END = re.compile("\r\n|\r|\n")
_LINE_END_BYTES = re.compile(b"\r\n|\r|\n")


class _EventReader:
    """openai's own SSE decoding (``_streaming.SSEDecoder.iter_bytes`` over its
    ``_SSELineDecoder``), reproduced exactly but a whole network chunk at a time: the chunk's
    complete lines are decoded in one ``decode`` and split in one call, where the SDK runs a
    regex match, a bytearray copy, a ``decode`` and two generator hops per line. The same
    events (event, data, id, retry) come out after the same chunk, and the same
    ``UnicodeDecodeError`` at the same point (``tests/capture/test_sse_reader.py`` checks
    this against the SDK's decoder over random bytes and splits).
    """

    __slots__ = ("data", "error", "event", "last_id", "make", "pending", "retry", "skip_lf")

    def __init__(self, make: Callable[..., Any]) -> None:
        self.make = make  # the SDK's ServerSentEvent
        self.pending = bytearray()  # the incomplete line so far
        self.skip_lf = False  # the last chunk ended in CR: a LF opening the next one is its pair
        self.event: str | None = None
        self.data: list[str] = []
        self.last_id: str | None = None
        self.retry: int | None = None
        self.error: UnicodeDecodeError | None = None  # raised once the events before it passed

    def feed(self, chunk: bytes) -> list[Any]:
        """The events completed by ``chunk``, in order."""
        if self.skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
            self.skip_lf = False
        if not chunk:
            return []
        self.skip_lf = chunk[-1] == 13
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            self.pending += chunk
            return []
        block: bytes | bytearray = chunk[: end + 1]
        if self.pending:
            block = self.pending + block
            self.pending = bytearray()
        if end + 1 < len(chunk):
            self.pending += chunk[end + 1 :]
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return self._events(self._decoded_lines(bytes(block)))
        # A valid whole is valid line by line: CR and LF never occur inside a UTF-8 sequence.
        lines = _LINE_END.split(text) if "\r" in text else text.split("\n")
        lines.pop()  # the empty tail after the block's last line end
        return self._events(lines)

    def _decoded_lines(self, block: bytes) -> list[str]:
        """The lines of ``block`` decoded one by one up to the first that is not UTF-8 (kept in
        ``error``, as the SDK raises it after the events before it)."""
        lines = []
        for line in _LINE_END_BYTES.split(block)[:-1]:
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                self.error = exc
                break
        return lines

    def _events(self, lines: list[str]) -> list[Any]:
        events = []
        for line in lines:
            if line.startswith("data: "):
                self.data.append(line[6:])
            elif line:
                self._field(line)
            elif self.data or self.event or self.last_id or self.retry is not None:
                events.append(
                    self.make(
                        event=self.event,
                        data="\n".join(self.data),
                        id=self.last_id,
                        retry=self.retry,
                    )
                )
                self.event = None  # the last id is kept, as the SSE spec says
                self.data = []
                self.retry = None
        return events

    def _field(self, line: str) -> None:
        """A non-empty line other than ``data: …`` (``SSEDecoder.decode``)."""
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.event = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry":
            with contextlib.suppress(TypeError, ValueError):
                self.retry = int(value)

    def finish(self) -> None:
        """The stream's bytes ended: the SDK decodes an unterminated last line (which can only
        raise: a non-empty line ends no event)."""
        if self.pending:
            self._events([bytes(self.pending).decode("utf-8")])


def _read_events(chunks: Iterator[bytes], rec: StreamRecorder, make: Any) -> Iterator[Any]:
    """The SDK's SSE events decoded by ``_EventReader`` and screened like ``_filter_events``
    (the decoder made them, so ``_data`` is theirs): one generator instead of the SDK's
    decoder chain plus the screen."""
    reader = _EventReader(make)
    raw = rec.raw
    cut = rec.hide_usage_chunk
    for chunk in chunks:
        events = reader.feed(chunk)
        if events and rec.first_at is None:
            rec.first_at = perf_counter()
        for sse in events:
            data: str = sse._data
            head = data.removesuffix(_NULL_USAGE_TAIL) if cut else data
            if head is data and cut:
                head = data.removesuffix(_SPACED_NULL_USAGE_TAIL)
            if head is not data:
                sse._data = head + "}"
            elif '"usage"' in data and not _screen(sse, data, rec):
                continue
            if len(raw) >= _MAX_RAW:
                rec.spill_raw()
            raw.append(data)
            yield sse
        if reader.error is not None:
            raise reader.error
    reader.finish()
    rec.events_ended = True


async def _aread_events(
    chunks: AsyncIterator[bytes], rec: StreamRecorder, make: Any
) -> AsyncIterator[Any]:
    reader = _EventReader(make)
    raw = rec.raw
    cut = rec.hide_usage_chunk
    async for chunk in chunks:
        events = reader.feed(chunk)
        if events and rec.first_at is None:
            rec.first_at = perf_counter()
        for sse in events:
            data: str = sse._data
            head = data.removesuffix(_NULL_USAGE_TAIL) if cut else data
            if head is data and cut:
                head = data.removesuffix(_SPACED_NULL_USAGE_TAIL)
            if head is not data:
                sse._data = head + "}"
            elif '"usage"' in data and not _screen(sse, data, rec):
                continue
            if len(raw) >= _MAX_RAW:
                rec.spill_raw()
            raw.append(data)
            yield sse
        if reader.error is not None:
            raise reader.error
    reader.finish()
    rec.events_ended = True


def _sdk_event_class(decoder: object) -> Any:
    """openai's ``ServerSentEvent`` when ``decoder`` is that SDK's own ``SSEDecoder`` (what
    ``_EventReader`` reproduces) and its events keep their data in ``_data``; else None."""
    module = sys.modules.get("openai._streaming")
    if module is None or type(decoder) is not getattr(module, "SSEDecoder", None):
        return None
    make = getattr(module, "ServerSentEvent", None)
    if make not in _CHECKED_EVENT_CLASSES:
        probe = make(data="x") if callable(make) else None
        ok = getattr(probe, "_data", None) == "x" == getattr(probe, "data", None)
        _CHECKED_EVENT_CLASSES[make] = ok
    return make if _CHECKED_EVENT_CLASSES[make] else None


_CHECKED_EVENT_CLASSES: dict[Any, bool] = {}


class _ScreeningDecoder:
    """Stands in for a stream's SSE decoder: the events it decodes go through a filter (or,
    for openai's own decoder, are decoded by capture and screened in the same generator).
    Holding the decoder and the recorder, not the stream, keeps the stream free of reference
    cycles (a cycle would leave every finished stream, its response and request to the
    garbage collector)."""

    __slots__ = ("decoder", "make", "rec")

    def __init__(self, decoder: Any, rec: StreamRecorder) -> None:
        self.decoder = decoder
        self.rec = rec
        self.make = _sdk_event_class(decoder)

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[Any]:
        if self.make is not None:
            return _read_events(iterator, self.rec, self.make)
        return _filter_events(self.decoder.iter_bytes(iterator), self.rec)

    def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        if self.make is not None:
            return _aread_events(iterator, self.rec, self.make)
        return _afilter_events(self.decoder.aiter_bytes(iterator), self.rec)


def _install_filter(stream: Any, rec: StreamRecorder) -> bool:
    """Route a Chat Completions stream's SSE events through ``_filter_events``; False when
    this SDK version has no ``_decoder`` seam (chunks are then filtered after parsing)."""
    if rec.spec.api not in ("chat", "completions"):
        return False
    decoder = getattr(stream, "_decoder", None)
    if not hasattr(decoder, "iter_bytes"):
        return False
    stream._decoder = _ScreeningDecoder(decoder, rec)
    rec.raw_watched = True
    return True


def _iterate(inner: Iterator[Any], rec: StreamRecorder, hide: bool, keep: bool) -> Iterator[Any]:
    """The SDK's chunks, unchanged; kept in ``rec`` when ``keep`` (no raw events seen)."""
    add = rec.deferred.add
    first = True
    try:
        rec.iterating = True
        for chunk in inner:
            rec.iterating = False
            if first:
                rec.first_at = perf_counter()
                first = False
            if keep:
                add(chunk)
            if not (hide and is_usage_only_chunk(chunk)):
                yield chunk
            rec.iterating = True
    except BaseException as exc:
        rec.iterating = False
        if isinstance(exc, GeneratorExit):  # the stream was dropped mid-way
            rec.finish("abandoned")
        else:
            rec.finish("error", exc)
        raise
    finally:
        rec.iterating = False
    rec.finish("complete")


async def _aiterate(
    inner: AsyncIterator[Any], rec: StreamRecorder, hide: bool, keep: bool
) -> AsyncIterator[Any]:
    add = rec.deferred.add
    first = True
    try:
        rec.iterating = True
        async for chunk in inner:
            rec.iterating = False
            if first:
                rec.first_at = perf_counter()
                first = False
            if keep:
                add(chunk)
            if not (hide and is_usage_only_chunk(chunk)):
                yield chunk
            rec.iterating = True
    except BaseException as exc:
        rec.iterating = False
        if isinstance(exc, GeneratorExit):  # the stream was dropped mid-way
            rec.finish("abandoned")
        else:
            rec.finish("error", exc)
        raise
    finally:
        rec.iterating = False
    rec.finish("complete")


def _watchable(stream: object) -> bool:
    return hasattr(stream, "_iterator") and hasattr(stream, "response")


def _track(stream: object, rec: StreamRecorder) -> None:
    rec.finalizer = weakref.finalize(stream, rec.finish, "abandoned")


class _CloseHook:
    """Set as ``response.close`` / ``response.aclose``: closes the response, then tells the
    recorder. The first call removes the hook from the response again: the hook holds the
    response's bound method, and a hook left in place would tie the response (and the stream
    through ``inner``) into a reference cycle only the garbage collector could free."""

    __slots__ = ("close", "inner", "name", "rec")

    def __init__(self, response: Any, name: str, inner: Any, rec: StreamRecorder) -> None:
        self.close: Callable[[], Any] = getattr(response, name)
        self.name = name
        self.inner = inner
        self.rec = rec
        setattr(response, name, self)

    def _unhook(self) -> None:
        response = getattr(self.close, "__self__", None)
        if response is not None and vars(response).get(self.name) is self:
            delattr(response, self.name)

    def __call__(self) -> None:
        # Closed from inside the SDK's own generator: the stream ended (its ``finally``),
        # cut by what is propagating, if anything, or collected (GeneratorExit); else the app
        # closed it.
        inner = self.inner
        by_sdk = getattr(inner, "gi_running", False) is True
        exc = sys.exc_info()[1] if by_sdk else None
        own = sys._getframe(1).f_code is getattr(inner, "gi_code", None)  # its ``finally``
        try:
            self.close()
        finally:
            self.rec.response_closed(by_sdk=by_sdk, exc=exc, last=own)
            if self.rec.done:  # else an error is on its way up: the SDK closes again
                self._unhook()


class _AsyncCloseHook(_CloseHook):
    __slots__ = ()

    async def __call__(self) -> None:  # type: ignore[override]
        inner = self.inner
        by_sdk = getattr(inner, "ag_running", False) is True or _in_generator_finalizer()
        exc = sys.exc_info()[1] if by_sdk else None
        own = sys._getframe(1).f_code is getattr(inner, "ag_code", None)
        try:
            await self.close()
        finally:
            self.rec.response_closed(by_sdk=by_sdk, exc=exc, last=own)
            if self.rec.done:
                self._unhook()


def watch_stream(stream: Any, rec: StreamRecorder) -> Any:
    """Instrument a sync SDK ``Stream`` in place; returns it."""
    if not _watchable(stream):
        log.warning("llmledger cannot watch a %s; its usage is not recorded", type(stream))
        return stream
    filtered = _install_filter(stream, rec)  # first: anthropic copies the stream for its iterator
    inner = stream._iterator
    if not filtered:  # no raw events: chunks are watched (and kept) after parsing
        stream._iterator = _iterate(inner, rec, rec.hide_usage_chunk, True)
    _CloseHook(stream.response, "close", inner, rec)
    _track(stream, rec)
    return stream


def _in_generator_finalizer() -> bool:
    """True inside the task asyncio runs to close a collected async generator. A dropped
    stream's response is closed by whichever generator of the SDK/httpx chain is finalized
    first, not always by the SDK's own (whose ``ag_running`` the caller checks)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return False
    return task is not None and type(task.get_coro()).__name__ == "async_generator_athrow"


def watch_async_stream(stream: Any, rec: StreamRecorder) -> Any:
    """Instrument an SDK ``AsyncStream`` in place; returns it."""
    if not _watchable(stream):
        log.warning("llmledger cannot watch a %s; its usage is not recorded", type(stream))
        return stream
    filtered = _install_filter(stream, rec)
    inner = stream._iterator
    if not filtered:
        stream._iterator = _aiterate(inner, rec, rec.hide_usage_chunk, True)
    _AsyncCloseHook(stream.response, "aclose", inner, rec)
    _track(stream, rec)
    return stream
