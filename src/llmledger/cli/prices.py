"""``prices``: which price entry a model name matches and its rates; ``--refresh`` the list."""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmledger.cli.common import Parents, UsageError, emit, load_cli_config
from llmledger.cli.price_table import LISTED, price_table
from llmledger.pricing.rates import ATTO_PER_USD, ModelPrice, Rates

if TYPE_CHECKING:  # the price book loads only when this command runs
    from llmledger.pricing.book import PriceBook, PriceMatch

PRICES_EPILOG = """\
examples:
  llmledger prices claude-sonnet-4-5        matched entry and USD per million tokens
  llmledger prices dashscope/qwen3-max      tiered models list every tier
  llmledger prices sonnet                   every model whose name contains 'sonnet'
  llmledger prices --list --json            every priced model
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
        help="show a model's matched price, search or --list prices, or --refresh the list",
        description="Show which price entry a model name matches and its rates (USD per "
        "million tokens); a name that matches no entry lists the models containing it. "
        "Or list every price, or refresh the price list.",
        epilog=PRICES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument(
        "model",
        nargs="?",
        help="model name as a provider or agent reports it, or part of one to search for",
    )
    parser.add_argument(
        "--list", action="store_true", help="list every priced model (containing MODEL if given)"
    )
    parser.add_argument("--provider", help="prefer this provider's entry")
    parser.add_argument("--refresh", action="store_true", help="download the current list")
    parser.add_argument("--force", action="store_true", help="with --refresh: ignore the cache")
    parser.add_argument(
        "--url", help="price list URL (default: LiteLLM's; env LLMLEDGER_PRICES_URL)"
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run_prices, ledger_access="read")


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


def price_book(args: argparse.Namespace) -> PriceBook:
    """The price book reports and ``record`` use (config overrides, a refreshed list if any),
    without opening the ledger."""
    from llmledger.paths import cache_dir
    from llmledger.pricing.book import PriceBook

    return PriceBook.default(cache_dir(os.environ), load_cli_config(args).pricing)


def run_prices(args: argparse.Namespace) -> int:
    if args.refresh:
        return _refresh(args)
    if not args.model and not args.list:
        raise UsageError(
            "name a model (llmledger prices MODEL), part of one to search for, --list or --refresh"
        )
    book = price_book(args)
    found = None if args.list else book.match(args.model, args.provider)
    if found is not None:
        emit(_entry(found, book.version, as_json=args.json))
        return 0
    candidates = list(book.entries(args.model or ""))
    if candidates:
        emit(_listing(candidates, args.model, book.version, as_json=args.json))
        return 0
    if args.json:
        emit(_json({"model": args.model, "matched": None, "priceVersion": book.version}))
    else:
        emit(
            f"{args.model}: no price entry (it will show as unpriced). Add it under "
            f'[pricing.models."{args.model}"] in the config.'
        )
    return 1


def _entry(found: PriceMatch, version: str, *, as_json: bool) -> str:
    tiers = _tiers(found.price)
    if as_json:
        return _json(
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
    lines = [
        f"{found.model} → {found.key} ({found.origin}, provider "
        f"{found.price.provider or 'unknown'}, prices {version})",
        "USD per million tokens:",
    ]
    for label, rates in tiers:
        values = _rates_dict(rates)
        shown = ", ".join(f"{text} {values[name]}" for name, text in RATE_LABELS if values[name])
        lines.append(f"  {label}: {shown}")
    return "\n".join(lines)


def _listing(found: list[PriceMatch], term: str | None, version: str, *, as_json: bool) -> str:
    rows = []
    for match in found:
        rates = _rates_dict(match.price.base)
        rows.append((match.key, match.price.provider or "", *(rates[k] or "-" for k in LISTED)))
    if as_json:
        keys = ("model", "provider", *LISTED)
        data: dict[str, Any] = {"query": term, "matched": None} if term else {}
        data["priceVersion"] = version
        data["usdPerMillionTokens"] = [dict(zip(keys, row)) for row in rows]
        return _json(data)
    what = f"{'model' if len(rows) == 1 else 'models'} containing {term!r}" if term else "models"
    return "\n".join(
        [
            f"{len(rows):,} priced {what}, USD per million tokens:",
            price_table(rows),
            f"prices {version}; `llmledger prices NAME` shows one in full",
        ]
    )


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
