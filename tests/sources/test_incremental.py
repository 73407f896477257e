"""Incremental scans: only appended bytes are read; rewritten files are read again; nothing is
counted twice; history stays after the agent deletes its transcripts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llmledger.ledger import Ledger

from .conftest import claude_line, codex_count, codex_turn, run_scan, totals, write_jsonl


def transcript(home: Path, name: str = "s1") -> Path:
    return home / ".claude" / "projects" / "-proj" / f"{name}.jsonl"


def test_append_reads_only_the_new_bytes(ledger: Ledger, isolated_home: Path) -> None:
    path = write_jsonl(transcript(isolated_home), [claude_line("m1", "r1", output=10)])
    first = run_scan(ledger, isolated_home)
    assert first.bytes == path.stat().st_size
    size = path.stat().st_size
    write_jsonl(path, [claude_line("m2", "r2", output=20)], mode="a")
    second = run_scan(ledger, isolated_home)
    assert second.read == 1
    assert second.bytes == path.stat().st_size - size
    assert second.records == 1 and second.written == 1
    third = run_scan(ledger, isolated_home)
    assert (third.read, third.unchanged, third.bytes) == (0, 1, 0)
    assert totals(ledger)["2025-09-28"]["output"] == 30


def test_streaming_copy_appended_later_replaces_the_early_copy(
    ledger: Ledger, isolated_home: Path
) -> None:
    path = write_jsonl(transcript(isolated_home), [claude_line("m1", "r1", output=2, stop=None)])
    run_scan(ledger, isolated_home)
    write_jsonl(path, [claude_line("m1", "r1", output=400)], mode="a")
    run_scan(ledger, isolated_home)
    assert ledger.count() == 1
    assert totals(ledger)["2025-09-28"]["output"] == 400


def test_unterminated_last_line_is_read_again_once_complete(
    ledger: Ledger, isolated_home: Path
) -> None:
    path = transcript(isolated_home)
    path.parent.mkdir(parents=True)
    whole = json.dumps(claude_line("m2", "r2", output=20))
    path.write_text(json.dumps(claude_line("m1", "r1")) + "\n" + whole[:40])  # mid-write
    first = run_scan(ledger, isolated_home)
    assert ledger.count() == 1 and first.malformed == 0
    with path.open("a") as handle:
        handle.write(whole[40:] + "\n")
    run_scan(ledger, isolated_home)
    assert ledger.count() == 2


def test_truncated_file_is_read_from_the_start(ledger: Ledger, isolated_home: Path) -> None:
    path = write_jsonl(
        transcript(isolated_home), [claude_line("m1", "r1"), claude_line("m2", "r2")]
    )
    run_scan(ledger, isolated_home)
    with path.open("r+") as handle:
        handle.truncate(0)
    write_jsonl(path, [claude_line("m3", "r3")])
    result = run_scan(ledger, isolated_home)
    assert result.bytes == path.stat().st_size
    assert sorted(e.id for e in ledger.events()) == ["claude:m1", "claude:m2", "claude:m3"]


def test_file_rewritten_in_place_with_same_size_prefix_is_reread(
    ledger: Ledger, isolated_home: Path
) -> None:
    path = write_jsonl(transcript(isolated_home), [claude_line("m1", "r1", output=100)])
    run_scan(ledger, isolated_home)
    # Rewritten (same inode) with other content, longer than before.
    with path.open("r+") as handle:
        handle.seek(0)
        handle.write(json.dumps(claude_line("mX", "rX", output=100)) + "\n")
        handle.write(json.dumps(claude_line("mY", "rY", output=5)) + "\n")
    run_scan(ledger, isolated_home)
    assert {"claude:mX", "claude:mY"} <= {e.id for e in ledger.events()}


def test_replaced_file_is_read_again_without_double_counting(
    ledger: Ledger, isolated_home: Path
) -> None:
    path = write_jsonl(transcript(isolated_home), [claude_line("m1", "r1", output=10)])
    run_scan(ledger, isolated_home)
    replacement = path.with_suffix(".tmp")
    write_jsonl(replacement, [claude_line("m1", "r1", output=10), claude_line("m2", "r2")])
    os.replace(replacement, path)  # a new inode
    result = run_scan(ledger, isolated_home)
    assert result.records == 2
    assert ledger.count() == 2
    assert totals(ledger)["2025-09-28"]["output"] == 16


def test_history_stays_after_the_agent_deletes_transcripts(
    ledger: Ledger, isolated_home: Path
) -> None:
    path = write_jsonl(transcript(isolated_home), [claude_line("m1", "r1", output=10)])
    run_scan(ledger, isolated_home)
    path.unlink()
    result = run_scan(ledger, isolated_home)
    assert result.files == 0
    assert totals(ledger)["2025-09-28"]["output"] == 10


def test_codex_state_carries_across_appends(ledger: Ledger, isolated_home: Path) -> None:
    path = isolated_home / ".codex" / "sessions" / "2026" / "07" / "03" / "rollout-x.jsonl"
    write_jsonl(
        path,
        [
            codex_turn("2026-07-03T10:00:00Z", "gpt-5.1-codex"),
            codex_count("2026-07-03T10:00:01Z", [100, 0, 10, 0], [100, 0, 10, 0]),
        ],
    )
    run_scan(ledger, isolated_home)
    write_jsonl(
        path,
        [
            codex_count("2026-07-03T10:00:02Z", [100, 0, 10, 0], [100, 0, 10, 0]),  # re-emit
            codex_count("2026-07-03T10:00:03Z", [300, 0, 30, 0], [200, 0, 20, 0]),
        ],
        mode="a",
    )
    result = run_scan(ledger, isolated_home)
    assert result.records == 1
    assert [e.model for e in ledger.events()] == ["gpt-5.1-codex", "gpt-5.1-codex"]
    assert totals(ledger, "codex")["2026-07-03"]["output"] == 30


def test_scan_cursors_are_kept_per_file(ledger: Ledger, isolated_home: Path) -> None:
    path = write_jsonl(transcript(isolated_home), [claude_line("m1", "r1")])
    run_scan(ledger, isolated_home)
    cursor = ledger.scan_cursors()[str(path)]
    assert (cursor.source, cursor.offset, cursor.size, cursor.events) == (
        "claude-code",
        path.stat().st_size,
        path.stat().st_size,
        1,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_big_files_are_read_in_parts_with_the_same_result(
    ledger: Ledger, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    from llmledger.scan import run as scan
    from llmledger.sources import jsonl

    monkeypatch.setattr(scan, "PART_BYTES", 2000)  # a worker hands back every ~2 KB
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(jsonl, "BLOCK_SIZE", 700)
    lines = [claude_line(f"m{n}", "r", output=n, stop=None) for n in range(1, 40)]
    lines += [claude_line(f"m{n}", "r", output=1000 + n) for n in range(1, 40)]  # final copies
    write_jsonl(transcript(isolated_home, "a"), lines)
    write_jsonl(transcript(isolated_home, "b"), [claude_line("other", "r", output=7)])
    rollout = isolated_home / ".codex" / "sessions" / "2026" / "07" / "03" / "rollout-p.jsonl"
    codex_lines: list[object] = [codex_turn("2026-07-03T10:00:00Z", "gpt-5.1-codex")]
    for n in range(1, 30):
        total = [100 * n, 0, 10 * n, 0]
        codex_lines.append(codex_count(f"2026-07-03T10:00:{n:02d}Z", total, [100, 0, 10, 0]))
        codex_lines.append(codex_count(f"2026-07-03T10:00:{n:02d}Z", total, [100, 0, 10, 0]))
    write_jsonl(rollout, codex_lines)
    result = run_scan(ledger, isolated_home, workers=workers)
    assert result.read == 3
    assert (
        totals(ledger, "claude-code")["2025-09-28"]["output"]
        == sum(1000 + n for n in range(1, 40)) + 7
    )
    codex = totals(ledger, "codex")["2026-07-03"]
    assert (codex["messages"], codex["output"]) == (29, 290)
    assert {e.model for e in ledger.events() if e.source == "codex"} == {"gpt-5.1-codex"}
    again = run_scan(ledger, isolated_home, workers=workers)
    assert again.read == 0 and again.unchanged == 3
