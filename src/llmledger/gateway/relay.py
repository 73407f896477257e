"""Relaying an upstream's response to the client, with its usage committed before the end.

* A JSON (or any non-stream) response is read whole, its usage read from it
  (``capture.meter.json_envelope``, the middleware's code), committed, then sent with the
  ``x-llmledger-*`` headers. A body that cannot be read, has no usage, or was cut by the
  upstream is estimated and flagged ``estimated``: never a silent 0.
* An SSE stream is passed on event by event through ``capture.meter.SSEMeter``; its terminal
  event waits in the meter until the usage is committed. A client that leaves does not stop
  the metering: the upstream is read on (up to ``drain_timeout``) for its usage, else the
  usage is estimated and flagged. A stream the upstream cut, or whose usage could not be
  committed, is left unfinished so the client cannot take it for a whole one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from llmledger.capture.meter import SSEMeter, json_envelope
from llmledger.estimate import estimate_request_tokens, estimate_tokens, tokenizer_name
from llmledger.events import UsageEvent
from llmledger.gateway.asgi import Receive, Send, send_bytes
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.forwarding import response_headers
from llmledger.gateway.metering import (
    RequestContext,
    build_event,
    usage_comment,
    usage_headers,
    usage_summary,
)
from llmledger.gateway.transport import UpstreamError, UpstreamResponse, UpstreamTimeout
from llmledger.gateway.upstreams import UpstreamState
from llmledger.quota.admission import Reservation
from llmledger.usage.counts import TokenCounts
from llmledger.usage.text import response_text

if TYPE_CHECKING:
    from llmledger.gateway.state import Gateway

__all__ = ["Exchange", "commit", "fail", "relay_stream", "relay_whole"]

_UNRECORDED = GatewayError(503, "usage could not be recorded; try again", "ledger_unavailable")


@dataclass(slots=True)
class Exchange:
    """One client request on its way through: who answers, and what was asked."""

    gw: Gateway
    ctx: RequestContext
    send: Send
    receive: Receive
    request_body: bytes
    reservation: Reservation | None = None  # the request's quota holds, until settled


async def commit(ex: Exchange, event: UsageEvent) -> bool:
    """Record the request's event (settling its reservation, if any); False if it failed."""
    reservation, ex.reservation = ex.reservation, None
    return await ex.gw.recorder.commit(event, reservation)


