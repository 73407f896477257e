"""PriceBook: match a model name to its price and compute exact costs.

Config overrides win over everything, aliases map custom names to price-list names, then the
price-list snapshot is searched as described in ``matching.py``. An unknown model has no price:
``cost()`` returns None and events are marked ``unpriced`` (never a silent $0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from llmledger.config import ModelOverride, PricingConfig
from llmledger.events import UsageEvent, nanos_to_usd
from llmledger.pricing.matching import NameIndex
from llmledger.pricing.rates import (
    ATTO_PER_NANO,
    ATTO_PER_USD,
    ModelPrice,
    Rates,
    atto_to_nanos,
    model_price_from_entry,
)
from llmledger.pricing.snapshot import Snapshot, load_best, load_bundled


@dataclass(frozen=True)
class PriceMatch:
    model: str  # the name asked for
    key: str  # the price-list key (or override name) that priced it
    origin: str  # "override", "alias→<key>" or "price list"
    price: ModelPrice


def _atto(value: Decimal | None) -> int | None:
    return None if value is None else int(value * ATTO_PER_USD)


def _override_price(override: ModelOverride) -> ModelPrice:
    def rates(values: dict[str, Decimal], base: Rates | None) -> Rates:
        atto = {kind: _atto(value) for kind, value in values.items()}
        if base is None:
            return Rates(
                input=atto.get("input") or 0,
                output=atto.get("output") or 0,
                cache_read=atto.get("cache_read"),
                cache_write=atto.get("cache_write"),
                cache_write_1h=atto.get("cache_write_1h"),
                reasoning=atto.get("reasoning"),
            )
        return Rates(
            input=atto.get("input", base.input) or 0,
            output=atto.get("output", base.output) or 0,
            cache_read=atto.get("cache_read", base.cache_read),
            cache_write=atto.get("cache_write", base.cache_write),
            cache_write_1h=atto.get("cache_write_1h", base.cache_write_1h),
            reasoning=atto.get("reasoning", base.reasoning),
        )

    base = rates(dict(override.rates), None)
    tiers = tuple(
        (tier.above_input_tokens, rates(dict(tier.rates), base)) for tier in override.tiers
    )
    anthropic_style = "claude" in override.name.lower() or override.provider == "anthropic"
    return ModelPrice(override.name, override.provider, base, tiers, anthropic_style)


class PriceBook:
    """Prices from a LiteLLM-format snapshot plus config overrides.

    ``PriceBook()`` uses the snapshot bundled in the package (fully offline);
    ``PriceBook.default(cache_dir)`` prefers a refreshed copy when one was downloaded.
    """

    def __init__(
        self, snapshot: Snapshot | None = None, pricing: PricingConfig | None = None
    ) -> None:
        self.snapshot = snapshot if snapshot is not None else load_bundled()
        self.pricing = pricing if pricing is not None else PricingConfig()
        self._prices: dict[str, ModelPrice | None] = {}
        self._overrides = {
            name: _override_price(override) for name, override in self.pricing.models.items()
        }
        self._index: NameIndex | None = None
        self._matches: dict[tuple[str, str | None], PriceMatch | None] = {}

    @classmethod
    def default(cls, cache_dir: Path | None, pricing: PricingConfig | None = None) -> PriceBook:
        return cls(load_best(cache_dir), pricing)

    @property
    def version(self) -> str:
        if self._overrides:
            return f"{self.snapshot.version}+config"
        return self.snapshot.version

    def _entry_price(self, key: str) -> ModelPrice | None:
        if key not in self._prices:
            self._prices[key] = model_price_from_entry(key, self.snapshot.entries[key])
        return self._prices[key]

    def _find(self, model: str, provider: str | None) -> PriceMatch | None:
        if model in self._overrides:
            return PriceMatch(model, model, "override", self._overrides[model])
        target = self.pricing.aliases.get(model)
        if target is not None:
            found = self._find(target, provider)
            if found is None:
                return None
            return PriceMatch(model, found.key, f"alias of {target}", found.price)
        if self._index is None:
            self._index = NameIndex(
                {key: entry.get("litellm_provider") for key, entry in self.snapshot.entries.items()}
            )
        key = self._index.find(model, provider)
        if key is None:
            return None
        price = self._entry_price(key)
        if price is None:
            return None
        return PriceMatch(model, key, "price list", price)

    def match(self, model: str, provider: str | None = None) -> PriceMatch | None:
        """The price used for ``model`` (optionally as served by ``provider``), or None."""
        cache_key = (model, provider)
        if cache_key not in self._matches:
            self._matches[cache_key] = self._find(model, provider)
        return self._matches[cache_key]

    def entries(self, containing: str = "") -> Iterator[PriceMatch]:
        """Every model with token prices whose name contains ``containing`` (ignoring case):
        config overrides first, then the price list, each by name."""
        needle = containing.lower()
        for name, price in sorted(self._overrides.items()):
            if needle in name.lower():
                yield PriceMatch(name, name, "override", price)
        for key in sorted(self.snapshot.entries):
            if needle in key.lower() and key not in self._overrides:
                listed = self._entry_price(key)
                if listed is not None:
                    yield PriceMatch(key, key, "price list", listed)

    def cost_nanos(
        self,
        model: str,
        *,
        provider: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        reasoning_tokens: int = 0,
        requests: int = 1,
    ) -> int | None:
        found = self.match(model, provider)
        if found is None:
            return None
        return atto_to_nanos(
            found.price.cost_atto(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read_tokens,
                cache_write_tokens=cache_write_tokens,
                cache_write_1h_tokens=cache_write_1h_tokens,
                reasoning_tokens=reasoning_tokens,
                requests=requests,
            )
        )

    def cost(
        self,
        model: str,
        *,
        provider: str | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> Decimal | None:
        """Exact USD cost of one request, or None when the model is unknown."""
        nanos = self.cost_nanos(
            model,
            provider=provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cache_write_1h_tokens=cache_write_1h_tokens,
            reasoning_tokens=reasoning_tokens,
        )
        return None if nanos is None else nanos_to_usd(nanos)

    def price_event(self, event: UsageEvent) -> None:
        """Fill ``cost_nanos``, ``cost_status`` and ``price_version`` of an event in place.

        A provider-reported cost is kept as it is.
        """
        if event.cost_status == "reported" and event.cost_nanos is not None:
            return
        found = self.match(event.model, event.provider)
        if found is None:
            event.cost_nanos = None
            event.cost_status = "unpriced"
            event.price_version = self.version
            return
        event.cost_nanos = atto_to_nanos(
            found.price.cost_atto(
                input_tokens=event.input_tokens,
                output_tokens=event.output_tokens,
                cache_read_tokens=event.cache_read_tokens,
                cache_write_tokens=event.cache_write_tokens,
                cache_write_1h_tokens=event.cache_write_1h_tokens,
                reasoning_tokens=event.reasoning_tokens,
                requests=max(event.requests, 1),
            )
        )
        event.cost_status = "computed"
        event.price_version = self.version

    def price_events(self, events: Iterable[UsageEvent]) -> None:
        """Price many events exactly as ``price_event`` would; the bulk-ingest path.

        Each (model, provider) gets a lane: its effective rates per tier in units of ``g``
        atto-USD, where ``g`` divides every rate and the nano-USD (the same rounding, on
        integers small enough for CPython's one-digit arithmetic).
        """
        # (model, provider) -> base lane + (threshold, lane) per long-context tier; () unpriced.
        lanes: dict[tuple[str, str | None], tuple[Any, ...]] = {}
        version = self.version
        for e in events:
            if e.cost_status == "reported" and e.cost_nanos is not None:
                continue  # a provider-reported cost is kept as it is
            key = (e.model, e.provider)
            try:
                lane = lanes[key]
            except KeyError:
                found = self.match(e.model, e.provider)
                lane = lanes[key] = () if found is None else _lane(found.price)
            if not lane:
                e.cost_nanos = None
                e.cost_status = "unpriced"
                e.price_version = version
                continue
            ri, ro, rcr, rcw, rcw1, rreason, unit, half, ties, tiers = lane
            i, cr, cw, cw1 = (
                e.input_tokens,
                e.cache_read_tokens,
                e.cache_write_tokens,
                e.cache_write_1h_tokens,
            )
            if tiers:  # the request's input (per request, for aggregates) picks the tier
                size = i + cr + cw + cw1
                if e.requests > 1:
                    size //= e.requests
                for threshold, tier in tiers:
                    if size <= threshold:
                        break
                    ri, ro, rcr, rcw, rcw1, rreason, unit, half, ties, _ = tier
            o, reasoning = e.output_tokens, e.reasoning_tokens
            cost = i * ri + cr * rcr + cw * rcw + cw1 * rcw1
            if rreason >= 0 and 0 < reasoning <= o:
                cost += (o - reasoning) * ro + reasoning * rreason
            else:
                cost += o * ro
            nanos, rest = divmod(cost, unit)
            if rest > half or (rest == half and ties and nanos & 1):
                nanos += 1
            e.cost_nanos = nanos
            e.cost_status = "computed"
            e.price_version = version


def _lane(price: ModelPrice) -> tuple[Any, ...]:
    """A model's rates for ``price_events``: the base tier's, then ``(threshold, rates)`` per
    long-context tier, each tier's fallbacks resolved by ``ModelPrice.flat_rates``."""
    tiers = tuple(
        (threshold, _scaled(replace(price, base=rates, tiers=())))
        for threshold, rates in price.tiers
    )
    return (*_scaled(replace(price, tiers=()))[:-1], tiers)


def _scaled(flat: ModelPrice) -> tuple[Any, ...]:
    """A single-tier price's effective rates in units of g atto-USD (g: the largest divisor
    of every rate and of a nano-USD), then the nano-USD in those units, its half, and whether
    a remainder can tie with it; a missing reasoning rate is -1. The last item is no tiers."""
    rates = flat.flat_rates()
    assert rates is not None
    *known, reasoning = rates
    g = math.gcd(ATTO_PER_NANO, *known, reasoning or 0)
    unit = ATTO_PER_NANO // g
    scaled = [rate // g for rate in known]
    reasoning_rate = -1 if reasoning is None else reasoning // g
    return (*scaled, reasoning_rate, unit, unit // 2, unit % 2 == 0, ())
