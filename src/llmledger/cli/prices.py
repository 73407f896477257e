"""``prices``: which price entry a model name matches and its rates; ``--refresh`` the list."""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal
from typing import Any

from llmledger.cli.common import Parents, UsageError, emit
from llmledger.pricing.rates import ATTO_PER_USD, ModelPrice, Rates

PRICES_EPILOG = """\
examples:
  llmledger prices claude-sonnet-4-5        matched entry and USD per million tokens
  llmledger prices dashscope/qwen3-max      tiered models list every tier
  llmledger prices --refresh                download LiteLLM's current list (cached 1 hour)

Prices come from a LiteLLM snapshot shipped in the package; --refresh keeps a newer copy in
the cache dir. Override or add models under [pricing.models."name"] in the config file.
"""

RATE_LABELS: tuple[tuple[str, str], ...] = (
    ("input", "input"),
    ("output", "output"),
    ("cache_read", "cache read"),
    ("cache_write", "cache write 5m"),
    ("cache_write_1h", "cache write 1h"),
    ("reasoning", "reasoning"),
)


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "prices",
        help="show a model's matched price, or --refresh the price list",
        description="Show which price entry a model name matches and its rates (USD per "
        "million tokens), or refresh the price list.",
        epilog=PRICES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("model", nargs="?", help="model name as a provider or agent reports it")
    parser.add_argument("--provider", help="prefer this provider's entry")
    parser.add_argument("--refresh", action="store_true", help="download the current list")
    parser.add_argument("--force", action="store_true", help="with --refresh: ignore the cache")
    parser.add_argument(
        "--url", help="price list URL (default: LiteLLM's; env LLMLEDGER_PRICES_URL)"
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run_prices)


def per_million(atto: int | None) -> Decimal | None:
    if atto is None:
        return None
    return (Decimal(atto) * 1_000_000 / ATTO_PER_USD).normalize()


def _rates_dict(rates: Rates) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, _ in RATE_LABELS:
        value = per_million(getattr(rates, name))
        out[name] = None if value is None else f"{value:f}"
    return out


def _tiers(price: ModelPrice) -> list[tuple[str, Rates]]:
    tiers = [("base", price.base)]
    tiers += [(f"input > {threshold:,} tokens", rates) for threshold, rates in price.tiers]
    return tiers


def run_prices(args: argparse.Namespace) -> int:
    from llmledger.cli.common import open_ledger

    if args.refresh:
        return _refresh(args)
    if not args.model:
        raise UsageError("name a model (llmledger prices MODEL) or pass --refresh")
    with open_ledger(args) as ledger:
        book = ledger.prices
        found = book.match(args.model, args.provider)
        version = book.version
    if found is None:
        if args.json:
            emit(_json({"model": args.model, "matched": None, "priceVersion": version}))
        else:
            emit(
                f"{args.model}: no price entry (it will show as unpriced). Add it under "
                f'[pricing.models."{args.model}"] in the config.'
            )
        return 1
    tiers = _tiers(found.price)
    if args.json:
        emit(
            _json(
                {
                    "model": found.model,
                    "matched": found.key,
                    "origin": found.origin,
                    "provider": found.price.provider,
                    "priceVersion": version,
                    "usdPerMillionTokens": [
                        {"tier": label, **_rates_dict(rates)} for label, rates in tiers
                    ],
                }
            )
        )
        return 0
    lines = [
        f"{found.model} → {found.key} ({found.origin}, provider "
        f"{found.price.provider or 'unknown'}, prices {version})",
        "USD per million tokens:",
    ]
    for label, rates in tiers:
        values = _rates_dict(rates)
        shown = ", ".join(f"{text} {values[name]}" for name, text in RATE_LABELS if values[name])
        lines.append(f"  {label}: {shown}")
    emit("\n".join(lines))
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from llmledger.paths import cache_dir
    from llmledger.pricing.refresh import DEFAULT_URL, refresh

    url = args.url or os.environ.get("LLMLEDGER_PRICES_URL") or DEFAULT_URL
    result = refresh(cache_dir(os.environ), url, force=args.force)
    if result.status == "failed":
        # A network failure is a warning: the bundled or last good list stays in use.
        print(f"llmledger: warning: {result.message}", file=sys.stderr)
    else:
        emit(result.message)
    return 0


def _json(data: dict[str, Any]) -> str:
    import msgspec

    return msgspec.json.format(msgspec.json.encode(data), indent=2).decode()
