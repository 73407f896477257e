"""One metered HTTP call, whoever makes it: the seam every capture transport goes through.

An instrumented client's transport (``capture/httpx_transport.py``, ``capture/aiohttp_client.py``)
hands each request to a metered API (``calls.api_for``) to its ``Metering``, and gets an
``Exchange``: the body to send (asking for ``stream_options.include_usage`` when capture needs
it), then, once the response head is in, a ``BodyWatch`` the transport shows every body chunk
to and tells how reading ended. The transport only moves bytes; everything decided about a call
is decided here, once for every client library, sync or async:

* an HTTP error status (or a connection error) is one failed event, no tokens;
* a provider that refuses the injected option (400/422 naming it) gets the request again
  without it, once per host and API: the app never sees the refusal;
* a JSON body is kept as it is read and recorded when it ends; an SSE body is read event by
  event by an ``SSEMeter`` that also hides the usage-only chunk capture asked for (and the
  ``"usage": null`` the option adds to every other chunk), by rewriting the bytes the client
  reads;
* how a stream ended decides its record: read to the end (``complete``), cut (``error``),
  closed by the app (``closed``) or dropped (``abandoned``).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from time import perf_counter

from llmledger.capture.calls import (
    Api,
    CallSpec,
    is_usage_option_rejection,
    make_spec,
    needs_usage_option,
    shape_of,
    with_usage_option,
)
from llmledger.capture.codings import BodyDecoder, decoder_for
from llmledger.capture.context import Attribution, current_attribution
from llmledger.capture.meter import SSEMeter, body_kind, content_codings
from llmledger.capture.providers import detect_provider
from llmledger.capture.record import CallRecorder, Sink, StreamRecorder

__all__ = ["BodyWatch", "Exchange", "Metering", "Settings"]

log = logging.getLogger("llmledger.capture")

Headers = Sequence[tuple[bytes, bytes]]
MAX_BODY_BYTES = 64 * 1024 * 1024  # a larger JSON body is not kept: its call is estimated


@dataclass
class Settings:
    """What one instrumented client records and where."""

    sink: Sink
    provider: str | None  # named by the app: wins over the provider the URL tells
    defaults: Attribution
    include_usage: bool = True
    # Name a failure to connect as the SDKs do (``APIConnectionError``, ``APITimeoutError``):
    # what the app sees, not the HTTP library's exception under it.
    sdk_errors: bool = False
    # (host, API) pairs whose provider refused ``stream_options``: not asked again.
    no_usage_option: set[tuple[str, Api]] = field(default_factory=set)


class Metering:
    """Shared by an instrumented client's transports, so instrumenting it again only swaps the
    settings."""

    __slots__ = ("settings",)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def start(self, api: Api, host: str, path: str, body: bytes | None) -> Exchange | None:
        """A request to a metered API (``calls.api_for``) is about to be sent: its exchange,
        or None if capture failed (logged; the request then passes unmetered)."""
        try:
            settings = self.settings
            provider = settings.provider or detect_provider(host, api)
            spec = make_spec(api, provider, body or b"", path)
            return Exchange(settings, spec, host, body or b"")
        except Exception:
            log.error("llmledger could not meter a call; passing it through", exc_info=True)
            return None


def _failure_name(exc: BaseException, sdk: bool) -> str:
    """The status of a call that raised: the SDKs' name for a failed connection when the app
    uses one (``APIConnectionError``), else the exception's type."""
    if sdk:
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "TimeoutException" in names or isinstance(exc, TimeoutError):
            return "APITimeoutError"
        if names & {"RequestError", "ClientError"} or isinstance(exc, OSError):
            return "APIConnectionError"
    return type(exc).__name__


