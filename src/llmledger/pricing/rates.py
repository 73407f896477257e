"""Per-token rates of one model, as exact integers (the formula: ``PriceBook.price_events``).

Rates are kept in atto-USD (1e-18 USD) per token so that every price in the LiteLLM list (and any
sane override) is an exact integer; a request's cost is summed in atto-USD and rounded once to
nano-USD (half-even), the unit the ledger stores.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

ATTO_PER_USD = 10**18
ATTO_PER_NANO = 10**9

# LiteLLM field names for the rates we use, per token kind.
_BASE_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
    "reasoning": "output_cost_per_reasoning_token",
}
_TIER_SUFFIX = re.compile(r"^(?P<field>[a-z_0-9]+?)_above_(?P<k>\d+)k_tokens$")


def usd_to_atto(value: Any) -> int | None:
    """Exact atto-USD for a JSON number/str price; None for missing or malformed values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        # repr() of a float is its shortest round-tripping decimal, i.e. what the JSON said.
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return int(amount * ATTO_PER_USD)


@dataclass(frozen=True, slots=True)
class Rates:
    """Rates of one tier in atto-USD per token; None means "not given by the price list"."""

    input: int
    output: int
    cache_read: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None
    reasoning: int | None = None


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's rates: the base tier plus long-context tiers chosen by the request's input.

    ``tiers`` holds ``(threshold, rates)`` sorted by threshold: a tier applies when the request's
    total input (fresh + cache reads + cache writes) is above its threshold. It is a cliff: the
    whole request is billed at that tier's rates.
    """

    key: str
    provider: str | None
    base: Rates
    tiers: tuple[tuple[int, Rates], ...] = ()
    anthropic_style: bool = False  # 1-hour writes default to 2x input when the list omits them

    def flat_rates(self) -> tuple[int, int, int, int, int, int | None] | None:
        """Effective (input, output, cache_read, cache_write, cache_write_1h, reasoning) rates
        when the model has a single tier, with every fallback resolved; None when tiered."""
        if self.tiers:
            return None
        r = self.base
        cache_write = r.cache_write if r.cache_write is not None else r.input
        if r.cache_write_1h is not None:
            cache_write_1h = r.cache_write_1h
        else:
            cache_write_1h = 2 * r.input if self.anthropic_style else cache_write
        cache_read = r.cache_read if r.cache_read is not None else r.input
        return (r.input, r.output, cache_read, cache_write, cache_write_1h, r.reasoning)


def atto_to_nanos(atto: int) -> int:
    """Round atto-USD to nano-USD, half to even."""
    quotient, remainder = divmod(atto, ATTO_PER_NANO)
    half = ATTO_PER_NANO // 2
    if remainder > half or (remainder == half and quotient % 2 == 1):
        quotient += 1
    return quotient


def _rates_from(entry: Mapping[str, Any], suffix: str, fallback: Rates | None) -> Rates | None:
    values = {kind: usd_to_atto(entry.get(name + suffix)) for kind, name in _BASE_FIELDS.items()}
    if fallback is None:
        if values["input"] is None and values["output"] is None:
            return None
        return Rates(
            input=values["input"] or 0,
            output=values["output"] or 0,
            cache_read=values["cache_read"],
            cache_write=values["cache_write"],
            cache_write_1h=values["cache_write_1h"],
            reasoning=values["reasoning"],
        )
    # A tier inherits whatever it does not restate from the base tier.
    changes = {kind: value for kind, value in values.items() if value is not None}
    return replace(fallback, **changes) if changes else None


def _tiers_from_suffixes(entry: Mapping[str, Any], base: Rates) -> list[tuple[int, Rates]]:
    thresholds: set[int] = set()
    for name in entry:
        match = _TIER_SUFFIX.match(name)
        if match and match.group("field") in _BASE_FIELDS.values():
            thresholds.add(int(match.group("k")) * 1000)
    tiers = []
    for threshold in sorted(thresholds):
        rates = _rates_from(entry, f"_above_{threshold // 1000}k_tokens", base)
        if rates is not None:
            tiers.append((threshold, rates))
    return tiers


def _tiers_from_list(tiered: Any) -> tuple[Rates, list[tuple[int, Rates]]] | None:
    """DashScope-style ``tiered_pricing: [{range: [lo, hi], input_cost_per_token, …}]``."""
    if not isinstance(tiered, list):
        return None
    parsed: list[tuple[int, Rates]] = []
    for item in tiered:
        if not isinstance(item, Mapping):
            continue
        bounds = item.get("range")
        rates = _rates_from(item, "", None)
        if rates is None or not isinstance(bounds, list) or not bounds:
            continue
        try:
            low = int(bounds[0])
        except (TypeError, ValueError):
            continue
        parsed.append((low, rates))
    if not parsed:
        return None
    parsed.sort(key=lambda pair: pair[0])
    # Range [lo, hi] covers lo < input <= hi; the first range also covers 0.
    return parsed[0][1], parsed[1:]


def model_price_from_entry(key: str, entry: Mapping[str, Any]) -> ModelPrice | None:
    """Build a ModelPrice from one LiteLLM price-list entry; None if it has no token prices."""
    provider = entry.get("litellm_provider")
    provider = provider if isinstance(provider, str) else None
    anthropic_style = provider in {"anthropic", "bedrock", "vertex_ai-anthropic_models"} or (
        "claude" in key.lower()
    )
    # An explicit tier list is the more specific statement when an entry has both.
    listed = _tiers_from_list(entry.get("tiered_pricing"))
    if listed is not None:
        first, rest = listed
        return ModelPrice(key, provider, first, tuple(rest), anthropic_style)
    base = _rates_from(entry, "", None)
    if base is None:
        return None
    tiers = _tiers_from_suffixes(entry, base)
    return ModelPrice(key, provider, base, tuple(tiers), anthropic_style)
