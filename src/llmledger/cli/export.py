"""``export``: every stored event with every field, as CSV or JSON lines."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import msgspec

from llmledger.cli.common import Parents, open_ledger, report_options_from
from llmledger.events import UsageEvent


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "export",
        help="dump events with every field (CSV or JSON lines)",
        description="Write the stored events, one per line, with every field. Takes the "
        "report filters (--since, --source, --user, ...).",
        parents=[parents.globals, parents.report],
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    options = report_options_from(args, "daily")
    with open_ledger(args) as ledger:
        events = ledger.events(options.event_filter())
        if args.output:
            with open(args.output, "w", newline="", encoding="utf-8") as out:
                _write(events, out, as_csv=args.csv)
        else:
            _write(events, sys.stdout, as_csv=args.csv)
    return 0


def _write(events: Iterator[UsageEvent], out: TextIO, *, as_csv: bool) -> None:
    if as_csv:
        write_csv(events, out)
    else:
        write_json_lines(events, out)


def _flat(event: UsageEvent) -> dict[str, Any]:
    data = event.to_dict()
    data["total_tokens"] = event.total_tokens
    return data


def write_csv(events: Any, out: Any) -> None:
    writer: csv.DictWriter[str] | None = None
    for event in events:
        row = _flat(event)
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        row["tags"] = " ".join(row["tags"] or ())
        if row.get("details") is not None:
            row["details"] = msgspec.json.encode(row["details"]).decode()
        writer.writerow(row)
    if writer is None:
        from dataclasses import fields

        header = [f.name for f in fields(UsageEvent)] + ["cost", "total_tokens"]
        csv.writer(out, lineterminator="\n").writerow(header)


def write_json_lines(events: Any, out: Any) -> None:
    encoder = msgspec.json.Encoder()
    for event in events:
        out.write(encoder.encode(_flat(event)).decode())
        out.write("\n")