class Exchange:
    """One metered call, from its request to the end of its response body."""

    __slots__ = ("body", "host", "original", "scope", "settings", "spec", "started")

    def __init__(self, settings: Settings, spec: CallSpec, host: str, body: bytes) -> None:
        self.settings = settings
        self.spec = spec
        self.host = host
        self.original = body
        self.body = body  # what to send
        self.started = perf_counter()
        self.scope = current_attribution()  # merged over the defaults when the event is built
        if (
            settings.include_usage
            and needs_usage_option(spec)
            and (host, spec.api) not in settings.no_usage_option
        ):
            self.body = with_usage_option(spec)
            spec.injected_usage_option = True

    def send_apps_own(self) -> None:
        """The rewritten request could not be made: send the app's, asking for nothing."""
        log.error("llmledger could not ask for the stream's usage; sending the app's request")
        self.body = self.original
        self.spec.injected_usage_option = False

    @property
    def rewrites_request(self) -> bool:
        """The body to send is not the app's: the request is sent with ``body`` instead, and
        asks for an uncompressed response (so the stream's bytes can be rewritten)."""
        return self.body is not self.original

    def wants_error_body(self, status: int) -> bool:
        """Read this error response's body before it reaches the app (``refused_option``)."""
        return self.spec.injected_usage_option and status in (400, 422)

    def refused_option(self, status: int, body: bytes) -> bool:
        """The provider refused the injected ``stream_options``: never ask it again; True to
        send the app's own request instead (``body`` is now the app's)."""
        spec = self.spec
        if not (spec.injected_usage_option and is_usage_option_rejection(status, body)):
            return False
        self.settings.no_usage_option.add((self.host, spec.api))
        spec.injected_usage_option = False
        self.body = self.original
        log.warning(
            "llmledger: %s rejected stream_options.include_usage; retrying without it "
            "(stream usage will be estimated)",
            spec.provider or self.host,
        )
        return True

    def _recorder(self) -> CallRecorder:
        settings = self.settings
        rec = CallRecorder(settings.sink, self.spec, settings.defaults, scope=self.scope)
        rec.started = self.started
        return rec

    def failed(self, exc: BaseException) -> None:
        """Sending the request or reading the response head raised."""
        try:
            status = _failure_name(exc, self.settings.sdk_errors)
            self._recorder().record_failure(exc, status=status)
        except Exception:
            log.error("llmledger could not record a failed call", exc_info=True)

    def response(self, status: int, headers: Headers, *, decoded: bool = False) -> BodyWatch | None:
        """The response head arrived: a watch for its body, or None when there is nothing to
        read (an HTTP error is recorded here; a redirect or informational head is not a call's
        end). ``decoded``: the client hands over bodies with their content coding undone."""
        try:
            if status >= 400:
                self._recorder().record_failure(status=str(status))
                return None
            if not 200 <= status < 300:
                return None
            return self._watch(headers, decoded)
        except Exception:
            log.error("llmledger could not meter a response; passing it through", exc_info=True)
            return None

    def _watch(self, headers: Headers, decoded: bool) -> BodyWatch:
        codings = [] if decoded else content_codings(headers)
        decoder = decoder_for(codings) if codings else None
        readable = not codings or decoder is not None
        if body_kind(headers, decoded=True) != "sse":
            return WholeBodyWatch(self._recorder(), decoder, readable)
        spec, settings = self.spec, self.settings
        # Bytes are rewritten only when the app reads them as they came (not compressed).
        hide = spec.injected_usage_option and not codings
        if spec.injected_usage_option and codings:
            log.warning("llmledger: a compressed stream; its usage-only chunk reaches the app")
        meter = SSEMeter(
            shape_of(spec.api), spec.provider, hide_usage_chunk=hide, strip_null_usage=hide
        )
        rec = StreamRecorder(settings.sink, spec, settings.defaults, meter, scope=self.scope)
        rec.started = self.started
        return StreamWatch(rec, meter, decoder, readable)


class BodyWatch:
    """What a transport tells about a response body as the app's client reads it. Every
    method is safe to call in any order and never raises; the first end wins."""

    __slots__ = ("decoder", "finalizer", "readable")

    def __init__(self, decoder: BodyDecoder | None, readable: bool) -> None:
        self.decoder = decoder  # undoes the body's content coding on the copy read here
        self.readable = readable  # False: a coding nobody here can undo
        self.finalizer: weakref.finalize[..., object] | None = None

    @property
    def rewrites(self) -> bool:
        """``feed`` returns other bytes than it is given: pass on what it returns."""
        return False

    def watch_until_collected(self, holder: object) -> None:
        """Record ``abandoned`` if ``holder`` (the body's stream) is dropped, or still alive
        at interpreter exit, before the body ended."""
        self.finalizer = weakref.finalize(holder, self.abandoned)

    def _plain(self, chunk: bytes) -> bytes:
        if not self.readable:
            return b""
        decoder = self.decoder
        return chunk if decoder is None else decoder.decode(chunk)

    def _done(self) -> None:
        finalizer, self.finalizer = self.finalizer, None
        if finalizer is not None:
            finalizer.detach()

    def feed(self, chunk: bytes) -> bytes:
        """A chunk of the body as read from the network; the bytes to hand on."""
        raise NotImplementedError

    def end(self) -> bytes:
        """The body ended; the last bytes to hand on (held back for framing), if any."""
        raise NotImplementedError

    def failed(self, exc: BaseException) -> None:
        """Reading the body raised (the network cut it)."""
        raise NotImplementedError

    def closed(self, exc: BaseException | None) -> None:
        """The app's client closed the body; ``exc`` is the exception on its way up through
        the code that closed it, if any (``sys.exc_info()`` there)."""
        raise NotImplementedError

    def abandoned(self) -> None:
        """The body's stream was dropped without being closed."""
        raise NotImplementedError


