"""Turning one proxied request into its ledger record, and its usage into response headers."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec

from llmledger.events import UsageEvent, nanos_to_usd
from llmledger.gateway.endpoints import Endpoint
from llmledger.gateway.keys import Identity
from llmledger.usage.counts import TokenCounts

__all__ = [
    "USAGE_HEADERS",
    "RequestContext",
    "build_event",
    "usage_comment",
    "usage_headers",
    "usage_summary",
]

_PID = os.getpid()
_counter = 0


def new_request_id() -> str:
    """Unique per gateway process start and request: ``<random>-<counter>``."""
    global _counter
    _counter += 1
    return f"{_PREFIX}{_counter:x}"


_PREFIX = os.urandom(6).hex() + "-"


@dataclass
class RequestContext:
    """What the gateway knows about one API request while it proxies it."""

    endpoint: Endpoint
    identity: Identity
    model: str  # as the client asked
    stream: bool
    session_id: str | None = None
    request_type: str | None = None
    request_id: str = field(default_factory=new_request_id)
    ts: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    started: float = field(default_factory=time.perf_counter)
    upstream: str | None = None
    account: str | None = None
    upstream_model: str | None = None
    provider: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    upstream_started: float = 0.0
    upstream_seconds: float = 0.0  # time spent waiting on the upstream

    @property
    def event_id(self) -> str:
        return f"proxy:{self.request_id}"


def build_event(
    ctx: RequestContext,
    counts: TokenCounts | None,
    *,
    status: int | str,
    success: bool,
    reported_model: str | None = None,
    response_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> UsageEvent:
    """The ledger record of a request (failed ones too: zero tokens, ``success=False``)."""
    details: dict[str, Any] = {"endpoint": ctx.endpoint.name}
    if ctx.stream:
        details["stream"] = True
    if response_id:
        details["response_id"] = response_id
    if ctx.upstream_model and ctx.upstream_model != ctx.model:
        details["requested_model"] = ctx.model
    if ctx.attempts:
        details["failed_attempts"] = ctx.attempts
    if extra:
        details.update(extra)
    event = UsageEvent(
        model=reported_model or ctx.upstream_model or ctx.model,
        ts=ctx.ts,
        id=ctx.event_id,
        source="proxy",
        provider=ctx.provider,
        user_id=ctx.identity.user_id,
        org_id=ctx.identity.org_id,
        project=ctx.identity.project,
        api_key_id=ctx.identity.key_id,
        account=ctx.account,
        session_id=ctx.session_id,
        request_type=ctx.request_type or ctx.endpoint.name,
        latency_ms=round((time.perf_counter() - ctx.started) * 1000, 3),
        success=success,
        status=str(status),
        details=details,
    )
    if counts is not None:
        counts.apply_to(event)
    return event


USAGE_HEADERS = (
    "x-llmledger-request-id",
    "x-llmledger-cost",
    "x-llmledger-input-tokens",
    "x-llmledger-cache-read-tokens",
    "x-llmledger-cache-write-tokens",
    "x-llmledger-output-tokens",
    "x-llmledger-total-tokens",
    "x-llmledger-estimated",
)


def usage_headers(event: UsageEvent) -> list[tuple[bytes, bytes]]:
    """``x-llmledger-*`` headers for a committed event."""
    cost = "unpriced" if event.cost_nanos is None else str(nanos_to_usd(event.cost_nanos))
    values = (
        event.id.removeprefix("proxy:"),
        cost,
        str(event.input_tokens),
        str(event.cache_read_tokens),
        str(event.cache_creation_tokens),
        str(event.output_tokens),
        str(event.total_tokens),
    )
    headers = [(name.encode(), value.encode()) for name, value in zip(USAGE_HEADERS, values)]
    if event.estimated:
        headers.append((b"x-llmledger-estimated", b"true"))
    return headers


def usage_summary(event: UsageEvent) -> dict[str, Any]:
    """The committed usage and cost of a request, for the end of its stream."""
    cost = None if event.cost_nanos is None else str(nanos_to_usd(event.cost_nanos))
    return {
        "request_id": event.id.removeprefix("proxy:"),
        "cost": cost,
        "input_tokens": event.input_tokens,
        "cache_read_tokens": event.cache_read_tokens,
        "cache_write_tokens": event.cache_creation_tokens,
        "output_tokens": event.output_tokens,
        "total_tokens": event.total_tokens,
        "estimated": event.estimated,
    }


def usage_comment(summary: dict[str, Any]) -> bytes:
    """An SSE comment with the committed usage, sent before a stream's last event. SSE
    clients ignore comment lines, so the stream stays byte-compatible."""
    return b": llmledger " + msgspec.json.encode(summary) + b"\n\n"
