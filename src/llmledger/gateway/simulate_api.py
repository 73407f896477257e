"""``POST /api/test/simulate-tokens``: try the meter without calling a model.

``{"tokens": 1000}`` → ``{"ok": true, "message": "Simulated 1000 tokens", "tokensAdded": 1000,
"summary": {…}, "steps": [{"tokens": 1000, "summary": {…}}]}``; ``{"tokens": [1000, 40000]}``
records each amount in turn and shows the meter after each (alerts fire as they would).

Exists only with ``[server] allow_simulation = true`` (404 otherwise); only for the admin token
(403 for anyone else), acting for the user in the body's ``user_id`` or ``X-User-Id``;
``[server] simulations_per_minute`` per admin client (429 past it); every call is written to
the audit log (who, for whom, how much, when). The events have ``source = "simulated"``, count
against the meter like real ones, and reports can leave them out by source.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from llmledger.gateway.api_common import ApiContext, answer
from llmledger.gateway.api_errors import ApiError
from llmledger.gateway.api_models import SimulateAnswer, SimulateBody
from llmledger.gateway.api_spec import Operation, decode_body
from llmledger.gateway.usage_api import meter

__all__ = ["RateLimit", "SimulateApi"]

PATH = "/api/test/simulate-tokens"


class RateLimit:
    """A token bucket per caller: ``per_minute`` calls, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """0 when the call may go ahead, else the seconds until it may."""
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(caller, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens < 1:
                self._buckets[caller] = (tokens, now)
                return (1 - tokens) / rate
            self._buckets[caller] = (tokens - 1, now)
            return 0.0


class SimulateApi:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.limit = RateLimit(ctx.settings.simulations_per_minute)

    async def simulate(self, request: Request) -> Response:
        if not self.ctx.settings.allow_simulation:
            raise ApiError(404, f"no such endpoint: POST {PATH}", "not_found")
        caller = await self.ctx.auth.caller(request)
        if not caller.admin:
            raise ApiError(403, "simulating tokens needs the admin token", "admin_required")
        body = decode_body(await request.body(), SimulateBody)
        user_id = body.user_id or caller.user_id
        if user_id is None:
            raise ApiError(
                422,
                "body.user_id: name the user (in the body or X-User-Id)",
                "validation_error",
                "user_id",
            )
        actor = f"admin@{request.client.host if request.client else '?'}"
        wait = self.limit.take(actor)
        if wait > 0:
            raise ApiError(
                429,
                f"at most {self.limit.per_minute} simulations a minute; retry in {wait:.1f} s",
                "rate_limited",
                headers={"retry-after": str(max(1, round(wait)))},
            )
        amounts = body.tokens if isinstance(body.tokens, list) else [body.tokens]
        result = await run_in_threadpool(self._record, actor, user_id, caller.org_id, amounts)
        self.ctx.changed(user_id, caller.org_id)
        return answer(result)

    def _record(
        self, actor: str, user_id: str, org_id: str | None, amounts: list[int]
    ) -> dict[str, Any]:
        steps, ids = [], []
        for tokens in amounts:
            event = self.ctx.ledger.record_user_tokens(
                user_id,
                tokens,
                org_id=org_id,
                source="simulated",
                event_id=f"simulated:{uuid.uuid4().hex}",
            )
            ids.append(event.id)
            steps.append({"tokens": tokens, "summary": meter(self.ctx, user_id, org_id)})
        total = sum(amounts)
        self.ctx.audit.write(
            "simulate-tokens", actor=actor, user=user_id, tokens=amounts, total=total, events=ids
        )
        said = " + ".join(f"{amount}" for amount in amounts)
        return {
            "ok": True,
            "message": f"Simulated {said} tokens",
            "tokensAdded": total,
            "summary": steps[-1]["summary"],
            "steps": steps,
        }

    def operations(self) -> list[Operation]:
        return [
            Operation(
                "POST",
                PATH,
                "Record simulated tokens for a user (admin; when enabled)",
                self.simulate,
                "simulate",
                SimulateAnswer,
                body=SimulateBody,
                errors=(400, 401, 403, 404, 422, 429),
            )
        ]
