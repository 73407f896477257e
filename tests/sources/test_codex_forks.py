"""Codex forks and subagents: a child's file holds a re-stamped copy of its parent's history,
which is counted once (in the parent), never again in the child, whether or not the parent's
file is there; the child's own calls are counted in full, under the child's session."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from llmledger.ledger import Ledger

from .codex_logs import Rollout, expected, iso
from .conftest import run_scan, totals, write_jsonl

A1, A2, A3 = (12_000, 2_000, 300, 40), (15_000, 11_000, 500, 100), (20_000, 14_000, 700, 0)
C1, C2 = (21_000, 20_000, 100, 10), (22_500, 21_000, 250, 50)


def write(home: Path, rollout: Rollout) -> Path:
    day = rollout.created.strftime("%Y/%m/%d")
    stamp = rollout.created.strftime("%Y-%m-%dT%H-%M-%S")
    path = home / ".codex" / "sessions" / day / f"rollout-{stamp}-{rollout.session}.jsonl"
    return write_jsonl(path, rollout.lines())


def parent() -> Rollout:
    session = Rollout.new("019c0000-0000-7000-8000-00000000000a", "2026-07-03T09:00:00.000Z")
    session.turn("2026-07-03T09:00:05.000Z", [A1, A2])
    return session.turn("2026-07-03T09:10:00.000Z", [A3])


CHILD = "019c0000-0000-7000-8000-00000000000b"
GRANDCHILD = "019c0000-0000-7000-8000-00000000000c"


def sessions(ledger: Ledger) -> Counter[str | None]:
    return Counter(event.session_id for event in ledger.events())


@pytest.mark.parametrize("with_parent_file", [True, False])
def test_full_fork_counts_only_the_childs_own_calls(
    ledger: Ledger, isolated_home: Path, with_parent_file: bool
) -> None:
    source = parent()
    child = source.fork(CHILD, "2026-07-03T10:00:00.000Z")
    child.turn("2026-07-03T10:00:30.000Z", [C1, C2])
    if with_parent_file:
        write(isolated_home, source)
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    calls = [A1, A2, A3, C1, C2] if with_parent_file else [C1, C2]
    assert totals(ledger, "codex") == {"2026-07-03": expected(calls)}
    want = Counter({CHILD: 2})
    if with_parent_file:
        want[source.session] = 3
    assert sessions(ledger) == want
    assert {e.project for e in ledger.events() if e.session_id == CHILD} == {"/work/app"}


def test_the_issues_minimal_fork_is_its_own_1100_tokens(
    ledger: Ledger, isolated_home: Path
) -> None:
    source = Rollout.new("019c0000-0000-7000-8000-0000000000aa", "2026-07-03T09:00:00.000Z")
    source.turn("2026-07-03T09:00:05.000Z", [(1_000_000, 0, 5_000, 0)])
    child = source.fork(CHILD, "2026-07-03T10:00:00.000Z")
    child.turn("2026-07-03T10:01:00.000Z", [(1_000, 0, 100, 0)])
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    (event,) = ledger.events()
    assert event.total_tokens == 1_100
    assert event.session_id == CHILD


def test_prefix_fork_inherits_only_up_to_the_fork_point(
    ledger: Ledger, isolated_home: Path
) -> None:
    source = parent()
    first_turn_items = 3 + 3 * 2 + 1  # turn_context, task_started, user; 2 calls; task_complete
    child = source.fork(CHILD, "2026-07-03T11:00:00.000Z", upto=first_turn_items)
    assert child.total == tuple(a + b for a, b in zip(A1, A2))
    child.turn("2026-07-03T11:05:00.000Z", [C1])
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([C1])}
    assert sessions(ledger) == Counter({CHILD: 1})


def test_subagent_starting_at_once_with_fast_calls_counts_them_all(
    ledger: Ledger, isolated_home: Path
) -> None:
    source = parent()
    child = source.fork(CHILD, "2026-07-03T09:12:00.000Z", subagent=True)
    assert child.copy_end is not None
    # The spawned agent's task begins 2 ms after the copy; its calls take 0.1 s each.
    begins = child.copy_end.timestamp() + 0.002
    child.turn(iso_at(begins), [C1, C2], seconds_per_call=0.1)
    write(isolated_home, source)
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([A1, A2, A3, C1, C2])}
    assert sessions(ledger) == Counter({source.session: 3, CHILD: 2})


def test_subagent_without_inherited_history_counts_everything(
    ledger: Ledger, isolated_home: Path
) -> None:
    child = Rollout.new(CHILD, "2026-07-03T09:12:00.000Z", parent="019c-some-parent", subagent=True)
    child.turn("2026-07-03T09:12:00.010Z", [C1, C2], seconds_per_call=0.05)
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([C1, C2])}


@pytest.mark.parametrize("files", ["all", "grandchild only", "no parent"])
def test_nested_fork_counts_each_call_once_in_its_own_session(
    ledger: Ledger, isolated_home: Path, files: str
) -> None:
    source = parent()
    child = source.fork(CHILD, "2026-07-03T10:00:00.000Z")
    child.turn("2026-07-03T10:00:30.000Z", [C1])
    grandchild = child.fork(GRANDCHILD, "2026-07-03T12:00:00.000Z")
    g1 = (30_000, 22_000, 400, 0)
    grandchild.turn("2026-07-03T12:00:40.000Z", [g1])
    write(isolated_home, grandchild)
    calls, want = [g1], Counter({GRANDCHILD: 1})
    if files in ("all", "no parent"):
        write(isolated_home, child)
        calls, want = [C1, *calls], want + Counter({CHILD: 1})
    if files == "all":
        write(isolated_home, source)
        calls, want = [A1, A2, A3, *calls], want + Counter({source.session: 3})
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected(calls)}
    assert sessions(ledger) == want


@pytest.mark.parametrize("dated", [True, False], ids=["started_at", "no started_at"])
def test_replay_slower_than_a_second_is_still_history(
    ledger: Ledger, isolated_home: Path, dated: bool
) -> None:
    source = Rollout.new("019c0000-0000-7000-8000-0000000000dd", "2026-07-03T08:00:00.000Z")
    calls = [(1_000 * (n + 1), 500 * n, 10 + n, 0) for n in range(12)]
    for hour, group in enumerate((calls[:6], calls[6:])):
        source.turn(f"2026-07-03T08:{10 + hour:02d}:00.000Z", group, dated=dated)
    # A long history copied at 40 ms a line: about 2 s, crossing second boundaries.
    child = source.fork(CHILD, "2026-07-03T10:00:00.900Z", copy_spread_ms=40)
    assert child.copy_end is not None and child.copy_end.second >= 2
    child.turn("2026-07-03T10:01:00.000Z", [C1], dated=dated)
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([C1])}


def test_fork_without_started_at_counts_its_first_call_after_the_copy(
    ledger: Ledger, isolated_home: Path
) -> None:
    source = Rollout.new("019c0000-0000-7000-8000-0000000000ee", "2026-07-03T08:00:00.000Z")
    source.turn("2026-07-03T08:00:05.000Z", [A1, A2], dated=False)
    child = source.fork(CHILD, "2026-07-03T10:00:00.000Z", subagent=True)
    assert child.copy_end is not None
    # Own task right after the copy; the model answers 0.8 s later (a round trip, not a copy).
    child.turn(iso_at(child.copy_end.timestamp() + 0.001), [C1], seconds_per_call=0.8, dated=False)
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([C1])}


def test_inherited_total_repeated_before_the_first_own_turn_is_not_a_call(
    ledger: Ledger, isolated_home: Path
) -> None:
    source = parent()
    child = source.fork(CHILD, "2026-07-03T10:00:00.000Z", repeat_inherited_total=True)
    child.turn("2026-07-03T10:02:00.000Z", [C1])
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {"2026-07-03": expected([C1])}


def test_fork_written_across_midnight_files_own_calls_by_their_time(
    ledger: Ledger, isolated_home: Path
) -> None:
    source = parent()
    child = source.fork(CHILD, "2026-07-03T23:59:59.995Z", copy_spread_ms=1)
    child.turn("2026-07-04T00:00:20.000Z", [C1, C2])
    write(isolated_home, source)
    write(isolated_home, child)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "codex") == {
        "2026-07-03": expected([A1, A2, A3]),
        "2026-07-04": expected([C1, C2]),
    }


def test_fork_read_in_parts_gives_what_reading_it_whole_gives(
    tmp_path: Path, isolated_home: Path
) -> None:
    source = parent()
    child = source.fork(CHILD, "2026-07-03T10:00:00.000Z")
    child.turn("2026-07-03T10:00:30.000Z", [C1, C2])
    lines = child.lines()
    path = write(isolated_home, Rollout.new(CHILD, "2026-07-03T10:00:00.000Z"))
    with Ledger(str(tmp_path / "parts.db")) as ledger:
        for count in range(1, len(lines) + 1):
            write_jsonl(path, lines[:count])  # the file as it stood after each write
            run_scan(ledger, isolated_home)
        assert totals(ledger, "codex") == {"2026-07-03": expected([C1, C2])}
        assert sessions(ledger) == Counter({CHILD: 2})


def iso_at(seconds: float) -> str:
    from datetime import datetime, timezone

    return iso(datetime.fromtimestamp(seconds, tz=timezone.utc))
