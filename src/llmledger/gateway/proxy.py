"""Proxying one metered API request: pick an account, fail over, relay, record, answer.

The order of events is the product's guarantee:

1. the request is authenticated and read (``model``, ``stream``) before anything goes upstream;
2. accounts are tried in turn while an attempt fails before any byte reached the client
   (connect errors, 429, 401/403, 5xx);
3. the usage is submitted to the ledger and its commit awaited BEFORE the last byte goes to
   the client: the whole body of a JSON response, the terminal event of a stream;
4. a client that leaves mid-stream does not stop the metering: the upstream is read to its end
   (bounded by ``drain_timeout``) for the reported usage, or the usage is estimated and flagged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from llmledger.gateway.client import ConnectError, UpstreamError, UpstreamResponse, UpstreamTimeout
from llmledger.gateway.endpoints import Endpoint
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.forwarding import (
    client_asked_for_usage,
    parse_head,
    response_headers,
    rewrite_body,
    upstream_headers,
)
from llmledger.gateway.http import HTTPConnection, Request
from llmledger.gateway.metering import (
    RequestContext,
    build_event,
    estimate_input_tokens,
    usage_comment,
    usage_headers,
    usage_summary,
)
from llmledger.gateway.relay import StreamMeter
from llmledger.gateway.upstreams import UpstreamState, report_outcome, utc_day
from llmledger.usage.counts import TokenCounts
from llmledger.usage.streams import stream_for

if TYPE_CHECKING:
    from llmledger.gateway.app import Gateway

__all__ = ["proxy_request"]

log = logging.getLogger("llmledger.gateway")

FAILOVER_STATUSES = frozenset({401, 403, 429, 500, 502, 503, 504, 529})
_MAX_ATTRIBUTE_CHARS = 256


class _Envelope(msgspec.Struct):
    """The top-level fields of a JSON response that carry usage (the rest is skipped)."""

    id: Any = None
    model: Any = None
    usage: Any = None
    service_tier: Any = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)


def _attribute(headers: dict[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if len(value) > _MAX_ATTRIBUTE_CHARS or not value.isprintable():
        raise GatewayError(
            400,
            f"{name} must be printable and at most {_MAX_ATTRIBUTE_CHARS} characters",
            "bad_header",
        )
    return value or None


async def proxy_request(
    gw: Gateway, conn: HTTPConnection, req: Request, endpoint: Endpoint
) -> None:
    identity = await gw.authenticate(req, endpoint.protocol)
    head = parse_head(req.body)
    ctx = RequestContext(
        endpoint=endpoint,
        identity=identity,
        model=head.model.strip(),
        stream=head.stream is True,
        session_id=_attribute(req.headers, "x-session-id"),
        request_type=_attribute(req.headers, "x-request-type"),
    )
    ctx.started = req.received_at
    candidates = gw.router.candidates(endpoint.protocol, ctx.model)
    if not candidates:
        raise GatewayError(
            404, f"the model {ctx.model!r} is not served by this gateway", "model_not_found"
        )
    wants_usage = client_asked_for_usage(head)
    today, now = utc_day(), time.monotonic()
    tried: set[str] = set()
    last_status: int | None = None
    for upstream, upstream_model in candidates:
        config = upstream.config
        inject = endpoint.injects_usage and ctx.stream and config.include_usage and not wants_usage
        body = rewrite_body(
            req.body,
            head,
            model=upstream_model if upstream_model != ctx.model else None,
            include_usage=inject,
        )
        path = endpoint.upstream_path(gw.pools[config.name].base_path)
        while (account := upstream.pick(today, now, tried)) is not None:
            tried.add(account.label)
            ctx.upstream, ctx.account = config.name, account.label
            ctx.upstream_model, ctx.provider = upstream_model, config.provider_name
            ctx.upstream_started = time.perf_counter()
            try:
                response = await gw.pools[config.name].request(
                    "POST",
                    path,
                    upstream_headers(req.headers, config, account.config),
                    body,
                    timeout=config.timeout,
                )
            except ConnectError as exc:
                report_outcome(account, None, None)
                ctx.attempts.append({"account": account.label, "error": "unreachable"})
                gw.metrics.attempts.inc((account.label, "unreachable"))
                log.warning("gateway: %s: %s", account.label, exc)
                continue
            except UpstreamError as exc:
                # The request reached the upstream: it may have been billed. No failover.
                gw.metrics.attempts.inc((account.label, "error"))
                status = 504 if isinstance(exc, UpstreamTimeout) else 502
                await _fail(
                    gw, conn, ctx, status, f"upstream {config.name}: {exc}", "upstream_error"
                )
                return
            if response.status in FAILOVER_STATUSES:
                retry_after = response.header(b"retry-after")
                with contextlib.suppress(UpstreamError):
                    await response.read(min(config.timeout, 30.0))
                response.release()
                report_outcome(
                    account, response.status, retry_after.decode("latin-1") if retry_after else None
                )
                ctx.attempts.append({"account": account.label, "status": response.status})
                gw.metrics.attempts.inc((account.label, str(response.status)))
                last_status = response.status
                continue
            gw.metrics.attempts.inc((account.label, "ok"))
            content_type = (response.header(b"content-type") or b"").lower()
            if response.status == 200 and content_type.startswith(b"text/event-stream"):
                await _relay_stream(gw, conn, ctx, upstream, response, wants_usage, req.body)
            else:
                await _relay_whole(gw, conn, ctx, upstream, response, req.body)
            return
    await _exhausted(gw, conn, ctx, candidates, today, last_status)


async def _exhausted(
    gw: Gateway,
    conn: HTTPConnection,
    ctx: RequestContext,
    candidates: list[tuple[UpstreamState, str]],
    today: int,
    last_status: int | None,
) -> None:
    """Every account was tried or unavailable: a clear 429 (capped / rate limited) or 502."""
    now = time.monotonic()
    reasons = [
        f"{upstream.name}: {reason}"
        for upstream, _ in candidates
        if (reason := upstream.exhausted_reason(today, now))
    ]
    tried = ", ".join(f"{a['account']} ({a.get('status', a.get('error'))})" for a in ctx.attempts)
    if (last_status is None and not ctx.attempts) or last_status == 429:
        status, code = 429, "accounts_exhausted"
        message = f"all upstream accounts for {ctx.model!r} are exhausted"
    else:
        status, code = 502, "upstream_unavailable"
        message = f"no upstream account for {ctx.model!r} could serve the request"
    details = "; ".join(part for part in (f"tried {tried}" if tried else "", *reasons) if part)
    if details:
        message += f" ({details})"
    ctx.account = None if not ctx.attempts else ctx.account
    await _fail(gw, conn, ctx, status, message, code)


async def _fail(
    gw: Gateway, conn: HTTPConnection, ctx: RequestContext, status: int, message: str, code: str
) -> None:
    """Record a failed request and answer it with a JSON error."""
    event = build_event(ctx, None, status=status, success=False)
    committed = await gw.commit(event)
    error = GatewayError(status, message, code)
    headers = [("x-llmledger-request-id", ctx.request_id)]
    if not committed:
        error = GatewayError(503, "usage could not be recorded; try again", "ledger_unavailable")
    conn.respond(error.status, headers, error.body(ctx.endpoint.protocol))
    gw.finished(ctx, event, error.status)


def _whole_body_usage(
    ctx: RequestContext, upstream: UpstreamState, body: bytes, request_body: bytes
) -> tuple[TokenCounts | None, str | None, str | None]:
    """(usage, reported model, response id) of a JSON response body."""
    try:
        envelope = _envelope_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, None, None
    payload: dict[str, Any] = {"usage": envelope.usage, "service_tier": envelope.service_tier}
    counts = ctx.endpoint.normalizer(upstream.config.provider)(payload)
    model = envelope.model if isinstance(envelope.model, str) and envelope.model else None
    response_id = envelope.id if isinstance(envelope.id, str) else None
    if counts is None:
        counts = _estimate_whole(ctx, body, request_body, model)
    return counts, model, response_id


def _estimate_whole(
    ctx: RequestContext, body: bytes, request_body: bytes, model: str | None
) -> TokenCounts:
    """A successful response without usage: estimate both sides, flagged."""
    from llmledger.estimate import estimate_tokens, tokenizer_name

    try:
        request = msgspec.json.decode(request_body)
    except msgspec.DecodeError:
        request = {}
    prompt = estimate_input_tokens(
        ctx.endpoint, request if isinstance(request, dict) else {}, model
    )
    output = 0 if ctx.endpoint.shape is None else estimate_tokens(body.decode("utf-8", "replace"))
    return TokenCounts(
        input_tokens=prompt,
        output_tokens=output,
        estimated=True,
        details={"estimator": tokenizer_name(), "reason": "no usage in response"},
    )


async def _relay_whole(
    gw: Gateway,
    conn: HTTPConnection,
    ctx: RequestContext,
    upstream: UpstreamState,
    response: UpstreamResponse,
    request_body: bytes,
) -> None:
    """A JSON (or any non-stream) response: read it, record it, then send it whole."""
    try:
        body = await response.read(upstream.config.timeout)
    except UpstreamError as exc:
        response.release()
        ctx.upstream_seconds = time.perf_counter() - ctx.upstream_started
        status = 504 if isinstance(exc, UpstreamTimeout) else 502
        await _fail(gw, conn, ctx, status, f"upstream {upstream.name}: {exc}", "upstream_error")
        return
    response.release()
    ctx.upstream_seconds = time.perf_counter() - ctx.upstream_started
    ok = 200 <= response.status < 300
    counts: TokenCounts | None = None
    model = response_id = None
    if ok:
        counts, model, response_id = _whole_body_usage(ctx, upstream, body, request_body)
    event = build_event(
        ctx,
        counts,
        status=response.status,
        success=ok,
        reported_model=model,
        response_id=response_id,
    )
    if not await gw.commit(event):
        error = GatewayError(503, "usage could not be recorded; try again", "ledger_unavailable")
        conn.respond(503, [], error.body(ctx.endpoint.protocol))
        gw.finished(ctx, event, 503)
        return
    headers = response_headers(response.headers)
    headers.extend(usage_headers(event))
    content_type = (response.header(b"content-type") or b"application/json").decode("latin-1")
    conn.respond(response.status, headers, body, content_type)
    gw.finished(ctx, event, response.status)


async def _relay_stream(
    gw: Gateway,
    conn: HTTPConnection,
    ctx: RequestContext,
    upstream: UpstreamState,
    response: UpstreamResponse,
    wants_usage: bool,
    request_body: bytes,
) -> None:
    """An SSE stream: pass events on as they come, hold the end until the usage is committed."""
    shape = ctx.endpoint.shape
    assert shape is not None
    meter = StreamMeter(
        stream_for(shape, upstream.config.provider),
        hide_usage_chunk=ctx.endpoint.injects_usage and not wants_usage,
    )
    loop = asyncio.get_running_loop()
    drain_timeout = gw.settings.drain_timeout
    timeout = upstream.config.timeout
    headers = response_headers(response.headers)
    headers.append(("content-type", "text/event-stream; charset=utf-8"))
    headers.append(("x-llmledger-request-id", ctx.request_id))
    conn.start(200, headers)
    conn.send(b"")  # the head goes out now, as the upstream's did
    client_left_at: float | None = None
    failure: str | None = None

    def client_left(_: object) -> None:
        # Wakes a reader waiting on a silent upstream: from now on the drain is bounded.
        nonlocal client_left_at
        if client_left_at is None:
            client_left_at = loop.time()
            response.set_deadline(client_left_at + drain_timeout)

    closed = conn.wait_closed()
    closed.add_done_callback(client_left)
    while True:
        try:
            chunk = await response.next_chunk(timeout)
        except UpstreamError as exc:
            failure = "drain_timeout" if client_left_at is not None else f"upstream: {exc}"
            break
        if chunk is None:
            break
        out = meter.feed(chunk)
        if out and not conn.closed:
            conn.send(out)
            await conn.drain()
    closed.remove_done_callback(client_left)
    if conn.closed:
        client_left(None)
    tail = meter.close()
    complete = failure is None and response.complete
    response.release()  # reused if it ended cleanly, closed otherwise
    ctx.upstream_seconds = time.perf_counter() - ctx.upstream_started
    counts = meter.accumulator.usage if complete and meter.accumulator.finished else None
    if counts is None:
        counts = await _stream_estimate(ctx, meter, request_body)
    if client_left_at is not None:
        status = 499
    elif failure is not None:
        status = 502
    else:
        status = 200
    extra: dict[str, Any] = {}
    if failure is not None:
        extra["stream_error"] = failure
    if client_left_at is not None:
        extra["client_disconnected"] = True
    event = build_event(
        ctx,
        counts,
        status=status,
        success=failure is None,
        reported_model=meter.accumulator.model,
        response_id=meter.accumulator.response_id,
        extra=extra,
    )
    committed = await gw.commit(event)
    if conn.closed:
        pass
    elif committed and failure is None:
        summary = usage_summary(event)
        conn.send(usage_comment(summary) + meter.usage_chunk(summary) + meter.held + tail)
        conn.finish()
    else:
        conn.abort()  # the client must not take a cut or unrecorded stream for a whole one
    gw.finished(ctx, event, status)


async def _stream_estimate(
    ctx: RequestContext, meter: StreamMeter, request_body: bytes
) -> TokenCounts:
    """Usage of a stream that ended early: what was reported plus estimates, flagged.

    Runs in a worker thread: the tokenizer may need loading and must not stall the loop."""

    def estimate() -> TokenCounts:
        prompt = 0
        if meter.accumulator.usage is None:
            try:
                request = msgspec.json.decode(request_body)
            except msgspec.DecodeError:
                request = {}
            if isinstance(request, dict):
                prompt = estimate_input_tokens(ctx.endpoint, request, ctx.upstream_model)
        return meter.accumulator.usage_or_estimate(prompt)

    return await asyncio.get_running_loop().run_in_executor(None, estimate)
