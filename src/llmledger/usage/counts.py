"""What a provider mapping computes (``MappedUsage``) and what a normalizer hands back
(``TokenCounts``), both in the ledger's token semantics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, TypedDict

import msgspec

from llmledger.events import TOKEN_FIELDS, TokenSums, UsageEvent, usd_to_nanos

__all__ = [
    "LOG_COUNT_LIMIT",
    "LogCount",
    "MappedUsage",
    "TokenCounts",
    "TokenFields",
    "count_or_zero",
    "mapped_usage",
]

# A count in a decoded log line above this is corruption, not usage: decoding fails and the line
# is counted as malformed (it would also overflow SQLite's 64-bit integers once summed).
LOG_COUNT_LIMIT = 10**12
LogCount = Annotated[int, msgspec.Meta(le=LOG_COUNT_LIMIT)]


def count_or_zero(value: int | None) -> int:
    """A count of a typed usage object as a mapping uses it: missing or negative is 0."""
    return value if value is not None and value > 0 else 0


class TokenFields(TypedDict):
    """The six token fields of a UsageEvent, by name."""

    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    reasoning_tokens: int


class MappedUsage(msgspec.Struct, TokenSums, frozen=True):
    """One call's usage as a provider mapping computes it (``anthropic_tokens``,
    ``gemini_tokens``, ``responses_tokens``): the six token fields with the semantics of
    ``UsageEvent``, and ``details``, the provider extras plus the notes the mapping made
    (clamped counts, totals that disagree). Cheap to build: agent-log parsers map every
    usage line through it."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    details: dict[str, Any] | None = None


def mapped_usage(
    *,
    input_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    output_tokens: int = 0,
    reasoning_tokens: int = 0,
    reported_total: int | None = None,
    details: dict[str, Any] | None = None,
) -> MappedUsage:
    """A MappedUsage from computed counts: a negative fresh input (a provider's cache count
    above its own prompt count) becomes 0 and reasoning above output is cut to output, each
    noted under ``details["clamped"]`` with the value before; a ``reported_total`` that
    disagrees with the sum of the fields is noted as ``reported_total_tokens``."""
    clamped: dict[str, int] = {}
    if input_tokens < 0:
        clamped["input_tokens"] = input_tokens
        input_tokens = 0
    if reasoning_tokens > output_tokens:
        clamped["reasoning_tokens"] = reasoning_tokens
        reasoning_tokens = output_tokens
    total = (
        input_tokens
        + cache_read_tokens
        + cache_write_tokens
        + cache_write_1h_tokens
        + output_tokens
    )
    if clamped or (reported_total is not None and reported_total != total):
        details = dict(details or {})
        if reported_total is not None and reported_total != total:
            details["reported_total_tokens"] = reported_total
        if clamped:
            details["clamped"] = clamped
    return MappedUsage(
        input_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        details or None,
    )


@dataclass(frozen=True, slots=True)
class TokenCounts(TokenSums):
    """Normalized usage of one call, with the semantics of ``UsageEvent``.

    ``input_tokens`` is fresh input (no cache reads or writes), ``cache_write_tokens`` the
    5-minute writes, ``cache_write_1h_tokens`` the 1-hour writes, ``output_tokens`` includes
    ``reasoning_tokens``. ``reported_cost`` is a provider-reported USD cost (OpenRouter);
    ``details`` holds JSON-friendly provider extras; ``estimated`` marks offline estimates.
    """

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    reported_cost: Decimal | None = None
    details: Mapping[str, Any] | None = field(default=None, hash=False, compare=True)
    estimated: bool = False

    def __post_init__(self) -> None:
        for name in TOKEN_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("reasoning_tokens is part of output_tokens and cannot exceed it")
        if self.reported_cost is not None and not (
            isinstance(self.reported_cost, Decimal)
            and self.reported_cost.is_finite()
            and self.reported_cost >= 0
        ):
            raise ValueError(f"reported_cost must be a finite Decimal >= 0: {self.reported_cost!r}")

    def token_fields(self) -> TokenFields:
        """The six token fields by name, ready for ``UsageEvent(**…)`` or ``Ledger.record``."""
        return TokenFields(
            input_tokens=self.input_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens,
            output_tokens=self.output_tokens,
            reasoning_tokens=self.reasoning_tokens,
        )

    def apply_to(self, event: UsageEvent) -> UsageEvent:
        """Copy counts, ``estimated``, details and any reported cost onto ``event``; return it.

        Details are merged over the event's own. A reported cost sets ``cost_nanos`` and
        ``cost_status='reported'``; otherwise the event's cost fields are left alone.
        """
        for name in TOKEN_FIELDS:
            setattr(event, name, getattr(self, name))
        event.estimated = self.estimated
        if self.details:
            event.details = {**(event.details or {}), **self.details}
        if self.reported_cost is not None:
            event.cost_nanos = usd_to_nanos(self.reported_cost)
            event.cost_status = "reported"
        return event
