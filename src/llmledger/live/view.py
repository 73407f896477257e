"""The live view's screens as Rich renderables (they never write to the terminal themselves:
tests render them into a fixed-width Console)."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llmledger.agent_windows import WindowStatus
from llmledger.live.board import Board
from llmledger.report.timezones import zone_name

VIEWS = ("overview", "calls")
TITLES = {"overview": "Overview", "calls": "Last calls"}
KEYS = "v: next view · z: time zone · q: quit"


def usd(nanos: int | None) -> str:
    if nanos is None:
        return "?"
    dollars = nanos / 1e9
    return f"${dollars:,.2f}" if dollars >= 0.01 or dollars == 0 else f"${dollars:.4f}"


def tokens(count: int) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.1f}{suffix}"
    return str(count)


def _local(moment: datetime, zone: tzinfo, with_day: bool = False) -> str:
    local = moment.astimezone(zone)
    return local.strftime("%a %H:%M" if with_day else "%H:%M:%S")


def _span(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def blocks_table(board: Board) -> Table:
    table = Table(title="Active 5-hour blocks", title_justify="left", expand=True)
    for name, justify in (
        ("agent", "left"),
        ("started", "left"),
        ("tokens", "right"),
        ("cost", "right"),
        ("burn", "right"),
        ("projected*", "right"),
        ("left", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for source, block in board.blocks:
        burn = "-" if block.burn is None else f"{usd(block.burn.cost_per_hour_nanos)}/h"
        projected = "-" if block.projection is None else usd(block.projection.cost_nanos)
        table.add_row(
            source,
            _local(block.start, board.zone, with_day=True),
            tokens(block.totals.total_tokens),
            usd(block.totals.cost_nanos),
            burn,
            projected,
            _span((block.end - board.now).total_seconds()),
        )
    if not board.blocks:
        table.add_row("no agent active in the last 5 hours", "", "", "", "", "", "")
    return table


def today_table(board: Board) -> Table:
    day = board.now.astimezone(board.zone).date().isoformat()
    table = Table(title=f"Today ({day}) by agent and model", title_justify="left", expand=True)
    table.add_column("agent")
    table.add_column("model")
    table.add_column("calls", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    calls = total_tokens = cost = 0
    for row in board.today:
        t = row.totals
        table.add_row(
            str(row.key.get("source")),
            str(row.key.get("model")),
            f"{t.requests:,}",
            tokens(t.total_tokens),
            usd(t.cost_nanos) + ("*" if t.unpriced else ""),
        )
        calls, total_tokens, cost = (
            calls + t.requests,
            total_tokens + t.total_tokens,
            cost + t.cost_nanos,
        )
    table.add_row("total", "", f"{calls:,}", tokens(total_tokens), usd(cost), style="bold")
    return table


def _forecast(status: WindowStatus, zone: tzinfo) -> str:
    if status.stale:
        return "reset since"
    if status.full_at_us is not None:
        moment = datetime.fromtimestamp(status.full_at_us / 1e6, timezone.utc)
        return f"100% at {_local(moment, zone, with_day=True)}"
    if status.at_reset_percent is not None:
        return f"~{status.at_reset_percent:.0f}% at reset"
    return "-"


def windows_table(board: Board) -> Table:
    table = Table(title="Limit windows (official)", title_justify="left", expand=True)
    table.add_column("agent")
    table.add_column("window")
    table.add_column("used", justify="right")
    table.add_column("resets")
    table.add_column("forecast (estimate)")
    for status in board.windows:
        reading = status.latest
        resets = "-"
        if reading.resets_at_us is not None:
            moment = datetime.fromtimestamp(reading.resets_at_us / 1e6, timezone.utc)
            resets = _local(moment, board.zone, with_day=True)
        used = reading.used_percent
        style = "green" if used < 50 else "yellow" if used < 80 else "red"
        table.add_row(
            reading.source,
            status.label,
            Text(f"{used:.0f}%", style=style),
            resets,
            _forecast(status, board.zone),
        )
    if not board.windows:
        table.add_row("no official readings yet (Codex logs them; Claude Code: statusline)")
    return table


def calls_table(board: Board, limit: int) -> Table:
    table = Table(title="Last calls", title_justify="left", expand=True)
    table.add_column("time")
    table.add_column("agent")
    table.add_column("model")
    table.add_column("input", justify="right")
    table.add_column("cache", justify="right")
    table.add_column("output", justify="right")
    table.add_column("cost", justify="right")
    for event in board.calls[:limit]:
        cache = event.cache_read_tokens + event.cache_write_tokens + event.cache_write_1h_tokens
        table.add_row(
            _local(event.ts, board.zone),
            event.source,
            event.model,
            tokens(event.input_tokens),
            tokens(cache),
            tokens(event.output_tokens),
            usd(event.cost_nanos),
        )
    if not board.calls:
        table.add_row("no calls in the last 24 hours")
    return table


def screen(board: Board, view: str) -> RenderableType:
    """One frame of ``view`` ("overview" or "calls")."""
    title = Text.assemble(
        ("llmledger live", "bold"),
        f" · {TITLES[view]} · {zone_name(board.zone)} {_local(board.now, board.zone)} · ",
        (KEYS, "dim"),
    )
    if view == "calls":
        body: RenderableType = calls_table(board, 30)
    else:
        body = Group(
            blocks_table(board),
            today_table(board),
            windows_table(board),
            calls_table(board, 5),
            Text("* projected at the current burn rate: an estimate", style="dim"),
        )
    return Panel(body, title=title, title_align="left")
