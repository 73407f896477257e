"""A seeded ledger for the dashboard's tests: a year of one person's agent usage (2025, most
days, more on weekdays) across Claude Code, Codex, Gemini CLI and the gateway, with an unpriced
model, sessions and projects, some users and keys for the operators' views, and a few days of
2024 for year navigation. Deterministic: the same events every time."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from llmledger import Ledger, PriceBook, UsageEvent

YEAR = 2025
EARLIER_YEAR = 2024
# (source, provider, model): the mix a day draws from.
MIX = (
    ("claude-code", "anthropic", "claude-sonnet-4-5"),
    ("claude-code", "anthropic", "claude-opus-4-1"),
    ("codex", "openai", "gpt-5"),
    ("codex", "openai", "gpt-5-mini"),
    ("gemini-cli", "gemini", "gemini-2.5-pro"),
    ("proxy", "tencent", "hunyuan-turbos-latest"),  # unpriced
)
UNPRICED_MODEL = "hunyuan-turbos-latest"
USERS = ("ada", "grace", "linus")
PROJECTS = ("/home/dev/ledger", "/home/dev/site", "/home/dev/infra")
# A day nobody worked (weekends are quieter; these are empty).
EMPTY_DAYS = frozenset({date(YEAR, 1, 1), date(YEAR, 12, 25), date(YEAR, 12, 26)})


def _events_of(day: date, rng: random.Random, serial: list[int]) -> list[UsageEvent]:
    weekday = day.weekday() < 5
    calls = rng.randrange(4, 14) if weekday else rng.randrange(0, 4)
    if day.month in (8,) and day.day < 15:
        calls = 0  # a holiday: a gap in the streak
    events = []
    for _ in range(calls):
        source, provider, model = MIX[rng.randrange(len(MIX)) if rng.random() < 0.9 else 0]
        serial[0] += 1
        n = serial[0]
        moment = datetime(day.year, day.month, day.day, 8, tzinfo=timezone.utc) + timedelta(
            minutes=rng.randrange(0, 600)
        )
        output = rng.randrange(200, 6_000)
        events.append(
            UsageEvent(
                id=f"seed:{n}",
                ts=moment,
                source=source,
                provider=provider,
                model=model,
                input_tokens=rng.randrange(500, 30_000),
                cache_read_tokens=rng.randrange(0, 200_000),
                cache_write_tokens=rng.randrange(0, 12_000),
                output_tokens=output,
                reasoning_tokens=rng.randrange(0, output // 2) if source == "codex" else 0,
                session_id=f"{source}-{day.isoformat()}-{n % 3}",
                project=PROJECTS[n % len(PROJECTS)],
                user_id=USERS[n % len(USERS)],
                api_key_id=f"key-{USERS[n % len(USERS)]}",
                account="main" if n % 4 else "backup",
            )
        )
    return events


def seed_events() -> list[UsageEvent]:
    rng = random.Random(20250101)
    serial = [0]
    events: list[UsageEvent] = []
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        if day not in EMPTY_DAYS:
            events += _events_of(day, rng, serial)
        day += timedelta(days=1)
    for earlier in (
        date(EARLIER_YEAR, 11, 4),
        date(EARLIER_YEAR, 11, 5),
        date(EARLIER_YEAR, 12, 2),
    ):
        events += _events_of(earlier, rng, serial)
    return events


def seed_ledger(path: Path) -> int:
    """Write the seeded events into a new SQLite ledger at ``path``; returns how many."""
    events = seed_events()
    ledger = Ledger(path, prices=PriceBook(), env={})
    try:
        ledger.record_many(events)
    finally:
        ledger.close()
    return len(events)
