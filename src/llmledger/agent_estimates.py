"""Estimated limit windows for the agents that report none: each such agent's current 5-hour
block from the ledger, as a share of its largest finished block of the last two weeks. An
estimate of where it stands against a limit the agent does not state, and said to be one
(``official: false``, ``kind: "estimate"``). ``llmledger quota`` and the dashboard's Limit
windows panel both show these, from ``current_estimates``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from llmledger.agent_windows import current_windows
from llmledger.ledger import Ledger
from llmledger.query import EventFilter
from llmledger.report.blocks import Block, compute_blocks, percent, resolve_limit

__all__ = ["ESTIMATE_DAYS", "BlockEstimate", "current_estimates", "estimate_windows"]

US = 1_000_000
# Estimates compare the current block with the agent's blocks of this many days.
ESTIMATE_DAYS = 14
# An agent with a call in this span has a current block worth estimating.
ACTIVE_SPAN = timedelta(hours=5)


@dataclass(frozen=True)
class BlockEstimate:
    """One agent's current 5-hour block against its largest finished one."""

    source: str
    block: Block
    largest_tokens: int | None  # the largest finished block's tokens (None: no finished block)

    @property
    def percent_of_largest(self) -> float | None:
        return percent(self.block.totals.total_tokens, self.largest_tokens)

    @property
    def projected_percent_of_largest(self) -> float | None:
        projection = self.block.projection
        return None if projection is None else percent(projection.total_tokens, self.largest_tokens)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "official": False,
            "kind": "estimate",
            "estimate": True,
            "label": "5-hour block",
            "blockStart": _iso(self.block.start),
            "blockEnd": _iso(self.block.end),
            "tokens": self.block.totals.total_tokens,
            "costUSD": self.block.totals.cost_nanos / 1e9,
            "largestBlockTokens": self.largest_tokens,
            "percentOfLargest": self.percent_of_largest,
            "projectedPercentOfLargest": self.projected_percent_of_largest,
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def estimate_windows(ledger: Ledger, official: Collection[str], now_us: int) -> list[BlockEstimate]:
    """Each agent active in the last 5 hours (as of ``now_us``) that is not in ``official``
    (the agents with official readings) and has an active block, by agent name."""
    now = datetime.fromtimestamp(now_us / US, timezone.utc)
    since = now_us - ESTIMATE_DAYS * 86_400 * US
    recent = now_us - int(ACTIVE_SPAN.total_seconds()) * US
    active = ledger.aggregate(EventFilter(since_us=recent, until_us=now_us + 1), ["source"])
    sources = sorted({str(row.key["source"]) for row in active if row.key.get("source")})
    found = []
    for source in sources:
        if source in official:
            continue
        events = ledger.events(
            EventFilter(since_us=since, until_us=now_us + 1, equals={"source": (source,)})
        )
        blocks = compute_blocks(events, now)
        if blocks and blocks[-1].active:
            found.append(BlockEstimate(source, blocks[-1], resolve_limit("max", blocks)))
    return found


def current_estimates(ledger: Ledger, now_us: int) -> list[BlockEstimate]:
    """The estimates for the agents without a current official reading (``current_windows``)."""
    official = {status.latest.source for status in current_windows(ledger, now_us)}
    return estimate_windows(ledger, official, now_us)
