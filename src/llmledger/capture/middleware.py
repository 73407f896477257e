"""``UsageMiddleware``: record the LLM usage an ASGI app's responses carry (FastAPI, Starlette, …).

A plain ASGI wrapper of ``send``, in the style of Starlette's own middleware::

    app.add_middleware(UsageMiddleware, ledger=ledger, paths=["/api/chat"], user_header="x-user")

On the configured paths it watches what the app sends, without changing or delaying it:

* ``application/json`` bodies: the usage of the provider response the app returns (OpenAI,
  Anthropic, Gemini or compatible shape, found at ``usage`` / ``usageMetadata`` / …) is
  recorded once the body is complete;
* ``text/event-stream`` bodies: each chunk is forwarded as it comes (never buffered) and its
  events are read as they pass; the stream's usage is recorded when it ends. A stream cut short
  (the client left, the app failed) is still recorded, estimated offline from the request and
  the text sent and flagged ``estimated``, as SDK capture does.

The reading of both kinds of body is ``capture/meter.py``, the same code the gateway meters
its proxied responses with.

Attribution: the ``attribute`` block around the app (if any) and the middleware's own
defaults, under the fields the app put on ``request.state`` (``user_id``, ``org_id``,
``session_id``, ``request_type``, ``project``, ``tags``, …; read when the response ends, so an
auth dependency can set them) and configured headers. ``request.state`` wins over headers,
which clients control. Responses without usage (and compressed bodies, which it cannot read)
are passed through and not recorded. Nothing here raises into the app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from time import perf_counter
from typing import Any

from llmledger.capture.calls import CallSpec, api_of
from llmledger.capture.context import (
    ATTRIBUTE_NAMES,
    Attribution,
    current_attribution,
    make_attribution,
)
from llmledger.capture.meter import BodyKind, SSEMeter, body_kind, json_envelope
from llmledger.capture.record import CallRecorder, Sink, StreamRecorder
from llmledger.ledger import Ledger
from llmledger.usage.normalize import UsageShape, detect_shape
from llmledger.usage.sse import decode_json

__all__ = ["UsageMiddleware"]

log = logging.getLogger("llmledger.capture")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SOURCE = "middleware"
MAX_JSON_BYTES = 8 * 1024 * 1024  # a larger JSON body is passed through unread
MAX_REQUEST_BYTES = 1024 * 1024  # request bodies kept (for an input estimate) up to this


class UsageMiddleware:
    """Record the usage found in JSON and SSE responses of ``paths`` into ``ledger``.

    ``paths``: path prefixes to meter (``"/v1"`` matches ``/v1`` and ``/v1/chat``); None meters
    every path. ``user_header`` names a request header holding the user id; ``headers`` maps
    more header names to attribution fields (``{"x-org": "org_id"}``). ``provider`` names the
    upstream for pricing (``"deepseek"``). Other keyword arguments (``org_id``, ``project``,
    ``tags``, …) are defaults for every event.
    """

    def __init__(
        self,
        app: ASGIApp,
        ledger: Ledger | None = None,
        *,
        paths: Iterable[str] | None = None,
        user_header: str | None = None,
        headers: Mapping[str, str] | None = None,
        provider: str | None = None,
        **attributes: Any,
    ) -> None:
        self.app = app
        self.sink = Sink(ledger)
        self.paths = None if paths is None else tuple(p.rstrip("/") for p in paths)
        header_fields = dict(headers or {})
        if user_header:
            header_fields[user_header] = "user_id"
        unknown = sorted(set(header_fields.values()) - set(ATTRIBUTE_NAMES))
        if unknown:
            raise TypeError(f"unknown attribution field(s) for headers: {', '.join(unknown)}")
        self.headers = {name.lower().encode("latin-1"): f for name, f in header_fields.items()}
        self.provider = provider
        self.defaults = make_attribution(**attributes)

    def meters(self, path: str) -> bool:
        if self.paths is None:
            return True
        return any(p == "" or path == p or path.startswith(p + "/") for p in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.meters(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        # The app's request.state lives in this dict; shared even if the app copies the scope.
        scope.setdefault("state", {})
        watch = _Watch(self, scope)
        try:
            await self.app(scope, watch.receive(receive), watch.send(send))
        except BaseException as exc:
            watch.ended(exc)
            raise
        watch.ended(None)

    def attribution(self, scope: Scope, outer: Attribution) -> Attribution:
        """Defaults, then the ``attribute`` block around the app, then headers, then
        ``request.state``."""
        merged = self.defaults.merged(outer)
        from_headers: dict[str, str] = {}
        for name, value in scope.get("headers") or ():
            field = self.headers.get(bytes(name).lower())
            if field is not None and value:
                from_headers[field] = bytes(value).decode("latin-1")
        state = scope.get("state")
        from_state = {}
        if isinstance(state, Mapping):
            from_state = {k: v for k in ATTRIBUTE_NAMES if (v := state.get(k)) is not None}
        for values in (from_headers, from_state):
            if values:
                try:
                    merged = merged.merged(make_attribution(**values))
                except TypeError:
                    log.error("llmledger: unusable attribution %r; ignored", values)
        return merged


class _Watch:
    """One request: keeps a bounded copy of the request body and reads the response."""

    __slots__ = (
        "_body",
        "_json",
        "_json_size",
        "_meter",
        "_request",
        "_request_size",
        "middleware",
        "outer",
        "scope",
        "started",
    )

    def __init__(self, middleware: UsageMiddleware, scope: Scope) -> None:
        self.middleware = middleware
        self.scope = scope
        self.outer = current_attribution()
        self.started = perf_counter()
        self._request: list[bytes] = []
        self._request_size = 0
        self._body: BodyKind | None = None  # once the response head says so
        self._json: list[bytes] = []
        self._json_size = 0
        self._meter: SSEMeter | None = None

    # -- request ---------------------------------------------------------------------------

    def receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message.get("type") == "http.request" and self._request_size < MAX_REQUEST_BYTES:
                chunk = message.get("body") or b""
                self._request.append(bytes(chunk))
                self._request_size += len(chunk)
            return message

        return wrapped

    def _spec(self, shape: UsageShape, model: str | None, stream: bool) -> CallSpec:
        body: Mapping[str, object] = {}
        if self._request and self._request_size <= MAX_REQUEST_BYTES:
            parsed = decode_json(b"".join(self._request))
            if isinstance(parsed, Mapping):
                body = parsed
        requested = body.get("model")
        if model is None and isinstance(requested, str) and requested:
            model = requested
        provider = self.middleware.provider
        return CallSpec(api_of(shape), provider, model, stream, parsed_body=body)

    # -- response --------------------------------------------------------------------------

    def send(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            try:
                self._see(message)
            except Exception:
                self._body = None
                log.error("llmledger middleware could not read a response", exc_info=True)
            if message.get("type") == "http.response.body" and not message.get("more_body"):
                # Queued before the last byte leaves: a client holding the whole response
                # can count on its usage being in the ledger's queue.
                self.ended(None, complete=True)
            await send(message)

        return wrapped

    def _see(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "http.response.start":
            self._body = body_kind(message.get("headers") or ())
            if self._body == "sse":
                self._meter = SSEMeter(provider=self.middleware.provider)
        elif kind == "http.response.body" and self._body is not None:
            chunk = bytes(message.get("body") or b"")
            if self._meter is not None:
                self._meter.feed(chunk)  # watching: the app's bytes go on unchanged
            elif chunk:
                self._json_size += len(chunk)
                if self._json_size > MAX_JSON_BYTES:
                    self._body, self._json = None, []
                else:
                    self._json.append(chunk)

    # -- the end ---------------------------------------------------------------------------

    def ended(self, error: BaseException | None, *, complete: bool = False) -> None:
        """The response's last body message was sent (``complete``), or the app stopped:
        returned before the end of its body (the client went away) or raised (``error``).
        Records once; later calls do nothing."""
        body, self._body = self._body, None
        try:
            if body == "sse":
                self._end_stream(error, complete)
            elif body == "json" and error is None:
                self._end_json()
        except Exception:
            log.error("llmledger middleware could not record a response", exc_info=True)

    def _end_stream(self, error: BaseException | None, complete: bool) -> None:
        meter = self._meter
        if meter is None:
            return
        meter.close()  # a last event without its blank line
        if meter.shape is None:  # no event of a known API: nothing to record
            return
        spec = self._spec(meter.shape, None, True)
        rec = StreamRecorder(
            self.middleware.sink,
            spec,
            self.middleware.attribution(self.scope, self.outer),
            meter,
            source=SOURCE,
        )
        rec.started = self.started
        if error is not None:
            rec.finish("error", error)
        else:  # without the provider's usage either way ends estimated
            rec.finish("complete" if complete else "closed")

    def _end_json(self) -> None:
        payload = json_envelope(b"".join(self._json)) if self._json else None
        self._json = []
        shape = detect_shape(payload) if payload is not None else None
        if payload is None or shape is None:
            return
        model = payload.get("model")
        spec = self._spec(shape, model if isinstance(model, str) and model else None, False)
        attribution = self.middleware.attribution(self.scope, self.outer)
        rec = CallRecorder(self.middleware.sink, spec, attribution, source=SOURCE)
        rec.started = self.started
        rec.record_response(payload)
