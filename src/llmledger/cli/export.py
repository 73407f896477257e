"""``export``: every stored event with every field, as CSV or JSON lines."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import msgspec

from llmledger.cli.common import Parents, UsageError, open_ledger, report_options_from
from llmledger.cli.outfile import check_target, replacing
from llmledger.events import UsageEvent


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "export",
        help="dump events with every field (CSV or JSON lines)",
        description="Write the stored events, one per line, with every field. Takes the "
        "report filters (--since, --source, --user, ...); never changes the ledger.",
        parents=[parents.globals, parents.report],
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(handler=run_export, ledger_access="read")


def run_export(args: argparse.Namespace) -> int:
    for flag, given in (("--breakdown", args.breakdown), ("--group-by", args.group_by)):
        if given:
            raise UsageError(
                f"export writes every event with every field, one per line; {flag} shapes "
                f"reports only (e.g. llmledger daily {flag})"
            )
    options = report_options_from(args, "daily")
    target = Path(args.output) if args.output else None
    if target is not None:
        check_target(target, "-o", "events.csv" if args.csv else "events.jsonl")
    with open_ledger(args) as ledger:
        events = ledger.events(options.event_filter())
        if target is None:
            _write(events, sys.stdout, as_csv=args.csv)
            return 0
        with replacing(target) as path, open(path, "w", newline="", encoding="utf-8") as out:
            _write(events, out, as_csv=args.csv)
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
