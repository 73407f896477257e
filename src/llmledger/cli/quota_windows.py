"""``quota``: the coding agents' official usage-limit windows (Codex's ``rate_limits``, Claude
Code's via the statusline), their reset times and when the current pace reaches 100 %; where
an agent reports none, an estimate from the ledger's 5-hour blocks, said to be one.

Not the gateway's plans and budgets (``plans``, ``budgets``, ``usage``): those are limits this
ledger enforces; these are the limits the agents' vendors keep."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone, tzinfo
from typing import Any

from llmledger.cli.common import Parents, emit, open_ledger
from llmledger.cli.quota_common import json_option, print_json, table

DESCRIPTION = """\
Each coding agent's official usage-limit windows, as the agent reported them last: the 5-hour
and weekly percentages Codex writes on its token_count events and Claude Code passes to
statusline commands (run `llmledger statusline` from Claude Code to record them), their reset
times, and a forecast (an estimate) of when the current pace reaches 100 %. For an agent with
no official figure, its current 5-hour block from the ledger, as an estimate.
"""

EPILOG = """\
examples:
  llmledger quota                    official windows, forecasts, estimates
  llmledger quota --json             the same as JSON
  llmledger quota --no-scan --tz Europe/Berlin
"""

TITLES = {"claude-code": "Claude Code", "codex": "Codex"}


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "quota",
        help="the agents' official 5-hour/weekly limits, reset times, forecast",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("--tz", metavar="ZONE", help="time zone of the times shown")
    parser.add_argument(
        "--no-scan", action="store_true", help="do not import new agent-log lines first"
    )
    json_option(parser)
    parser.set_defaults(handler=run_quota)


def _title(source: str) -> str:
    from llmledger.sources.registry import SOURCES

    found = SOURCES.get(source)
    return found.title if found is not None else TITLES.get(source, source)


def _when(us: int | None, now: datetime, zone: tzinfo) -> str:
    if us is None:
        return "-"
    moment = datetime.fromtimestamp(us / 1e6, timezone.utc).astimezone(zone)
    left = moment - now
    day = "today" if moment.date() == now.astimezone(zone).date() else moment.strftime("%a %d")
    hours = left.total_seconds() / 3600
    span = f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"
    return (
        f"{day} {moment:%H:%M} (in {span})" if left.total_seconds() > 0 else f"{day} {moment:%H:%M}"
    )


def _us(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1_000_000)


def _forecast(status: Any, now: datetime, zone: tzinfo) -> str:
    if status.stale:
        return "reset since"
    if status.full_at_us is not None:
        moment = datetime.fromtimestamp(status.full_at_us / 1e6, timezone.utc).astimezone(zone)
        return f"100% at {moment:%a %H:%M}"
    if status.at_reset_percent is not None:
        return f"~{status.at_reset_percent:.0f}% at reset"
    return "-"


def official_line(ledger: Any, sources: list[str], zone: tzinfo) -> str | None:
    """One line of the official windows of ``sources`` (for ``blocks``), None without any."""
    from llmledger.agent_windows import current_windows

    now = datetime.now(timezone.utc)
    statuses = [
        s
        for s in current_windows(ledger, int(now.timestamp() * 1e6))
        if s.latest.source in sources and not s.stale
    ]
    if not statuses:
        return None
    parts = [
        f"{_title(s.latest.source)} {s.label} {s.latest.used_percent:.0f}%"
        + (f" (resets {_when(s.latest.resets_at_us, now, zone)})" if s.latest.resets_at_us else "")
        for s in statuses
    ]
    return "Official limits: " + " · ".join(parts) + " (llmledger quota)"


def run_quota(args: argparse.Namespace) -> int:
    from llmledger.agent_estimates import estimate_windows
    from llmledger.agent_windows import current_windows, file_codex_readings
    from llmledger.report.timezones import resolve_zone

    zone = resolve_zone(args.tz)
    now = datetime.now(timezone.utc)
    with open_ledger(args, "read" if args.no_scan else "write") as ledger:
        if not args.no_scan and not ledger.readonly:
            from llmledger.cli.agents import scan_before_report

            scan_before_report(ledger, args)
            file_codex_readings(ledger)
        now_us = int(now.timestamp() * 1e6)
        statuses = current_windows(ledger, now_us)
        official = {s.latest.source for s in statuses}
        guessed = [e.as_json() for e in estimate_windows(ledger, official, now_us)]
    if args.json:
        print_json({"windows": [s.as_json() for s in statuses], "estimates": guessed})
        return 0
    lines = []
    if statuses:
        rows = [
            [
                _title(s.latest.source) + (f" ({s.latest.limit_id})" if s.latest.limit_id else ""),
                s.label,
                f"{s.latest.used_percent:.0f}%",
                _when(s.latest.resets_at_us, now, zone),
                _forecast(s, now, zone),
            ]
            for s in statuses
        ]
        lines.append("Official limit windows, as the agents reported them last")
        lines.append(table(["AGENT", "WINDOW", "USED", "RESETS", "FORECAST*"], rows, right=[2]))
        lines.append("* an estimate: the pace of the current period carried forward")
    else:
        lines.append(
            "No official limit readings yet. Codex writes them on its token_count events\n"
            "(llmledger scan reads them); Claude Code passes them to statusline commands\n"
            "(use llmledger statusline as Claude Code's statusline: docs/statusline.md)."
        )
    if guessed:
        lines.append("")
        lines.append("Estimates from the ledger (no official figure): the current 5-hour block")
        rows = [
            [
                _title(g["source"]),
                f"{g['tokens']:,} tok",
                "-" if g["percentOfLargest"] is None else f"{g['percentOfLargest']:.0f}%",
                "-"
                if g["projectedPercentOfLargest"] is None
                else f"{g['projectedPercentOfLargest']:.0f}%",
                _when(_us(g["blockEnd"]), now, zone),
            ]
            for g in guessed
        ]
        headers = ["AGENT", "BLOCK", "OF LARGEST", "PROJECTED", "BLOCK ENDS"]
        lines.append(table(headers, rows, right=[1, 2, 3]))
    emit("\n".join(lines))
    return 0
