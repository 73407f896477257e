"""``record``: add one usage event by hand (or from a script); ``reprice``: recompute costs."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from llmledger.cli.common import Parents, emit, non_negative_int, open_ledger
from llmledger.errors import InvalidEventError
from llmledger.events import UsageEvent, parse_timestamp

RECORD_EPILOG = """\
examples:
  llmledger record --model claude-sonnet-4-5 --input 1000 --cache-read 2000 --output 500
  llmledger record --model qwen-plus --input 152 --output 487 --user u1 --id job-42
    (--id makes re-sending the same event harmless: it is stored once)
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "record",
        help="add one usage event",
        description="Add one usage event to the ledger. Token counts follow the ledger's "
        "meaning: --input is fresh input (no cache reads or writes), --output includes "
        "reasoning.",
        epilog=RECORD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("--model", required=True, help="model name as the provider reports it")
    tokens = parser.add_argument_group("tokens")
    tokens.add_argument("--input", type=non_negative_int, default=0, metavar="N")
    tokens.add_argument("--output", type=non_negative_int, default=0, metavar="N")
    tokens.add_argument("--cache-read", type=non_negative_int, default=0, metavar="N")
    tokens.add_argument(
        "--cache-write", type=non_negative_int, default=0, metavar="N", help="5-minute writes"
    )
    tokens.add_argument(
        "--cache-write-1h", type=non_negative_int, default=0, metavar="N", help="1-hour writes"
    )
    tokens.add_argument(
        "--reasoning", type=non_negative_int, default=0, metavar="N", help="part of --output"
    )
    who = parser.add_argument_group("attribution")
    who.add_argument("--provider")
    who.add_argument("--user", dest="user_id")
    who.add_argument("--org", dest="org_id")
    who.add_argument("--account")
    who.add_argument("--project")
    who.add_argument("--session", dest="session_id")
    who.add_argument("--request-type")
    who.add_argument("--source", default="manual", help="default: manual")
    who.add_argument("--tag", action="append", dest="tags", default=[], help="repeatable")
    parser.add_argument(
        "--ts", help="when it happened, ISO-8601; no offset means UTC (default: now)"
    )
    parser.add_argument("--id", dest="event_id", help="stable id: recording it again is a no-op")
    parser.add_argument(
        "--cost", help="cost the provider reported, in USD (default: computed from prices)"
    )
    parser.add_argument("--json", action="store_true", help="print the stored event as JSON")
    parser.set_defaults(handler=run_record, ledger_access="write")

    reprice = commands.add_parser(
        "reprice",
        help="recompute stored costs with the current prices",
        description="Recompute the cost of stored events after a price change (a refreshed "
        "list or new [pricing] overrides). Provider-reported costs are kept unless "
        "--include-reported.",
        parents=[parents.globals],
    )
    reprice.add_argument("--include-reported", action="store_true")
    reprice.set_defaults(handler=run_reprice, ledger_access="write")


def run_record(args: argparse.Namespace) -> int:
    if args.reasoning > args.output:
        from llmledger.cli.common import UsageError

        raise UsageError("--reasoning is part of --output and cannot exceed it")
    fields: dict[str, Any] = {
        "model": args.model,
        "input_tokens": args.input,
        "output_tokens": args.output,
        "cache_read_tokens": args.cache_read,
        "cache_write_tokens": args.cache_write,
        "cache_write_1h_tokens": args.cache_write_1h,
        "reasoning_tokens": args.reasoning,
        "source": args.source,
    }
    for name in ("provider", "user_id", "org_id", "account", "project", "session_id"):
        if getattr(args, name):
            fields[name] = getattr(args, name)
    if args.request_type:
        fields["request_type"] = args.request_type
    if args.tags:
        fields["tags"] = args.tags
    if args.ts:
        fields["ts"] = _timestamp(args.ts)
    if args.event_id:
        fields["id"] = args.event_id
    if args.cost is not None:
        fields["cost"] = args.cost
    from llmledger.ledger import Ledger

    event = Ledger.make_event(**fields)  # a bad value is refused before the ledger is opened
    with open_ledger(args) as ledger:
        stored = ledger.get(event.id) if args.event_id else None
        if stored is not None:  # --id makes a second record a no-op: say so
            emit(_describe(stored, as_json=args.json, duplicate=event))
            return 0
        ledger.record(event)
        stored = ledger.get(event.id) or event
    emit(_describe(stored, as_json=args.json))
    return 0


def _timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except InvalidEventError:
        raise InvalidEventError(
            f"--ts: {text!r} is not a date/time (use ISO-8601, e.g. 2026-01-31T12:00:00Z)"
        ) from None


def _cost(event: UsageEvent) -> str:
    if event.cost_nanos is None:
        return (
            f"cost: unpriced (model {event.model} is not in the price list; see "
            "`llmledger prices --list`)"
        )
    return f"${event.cost:.6f} ({event.cost_status})"


def _describe(event: UsageEvent, *, as_json: bool, duplicate: UsageEvent | None = None) -> str:
    """The stored event: one line, or JSON with ``duplicate`` saying whether it was there."""
    if as_json:
        import msgspec

        data = {**event.to_dict(), "duplicate": duplicate is not None}
        return msgspec.json.format(msgspec.json.encode(data), indent=2).decode()
    summary = f"{event.model}, {event.total_tokens:,} tokens, {_cost(event)}"
    if duplicate is None:
        return f"recorded {event.id}: {summary}"
    line = f"duplicate: {event.id} is already recorded ({summary}); nothing changed"
    if (duplicate.model, duplicate.total_tokens) != (event.model, event.total_tokens):
        line += (
            f" (this copy, {duplicate.model} with {duplicate.total_tokens:,} tokens, was not "
            "stored: an id is recorded once)"
        )
    return line


def run_reprice(args: argparse.Namespace) -> int:
    with open_ledger(args) as ledger:
        changed = ledger.reprice(include_reported=args.include_reported)
        version = ledger.prices.version
    emit(f"repriced {changed:,} event(s) with price list {version}")
    return 0
