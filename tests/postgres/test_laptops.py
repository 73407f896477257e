"""Two laptops scanning their agents' logs into one PostgreSQL ledger: a conversation found
on both (the same ids) counts once, each laptop's own ones count, in either order and when
scanned again: the shared ledger's reports equal those of one SQLite ledger of the union."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sources.conftest import claude_line, write_jsonl

from .conftest import run_cli


def session(home: Path, name: str, day: str, calls: int) -> None:
    lines = [
        claude_line(
            f"msg_{name}_{n}",
            f"req_{name}_{n}",
            ts=f"{day}T1{n % 10}:00:00.000Z",
            input_tokens=100 * (n + 1),
            output=7 * (n + 1),
            cache_read=50 * n,
            session=name,
        )
        for n in range(calls)
    ]
    write_jsonl(home / ".claude" / "projects" / "proj" / f"{name}.jsonl", lines)


def scan(home: Path, db: str) -> None:
    result = run_cli("scan", "--db", db, "--claude", env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr


def report(db: str) -> str:
    result = run_cli("daily", "--json", "--no-scan", "--since", "2026-01-01", "--db", db)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("order", ["a-then-b", "b-then-a"])
def test_two_laptops_into_one_ledger_count_the_union_once(
    order: str, pg_url: str, tmp_path: Path
) -> None:
    laptop_a, laptop_b, union = tmp_path / "a", tmp_path / "b", tmp_path / "union"
    session(laptop_a, "only-a", "2026-03-01", 4)
    session(laptop_b, "only-b", "2026-03-02", 3)
    for home in (laptop_a, laptop_b):  # a conversation synced to both machines
        session(home, "shared", "2026-03-01", 5)
    for name, day, calls in (("only-a", "2026-03-01", 4), ("only-b", "2026-03-02", 3)):
        session(union, name, day, calls)
    session(union, "shared", "2026-03-01", 5)

    homes = [laptop_a, laptop_b] if order == "a-then-b" else [laptop_b, laptop_a]
    for home in homes + homes:  # each laptop scans twice
        scan(home, pg_url)
    expected_db = f"sqlite:///{tmp_path / 'union.db'}"
    scan(union, expected_db)
    assert report(pg_url) == report(expected_db)
    days = {day["date"]: day["inputTokens"] for day in json.loads(report(pg_url))["daily"]}
    shared = sum(100 * (n + 1) for n in range(5))  # once, though both laptops have it
    assert days == {"2026-03-01": 1_000 + shared, "2026-03-02": 600}
