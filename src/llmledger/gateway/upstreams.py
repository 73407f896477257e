"""Upstream accounts at run time: which upstream serves a model, which account goes next.

Pure state, no I/O: the proxy asks ``Router.candidates`` for the upstreams of a model, then
``UpstreamState.pick`` for an account, and reports each attempt's outcome back so that an
account that failed rests for a while: after a 429 only for the model it was asked for (for
its ``Retry-After``, at most ``max_rate_limit_rest``), so one rate-limited model never locks
the account for the others; after a 401/403 or a connect failure the whole account. Daily
request caps count every attempt sent to an account (UTC days), seeded at startup from the
ledger's ``account`` column, and are checked and incremented in one step on the event loop,
so concurrent requests can never push an account past its cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from llmledger.gateway.config import AccountConfig, UpstreamConfig

__all__ = [
    "AccountState",
    "Router",
    "UpstreamState",
    "cooldown_for",
    "rate_limit_rest",
    "report_outcome",
    "utc_day",
]

# How long an account rests after a failure, by kind (seconds).
COOLDOWN_RATE_LIMITED = 30.0
COOLDOWN_AUTH = 300.0
COOLDOWN_UNREACHABLE = 5.0
MAX_RETRY_AFTER = 3600.0
_ROUTE_CACHE_LIMIT = 4096
_MODEL_REST_LIMIT = 1024  # models resting per account, at most (expired ones are dropped)


def utc_day(now: float | None = None) -> int:
    """Days since the epoch, UTC: the unit of the daily request caps."""
    return int((time.time() if now is None else now) // 86_400)


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def rate_limit_rest(
    retry_after: str | None, bound: float = MAX_RETRY_AFTER, now: float | None = None
) -> float:
    """How long an account rests for one model after a 429: its ``Retry-After`` (else 30 s),
    never more than ``bound``."""
    wall = time.time() if now is None else now
    rest = _retry_after_seconds(retry_after, wall)
    return min(COOLDOWN_RATE_LIMITED if rest is None else rest, bound)


def cooldown_for(status: int | None, retry_after: str | None = None) -> float:
    """Rest time for an account after an attempt failed with ``status`` (None: unreachable)."""
    if status is None:
        return COOLDOWN_UNREACHABLE
    if status == 429:
        return rate_limit_rest(retry_after)
    if status in (401, 403):
        return COOLDOWN_AUTH
    return 0.0


@dataclass
class AccountState:
    config: AccountConfig
    label: str  # "<upstream>/<account>": the ledger's ``account`` value
    day: int = 0
    requests_today: int = 0
    cooldown_until: float = 0.0  # the whole account rests until then (401/403, unreachable)
    last_failure: str | None = None
    model_rest: dict[str, float] = field(default_factory=dict)  # model -> rests until (429)

    @property
    def cap(self) -> int | None:
        return self.config.daily_request_cap

    def roll(self, today: int) -> None:
        if today != self.day:
            self.day, self.requests_today = today, 0

    def has_capacity(self, today: int) -> bool:
        self.roll(today)
        cap = self.config.daily_request_cap
        return cap is None or self.requests_today < cap

    def resting(self, now: float, model: str | None = None) -> bool:
        """Resting as a whole, or (``model`` given) for that model after a 429."""
        if now < self.cooldown_until:
            return True
        if model is None or not self.model_rest:
            return False
        until = self.model_rest.get(model)
        return until is not None and now < until

    def rest_model(self, model: str, until: float, now: float) -> None:
        rest = self.model_rest
        if len(rest) >= _MODEL_REST_LIMIT:
            for name in [m for m, t in rest.items() if t <= now]:
                del rest[name]
            if len(rest) >= _MODEL_REST_LIMIT:
                rest.pop(next(iter(rest)))
        rest[model] = until


@dataclass
class UpstreamState:
    config: UpstreamConfig
    accounts: list[AccountState] = field(default_factory=list)
    _next: int = 0

    @classmethod
    def build(cls, config: UpstreamConfig) -> UpstreamState:
        accounts = [AccountState(a, f"{config.name}/{a.name}") for a in config.accounts]
        return cls(config, accounts)

    @property
    def name(self) -> str:
        return self.config.name

    def pick(
        self,
        today: int,
        now: float,
        exclude: frozenset[str] | set[str] = frozenset(),
        model: str | None = None,
    ) -> AccountState | None:
        """Reserve the next usable account (counts one request against its cap), or None.

        Usable: not tried yet for this request, under its daily cap, and not resting after
        a recent 401/connect failure, or after a 429 for ``model`` (the upstream's name).
        """
        pool = [
            a
            for a in self.accounts
            if a.label not in exclude and a.has_capacity(today) and not a.resting(now, model)
        ]
        if not pool:
            return None
        if self.config.strategy == "least-used":
            chosen = min(pool, key=lambda a: a.requests_today)
        else:
            chosen = self._round_robin(pool)
        chosen.requests_today += 1
        return chosen

    def _round_robin(self, pool: list[AccountState]) -> AccountState:
        count = len(self.accounts)
        for step in range(count):
            candidate = self.accounts[(self._next + step) % count]
            if candidate in pool:
                self._next = (self._next + step + 1) % count
                return candidate
        return pool[0]

    def exhausted_reason(self, today: int, now: float, model: str | None = None) -> str:
        """Why ``pick`` found nothing: for the all-accounts-exhausted error message."""
        capped = sum(1 for a in self.accounts if not a.has_capacity(today))
        resting = sum(1 for a in self.accounts if a.has_capacity(today) and a.resting(now, model))
        parts = []
        if capped:
            parts.append(f"{capped} at their daily request cap")
        if resting:
            parts.append(f"{resting} rate limited or failing")
        return ", ".join(parts)


def report_outcome(
    account: AccountState,
    status: int | None,
    retry_after: str | None,
    *,
    model: str | None = None,
    max_rate_limit_rest: float = MAX_RETRY_AFTER,
) -> None:
    """Let an account rest after a failed attempt (status None: could not connect). A 429
    rests only ``model`` (when given), for at most ``max_rate_limit_rest`` seconds."""
    account.last_failure = "unreachable" if status is None else str(status)
    now = time.monotonic()
    if status == 429 and model is not None:
        rest = rate_limit_rest(retry_after, max_rate_limit_rest)
        if rest > 0:
            account.rest_model(model, now + rest, now)
        return
    rest = cooldown_for(status, retry_after)
    if status == 429:
        rest = min(rest, max_rate_limit_rest)
    if rest > 0:
        account.cooldown_until = now + rest


class Router:
    """Upstreams by protocol and model, in config order."""

    def __init__(
        self, upstreams: list[UpstreamState], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.upstreams = upstreams
        self.clock = clock
        self._routes: dict[tuple[str, str], list[tuple[UpstreamState, str]]] = {}

    def candidates(self, protocol: str, model: str) -> list[tuple[UpstreamState, str]]:
        """(upstream, upstream model name) pairs that serve ``model`` over ``protocol``."""
        key = (protocol, model)
        found = self._routes.get(key)
        if found is None:
            found = []
            for upstream in self.upstreams:
                if upstream.config.protocol != protocol:
                    continue
                target = upstream.config.upstream_model(model)
                if target is not None:
                    found.append((upstream, target))
            if len(self._routes) >= _ROUTE_CACHE_LIMIT:
                self._routes.clear()
            self._routes[key] = found
        return found

    def accounts(self) -> list[AccountState]:
        return [a for u in self.upstreams for a in u.accounts]

    def seed(self, requests_today: Mapping[str, int], today: int | None = None) -> None:
        """Start the day's counters from what the ledger already holds for today."""
        day = utc_day() if today is None else today
        for account in self.accounts():
            account.day = day
            account.requests_today = int(requests_today.get(account.label, 0))
