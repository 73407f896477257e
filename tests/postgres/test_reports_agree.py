"""Every report gives the same output on both backends: the same events recorded into a SQLite
file and a PostgreSQL ledger, then each report command with each output format, time zones
whose days start on and off the hour (the rollup and the events paths), group-bys and filters;
whole outputs compared."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.pricing.book import PriceBook
from llmledger.query import EventFilter

START = datetime(2026, 1, 20, tzinfo=timezone.utc)
MODELS = ("gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "my-local-model")
SOURCES = ("proxy", "claude-code", "codex", "sdk")


def sample_events(n: int = 1_500) -> list[UsageEvent]:
    rng = random.Random(19)
    events = []
    for i in range(n):
        model = rng.choice(MODELS)
        output = rng.randrange(0, 4_000)
        events.append(
            UsageEvent(
                model=model,
                ts=START + timedelta(seconds=rng.randrange(0, 70 * 86_400)),
                id=f"e{i}",
                source=rng.choice(SOURCES),
                provider=rng.choice((None, "openai", "anthropic")),
                input_tokens=rng.randrange(0, 50_000),
                cache_read_tokens=rng.choice((0, rng.randrange(0, 200_000))),
                cache_write_tokens=rng.choice((0, rng.randrange(0, 9_000))),
                cache_write_1h_tokens=rng.choice((0, 0, rng.randrange(0, 3_000))),
                output_tokens=output,
                reasoning_tokens=rng.randrange(0, output + 1),
                estimated=rng.random() < 0.05,
                success=rng.random() > 0.03,
                user_id=rng.choice((None, "ana", "bo", "chen")),
                org_id=rng.choice((None, "acme", "globex")),
                project=rng.choice((None, "/src/api", "/src/web")),
                session_id=f"s{rng.randrange(0, 40)}",
                request_type=rng.choice((None, "chat", "embedding")),
            )
        )
    # Copies of stored ids: a larger one replaces, a smaller one is ignored.
    events.append(UsageEvent(model="gpt-4o", ts=START, id="e3", input_tokens=10**6))
    events.append(UsageEvent(model="gpt-4o", ts=START, id="e4", input_tokens=0))
    return events


REPORTS = [
    ["daily"],
    ["daily", "--json"],
    ["daily", "--csv"],
    ["daily", "-z", "Asia/Kolkata"],  # days start on the half hour: summed from the events
    ["daily", "-z", "America/New_York", "--json"],
    ["daily", "--group-by", "user"],
    ["daily", "--group-by", "user", "--json"],
    ["daily", "--group-by", "project", "-z", "Asia/Kolkata", "--csv"],
    ["daily", "--user", "ana", "--json"],
    ["daily", "--model", "gpt-4o", "-b"],
    ["daily", "--since", "2026-02-01", "--until", "2026-02-10", "-o", "desc"],
    ["weekly", "--json"],
    ["monthly"],
    ["monthly", "--group-by", "org", "--json"],
    ["models"],
    ["models", "--json"],
    ["models", "--source", "codex", "--csv"],
    ["sessions", "--json"],
    ["sessions", "--csv"],
    ["blocks", "--json"],
    ["export", "--json"],
    ["export", "--csv", "--user", "bo"],
]


def run(argv: list[str], db: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``llmledger ARGV`` on ``db`` in-process: exit code, stdout, stderr."""
    window = [] if "--since" in argv else ["--since", "2026-01-01"]
    capsys.readouterr()
    code = main([*argv, *window, "--db", db, "--no-scan", "--offline"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_report_is_the_same_on_both_backends(
    tmp_path: Path,
    postgres_schema_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "120")
    sqlite_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    events = sample_events()
    for url in (sqlite_url, postgres_schema_url):
        with Ledger(url, prices=PriceBook()) as ledger:
            copies = [replace(e) for e in events]  # pricing fills in the costs
            written = sum(ledger.record_many(copies[i : i + 400]) for i in range(0, 1_502, 400))
            assert written == 1_501  # 1,500 ids, one replaced by its larger copy
    differences = []
    for argv in REPORTS:
        on_sqlite = run(argv, sqlite_url, capsys)
        on_postgres = run(argv, postgres_schema_url, capsys)
        assert on_sqlite[0] == 0, (argv, on_sqlite[2])
        assert len(on_sqlite[1].splitlines()) > 3, argv  # a real report, not an empty one
        if on_postgres != on_sqlite:
            differences.append(" ".join(argv))
    assert differences == []
    # And the totals are what was recorded: the larger copy of e3 replaced the first one.
    with Ledger(postgres_schema_url) as ledger:
        (row,) = ledger.aggregate(EventFilter(), [])
    expected = sum(e.input_tokens for e in events[:1_500]) - events[3].input_tokens + 10**6
    assert (row.totals.events, row.totals.input_tokens) == (1_500, expected)
