"""The TOML config file: loading, validation, and errors that name the offending key.

Only the sections this module knows are validated here (``[quotas]`` and ``[plans.*]`` by
quota/plans.py); later sections (``[[upstreams]]``, ``[server]``…) are kept raw in
``Config.raw`` for the modules that own them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec

from llmledger.errors import ConfigError
from llmledger.quota.plans import Quotas, parse_quotas

RATE_KINDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning")
_PER_TOKEN_NAMES = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "cache_write_1h": "cache_creation_input_token_cost_above_1hr",
    "reasoning": "output_cost_per_reasoning_token",
}


# msgspec Structs, not dataclasses: every run loads this module, and a dataclass costs ~3.5 M
# instructions to create at import (a Struct ~0.1 M).
class PriceTier(msgspec.Struct, frozen=True):
    """Per-token prices in USD (already converted from the configured currency)."""

    above_input_tokens: int
    rates: Mapping[str, Decimal]


class ModelOverride(msgspec.Struct, frozen=True):
    name: str
    provider: str | None
    rates: Mapping[str, Decimal]  # USD per token, by kind in RATE_KINDS
    tiers: tuple[PriceTier, ...] = ()
    currency: str = "USD"


class PricingConfig(msgspec.Struct, frozen=True):
    models: Mapping[str, ModelOverride] = msgspec.field(default_factory=dict)
    aliases: Mapping[str, str] = msgspec.field(default_factory=dict)
    exchange_rates: Mapping[str, Decimal] = msgspec.field(default_factory=dict)  # units per 1 USD


class Config(msgspec.Struct, frozen=True):
    path: Path | None = None
    db: str | None = None
    pricing: PricingConfig = msgspec.field(default_factory=PricingConfig)
    raw: Mapping[str, Any] = msgspec.field(default_factory=dict)
    quotas: Quotas = msgspec.field(default_factory=lambda: parse_quotas({}))  # [quotas], [plans.*]


def _number(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ConfigError(f"{key}: expected a number, got {value!r}") from exc
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{key}: must be a non-negative number, got {value!r}")
    return number


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
    return value


def _rates(table: Mapping[str, Any], key: str, usd_per_unit: Decimal) -> dict[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for kind in RATE_KINDS:
        per_million = table.get(f"{kind}_per_million")
        per_token = table.get(_PER_TOKEN_NAMES[kind])
        if per_million is not None and per_token is not None:
            raise ConfigError(
                f"{key}: give {kind}_per_million or {_PER_TOKEN_NAMES[kind]}, not both"
            )
        if per_million is not None:
            value = _number(per_million, f"{key}.{kind}_per_million") / 1_000_000
        elif per_token is not None:
            value = _number(per_token, f"{key}.{_PER_TOKEN_NAMES[kind]}")
        else:
            continue
        rates[kind] = value * usd_per_unit
    return rates


def _model_override(
    name: str, table: Mapping[str, Any], exchange_rates: Mapping[str, Decimal]
) -> ModelOverride:
    key = f'pricing.models."{name}"'
    currency = str(table.get("currency", "USD")).upper()
    if currency == "USD":
        usd_per_unit = Decimal(1)
    elif currency in exchange_rates:
        usd_per_unit = 1 / exchange_rates[currency]
    else:
        raise ConfigError(
            f"{key}.currency: {currency} needs an exchange rate; "
            f"add [pricing.exchange_rates] {currency} = <units per 1 USD>"
        )
    known = {f"{k}_per_million" for k in RATE_KINDS} | set(_PER_TOKEN_NAMES.values())
    known |= {"currency", "provider", "tiers"}
    for item in table:
        if item not in known:
            raise ConfigError(f"{key}.{item}: unknown price field")
    rates = _rates(table, key, usd_per_unit)
    if "input" not in rates or "output" not in rates:
        raise ConfigError(f"{key}: input and output prices are required")
    tiers = []
    raw_tiers = table.get("tiers", [])
    if not isinstance(raw_tiers, list):
        raise ConfigError(f"{key}.tiers: expected an array of tables")
    for index, raw in enumerate(raw_tiers):
        tier_key = f"{key}.tiers[{index}]"
        tier = _table(raw, tier_key)
        if "above_input_tokens" not in tier:
            raise ConfigError(f"{tier_key}.above_input_tokens: required")
        threshold = int(_number(tier["above_input_tokens"], f"{tier_key}.above_input_tokens"))
        tiers.append(PriceTier(threshold, _rates(tier, tier_key, usd_per_unit)))
    provider = table.get("provider")
    return ModelOverride(
        name=name,
        provider=str(provider) if provider is not None else None,
        rates=rates,
        tiers=tuple(sorted(tiers, key=lambda t: t.above_input_tokens)),
        currency=currency,
    )


def parse_pricing(raw: Mapping[str, Any]) -> PricingConfig:
    section = _table(raw, "pricing")
    exchange_rates: dict[str, Decimal] = {}
    for code, value in _table(section.get("exchange_rates", {}), "pricing.exchange_rates").items():
        rate = _number(value, f"pricing.exchange_rates.{code}")
        if rate == 0:
            raise ConfigError(f"pricing.exchange_rates.{code}: must be greater than 0")
        exchange_rates[code.upper()] = rate
    aliases = {}
    for alias, target in _table(section.get("aliases", {}), "pricing.aliases").items():
        if not isinstance(target, str) or not target:
            raise ConfigError(f'pricing.aliases."{alias}": expected a model name')
        aliases[alias] = target
    models = {
        name: _model_override(name, _table(table, f'pricing.models."{name}"'), exchange_rates)
        for name, table in _table(section.get("models", {}), "pricing.models").items()
    }
    return PricingConfig(models=models, aliases=aliases, exchange_rates=exchange_rates)


def parse_config(raw: Mapping[str, Any], path: Path | None = None) -> Config:
    db = raw.get("db")
    if db is not None and not isinstance(db, str):
        raise ConfigError("db: expected a path or URL string")
    pricing = parse_pricing(raw.get("pricing", {}))
    return Config(path=path, db=db, pricing=pricing, raw=raw, quotas=parse_quotas(raw))


def load_config(path: Path | None, *, required: bool = False) -> Config:
    """Read and validate a config file. A missing default file is an empty config."""
    if path is None:
        return Config()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file not found: {path}") from None
        return Config(path=None)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    if sys.version_info >= (3, 11):  # loaded only when there is a file to read
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return parse_config(raw, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
