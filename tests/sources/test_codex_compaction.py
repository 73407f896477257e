"""Codex 0.154+ compaction requests: billed, and reported only in the ``compacted`` item's
usage record (no ``token_count`` carries them). Counted once, never from a fork's copy."""

from __future__ import annotations

from pathlib import Path

from llmledger.ledger import Ledger

from .codex_logs import Rollout, expected
from .conftest import run_scan, totals
from .test_codex_forks import A1, A2, C1, write

COMPACTION = (180_000, 120_000, 4_000, 900)


def session() -> Rollout:
    rollout = Rollout.new("019c0000-0000-7000-8000-0000000000f1", "2026-07-03T09:00:00.000Z")
    rollout.turn("2026-07-03T09:00:05.000Z", [A1])
    rollout.compact("2026-07-03T09:20:00.000Z", "resp_compact_1", COMPACTION)
    return rollout.turn("2026-07-03T09:30:00.000Z", [A2])


def test_compaction_usage_is_counted_once(ledger: Ledger, isolated_home: Path) -> None:
    write(isolated_home, session())
    run_scan(ledger, isolated_home)
    run_scan(ledger, isolated_home, full=True)  # a re-read changes nothing
    assert totals(ledger, "codex") == {"2026-07-03": expected([A1, COMPACTION, A2])}
    compaction = ledger.get("codex:response:resp_compact_1")
    assert compaction is not None and compaction.details == {"compaction": True}
    assert compaction.ts.isoformat() == "2026-07-03T09:20:00+00:00"


def test_a_compacted_item_about_another_response_adds_nothing(
    ledger: Ledger, isolated_home: Path
) -> None:
    rollout = session()
    for line, _ in rollout.items:
        if line["type"] == "compacted":
            line["payload"]["compaction_response_id"] = "resp_other"
    write(isolated_home, rollout)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([A1, A2])}


def test_a_forks_copy_of_a_compaction_is_not_counted_again(
    ledger: Ledger, isolated_home: Path
) -> None:
    parent = session()
    child = parent.fork("019c0000-0000-7000-8000-0000000000f2", "2026-07-03T10:00:00.000Z")
    child.turn("2026-07-03T10:00:30.000Z", [C1])
    write(isolated_home, parent)
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([A1, COMPACTION, A2, C1])}
