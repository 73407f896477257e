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


def _iterate(inner: Iterator[Any], rec: StreamRecorder) -> Iterator[Any]:
    hide = rec.hide_usage_chunk
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


async def _aiterate(inner: AsyncIterator[Any], rec: StreamRecorder) -> AsyncIterator[Any]:
    hide = rec.hide_usage_chunk
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
    inner = stream._iterator
    stream._iterator = _iterate(inner, rec)
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
    inner = stream._iterator
    stream._iterator = _aiterate(inner, rec)
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
