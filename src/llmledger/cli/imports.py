"""``import``: bring usage recorded elsewhere into the ledger. ``import otel FILE…`` reads
OTLP/JSON spans and log records with GenAI token usage (docs/opentelemetry.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from llmledger.cli.common import Parents, emit, open_ledger
from llmledger.errors import LedgerError

EPILOG = """\
examples:
  llmledger import otel traces.json                 an OTLP/JSON export request
  llmledger import otel otel/*.jsonl --json         the Collector's file exporter, one per line
  (importing a file again adds nothing: events are keyed by span id)
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "import",
        help="import usage recorded elsewhere: otel (OTLP/JSON spans and logs)",
        description="Import usage recorded elsewhere into the ledger.",
        parents=[parents.globals],
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    otel = kinds.add_parser(
        "otel",
        help="OTLP/JSON spans and log records with gen_ai.usage.* attributes",
        description="Import OTLP/JSON files (one request per file or per line; the SDK\n"
        "console exporter's spans too): every span or log record with GenAI token usage\n"
        "becomes an event, once, keyed by its span id. The convention's input tokens\n"
        "include cached ones; the ledger's input is the fresh part.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    otel.add_argument("files", nargs="+", metavar="FILE", help="OTLP/JSON or JSON-lines files")
    otel.add_argument("--json", action="store_true", help="what was imported, as JSON")
    otel.set_defaults(handler=run_import_otel, ledger_access="write")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _line(found: dict[str, Any]) -> str:
    text = f"{found['file']}: {_count(found['events'], 'event')}, {found['written']:,} new"
    extras = []
    if found["skipped"]:
        extras.append(f"{_count(found['skipped'], 'record')} without token usage")
    if found["badLines"]:
        extras.append(f"{_count(found['badLines'], 'line')} not JSON")
    if found["invalid"]:
        extras.append(f"{_count(found['invalid'], 'record')} with impossible counts")
    if found["agentTotals"]:
        extras.append(f"{_count(found['agentTotals'], 'agent span')} totalling its calls")
    if found["inAgentLogs"]:
        calls = _count(found["inAgentLogs"], "Copilot CLI call")
        extras.append(f"{calls} the scan counts from session-state")
    return text + (f" (skipped: {'; '.join(extras)})" if extras else "")


def run_import_otel(args: argparse.Namespace) -> int:
    from llmledger.otel.ingest import import_file

    results: list[dict[str, Any]] = []
    failed: list[str] = []
    with open_ledger(args) as ledger:
        for name in args.files:
            try:
                results.append(import_file(ledger, Path(name)).to_dict())
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                print(f"llmledger: cannot read {name}: {reason}", file=sys.stderr)
                failed.append(name)
    if args.json:
        emit(json.dumps({"files": results, "failed": failed}, indent=2))
    else:
        emit("\n".join(_line(found) for found in results))
    if failed:
        raise LedgerError(f"{len(failed)} of {len(args.files)} file(s) could not be read")
    return 0
