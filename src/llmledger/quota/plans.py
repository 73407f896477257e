"""Plans and the quota settings: what a user may use per month, and how usage is counted.

Config (TOML)::

    [quotas]
    timezone = "Europe/Berlin"   # months are calendar months here (default UTC)
    counts = "total"             # or "input+output", or "cost" (plan limits in USD)
    default_plan = "hobby"       # for users and orgs with no plan of their own
    rollover = false             # unexpired add-on tokens carry into the next month
    alert_thresholds = [80, 100] # percent of a plan's limit that raise an alert, once a month
    reservation_seconds = 600    # a request's reservation expires after this (crash, hang)
    max_reservation_tokens = 100000  # a request reserves at most this many tokens ...
    max_reservation_usd = 10.0       # ... and at most this much cost
    alert_webhook = "https://…"  # the gateway POSTs alerts here (optional)
    redis = "redis://…"          # counters shared by gateways on several hosts (docs/redis.md;
                                 # env LLMLEDGER_QUOTA_REDIS wins, e.g. for a password)
    redis_prefix = "llmledger"   # the keys' prefix (two ledgers on one Redis need two)
    redis_reconcile_seconds = 30 # how often the Redis counters are checked against the ledger

    [plans.starter]
    tokens = 2500000
    multiplier = 1               # weights counted tokens (2 = each token counts twice)
    overage = "block"            # or "allow": requests go on, the summary counts the overage

Validation is msgspec's (types, bounds, unknown keys); errors name the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from llmledger.errors import ConfigError

CountMode = Literal["total", "input+output", "cost"]
Overage = Literal["block", "allow"]

NonNegative = Annotated[int, msgspec.Meta(ge=0, le=10**15)]
Positive = Annotated[float, msgspec.Meta(gt=0, le=1_000)]


class Plan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A monthly allowance: ``tokens`` (counted tokens), or ``usd`` when counting cost."""

    tokens: NonNegative = 0
    usd: Annotated[float, msgspec.Meta(ge=0, le=10**9)] = 0.0
    multiplier: Positive = 1.0
    overage: Overage = "block"


Percent = Annotated[int, msgspec.Meta(ge=1, le=1_000)]


class QuotaSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    timezone: str = "UTC"
    counts: CountMode = "total"
    default_plan: str = "hobby"
    rollover: bool = False
    alert_thresholds: tuple[Percent, ...] = (80, 100)
    reservation_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 600
    max_reservation_tokens: Annotated[int, msgspec.Meta(ge=1, le=10**13)] = 100_000
    max_reservation_usd: Annotated[float, msgspec.Meta(gt=0, le=10**6)] = 10.0
    alert_webhook: str | None = None
    redis: str | None = None
    redis_prefix: Annotated[
        str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\s{}]+$")
    ] = "llmledger"
    redis_reconcile_seconds: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 30.0


DEFAULT_PLANS: dict[str, Plan] = {
    "hobby": Plan(tokens=50_000),
    "starter": Plan(tokens=2_500_000),
    "business": Plan(tokens=5_000_000),
    "enterprise": Plan(tokens=10_000_000),
}

NANOS_PER_USD = 10**9


class Quotas(msgspec.Struct, frozen=True):
    """The validated ``[quotas]`` settings with the plans they refer to."""

    settings: QuotaSettings
    plans: Mapping[str, Plan]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def plan(self, name: str | None) -> tuple[str, Plan]:
        """The named plan, or the default plan when ``name`` is None or no longer exists."""
        if name is not None and name in self.plans:
            return name, self.plans[name]
        default = self.settings.default_plan
        return default, self.plans[default]

    def allowance(self, plan: Plan) -> int:
        """The plan's monthly limit in counted units (tokens, or nano-USD when counting cost)."""
        if self.settings.counts == "cost":
            return math.ceil(Decimal(repr(plan.usd)) * NANOS_PER_USD)
        return plan.tokens


_PATH = re.compile(r"`\$((?:\.[^.`\[]+|\[\d+\])*)`")


def _key(prefix: str, error: msgspec.ValidationError) -> str:
    """msgspec's ``… - at `$.a.b``` as ``prefix.a.b: …``."""
    text = str(error)
    found = _PATH.search(text)
    path = found.group(1) if found else ""
    message = text.split(" - at ")[0]
    return f"{prefix}{path}: {message}"


def parse_quotas(raw: Mapping[str, Any]) -> Quotas:
    """``[quotas]`` and ``[plans.*]`` of a config file; the four default plans when none."""
    try:
        settings = msgspec.convert(raw.get("quotas", {}), QuotaSettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(_key("quotas", exc)) from None
    raw_plans = raw.get("plans")
    if raw_plans is None:
        plans = dict(DEFAULT_PLANS)
    elif not isinstance(raw_plans, Mapping):
        raise ConfigError("plans: expected a table of plans ([plans.NAME])")
    else:
        plans = {}
        for name, table in raw_plans.items():
            try:  # one plan at a time: msgspec's error path does not name a table's key
                plans[str(name)] = msgspec.convert(table, Plan)
            except msgspec.ValidationError as exc:
                raise ConfigError(_key(f"plans.{name}", exc)) from None
    if not plans:
        raise ConfigError("plans: at least one plan is needed")
    if settings.default_plan not in plans:
        raise ConfigError(
            f"quotas.default_plan: no plan named {settings.default_plan!r} "
            f"(plans: {', '.join(sorted(plans))})"
        )
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"quotas.timezone: {settings.timezone!r} is not an IANA time zone "
            "(e.g. UTC, Europe/Berlin)"
        ) from None
    if settings.redis is not None:
        check_redis_url(settings.redis, "quotas.redis")
    return Quotas(settings=settings, plans=plans)


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def check_redis_url(url: str, where: str) -> str:
    """``url`` when it is a Redis URL; ConfigError naming ``where`` else."""
    if not url.startswith(_REDIS_SCHEMES):
        raise ConfigError(
            f"{where}: {url!r} is not a Redis URL "
            "(redis://host:6379/0, rediss://… or unix:///path/redis.sock)"
        )
    return url


__all__ = [
    "DEFAULT_PLANS",
    "CountMode",
    "Plan",
    "QuotaSettings",
    "Quotas",
    "check_redis_url",
    "parse_quotas",
]
