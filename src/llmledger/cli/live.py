"""``live`` (and ``blocks --live``): the full-screen view that follows the agents as they write
(llmledger/live/)."""

from __future__ import annotations

import argparse
from typing import Any

from llmledger.cli.common import Parents, open_ledger

DESCRIPTION = """\
A full-screen view of what your coding agents spend, updated as they write their logs (the log
folders are watched, not polled): each agent's active 5-hour block with its burn rate and
projection, today's totals by agent and model, the official limit windows, the latest calls.
Keys: v (or Tab) next view, 1/2 a view, z switch time zone (yours / UTC), q quit. Without a
terminal that can do full screen it prints a plain table whenever something changed.
"""

EPILOG = """\
examples:
  llmledger live
  llmledger blocks --live            the same
  llmledger live --once              one plain frame, then exit
  llmledger live --plain | tee log   a plain table printed again on each change
"""


def add_live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plain", action="store_true", help="a plain refreshing table")
    parser.add_argument("--once", action="store_true", help="print one plain frame and exit")
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="redraw every S seconds (1)"
    )


def register(commands: Any, parents: Parents) -> None:
    parser = commands.add_parser(
        "live",
        help="a full-screen view that follows the agents: blocks, today, limits, calls",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parents.globals],
    )
    parser.add_argument("--tz", metavar="ZONE", help="time zone (default: the system's)")
    parser.add_argument(
        "--no-scan", action="store_true", help="do not import new agent-log lines first"
    )
    parser.add_argument("--view", choices=("overview", "calls"), default="overview")
    add_live_options(parser)
    parser.set_defaults(handler=run_live)


def run_live(args: argparse.Namespace) -> int:
    from datetime import timezone

    from llmledger.live.app import run
    from llmledger.report.timezones import local_zone, resolve_zone

    first = resolve_zone(getattr(args, "tz", None))
    zones = [first, local_zone() if first is timezone.utc else timezone.utc]
    with open_ledger(args, "write") as ledger:
        if not getattr(args, "no_scan", False) and not ledger.readonly:
            from llmledger.agent_windows import file_codex_readings
            from llmledger.cli.agents import scan_before_report

            scan_before_report(ledger, args)
            file_codex_readings(ledger)
        return run(
            ledger,
            zones,
            plain=args.plain,
            once=args.once,
            interval=args.interval,
            view=getattr(args, "view", "overview"),
        )