async def fail(
    ex: Exchange,
    status: int,
    message: str,
    code: str,
    counts: TokenCounts | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record a failed request, then answer it with a JSON error."""
    ctx = ex.ctx
    event = build_event(ctx, counts, status=status, success=False, extra=extra)
    committed = await commit(ex, event)
    error = GatewayError(status, message, code) if committed else _UNRECORDED
    headers = [(b"x-llmledger-request-id", ctx.request_id.encode())]
    await send_bytes(ex.send, error.status, error.body(ctx.endpoint.protocol), headers)
    ex.gw.finished(ctx, event, error.status)


def _json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body, decoded whole ({} when it is not one)."""
    try:
        request = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return {}
    return request if isinstance(request, dict) else {}


async def _estimate(ex: Exchange, output_text: str, reason: str) -> TokenCounts:
    """Both sides estimated offline (in a worker thread: a tokenizer may need loading)."""
    ctx = ex.ctx

    def estimate() -> TokenCounts:
        request = _json_object(ex.request_body)
        prompt = estimate_request_tokens(ctx.endpoint.name, request, ctx.upstream_model)
        output = estimate_tokens(output_text, ctx.upstream_model) if output_text else 0
        return TokenCounts(
            input_tokens=prompt,
            output_tokens=output,
            estimated=True,
            details={"estimator": tokenizer_name(), "reason": reason},
        )

    return await asyncio.get_running_loop().run_in_executor(None, estimate)


async def _whole_usage(
    ex: Exchange, upstream: UpstreamState, body: bytes
) -> tuple[TokenCounts, str | None, str | None]:
    """(usage, reported model, response id) of a successful JSON body, estimated if need be."""
    ctx = ex.ctx
    shape = ctx.endpoint.shape
    envelope = json_envelope(body)
    if envelope is None:  # the answer cannot be told from the JSON: the body's text stands in
        output_text = "" if shape is None else body.decode("utf-8", "replace")
        return await _estimate(ex, output_text, "unreadable response"), None, None
    model, response_id = envelope.get("model"), envelope.get("id")
    model = model if isinstance(model, str) and model else None
    response_id = response_id if isinstance(response_id, str) else None
    counts = ctx.endpoint.normalizer(upstream.config.provider)(envelope)
    if counts is None:  # the answer's own text (content, reasoning, tool calls), not the JSON
        output_text = "" if shape is None else response_text(shape, _json_object(body))
        counts = await _estimate(ex, output_text, "no usage in response")
    return counts, model, response_id


async def relay_whole(ex: Exchange, upstream: UpstreamState, response: UpstreamResponse) -> None:
    """A JSON (or any non-stream) response: read it, record it, then send it whole."""
    gw, ctx = ex.gw, ex.ctx
    parts: list[bytes] = []
    cut: UpstreamError | None = None
    try:
        while (chunk := await response.next_chunk()) is not None:
            parts.append(chunk)
    except UpstreamError as exc:
        cut = exc
    response.close()
    ctx.upstream_seconds = time.perf_counter() - ctx.upstream_started
    body = parts[0] if len(parts) == 1 else b"".join(parts)
    ok = 200 <= response.status < 300
    counts: TokenCounts | None = None
    if cut is not None:
        # It may have been billed: estimate what was asked and what arrived, flagged.
        if ok:
            counts = await _estimate(ex, body.decode("utf-8", "replace"), "response cut")
        status = 504 if isinstance(cut, UpstreamTimeout) else 502
        extra = {"upstream_status": response.status, "response_error": str(cut)}
        await fail(ex, status, f"upstream {upstream.name}: {cut}", "upstream_error", counts, extra)
        return
    model = response_id = None
    if ok:
        counts, model, response_id = await _whole_usage(ex, upstream, body)
    event = build_event(
        ctx,
        counts,
        status=response.status,
        success=ok,
        reported_model=model,
        response_id=response_id,
    )
    if not await commit(ex, event):
        await send_bytes(ex.send, 503, _UNRECORDED.body(ctx.endpoint.protocol))
        gw.finished(ctx, event, 503)
        return
    headers = response_headers(response.raw_headers)
    headers.extend(usage_headers(event))
    content_type = response.header("content-type") or "application/json"
    await send_bytes(ex.send, response.status, body, headers, content_type.encode("latin-1"))
    gw.finished(ctx, event, response.status)


async def relay_stream(
    ex: Exchange, upstream: UpstreamState, response: UpstreamResponse, wants_usage: bool
) -> None:
    """An SSE stream: pass events on as they come, hold the end until the usage is committed."""
    gw, ctx, send = ex.gw, ex.ctx, ex.send
    hide = ctx.endpoint.injects_usage and not wants_usage
    meter = SSEMeter(
        ctx.endpoint.shape,
        upstream.config.provider,
        hold_end=True,
        hide_usage_chunk=hide,
        hold_usage_chunk=not hide,
    )
    headers = response_headers(response.raw_headers)
    headers.append((b"content-type", b"text/event-stream; charset=utf-8"))
    headers.append((b"x-llmledger-request-id", ctx.request_id.encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    loop = asyncio.get_running_loop()
    drain_timeout = gw.settings.drain_timeout
    left_at: list[float] = []

    def client_left(_: object = None) -> None:
        # Wakes a reader waiting on a silent upstream: from now on the drain is bounded.
        if not left_at:
            left_at.append(loop.time())
            response.set_deadline(left_at[0] + drain_timeout)

    watcher = asyncio.ensure_future(ex.receive())  # completes when the client disconnects
    watcher.add_done_callback(client_left)
    failure: str | None = None
    while True:
        try:
            chunk = await response.next_chunk()
        except UpstreamError as exc:
            failure = "drain_timeout" if left_at else f"upstream: {exc}"
            break
        if chunk is None:
            break
        out = meter.feed(chunk)
        if out and not left_at:
            try:
                await send({"type": "http.response.body", "body": out, "more_body": True})
            except OSError:
                client_left()
    watcher.remove_done_callback(client_left)
    gone = bool(left_at) or watcher.done()
    if not watcher.done():
        watcher.cancel()
    tail = meter.close()
    complete = failure is None and response.complete
    response.close()
    ctx.upstream_seconds = time.perf_counter() - ctx.upstream_started
    acc = meter.accumulator
    assert acc is not None  # the endpoint's shape is known
    counts = acc.usage if complete and acc.finished else None
    if counts is None:
        counts = await _stream_estimate(ex, meter)
    status = 499 if gone else 502 if failure is not None else 200
    extra: dict[str, Any] = {}
    if failure is not None:
        extra["stream_error"] = failure
    if gone:
        extra["client_disconnected"] = True
    event = build_event(
        ctx,
        counts,
        status=status,
        success=failure is None,
        reported_model=acc.model,
        response_id=acc.response_id,
        extra=extra,
    )
    committed = await commit(ex, event)
    if not gone and committed and failure is None:
        summary = usage_summary(event)
        end = usage_comment(summary) + meter.usage_chunk(summary) + meter.held + tail
        await send({"type": "http.response.body", "body": end, "more_body": False})
    # Otherwise the stream is left unfinished: the server closes the connection without the
    # last chunk, so the client cannot take a cut or unrecorded stream for a whole one.
    gw.finished(ctx, event, status)


async def _stream_estimate(ex: Exchange, meter: SSEMeter) -> TokenCounts:
    """Usage of a stream that ended early: what was reported plus estimates, flagged."""
    ctx = ex.ctx
    acc = meter.accumulator
    assert acc is not None

    def estimate() -> TokenCounts:
        prompt = 0
        if acc.usage is None:
            request = _json_object(ex.request_body)
            prompt = estimate_request_tokens(ctx.endpoint.name, request, ctx.upstream_model)
        return acc.usage_or_estimate(prompt)

    return await asyncio.get_running_loop().run_in_executor(None, estimate)
