"""Report commands: daily, weekly, monthly, models, sessions."""

from __future__ import annotations

import argparse
from typing import Any, cast

from llmledger.cli.common import (
    Parents,
    emit,
    open_ledger,
    report_options_from,
    terminal_width,
    use_color,
)
from llmledger.report.aggregate import ReportKind

REPORTS: dict[str, str] = {
    "daily": "usage per day (in --tz, default the local zone)",
    "weekly": "usage per week (weeks start on Monday)",
    "monthly": "usage per calendar month",
    "models": "usage per model over the whole window",
    "sessions": "usage per session (agent session or --session of recorded events)",
}


def register(commands: Any, parents: Parents) -> None:
    for kind, summary in REPORTS.items():
        parser = commands.add_parser(
            kind,
            help=summary,
            description=f"Show {summary}.",
            parents=[parents.globals, parents.report],
        )
        parser.set_defaults(handler=lambda args, kind=kind: run_report(args, kind))


def maybe_scan(ledger: Any, args: argparse.Namespace) -> None:
    """Import new agent-log lines before a report, unless --no-scan (or no sources)."""
    if getattr(args, "no_scan", False):
        return
    try:
        from llmledger.cli.agents import (  # type: ignore[import-not-found,unused-ignore]
            scan_before_report,
        )
    except ModuleNotFoundError as exc:
        if exc.name == "llmledger.cli.agents":
            return
        raise
    scan_before_report(ledger, args)


def run_report(args: argparse.Namespace, kind: str) -> int:
    options = report_options_from(args, cast(ReportKind, kind))
    with open_ledger(args) as ledger:
        maybe_scan(ledger, args)
        report = ledger.build_report(options)
    if args.json:
        from llmledger.report.render.jsonout import render_json

        emit(render_json(report))
    elif args.csv:
        from llmledger.report.render.jsonout import render_csv

        emit(render_csv(report))
    else:
        from llmledger.report.render.table import Style
        from llmledger.report.render.text import render_report

        title = f"LLM usage — {kind} ({report.zone_name})"
        style = Style(color=use_color())
        emit(
            style.paint(title, style.header)
            + "\n"
            + render_report(report, width=terminal_width(), style=style)
        )
    return 0
