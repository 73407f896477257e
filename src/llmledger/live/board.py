"""What the live view shows, read from the ledger: the agents' active 5-hour blocks (burn rate
and projection), today's totals by agent and model, the official limit windows (with their
forecasts) and the latest calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

from llmledger.agent_windows import WindowStatus, current_windows
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.query import EventFilter, GroupRow
from llmledger.report.blocks import Block, compute_blocks
from llmledger.report.timezones import local_midnight_us

US = 1_000_000
# Events of the last day place each agent's current block.
BLOCK_LOOKBACK = timedelta(hours=24)
LAST_CALLS = 40


@dataclass
class Board:
    now: datetime
    zone: tzinfo
    blocks: list[tuple[str, Block]] = field(default_factory=list)  # (agent, its active block)
    today: list[GroupRow] = field(default_factory=list)  # by source and model
    windows: list[WindowStatus] = field(default_factory=list)
    calls: list[UsageEvent] = field(default_factory=list)  # the latest first


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * US)


def build_board(ledger: Ledger, zone: tzinfo, now: datetime | None = None) -> Board:
    now = now or datetime.now(timezone.utc)
    board = Board(now=now, zone=zone)
    day = now.astimezone(zone).date()
    start, end = local_midnight_us(day, zone), local_midnight_us(day + timedelta(days=1), zone)
    board.today = sorted(
        ledger.aggregate(EventFilter(since_us=start, until_us=end), ["source", "model"]),
        key=lambda row: (-row.totals.cost_nanos, -row.totals.total_tokens),
    )
    recent = list(ledger.events(EventFilter(since_us=_us(now - BLOCK_LOOKBACK))))
    by_source: dict[str, list[UsageEvent]] = {}
    for event in recent:
        by_source.setdefault(event.source, []).append(event)
    for source, events in sorted(by_source.items()):
        blocks = compute_blocks(events, now)
        if blocks and blocks[-1].active:
            board.blocks.append((source, blocks[-1]))
    board.calls = sorted(recent, key=lambda e: e.ts, reverse=True)[:LAST_CALLS]
    board.windows = current_windows(ledger, _us(now))
    return board
