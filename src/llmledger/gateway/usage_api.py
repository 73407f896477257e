"""The caller's own usage: ``/api/account/…`` and ``POST /api/estimate``.

- ``GET /api/account/usage``: ``{"summary": {"month", "used", "limit", "remaining", "percent",
  "addOn", "plan", …}}``, the caller's meter this month (``QuotaBook.summary``);
- ``GET /api/account/usage/history?by=day|model|provider|key&since&until&tz&format=json|csv``;
- ``GET /api/account/budgets``, ``GET /api/account/alerts?state=open|all``;
- ``GET /api/account/usage/stream``: server-sent events — ``usage`` (the summary) at once and
  after each change of the caller's usage, ``alert`` when one of their alerts fires or
  resolves, ``: keep-alive`` comments while idle; it ends after ``[server] stream_seconds``
  (EventSource reconnects by itself);
- ``POST /api/estimate``: a request body as the client would send it → the estimated input
  (offline tokenizer, flagged), the max output, the cost range, and whether the caller's plan
  and budgets would admit it now.

Every ledger read runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from llmledger.gateway.api_common import (
    ApiContext,
    answer,
    iso,
    query_choice,
    query_day,
    query_zone,
)
from llmledger.gateway.api_models import (
    AlertsAnswer,
    BudgetsAnswer,
    EstimateAnswer,
    EstimateBody,
    HistoryAnswer,
    UsageAnswer,
)
from llmledger.gateway.api_spec import Operation, Param, decode_body
from llmledger.gateway.auth import Caller
from llmledger.gateway.quota_gate import subjects_of
from llmledger.query import Totals
from llmledger.report.aggregate import ReportOptions
from llmledger.report.render.jsonout import totals_fields
from llmledger.report.timezones import zone_name

__all__ = ["HISTORY_DIMENSIONS", "UsageApi", "history", "meter"]

_encode = msgspec.json.Encoder().encode
HISTORY_DIMENSIONS = {"model": "model", "provider": "provider", "key": "api_key"}
_BY = ("day", "model", "provider", "key")

# One event of the live stream: ``usage`` (data: {"summary": …}) or ``alert`` (data: the alert).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["usage", "alert"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer"},
    },
}

HISTORY_PARAMS = (
    Param("by", "query", {"type": "string", "enum": list(_BY)}, "group rows by (default day)"),
    Param("since", "query", {"type": "string"}, "first day, YYYY-MM-DD (inclusive)"),
    Param("until", "query", {"type": "string"}, "last day, YYYY-MM-DD (inclusive)"),
    Param("tz", "query", {"type": "string"}, "IANA time zone of the days (default the quotas')"),
    Param("format", "query", {"type": "string", "enum": ["json", "csv"]}, "json (default) or csv"),
)


def meter(ctx: ApiContext, user_id: str | None, org_id: str | None) -> dict[str, Any]:
    """A user's (or org's) meter summary (blocking)."""
    return ctx.book.summary(user_id=user_id, org_id=org_id)


def history(ctx: ApiContext, request: Request, filters: dict[str, tuple[str, ...]]) -> Response:
    """Rows of usage per day / model / provider / key (blocking), as JSON or CSV."""
    by = query_choice(request, "by", _BY, "day")
    since, until = query_day(request, "since"), query_day(request, "until")
    zone = query_zone(request, "tz", ctx.book.zone_name)
    output = query_choice(request, "format", ("json", "csv"), "json")
    options = ReportOptions(kind="daily", zone=zone, since=since, until=until, filters=filters)
    if by == "day":
        report = ctx.ledger.build_report(options)
        pairs = [(row.key, row.totals) for row in report.rows]
        totals = report.totals
    else:
        dimension = HISTORY_DIMENSIONS[by]
        groups = ctx.ledger.aggregate(options.event_filter(), [dimension])
        pairs = sorted((str(g.key[dimension] or ""), g.totals) for g in groups)
        totals = Totals()
        for _, part in pairs:
            totals.add(part)
    rows = [{"key": key, **totals_fields(part)} for key, part in pairs]
    if output == "csv":
        return _csv(by, rows)
    return answer(
        {
            "by": by,
            "since": _day(since),
            "until": _day(until),
            "timezone": zone_name(zone),
            "rows": rows,
            "totals": totals_fields(totals),
        }
    )


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _csv(by: str, rows: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    names = ["key", *totals_fields(Totals())]
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    headers = {"content-disposition": f'attachment; filename="usage-by-{by}.csv"'}
    return Response(out.getvalue(), 200, headers, media_type="text/csv")


def _alert_rows(ctx: ApiContext, caller: Caller, open_only: bool) -> list[dict[str, Any]]:
    subject = caller.subject
    keys = {f"plan:{s}" for s in (subject.user, subject.org) if s}
    for budget in ctx.book.budget_status(subject):
        keys.update({f"budget:{budget['id']}:tokens", f"budget:{budget['id']}:usd"})
    return [
        {
            "limitKey": state.limit_key,
            "window": state.window,
            "threshold": state.threshold,
            "firedAt": iso(state.fired_at),
            "resolvedAt": iso(state.resolved_at),
            "open": state.resolved_at is None,
        }
        for state in ctx.book.alerts(open_only=open_only)
        if state.limit_key in keys
    ]


class UsageApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def usage(self, request: Request) -> Response:
        caller = await self.ctx.auth.user(request)
        summary = await run_in_threadpool(meter, self.ctx, caller.user_id, caller.org_id)
        return answer({"summary": summary})

    async def history(self, request: Request) -> Response:
        caller = await self.ctx.auth.user(request)
        assert caller.user_id is not None
        return await run_in_threadpool(history, self.ctx, request, {"user_id": (caller.user_id,)})

    async def budgets(self, request: Request) -> Response:
        caller = await self.ctx.auth.user(request)
        rows = await run_in_threadpool(self.ctx.book.budget_status, caller.subject)
        return answer({"budgets": rows})

    async def alerts(self, request: Request) -> Response:
        state = query_choice(request, "state", ("open", "all"), "open")
        caller = await self.ctx.auth.user(request)
        rows = await run_in_threadpool(_alert_rows, self.ctx, caller, state == "open")
        return answer({"alerts": rows})

    async def stream(self, request: Request) -> Response:
        caller = await self.ctx.auth.user(request)
        return StreamingResponse(
            self._events(caller),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def _events(self, caller: Caller) -> AsyncIterator[bytes]:
        settings = self.ctx.settings
        subscription = self.ctx.gw.feed.subscribe(
            subjects_of(caller.user_id, caller.org_id, caller.key_id)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.stream_seconds
        try:
            yield b"retry: 3000\n\n" + await self._usage_event(caller)
            while (left := deadline - loop.time()) > 0:
                message = await subscription.get(min(settings.keepalive_seconds, left))
                if message is None:
                    yield b": keep-alive\n\n"
                elif message.kind == "alert":
                    yield b"event: alert\ndata: " + _encode(dict(message.alert)) + b"\n\n"
                else:
                    while not subscription.queue.empty():  # a burst: one fresh summary
                        queued = subscription.queue.get_nowait()
                        if queued.kind == "alert":
                            yield b"event: alert\ndata: " + _encode(dict(queued.alert)) + b"\n\n"
                    yield await self._usage_event(caller)
        finally:
            subscription.close()

    async def _usage_event(self, caller: Caller) -> bytes:
        summary = await run_in_threadpool(meter, self.ctx, caller.user_id, caller.org_id)
        return b"event: usage\ndata: " + _encode({"summary": summary}) + b"\n\n"

    async def estimate(self, request: Request) -> Response:
        caller = await self.ctx.auth.user(request)
        raw = await request.body()
        body = decode_body(raw, EstimateBody)
        request_fields = msgspec.json.decode(raw)
        return answer(await run_in_threadpool(self._estimate, caller, body, request_fields))

    def _estimate(
        self, caller: Caller, body: EstimateBody, fields: dict[str, Any]
    ) -> dict[str, Any]:
        return self.ctx.ledger.estimate(
            fields,
            api=body.api,
            user_id=caller.user_id,
            org_id=caller.org_id,
            key_id=caller.key_id,
            check_quotas=self.ctx.gw.quota is not None,
            reserve_output_tokens=self.ctx.settings.reserve_output_tokens,
        )

    def operations(self) -> list[Operation]:
        user_errors = (400, 401, 404, 422)
        return [
            Operation(
                "GET",
                "/api/account/usage",
                "The caller's meter this month",
                self.usage,
                "user",
                UsageAnswer,
                errors=user_errors,
            ),
            Operation(
                "GET",
                "/api/account/usage/history",
                "The caller's usage per day, model, provider or key",
                self.history,
                "user",
                HistoryAnswer,
                params=HISTORY_PARAMS,
                also_csv=True,
                errors=user_errors,
            ),
            Operation(
                "GET",
                "/api/account/usage/stream",
                "Server-sent events: the meter at once and after each change, alerts",
                self.stream,
                "user",
                None,
                media="text/event-stream",
                media_schema=SSE_EVENT,
                errors=user_errors,
            ),
            Operation(
                "GET",
                "/api/account/budgets",
                "The caller's budgets with their use in the current window",
                self.budgets,
                "user",
                BudgetsAnswer,
                errors=user_errors,
            ),
            Operation(
                "GET",
                "/api/account/alerts",
                "The alerts of the caller's plan and budgets",
                self.alerts,
                "user",
                AlertsAnswer,
                params=(
                    Param(
                        "state",
                        "query",
                        {"type": "string", "enum": ["open", "all"]},
                        "open (default) or all",
                    ),
                ),
                errors=user_errors,
            ),
            Operation(
                "POST",
                "/api/estimate",
                "Estimate a request before sending it: tokens, cost range, admission",
                self.estimate,
                "user",
                EstimateAnswer,
                body=EstimateBody,
                errors=user_errors,
            ),
        ]
