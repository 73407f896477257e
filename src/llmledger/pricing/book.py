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
from typing import NamedTuple

from llmledger.config import ModelOverride, PricingConfig
from llmledger.events import UsageEvent, nanos_to_usd
from llmledger.pricing.lane import lane_cost
from llmledger.pricing.matching import NameIndex
from llmledger.pricing.rates import (
    ATTO_PER_NANO,
    ATTO_PER_USD,
    ModelPrice,
    Rates,
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
        self._lanes: dict[tuple[str, str | None], Lane | None] = {}

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
        """Exact nano-USD cost of one request (or an aggregate of ``requests``); None when
        the model is unknown."""
        event = UsageEvent(
            model=model,
            provider=provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cache_write_1h_tokens=cache_write_1h_tokens,
            reasoning_tokens=reasoning_tokens,
            requests=requests,
        )
        self.price_events((event,))
        return event.cost_nanos

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
        self.price_events((event,))

    def lane(self, model: str, provider: str | None = None) -> Lane | None:
        """The rates ``price_events`` uses for a model (None: unpriced), built once."""
        key = (model, provider)
        try:
            return self._lanes[key]
        except KeyError:
            found = self.match(model, provider)
            lane = self._lanes[key] = None if found is None else Lane.of(found.price)
            return lane

    def price_events(self, events: Iterable[UsageEvent]) -> None:
        """Fill ``cost_nanos``, ``cost_status`` and ``price_version`` of events in place, with
        the one pricing formula (``pricing/lane.py``; ``price_event`` and ``cost`` come here
        too). A provider-reported cost is kept as it is; an unknown model is ``unpriced``.
        """
        version = self.version
        lanes = self._lanes
        for e in events:
            if e.cost_status == "reported" and e.cost_nanos is not None:
                continue
            key = (e.model, e.provider)
            try:
                lane = lanes[key]
            except KeyError:
                lane = self.lane(e.model, e.provider)
            if lane is None:
                e.cost_nanos = None
                e.cost_status = "unpriced"
                e.price_version = version
                continue
            e.cost_nanos = lane_cost(
                lane,
                e.input_tokens,
                e.cache_read_tokens,
                e.cache_write_tokens,
                e.cache_write_1h_tokens,
                e.output_tokens,
                e.reasoning_tokens,
                e.requests,
            )
            e.cost_status = "computed"
            e.price_version = version


class Lane(NamedTuple):
    """One tier of a model's rates, ready for ``price_events``: every fallback resolved (a
    missing cache rate is the input rate, ...), in units of ``g`` atto-USD where ``g`` is the
    largest divisor of every rate and of a nano-USD (exact, and small enough integers for
    CPython's fast one-digit arithmetic); then long-context tiers as ``(threshold, Lane)``."""

    input: int
    output: int
    cache_read: int
    cache_write: int
    cache_write_1h: int
    reasoning: int  # -1: no reasoning rate (reasoning tokens are output)
    unit: int  # one nano-USD in these units
    half: int  # half of ``unit``, for rounding
    ties_to_even: bool  # a remainder can equal ``half`` exactly
    tiers: tuple[tuple[int, Lane], ...]

    @classmethod
    def of(cls, price: ModelPrice) -> Lane:
        tiers = tuple(
            (threshold, cls._flat(replace(price, base=rates, tiers=()), ()))
            for threshold, rates in price.tiers
        )
        return cls._flat(replace(price, tiers=()), tiers)

    @classmethod
    def _flat(cls, price: ModelPrice, tiers: tuple[tuple[int, Lane], ...]) -> Lane:
        rates = price.flat_rates()
        assert rates is not None
        fresh, output, cache_read, cache_write, cache_write_1h, reasoning = rates
        g = math.gcd(
            ATTO_PER_NANO, fresh, output, cache_read, cache_write, cache_write_1h, reasoning or 0
        )
        unit = ATTO_PER_NANO // g
        return cls(
            input=fresh // g,
            output=output // g,
            cache_read=cache_read // g,
            cache_write=cache_write // g,
            cache_write_1h=cache_write_1h // g,
            reasoning=-1 if reasoning is None else reasoning // g,
            unit=unit,
            half=unit // 2,
            ties_to_even=unit % 2 == 0,
            tiers=tiers,
        )
