"""``wrapped``: the year in review as a shareable card (llmledger/wrapped/)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llmledger.cli.common import Parents, UsageError, emit, open_ledger

DESCRIPTION = """\
Your year in LLM tokens as a card to share: the year's tokens, API-equivalent cost, calls,
active days and longest streak, the top models and agents, the busiest day and the
contribution graph. Written as PNG (Pillow: pip install pillow) and/or SVG, on
this machine: nothing is sent anywhere.
"""

EPILOG = """\
examples:
  llmledger wrapped                          wrapped-<year>.png for this year
  llmledger wrapped --year 2025 --svg card.svg --output card.png
  llmledger wrapped --json                   the figures only
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "wrapped",
        help="your year in LLM tokens as a PNG/SVG card to share",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("--year", type=int, help="the year (default: this one)")
    parser.add_argument("--output", "-o", metavar="PNG", help="PNG file (default wrapped-YEAR.png)")
    parser.add_argument("--svg", metavar="SVG", help="also (or, with --no-png, only) an SVG file")
    parser.add_argument("--no-png", action="store_true", help="no PNG (only --svg or --json)")
    parser.add_argument("--tz", metavar="ZONE", help="time zone of the days (default: yours)")
    parser.add_argument(
        "--no-scan", action="store_true", help="do not import new agent-log lines first"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=run_wrapped)


def run_wrapped(args: argparse.Namespace) -> int:
    from llmledger.report.timezones import resolve_zone
    from llmledger.wrapped.card import png, svg
    from llmledger.wrapped.year import year_in_review

    zone = resolve_zone(args.tz)
    year = args.year or datetime.now(timezone.utc).astimezone(zone).year
    if not 1970 <= year <= 9998:
        raise UsageError(f"--year {year}: give a year such as 2025")
    with open_ledger(args, "read" if args.no_scan else "write") as ledger:
        if not args.no_scan and not ledger.readonly:
            from llmledger.cli.agents import scan_before_report

            scan_before_report(ledger, args)
        review = year_in_review(ledger, year, zone)
    if args.json:
        import json

        emit(json.dumps(review.as_json(), indent=2))
    written = []
    if args.svg:
        Path(args.svg).write_text(svg(review), encoding="utf-8")
        written.append(args.svg)
    if not args.no_png and not (args.json and not args.output):
        try:
            data = png(review)
        except ImportError:
            raise UsageError(
                "the PNG card needs Pillow: pip install pillow (or use --svg)"
            ) from None
        target = args.output or f"wrapped-{year}.png"
        Path(target).write_bytes(data)
        written.append(target)
    if written:
        print(f"llmledger: wrote {', '.join(written)}", file=sys.stderr)
    return 0
