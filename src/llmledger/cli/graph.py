"""``graph``: the contribution graph's data as JSON, in tokscale's ``graph`` export shape
(``contributions[]``, ``summary``, ``years``, ``meta``; see llmledger/web/graph.py)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from llmledger.cli.common import Parents, emit
from llmledger.cli.dashboard import dashboard_query_from, open_and_scan
from llmledger.cli.outfile import check_target, replacing

EPILOG = """\
examples:
  llmledger graph --output data.json          every day in the ledger
  llmledger graph --year 2025 --claude -o claude-2025.json
  llmledger graph --since 2025-06-01 --benchmark --output data.json

Each day's "intensity" (0-4) ranks its cost among the active days of its year by quartiles;
"tokenIntensity" does the same by tokens.
"""


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "graph",
        help="contribution-graph JSON (tokscale's graph export shape)",
        description="Write the contribution graph's data (one entry per day with usage, by "
        "source and model; totals; per-year summaries) as JSON in tokscale's shape.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals, parents.report],
    )
    parser.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE instead of standard output"
    )
    parser.add_argument(
        "--benchmark", action="store_true", help="say on stderr how long each step took"
    )
    parser.set_defaults(handler=run_graph)


def run_graph(args: argparse.Namespace) -> int:
    from llmledger.web.graph import build_graph, encode_graph

    query = dashboard_query_from(args, "graph")
    target = Path(args.output) if args.output else None
    if target is not None:
        check_target(target, "--output", "data.json")
    started = time.perf_counter()
    with open_and_scan(args, query) as ledger:
        scanned = time.perf_counter()
        graph = build_graph(ledger, query)
        body = encode_graph(graph, indent=2)
        built = time.perf_counter()
    if target is None:
        emit(body.decode("utf-8"))
    else:
        with replacing(target) as path:
            path.write_bytes(body + b"\n")
        summary = graph.summary
        print(f"llmledger: graph data written to {target}", file=sys.stderr)
        print(
            f"  {len(graph.contributions)} days, {len(summary.sources)} sources, "
            f"{len(summary.models)} models; total ${summary.total_cost:,.2f}",
            file=sys.stderr,
        )
    if args.benchmark:
        print(
            f"  processing time: {(built - scanned) * 1000:.0f} ms "
            f"(scan before it: {(scanned - started) * 1000:.0f} ms)",
            file=sys.stderr,
        )
    return 0