class WholeBodyWatch(BodyWatch):
    """A body read whole (JSON): kept as it passes, recorded when it ends."""

    __slots__ = ("parts", "rec", "size")

    def __init__(self, rec: CallRecorder, decoder: BodyDecoder | None, readable: bool) -> None:
        super().__init__(decoder, readable)
        self.rec = rec
        self.parts: list[bytes] = []
        self.size = 0

    def feed(self, chunk: bytes) -> bytes:
        if self.size <= MAX_BODY_BYTES:
            plain = self._plain(chunk)
            self.size += len(plain)
            self.parts.append(plain)
        return chunk

    def _record(self) -> None:
        self._done()
        if self.rec.done:
            return
        parts, self.parts = self.parts, []
        body = b"" if self.size > MAX_BODY_BYTES else b"".join(parts)
        try:
            self.rec.record_body(body)  # unreadable: estimated from the request
        except Exception:
            log.error("llmledger could not record a response", exc_info=True)

    def end(self) -> bytes:
        if self.decoder is not None:
            self.feed(b"")  # what the decoder still holds
        self._record()
        return b""

    def failed(self, exc: BaseException) -> None:
        self._done()
        self.rec.record_failure(exc)

    def closed(self, exc: BaseException | None) -> None:
        self._record()  # closed before its end: what came is unreadable, so estimated

    def abandoned(self) -> None:
        self._record()


class StreamWatch(BodyWatch):
    """An SSE body, read event by event as it passes through its ``SSEMeter``."""

    __slots__ = ("_direct", "_rewrites", "meter", "rec")

    def __init__(
        self, rec: StreamRecorder, meter: SSEMeter, decoder: BodyDecoder | None, readable: bool
    ) -> None:
        super().__init__(decoder, readable)
        self.rec = rec
        self.meter = meter
        self._rewrites = not meter.watching
        self._direct = decoder is None and readable  # chunks are read as they come

    @property
    def rewrites(self) -> bool:
        return self._rewrites

    def feed(self, chunk: bytes) -> bytes:
        if self.rec.done:
            return chunk
        try:
            out = self.meter.feed(chunk if self._direct else self._plain(chunk))
        except Exception:
            log.error("llmledger could not read a stream; passing it through", exc_info=True)
            self._finish("error")
            return chunk
        return out if self._rewrites else chunk

    def _finish(
        self, end: str, error: BaseException | None = None, status: str | None = None
    ) -> None:
        self._done()
        try:
            self.rec.finish(end, error, status=status)
        except Exception:
            log.error("llmledger could not record a stream", exc_info=True)

    def end(self) -> bytes:
        if self.rec.done:
            return b""
        meter = self.meter
        tail = b""
        try:
            decoder = self.decoder
            if decoder is not None and self.readable:
                tail = meter.feed(decoder.decode(b""))
            tail += meter.close()
        except Exception:
            log.error("llmledger could not read a stream's end", exc_info=True)
        if meter.stream_error is not None:  # it failed, even if the app's client read on
            self._finish("error", status=meter.stream_error)
        else:
            self._finish("complete")
        return tail if self.rewrites else b""

    def failed(self, exc: BaseException) -> None:
        # Named as the HTTP library names the cut: SDK releases differ in whether they wrap it.
        self._finish("error", exc)

    def closed(self, exc: BaseException | None) -> None:
        # Closed by the SDK's generator as it was collected: the stream was dropped.
        self._stopped("abandoned" if isinstance(exc, GeneratorExit) else "closed", exc)

    def abandoned(self) -> None:
        self._stopped("abandoned", None)

    def _stopped(self, end: str, exc: BaseException | None) -> None:
        """The app's client stopped reading before the body's end."""
        if self.rec.done:
            return
        meter = self.meter
        if meter.terminal_seen:
            self._finish("complete")  # SDKs stop reading at [DONE] / the terminal event
        elif meter.stream_error is not None:  # the SDK raised it, or the app stopped on it
            error = exc if isinstance(exc, Exception) else None
            self._finish("error", error, status=meter.stream_error)
        else:
            self._finish(end)
