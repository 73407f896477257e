"""The dashboard on the gateway: who may read which part of the ledger, and the upstream
accounts' health for the operators' view.

The dashboard's JSON views name their caller with the usage API's credentials (auth.py): a
ledger key (or a service token with ``X-User-Id``, or a trusted proxy naming the user) sees
that user's events only; the admin token sees the whole ledger and the operators' views.
Without credentials: 401, as on ``/api/account/usage``.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from llmledger.gateway.auth import Authenticator
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.upstreams import AccountState, utc_day
from llmledger.web.app import Access, Guard, UpstreamHealth

if TYPE_CHECKING:
    from llmledger.gateway.state import Gateway

__all__ = ["account_health", "dashboard_guard", "upstream_health"]


def dashboard_guard(gw: Gateway) -> Guard:
    """The dashboard's guard on ``gw``: the caller's access, or their 4xx JSON error."""
    auth = Authenticator(gw, gw.config.server)

    async def guard(request: Request) -> Access | Response:
        try:
            caller = await auth.caller(request)
        except GatewayError as exc:
            return Response(exc.body("openai"), exc.status, media_type="application/json")
        if caller.admin:
            return Access(user_id=None, admin=True)
        if caller.user_id is None:  # never the whole ledger for a user's credentials
            error = GatewayError(403, "these credentials name no user", "user_required")
            return Response(error.body("openai"), 403, media_type="application/json")
        return Access(user_id=caller.user_id)

    return guard


def account_health(
    account: AccountState, attempts: dict[str, int], today: int, now: float
) -> dict[str, Any]:
    """One account's row: requests today against its cap, whether it rests, its attempts."""
    requests = account.requests_today if account.day == today else 0
    cap = account.cap
    resting_for = max(0.0, account.cooldown_until - now)
    models_resting = sum(1 for until in account.model_rest.values() if until > now)
    if cap is not None and requests >= cap:
        state = "capped"
    elif resting_for > 0:
        state = "resting"
    elif models_resting:
        state = "models-resting"
    else:
        state = "ok"
    ok = attempts.get("ok", 0)
    return {
        "account": account.label,
        "upstream": account.label.split("/", 1)[0],
        "requestsToday": requests,
        "dailyCap": cap,
        "capPercent": None if not cap else round(requests * 100 / cap, 2),
        "state": state,
        "restingSeconds": round(resting_for, 1) if resting_for else 0,
        "modelsResting": models_resting,
        "lastFailure": account.last_failure,
        "ok": ok,
        "errors": sum(attempts.values()) - ok,
        "attempts": attempts,
    }


def upstream_health(gw: Gateway) -> UpstreamHealth:
    """Reads each account's health from the gateway's state (called on its event loop)."""
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def read() -> dict[str, Any]:
        by_account: dict[str, dict[str, int]] = {}
        for (label, outcome), count in list(gw.metrics.attempts.values.items()):
            outcomes = by_account.setdefault(label, {})
            outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
        today, now = utc_day(), time.monotonic()
        rows = [
            account_health(account, by_account.get(account.label, {}), today, now)
            for account in gw.router.accounts()
        ]
        return {"accounts": rows, "startedAt": started}

    return read
