"""Proxying one metered API request: check, pick an account, fail over, hand to the relay.

A raw ASGI endpoint (one per API path, mounted in the Starlette app). The order of events is
the product's guarantee:

1. the declared length and the key are checked from the headers alone, before the body is
   read: a rejected client never uploads its body (reading it is what sends ``100 Continue``);
2. while the ledger cannot record, the request is refused with 503 before any upstream call;
3. the body is read (bounded in size and time) and its ``model`` / ``stream`` checked;
4. accounts are tried in turn while an attempt fails before any byte reached the client
   (connect errors, 429, 401/403, 5xx); a request that may have reached an upstream is never
   sent again;
5. ``relay.py`` commits the usage BEFORE the last byte goes to the client, and keeps metering a
   stream whose client left (or estimates it, flagged).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

from llmledger.capture.meter import body_kind
from llmledger.gateway.asgi import (
    ClientGone,
    Receive,
    Scope,
    Send,
    check_length,
    read_body,
    request_headers,
)
from llmledger.gateway.endpoints import Endpoint
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.forwarding import (
    RequestHead,
    client_asked_for_usage,
    parse_head,
    rewrite_body,
    upstream_headers,
)
from llmledger.gateway.metering import RequestContext
from llmledger.gateway.relay import Exchange, fail, relay_stream, relay_whole
from llmledger.gateway.transport import (
    ConnectError,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeout,
)
from llmledger.gateway.upstreams import UpstreamState, report_outcome, utc_day

if TYPE_CHECKING:
    from llmledger.gateway.state import Gateway

__all__ = ["FAILOVER_STATUSES", "ProxyEndpoint"]

log = logging.getLogger("llmledger.gateway")

FAILOVER_STATUSES = frozenset({401, 403, 429, 500, 502, 503, 504, 529})
_MAX_ATTRIBUTE_CHARS = 256


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


class ProxyEndpoint:
    """The ASGI app of one metered API path (``/v1/chat/completions``, …)."""

    def __init__(self, gateway: Gateway, endpoint: Endpoint) -> None:
        self.gateway = gateway
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self.gateway
        gw.in_flight += 1
        try:
            await _proxy(gw, self.endpoint, scope, receive, send)
        except GatewayError as exc:
            await gw.reject(send, scope, exc, self.endpoint.protocol)
        except ClientGone:
            pass
        finally:
            gw.in_flight -= 1


async def _proxy(
    gw: Gateway, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send
) -> None:
    started = time.perf_counter()
    headers = request_headers(scope)
    settings = gw.settings
    check_length(headers, settings.max_body_bytes)
    identity = await gw.authenticate(headers)  # before the body: no 100 Continue for strangers
    if not gw.recorder.ok:
        raise GatewayError(
            503,
            "usage cannot be recorded right now, so no request is sent upstream; try again shortly",
            "ledger_unavailable",
        )
    body = await read_body(receive, settings.max_body_bytes, settings.request_timeout)
    head = parse_head(body)
    ctx = RequestContext(
        endpoint=endpoint,
        identity=identity,
        model=head.model.strip(),
        stream=head.stream is True,
        session_id=_attribute(headers, "x-session-id"),
        request_type=_attribute(headers, "x-request-type"),
    )
    ctx.started = started
    candidates = gw.router.candidates(endpoint.protocol, ctx.model)
    if not candidates:
        raise GatewayError(
            404, f"the model {ctx.model!r} is not served by this gateway", "model_not_found"
        )
    exchange = Exchange(gw, ctx, send, receive, body)
    if gw.quota is None:
        await _forward(exchange, scope, headers, head, candidates)
        return
    # Plans and budgets: the request's bound is reserved before any upstream byte (429 else);
    # every way out of the forwarding commits an event that settles it, or releases it here.
    upstream_model = candidates[0][1]
    reservation = await gw.quota.admit(
        endpoint.name, body, ctx.identity, upstream_model, ctx.request_id
    )
    exchange.reservation = reservation
    try:
        await _forward(exchange, scope, headers, head, candidates)
    finally:
        if exchange.reservation is not None:
            await gw.quota.release(reservation.request_id)


async def _forward(
    exchange: Exchange,
    scope: Scope,
    headers: dict[str, str],
    head: RequestHead,
    candidates: list[tuple[UpstreamState, str]],
) -> None:
    """Try the candidates' accounts in turn; relay the first answer that is not a failover."""
    gw, ctx, body = exchange.gw, exchange.ctx, exchange.request_body
    endpoint, settings = ctx.endpoint, gw.settings
    wants_usage = client_asked_for_usage(head)
    query = scope.get("query_string", b"")
    today, now = utc_day(), time.monotonic()
    tried: set[str] = set()
    last_status: int | None = None
    for upstream, upstream_model in candidates:
        config = upstream.config
        inject = endpoint.injects_usage and ctx.stream and config.include_usage and not wants_usage
        upstream_body = rewrite_body(
            body,
            head,
            model=upstream_model if upstream_model != ctx.model else None,
            include_usage=inject,
        )
        url = gw.upstream_url(config, endpoint, query)
        while (account := upstream.pick(today, now, tried, upstream_model)) is not None:
            tried.add(account.label)
            ctx.upstream, ctx.account = config.name, account.label
            ctx.upstream_model, ctx.provider = upstream_model, config.provider_name
            ctx.upstream_started = time.perf_counter()
            request = UpstreamRequest(
                config.name,
                "POST",
                url,
                upstream_headers(headers, config, account.config),
                upstream_body,
                config.timeout,
            )
            try:
                response = await gw.transport.send(request)
            except ConnectError as exc:
                report_outcome(account, None, None)
                ctx.attempts.append({"account": account.label, "error": "unreachable"})
                gw.metrics.attempts.inc((account.label, "unreachable"))
                log.warning("gateway: %s: %s", account.label, exc)
                continue
            except UpstreamError as exc:
                # The request reached the upstream: it may have been billed. No failover.
                gw.metrics.attempts.inc((account.label, "error"))
                ctx.upstream_seconds = time.perf_counter() - ctx.upstream_started
                status = 504 if isinstance(exc, UpstreamTimeout) else 502
                await fail(exchange, status, f"upstream {config.name}: {exc}", "upstream_error")
                return
            if response.status in FAILOVER_STATUSES:
                retry_after = response.header("retry-after")
                with contextlib.suppress(UpstreamError):
                    await response.read()
                response.close()
                report_outcome(
                    account,
                    response.status,
                    retry_after,
                    model=upstream_model,
                    max_rate_limit_rest=settings.max_rate_limit_rest,
                )
                ctx.attempts.append({"account": account.label, "status": response.status})
                gw.metrics.attempts.inc((account.label, str(response.status)))
                last_status = response.status
                continue
            gw.metrics.attempts.inc((account.label, "ok"))
            streams = endpoint.shape is not None and body_kind(response.raw_headers) == "sse"
            if response.status == 200 and streams:
                await relay_stream(exchange, upstream, response, wants_usage)
            else:
                await relay_whole(exchange, upstream, response)
            return
    await _exhausted(exchange, candidates, today, last_status)


async def _exhausted(
    exchange: Exchange,
    candidates: list[tuple[UpstreamState, str]],
    today: int,
    last_status: int | None,
) -> None:
    """Every account was tried or unavailable: a clear 429 (capped / rate limited) or 502."""
    ctx = exchange.ctx
    now = time.monotonic()
    reasons = [
        f"{upstream.name}: {reason}"
        for upstream, model in candidates
        if (reason := upstream.exhausted_reason(today, now, model))
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
    await fail(exchange, status, message, code)
