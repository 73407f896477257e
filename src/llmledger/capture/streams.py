"""Watching an SDK stream (openai / anthropic ``Stream`` and ``AsyncStream``) without changing it.

The stream object the app gets is the SDK's own; capture swaps its internal iterator for one
that shows every chunk to a ``StreamRecorder`` (and hides the usage-only chunk capture asked
for), hooks the HTTP response's close, and registers a finalizer. Whichever comes first ends
the recording, exactly once:

* the iterator is exhausted (``complete``) or raises (``error``: cut by the network);
* the HTTP response is closed by the app or a helper (``stream.close()``, leaving ``with``) while
  not inside the SDK's own iteration (``closed``), or by the SDK's generator cleanup when the
  stream is collected (``abandoned``);
* the stream object is garbage collected, or still alive at interpreter exit (``abandoned``).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from llmledger.capture.record import StreamRecorder
from llmledger.usage.streams import is_usage_only_chunk

__all__ = ["watch_async_stream", "watch_stream"]

log = logging.getLogger("llmledger.capture")


def _is_usage_only(data: str) -> bool:
    return '"choices":[]' in data or '"choices": []' in data


def _filter_events(events: Iterator[Any], rec: StreamRecorder) -> Iterator[Any]:
    """The SDK's raw SSE events, minus the usage-only chunk capture asked for: that one is
    read here as plain JSON (cheaper than the SDK's model) and never reaches the SDK."""
    for sse in events:
        data = getattr(sse, "data", "")
        taken = isinstance(data, str) and _is_usage_only(data) and rec.take_usage_chunk(data)
        if not (taken and rec.hide_usage_chunk):
            yield sse


async def _afilter_events(events: AsyncIterator[Any], rec: StreamRecorder) -> AsyncIterator[Any]:
    async for sse in events:
        data = getattr(sse, "data", "")
        taken = isinstance(data, str) and _is_usage_only(data) and rec.take_usage_chunk(data)
        if not (taken and rec.hide_usage_chunk):
            yield sse


def _install_filter(stream: Any, rec: StreamRecorder, filter_: Callable[..., Any]) -> bool:
    """Route a Chat Completions stream's SSE events through ``filter_``; False when this SDK
    version has no ``_iter_events`` seam (chunks are then filtered after parsing)."""
    if rec.spec.api not in ("chat", "completions"):
        return False
    iter_events = getattr(stream, "_iter_events", None)
    if not callable(iter_events):
        return False
    stream._iter_events = lambda: filter_(iter_events(), rec)
    return True


def _iterate(inner: Iterator[Any], rec: StreamRecorder, hide: bool) -> Iterator[Any]:
    add = rec.add
    try:
        rec.iterating = True
        for chunk in inner:
            rec.iterating = False
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
    inner: AsyncIterator[Any], rec: StreamRecorder, hide: bool
) -> AsyncIterator[Any]:
    add = rec.add
    try:
        rec.iterating = True
        async for chunk in inner:
            rec.iterating = False
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


def watch_stream(stream: Any, rec: StreamRecorder) -> Any:
    """Instrument a sync SDK ``Stream`` in place; returns it."""
    if not _watchable(stream):
        log.warning("llmledger cannot watch a %s; its usage is not recorded", type(stream))
        return stream
    filtered = _install_filter(stream, rec, _filter_events)
    inner = stream._iterator
    stream._iterator = _iterate(inner, rec, rec.hide_usage_chunk and not filtered)
    response = stream.response
    close: Callable[[], None] = response.close

    def close_and_record() -> None:
        try:
            close()
        finally:
            # The SDK's own generator closes the response in its cleanup when it is
            # collected: that stream was abandoned, not closed by the app.
            rec.response_closed(by_sdk=getattr(inner, "gi_running", False) is True)

    response.close = close_and_record
    _track(stream, rec)
    return stream


def watch_async_stream(stream: Any, rec: StreamRecorder) -> Any:
    """Instrument an SDK ``AsyncStream`` in place; returns it."""
    if not _watchable(stream):
        log.warning("llmledger cannot watch a %s; its usage is not recorded", type(stream))
        return stream
    filtered = _install_filter(stream, rec, _afilter_events)
    inner = stream._iterator
    stream._iterator = _aiterate(inner, rec, rec.hide_usage_chunk and not filtered)
    response = stream.response
    aclose: Callable[[], Awaitable[None]] = response.aclose

    async def aclose_and_record() -> None:
        by_sdk = getattr(inner, "ag_running", False) is True  # see watch_stream
        try:
            await aclose()
        finally:
            rec.response_closed(by_sdk=by_sdk)

    response.aclose = aclose_and_record
    _track(stream, rec)
    return stream
