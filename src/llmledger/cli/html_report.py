"""``html``: the dashboard as one self-contained file (data embedded, assets inlined) that
opens from disk with no server and sends no request anywhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from llmledger.cli.common import Parents
from llmledger.cli.dashboard import dashboard_query_from, open_and_scan
from llmledger.cli.outfile import check_target, replacing

EPILOG = """\
examples:
  llmledger html report.html                   every year in the ledger
  llmledger html --year 2025 --tz Europe/Berlin report-2025.html
  llmledger html --claude --since 2025-06-01 claude.html

The time zone and dates are fixed in the file; its year and source can be switched.
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "html",
        help="the dashboard as one offline HTML file",
        description="Write the dashboard's views (graph, charts, tables) of the ledger as ONE "
        "HTML file with the data embedded: it opens from disk, with no server and no network.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals, parents.report],
    )
    parser.add_argument("file", metavar="FILE", help="the HTML file to write (e.g. report.html)")
    parser.add_argument(
        "--admin",
        action="store_true",
        help="also the operators' views: top users, keys, accounts and orgs",
    )
    parser.set_defaults(handler=run_html)


def run_html(args: argparse.Namespace) -> int:
    from llmledger.web.report_file import report_file

    query = dashboard_query_from(args, "html")
    target = Path(args.file)
    check_target(target, "html", "report.html")
    with open_and_scan(args, query) as ledger:
        page = report_file(ledger, query, admin=args.admin)
    with replacing(target) as path:
        path.write_text(page, encoding="utf-8")
    print(f"llmledger: wrote {target} ({len(page.encode()) / 1024:,.0f} KiB)", file=sys.stderr)
    return 0
