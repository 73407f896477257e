"""Codex CLI rollouts: last_token_usage, re-emits, forks, cached/reasoning inclusion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmledger.ledger import Ledger

from .conftest import codex_count, codex_meta, codex_turn, run_scan, totals, write_jsonl

DAY = "2026-07-03"


def rollout(home: Path, name: str, lines: list[Any], folder: str = "sessions") -> Path:
    path = home / ".codex" / folder / "2026" / "07" / "03" / f"rollout-{name}.jsonl"
    return write_jsonl(path, lines)


def t(second: int) -> str:
    return f"{DAY}T18:15:{second:02d}.978Z"


def base_session() -> list[Any]:
    return [
        codex_meta(t(0), "019b-parent"),
        codex_turn(t(1), "gpt-5-codex"),
        codex_count(t(2), [14475, 2432, 216, 64], [14475, 2432, 216, 64]),
        codex_count(t(3), [14475, 2432, 216, 64], [14475, 2432, 216, 64]),  # re-emit
        codex_count(t(4), [0, 0, 0, 0], None),  # info: null (rate limits only)
        codex_count(t(5), [24475, 7432, 316, 100], [10000, 5000, 100, 36]),
    ]


def test_counts_last_usage_and_skips_re_emits(ledger: Ledger, isolated_home: Path) -> None:
    rollout(isolated_home, "2026-07-03T18-15-00-019b-parent", base_session())
    run_scan(ledger, isolated_home)
    day = totals(ledger, "codex")[DAY]
    # cached is inside input; reasoning is inside output.
    assert day == {
        "input": (14475 - 2432) + (10000 - 5000),
        "cache_read": 2432 + 5000,
        "output": 216 + 100,
        "reasoning": 64 + 36,
        "cache_write": 0,
        "cache_write_1h": 0,
        "messages": 2,
    }
    assert {e.model for e in ledger.events()} == {"gpt-5-codex"}
    assert {e.session_id for e in ledger.events()} == {"019b-parent"}


def test_fork_replaying_parent_history_counts_once(ledger: Ledger, isolated_home: Path) -> None:
    parent = base_session()
    fork = [
        codex_meta(t(10), "019b-fork", forked_from_id="019b-parent"),
        *parent[1:],  # the replayed parent history, same timestamps and totals
        codex_count(t(20), [25475, 7432, 416, 100], [1000, 0, 100, 0]),
    ]
    rollout(isolated_home, "2026-07-03T18-15-00-019b-parent", parent)
    rollout(isolated_home, "2026-07-03T18-15-10-019b-fork", fork)
    run_scan(ledger, isolated_home)
    day = totals(ledger, "codex")[DAY]
    assert day["messages"] == 3
    assert day["output"] == 216 + 100 + 100


def test_model_switch_mid_session(ledger: Ledger, isolated_home: Path) -> None:
    lines = [
        *base_session()[:3],
        codex_turn(t(6), "gpt-5.1-codex"),
        codex_count(t(7), [15475, 2432, 316, 64], [1000, 0, 100, 0]),
    ]
    rollout(isolated_home, "x", lines)
    run_scan(ledger, isolated_home)
    assert sorted(e.model for e in ledger.events()) == ["gpt-5-codex", "gpt-5.1-codex"]


def test_rollout_without_turn_context_uses_flagged_fallback(
    ledger: Ledger, isolated_home: Path
) -> None:
    lines = [codex_meta(t(0), "old"), codex_count(t(2), [100, 0, 10, 0], [100, 0, 10, 0])]
    rollout(isolated_home, "old", lines)
    run_scan(ledger, isolated_home)
    (event,) = list(ledger.events())
    assert event.model == "gpt-5"
    assert event.details == {"model_fallback": True}


def test_archived_twin_counts_once_and_archive_alone_is_read(
    ledger: Ledger, isolated_home: Path
) -> None:
    rollout(isolated_home, "a", base_session())
    rollout(isolated_home, "a", base_session(), folder="archived_sessions")
    only_archived = [
        codex_meta(t(0), "arch"),
        codex_turn(t(1), "gpt-5-codex"),
        codex_count(t(30), [500, 0, 50, 0], [500, 0, 50, 0]),
    ]
    rollout(isolated_home, "b", only_archived, folder="archived_sessions")
    result = run_scan(ledger, isolated_home)
    assert result.files == 2
    assert totals(ledger, "codex")[DAY]["messages"] == 3


def test_codex_home_is_honoured(ledger: Ledger, isolated_home: Path) -> None:
    custom = isolated_home / "elsewhere"
    path = custom / "sessions" / "2026" / "07" / "03" / "rollout-c.jsonl"
    write_jsonl(path, base_session())
    run_scan(ledger, isolated_home, env={"CODEX_HOME": str(custom)})
    assert ledger.count() == 2


def test_calls_split_by_event_time_across_midnight(ledger: Ledger, isolated_home: Path) -> None:
    lines = [
        codex_turn("2026-07-03T23:59:59.000Z", "gpt-5-codex"),
        codex_count("2026-07-03T23:59:59.500Z", [100, 0, 10, 0], [100, 0, 10, 0]),
        codex_count("2026-07-04T00:00:00.500Z", [300, 0, 30, 0], [200, 0, 20, 0]),
    ]
    rollout(isolated_home, "m", lines)
    run_scan(ledger, isolated_home)
    days = totals(ledger, "codex")
    assert {d: v["output"] for d, v in days.items()} == {"2026-07-03": 10, "2026-07-04": 20}
