"""UsageEvent: the one record every capture path produces and every report reads.

Token semantics (see DESIGN.md):

* ``input_tokens``      fresh input billed at the plain input rate (no cache reads/writes)
* ``cache_read_tokens`` input served from the prompt cache
* ``cache_write_tokens`` prompt-cache writes with the 5-minute TTL
* ``cache_write_1h_tokens`` prompt-cache writes with the 1-hour TTL
* ``output_tokens``     all output billed at the output rate, reasoning included
* ``reasoning_tokens``  the part of ``output_tokens`` that was reasoning (informational)

``total_tokens = input + cache_read + cache_write + cache_write_1h + output``.
Cost is kept as integer nano-USD (``cost_nanos``) so that sums are exact.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from llmledger.errors import InvalidEventError

CostStatus = Literal["computed", "reported", "unpriced"]
COST_STATUSES: tuple[str, ...] = ("computed", "reported", "unpriced")

NANOS_PER_USD = 1_000_000_000

__all__ = [
    "ATTRIBUTION_FIELDS",
    "NANOS_PER_USD",
    "TOKEN_FIELDS",
    "InvalidEventError",
    "TokenSums",
    "UsageEvent",
    "nanos_to_usd",
    "parse_timestamp",
    "usd_to_nanos",
]

# The most tokens one event may carry in a field: beyond any real call (or day of calls), and
# low enough that sums and nano-USD costs of many such events stay inside SQLite's 64 bits.
MAX_TOKENS = 10**13
TOKEN_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)

ATTRIBUTION_FIELDS: tuple[str, ...] = (
    "user_id",
    "org_id",
    "account",
    "api_key_id",
    "session_id",
    "project",
    "request_type",
    "host",
)


def usd_to_nanos(value: Decimal | float | int | str) -> int:
    """Convert a USD amount to integer nano-USD, rounding half-even at the nano."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidEventError(f"cost {value!r} is not a USD amount") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidEventError(f"cost {value!r} must be a non-negative USD amount")
    return int((amount * NANOS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def nanos_to_usd(nanos: int) -> Decimal:
    """Exact USD Decimal for a nano-USD integer."""
    return Decimal(nanos).scaleb(-9)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_timestamp(value: datetime | str | int | float) -> datetime:
    """Accept an aware/naive datetime, an ISO-8601 string or epoch seconds; return aware UTC.

    Naive datetimes and strings without an offset are taken as UTC.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidEventError(f"not an ISO-8601 timestamp: {value!r}") from exc
    else:
        raise InvalidEventError(f"unsupported timestamp type: {type(value).__name__}")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


class TokenSums:
    """``total_tokens`` and ``cache_creation_tokens`` for any record with the token fields:
    the one place the total's definition lives (events, provider counts, report totals)."""

    __slots__ = ()
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        """input + cache_read + cache_write + cache_write_1h + output (reasoning is inside)."""
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.cache_write_1h_tokens
            + self.output_tokens
        )

    @property
    def cache_creation_tokens(self) -> int:
        """All cache writes (5-minute + 1-hour), ccusage's ``cacheCreationTokens``."""
        return self.cache_write_tokens + self.cache_write_1h_tokens


@dataclass(slots=True)
class UsageEvent(TokenSums):
    """One billable LLM call (or one imported aggregate), as stored in the ledger."""

    model: str
    ts: datetime = field(default_factory=utc_now)
    id: str = ""
    source: str = "manual"
    provider: str | None = None
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_nanos: int | None = None
    cost_status: CostStatus = "unpriced"
    price_version: str | None = None
    estimated: bool = False
    requests: int = 1
    user_id: str | None = None
    org_id: str | None = None
    account: str | None = None
    api_key_id: str | None = None
    session_id: str | None = None
    project: str | None = None
    request_type: str | None = None
    tags: tuple[str, ...] = ()
    latency_ms: float | None = None
    success: bool = True
    status: str | None = None
    details: dict[str, Any] | None = None
    host: str | None = None  # the machine it was recorded on (llmledger.host); set by the Ledger

    def __post_init__(self) -> None:
        if not self.id:
            self.id = f"{self.source}:{uuid.uuid4().hex}"
        if not isinstance(self.ts, datetime) or self.ts.tzinfo is None:
            self.ts = parse_timestamp(self.ts)
        elif self.ts.utcoffset():
            self.ts = self.ts.astimezone(timezone.utc)

    @property
    def cost(self) -> Decimal | None:
        """Exact cost in USD, or None when unpriced."""
        return None if self.cost_nanos is None else nanos_to_usd(self.cost_nanos)

    def validate(self) -> None:
        """Raise InvalidEventError for an event that must not reach the ledger."""
        if not self.model or not isinstance(self.model, str):
            raise InvalidEventError("model is required")
        for name in TOKEN_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidEventError(f"{name} must be an integer, got {value!r}")
            if value < 0:
                raise InvalidEventError(f"{name} must not be negative, got {value}")
            if value > MAX_TOKENS:
                raise InvalidEventError(
                    f"{name} is beyond any real usage ({value:,} > {MAX_TOKENS:,})"
                )
        if self.reasoning_tokens > self.output_tokens:
            raise InvalidEventError(
                f"reasoning_tokens ({self.reasoning_tokens}) is part of output_tokens "
                f"({self.output_tokens}) and cannot exceed it"
            )
        if not isinstance(self.requests, int) or not 0 <= self.requests <= MAX_TOKENS:
            raise InvalidEventError(f"requests must be an integer from 0 to {MAX_TOKENS:,}")
        if self.cost_status not in COST_STATUSES:
            raise InvalidEventError(f"cost_status must be one of {COST_STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-friendly (ISO timestamp, cost as a USD string)."""
        data = dataclasses.asdict(self)
        data["ts"] = self.ts.isoformat().replace("+00:00", "Z")
        data["tags"] = list(self.tags)
        data["cost"] = None if self.cost is None else str(self.cost)
        data["total_tokens"] = self.total_tokens
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> UsageEvent:
        """Build an event from a dict, ignoring keys that are not fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if "ts" in kwargs and not isinstance(kwargs["ts"], datetime):
            kwargs["ts"] = parse_timestamp(kwargs["ts"])
        if "tags" in kwargs and kwargs["tags"] is not None:
            kwargs["tags"] = tuple(kwargs["tags"])
        return cls(**kwargs)
