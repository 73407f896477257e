"""The statusline's snapshot: the ledger's figures the fast path adds new calls to.

A refresh opens the Ledger, files the transcript's new lines in it exactly as a scan would
(``file_one``), files the official limit readings the fast path kept (Claude Code's come on
its stdin; Codex's from the scan cursors), then writes ``<key>.snap.json``: today's cost
(every source), this session's totals, the agent's current 5-hour block, the rates of the
session's models, the ledger's copy of the session's latest calls (so a call whose streaming
copies straddle the snapshot is counted once), and the transcript offset all of that covers.

Run in the statusline's own process when there is no snapshot yet, otherwise in a background
process (``python -m llmledger.statusline.refresh KEY``) at most once a minute.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from llmledger.agent_windows import file_codex_readings
from llmledger.file_one import file_one
from llmledger.ledger import Ledger
from llmledger.pricing.book import Lane
from llmledger.query import EventFilter
from llmledger.rate_windows import RateWindow
from llmledger.report.blocks import compute_blocks
from llmledger.report.timezones import local_midnight_us, resolve_zone, today
from llmledger.statusline import state

US = 1_000_000
# Events of the last day are enough to place the current block (unless work never paused
# for 5 hours within it).
BLOCK_LOOKBACK = timedelta(hours=24)
# The ledger's copies of the session's latest calls the snapshot keeps.
RECENT_CALLS = 50


def subagent_transcripts(agent: str, path: str) -> list[str]:
    """A Claude Code session's subagent transcripts (``<session>/subagents/*.jsonl`` beside
    ``<session>.jsonl``): their calls are the session's too."""
    if agent != "claude-code" or not path.endswith(".jsonl"):
        return []
    folder = os.path.join(path[: -len(".jsonl")], "subagents")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [os.path.join(folder, name) for name in names if name.endswith(".jsonl")]


def lane_json(lane: Lane | None) -> list[Any] | None:
    if lane is None:
        return None
    *flat, tiers = lane
    return [*flat, [[threshold, lane_json(tier)] for threshold, tier in tiers]]


def _readings(fast: dict[str, Any] | None) -> list[RateWindow]:
    found = []
    for row in (fast or {}).get("readings") or ():
        try:
            found.append(
                RateWindow(
                    source=str(row["source"]),
                    window=str(row["window"]),
                    observed_us=int(row["observed_us"]),
                    used_percent=float(row["used_percent"]),
                    window_minutes=row.get("window_minutes"),
                    resets_at_us=row.get("resets_at_us"),
                    session_id=row.get("session_id"),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return found


def snapshot(
    ledger: Ledger,
    agent: str,
    path: str,
    session: str | None,
    models: list[str],
    tz: str | None,
    fast: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """File the transcript and the readings, then the ledger's figures for the fast path."""
    now = now or datetime.now(timezone.utc)
    try:
        inode: int | None = os.stat(path).st_ino
    except OSError:
        inode = None
    offset = file_one(ledger, agent, path) if inode is not None else 0
    for subagent in subagent_transcripts(agent, path):
        file_one(ledger, agent, subagent)
    if not ledger.readonly:
        ledger.record_rate_windows(_readings(fast))
        if agent == "codex":
            file_codex_readings(ledger)
    zone = resolve_zone(tz)
    day = today(zone)
    day_start, day_end = local_midnight_us(day, zone), local_midnight_us(day + timedelta(1), zone)
    day_rows = ledger.aggregate(EventFilter(since_us=day_start, until_us=day_end), [])
    since = int((now - BLOCK_LOOKBACK).timestamp() * US)
    agent_events = list(ledger.events(EventFilter(since_us=since, equals={"source": (agent,)})))
    blocks = compute_blocks(agent_events, now)
    block = blocks[-1] if blocks and blocks[-1].active else None
    session_events = [e for e in agent_events if session and e.session_id == session]
    session_rows = (
        ledger.aggregate(EventFilter(equals={"session_id": (session,), "source": (agent,)}), [])
        if session
        else []
    )
    totals = session_rows[0].totals if session_rows else None
    seen_models = {e.model for e in session_events} | set(models)
    provider = "anthropic" if agent == "claude-code" else "openai"
    last = session_events[-1] if session_events else None
    cursor = ledger.scan_cursors().get(path)
    parser = (cursor.carry or {}).get("parser") if cursor is not None else None
    parser = parser if isinstance(parser, dict) else {}
    kept = parser.get("windows")
    windows: dict[str, Any] = kept if isinstance(kept, dict) else {}
    return {
        # What the transcript's parser carries: Codex's model and its latest official readings.
        "model": parser.get("model"),
        "readings": [pair[-1] for pair in windows.values() if isinstance(pair, list) and pair],
        "taken_us": int(now.timestamp() * US),
        "offset": offset,
        "inode": inode,
        "agent": agent,
        "path": path,
        "session": session,
        "day_start_us": day_start,
        "day_end_us": day_end,
        "today_cost_nanos": day_rows[0].totals.cost_nanos if day_rows else 0,
        "session_tokens": totals.total_tokens if totals is not None else 0,
        "session_cost_nanos": totals.cost_nanos if totals is not None else 0,
        "block": None
        if block is None
        else {
            "start_us": int(block.start.timestamp() * US),
            "end_us": int(block.end.timestamp() * US),
            "first_us": int(block.first.timestamp() * US),
            "last_us": int(block.last.timestamp() * US),
            "cost_nanos": block.totals.cost_nanos,
            "tokens": block.totals.total_tokens,
        },
        "lanes": {m: lane_json(ledger.prices.lane(m, provider)) for m in sorted(seen_models)},
        "calls": {
            e.id: [e.cost_nanos or 0, e.total_tokens] for e in session_events[-RECENT_CALLS:]
        },
        "context_tokens": None
        if last is None
        else last.input_tokens
        + last.cache_read_tokens
        + last.cache_write_tokens
        + last.cache_write_1h_tokens,
    }


def refresh(key: str) -> int:
    """Make ``key``'s snapshot from what its fast state names (agent, transcript, session,
    db, time zone); 0 when written. Holds the key's lock meanwhile."""
    fast = state.load(state.file_for(key, "json"))
    if fast is None:
        return 1
    lock = state.file_for(key, "lock")
    if not state.take_lock(lock, time.time()):
        return 0  # another refresh is at it
    try:
        with Ledger(fast.get("db") or None) as ledger:
            snap = snapshot(
                ledger,
                str(fast["agent"]),
                str(fast["path"]),
                fast.get("session"),
                [str(m) for m in fast.get("models") or ()],
                fast.get("tz"),
                fast,
            )
        state.save(state.file_for(key, "snap.json"), snap)
    finally:
        state.release_lock(lock)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m llmledger.statusline.refresh KEY", file=sys.stderr)
        return 2
    return refresh(args[0])


if __name__ == "__main__":
    sys.exit(main())
