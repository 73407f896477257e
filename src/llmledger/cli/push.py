"""``push``: send this machine's ledger's new events to a shared ledger."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmledger.cli.common import Parents, emit, open_ledger

PUSH_EPILOG = """\
examples:
  llmledger push --to postgresql://me@db.internal/llmledger
  llmledger push --to postgresql://me@db.internal/llmledger --json
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "push",
        help="send this ledger's new events to a shared ledger (PostgreSQL)",
        description="Send the events stored in the local ledger (--db, LLMLEDGER_DB or the "
        "default SQLite file) since its last push to --to, e.g. the team's PostgreSQL "
        "ledger. Incremental (where each destination's push got to is kept in the local "
        "ledger) and idempotent: ids count once, so a re-run or an overlapping push from "
        "another laptop changes nothing. Events keep their host and stored cost.",
        epilog=PUSH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("--to", required=True, metavar="URL", help="ledger to send to")
    parser.add_argument("--json", action="store_true", help="what was sent, as JSON")
    parser.set_defaults(handler=run_push)


def run_push(args: argparse.Namespace) -> int:
    from llmledger.push import push

    def progress(sent: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rsent {sent:,} events")
            sys.stderr.flush()

    with open_ledger(args, "write") as ledger:
        result = push(ledger, args.to, progress=progress)
    if sys.stderr.isatty() and result.sent:
        sys.stderr.write("\n")
    if args.json:
        data = {"to": result.target, "sent": result.sent, "written": result.written}
        emit(json.dumps({**data, "cursor": result.cursor}))
    else:
        emit(f"sent {result.sent:,} events to {result.target}: {result.written:,} new there")
    return 0
