"""Agent-log commands: ``scan`` (import), ``sources`` (where we look, what we found) and
``blocks`` (5-hour billing windows); and the scan that runs before every report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

from llmledger.cli.common import (
    Parents,
    Parser,
    UsageError,
    emit,
    is_terminal,
    open_ledger,
    report_options_from,
    terminal_width,
    use_color,
    verbosity,
)
from llmledger.cli.live import add_live_options

# The table code (and wcwidth) loads only where a table is drawn: every report imports this
# module for its scan.
if TYPE_CHECKING:
    from llmledger.report.render.table import Style

# A scan shows its progress bar only once it has run this long.
PROGRESS_AFTER_S = 1.0


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal and only after ~1 s."""

    def __init__(self, stream: TextIO | None = None, after: float = PROGRESS_AFTER_S) -> None:
        self.stream = stream or sys.stderr
        self.enabled = is_terminal(self.stream)
        self.started = time.monotonic()
        self.after = after
        self.drawn = False
        self.last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.after or now - self.last_draw < 0.1:
            return
        self.last_draw = now
        fraction = done / total if total else 1.0
        width = 30
        filled = int(fraction * width)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(
            f"\rscanning agent logs [{bar}] {fraction * 100:5.1f}%  {done / 1e6:,.0f}/"
            f"{total / 1e6:,.0f} MB"
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.drawn = False


def _agent_sources(args: argparse.Namespace) -> list[str] | None:
    """The agent sources a --source filter names; None when it names none (e.g. only proxy)."""
    from llmledger.sources.registry import SOURCES

    names = [n for n in (getattr(args, "source", None) or []) if n]
    if not names:
        return list(SOURCES)
    agents = [n for n in dict.fromkeys(names) if n in SOURCES]
    return agents or None


def run_scan(ledger: Any, args: argparse.Namespace, *, full: bool = False) -> Any:
    from llmledger.scan import scan

    sources = _agent_sources(args)
    if sources is None:
        return None
    progress = Progress()
    try:
        return scan(ledger, sources=sources, full=full, progress=progress)
    finally:
        progress.close()


def scan_before_report(ledger: Any, args: argparse.Namespace) -> Any:
    """Import what is new in the agents' logs before a report (bare ``llmledger`` too);
    returns the ScanResult (None when --source names no agent)."""
    result = run_scan(ledger, args)
    if result is None:
        return None
    unread = []
    if result.skipped:
        unread.append(f"{len(result.skipped)} log file(s)")
    if result.skipped_dirs:
        count = len(result.skipped_dirs)
        unread.append(f"{count} log {'directory' if count == 1 else 'directories'}")
    if unread:
        print(
            f"llmledger: {' and '.join(unread)} could not be read "
            "(run 'llmledger scan' for the list)",
            file=sys.stderr,
        )
    return result


# -- scan ------------------------------------------------------------------------------------


def scan_json(result: Any) -> dict[str, Any]:
    return {
        "files": result.files,
        "read": result.read,
        "unchanged": result.unchanged,
        "records": result.records,
        "written": result.written,
        "malformed": result.malformed,
        "bytes": result.bytes,
        "seconds": round(result.seconds, 3),
        "workers": result.workers,
        "skipped": [
            {"source": s.source, "path": s.path, "reason": s.reason} for s in result.skipped
        ],
        "skippedDirectories": [
            {"source": s.source, "path": s.path, "reason": s.reason} for s in result.skipped_dirs
        ],
        "malformedFiles": [
            {"source": source, "path": path, "entries": count}
            for source, path, count in result.malformed_files
        ],
        "sources": {
            name: {
                "files": s.files,
                "read": s.read,
                "records": s.records,
                "malformed": s.malformed,
                "skipped": s.skipped,
            }
            for name, s in result.sources.items()
        },
    }


def scan_text(result: Any, verbose: int) -> str:
    lines = [
        f"scanned {result.files:,} files ({result.read:,} read, {result.unchanged:,} unchanged, "
        f"{result.bytes / 1e6:,.1f} MB) in {result.seconds:.2f} s: "
        f"{result.written:,} events written, {result.malformed:,} malformed entries skipped, "
        f"{len(result.skipped):,} files skipped"
        + (f", {len(result.skipped_dirs):,} directories skipped" if result.skipped_dirs else "")
    ]
    for name, s in result.sources.items():
        if s.files or verbose:
            lines.append(
                f"  {name:<12} {s.files:>6,} files {s.read:>6,} read {s.records:>9,} records "
                f"{s.malformed:>5,} malformed {s.skipped:>4,} skipped"
            )
    if verbose:
        for skipped in result.skipped_dirs:
            lines.append(f"skipped directory {skipped.path} ({skipped.source}): {skipped.reason}")
        for skipped in result.skipped:
            lines.append(f"skipped {skipped.path} ({skipped.source}): {skipped.reason}")
        for source, path, count in result.malformed_files:
            lines.append(f"malformed {path} ({source}): {count:,} entries skipped")
    elif result.skipped:
        lines.append("(-v lists the skipped files)")
    return "\n".join(lines)


def cmd_scan(args: argparse.Namespace) -> int:
    with open_ledger(args) as ledger:
        result = run_scan(ledger, args, full=args.full)
    if result is None:
        raise UsageError("--source names no agent-log source (see 'llmledger sources')")
    if args.json:
        emit(json.dumps(scan_json(result), indent=2))
    else:
        emit(scan_text(result, verbosity(args)))
    warn_skipped(result)
    return 0


# At most this many skipped paths are named on stderr (--json lists them all).
WARN_LIMIT = 20


def skipped_warnings(result: Any, limit: int = WARN_LIMIT) -> list[str]:
    """One line per directory and file the scan could not read: path, source and reason."""
    lines = [
        f"llmledger: skipped directory {s.path} ({s.source}): {s.reason}"
        for s in result.skipped_dirs
    ]
    lines += [f"llmledger: skipped file {s.path} ({s.source}): {s.reason}" for s in result.skipped]
    if len(lines) > limit:
        more = len(lines) - limit
        lines = [*lines[:limit], f"llmledger: ... and {more:,} more ('llmledger scan --json')"]
    return lines


def warn_skipped(result: Any, stream: TextIO | None = None) -> None:
    """Say on stderr what the scan skipped: the scan itself still succeeds."""
    stream = stream or sys.stderr
    for line in skipped_warnings(result):
        print(line, file=stream)


# -- sources ---------------------------------------------------------------------------------


def cmd_sources(args: argparse.Namespace) -> int:
    names = _agent_sources(args)
    if names is None:
        raise UsageError("--source names no agent-log source")
    from llmledger.cli.sources_view import sources_data, sources_text
    from llmledger.sources.base import home_dir

    with open_ledger(args) as ledger:
        scanned = None if args.no_scan else scan_before_report(ledger, args)
        data = sources_data(ledger, names, scanned)
    if args.json:
        emit(json.dumps({"sources": data}, indent=2))
    else:
        from llmledger.report.render.table import Style

        style = Style(color=use_color())
        emit(sources_text(data, terminal_width(), style, home_dir(os.environ)))
    return 0


# -- blocks ----------------------------------------------------------------------------------


def blocks_text(blocks: list[Any], limit: int | None, zone: Any, style: Style) -> str:
    from llmledger.report.blocks import percent
    from llmledger.report.render.table import Column, Table, render
    from llmledger.report.render.text import money

    columns = [
        Column("Block start", "left"),
        Column("Duration", "left"),
        Column("Models", "left", drop_order=2),
        Column("Requests"),
        Column("Tokens"),
        Column("Cost"),
    ]
    if limit:
        columns.append(Column("% of limit"))
    table = Table(columns, [], [])
    for block in blocks:
        start = block.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        minutes = int((block.last - block.first).total_seconds() // 60)
        duration = f"{minutes // 60}h {minutes % 60:02d}m" + (" ACTIVE" if block.active else "")
        row = [
            start,
            duration,
            ", ".join(sorted(block.models)),
            f"{block.totals.requests:,}",
            f"{block.totals.total_tokens:,}",
            money(block.totals),
        ]
        if limit:
            row.append(f"{percent(block.totals.total_tokens, limit)}%")
        table.rows.append(row)
    text, _ = render(table, terminal_width(), style)
    active = next((b for b in blocks if b.active), None)
    if active is None:
        return text + "\nno active block"
    lines = [text, f"active block ends {active.end.astimezone(zone):%Y-%m-%d %H:%M}"]
    if active.burn is not None:
        from llmledger.events import nanos_to_usd

        lines.append(
            f"burn rate: {active.burn.tokens_per_minute:,.0f} tokens/min, "
            f"${nanos_to_usd(active.burn.cost_per_hour_nanos):,.2f}/h"
        )
    if active.projection is not None:
        from llmledger.events import nanos_to_usd

        projected = active.projection.total_tokens
        line = (
            f"projected by block end: {projected:,} tokens, "
            f"${nanos_to_usd(active.projection.cost_nanos):,.2f} "
            f"({active.projection.remaining_minutes} min left)"
        )
        if limit:
            line += f", {percent(projected, limit)}% of the {limit:,} token limit"
        lines.append(line)
    return "\n".join(lines)


def blocks_csv(blocks: list[Any]) -> str:
    from llmledger.report.blocks import BLOCK_CSV_FIELDS, block_csv_row
    from llmledger.report.render.csvout import csv_text

    return csv_text(BLOCK_CSV_FIELDS, [block_csv_row(block).values() for block in blocks])


def cmd_blocks(args: argparse.Namespace) -> int:
    if args.live:
        from llmledger.cli.live import run_live

        return run_live(args)
    from llmledger.cli.reports import check_sources, resolve_models
    from llmledger.report.blocks import blocks_json, compute_blocks, resolve_limit

    if not args.source:
        args.source = ["claude-code"]
    options = report_options_from(args, "daily")
    with open_ledger(args) as ledger:
        check_sources(ledger, options)
        if not args.no_scan:
            scan_before_report(ledger, args)
        options = resolve_models(ledger, options)
        events = ledger.events(options.event_filter())
        blocks = compute_blocks(events, datetime.now(timezone.utc))
        official = None if args.json or args.csv else official_windows(ledger, args, options)
    try:
        limit = resolve_limit(args.token_limit, blocks)
    except ValueError:
        raise UsageError(f"--token-limit {args.token_limit!r} is not a number or 'max'") from None
    if args.active:
        blocks = [b for b in blocks if b.active]
    if args.recent:
        cutoff = datetime.now(timezone.utc).timestamp() - 3 * 86_400
        blocks = [b for b in blocks if b.last.timestamp() >= cutoff]
    if args.order == "desc":
        blocks.reverse()
    if args.json:
        emit(json.dumps(blocks_json(blocks, limit), indent=2))
    elif args.csv:
        emit(blocks_csv(blocks))
    else:
        from llmledger.report.render.table import Style

        style = Style(color=use_color())
        title = style.paint(f"5-hour blocks ({options.zone})", style.header)
        emit(title + "\n" + blocks_text(blocks, limit, options.zone, style))
        if official:
            emit(official)
    return 0


def official_windows(ledger: Any, args: argparse.Namespace, options: Any) -> str | None:
    """The agents' own limit readings for the blocks' sources, in one line (quota_windows)."""
    from llmledger.agent_windows import file_codex_readings
    from llmledger.cli.quota_windows import official_line

    if not args.no_scan and not ledger.readonly:
        file_codex_readings(ledger)
    return official_line(ledger, list(args.source), options.zone)


def register(commands: Any, parents: Parents) -> None:
    scan = commands.add_parser(
        "scan",
        help="import new lines of the coding agents' logs into the ledger",
        description="Import what is new in the coding agents' local logs (incremental).",
        parents=[parents.globals, parents.report],
    )
    scan.add_argument("--full", action="store_true", help="re-read every file from the start")
    scan.set_defaults(handler=cmd_scan)
    sources = commands.add_parser(
        "sources",
        help="where each agent's logs are looked for, and what was found",
        description="Per agent: where llmledger looks, files found, events in the ledger.",
        parents=[parents.globals, parents.report],
    )
    sources.set_defaults(handler=cmd_sources)
    blocks = commands.add_parser(
        "blocks",
        help="5-hour billing windows, the active one's burn rate and projection",
        description=(
            "Usage in 5-hour billing windows as Claude's plans count them (default source: "
            "claude-code; --codex etc. to choose)."
        ),
        parents=[parents.globals, parents.report, parents.order],
    )
    blocks.add_argument(
        "--token-limit",
        metavar="N",
        help="show usage as a percent of N tokens per block ('max': the largest past block)",
    )
    blocks.add_argument("--active", action="store_true", help="only the active block")
    blocks.add_argument("--recent", action="store_true", help="only blocks of the last 3 days")
    blocks.add_argument("--live", action="store_true", help="the live view (llmledger live)")
    add_live_options(blocks)
    blocks.set_defaults(handler=cmd_blocks)


__all__ = ["Parser", "register", "scan_before_report"]
