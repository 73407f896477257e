"""Bad input never stops a scan and never half-writes the ledger: files that cannot be read
are skipped and listed; malformed lines are skipped and counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmledger.ledger import Ledger
from llmledger.sources import jsonl

from .conftest import claude_line, run_scan, write_jsonl


def transcript(home: Path, name: str) -> Path:
    return home / ".claude" / "projects" / "-proj" / f"{name}.jsonl"


def test_binary_garbage_and_malformed_lines(ledger: Ledger, isolated_home: Path) -> None:
    garbage = transcript(isolated_home, "garbage")
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(os.urandom(4096) + b'"usage"\x00\xff\n' + os.urandom(512))
    write_jsonl(
        transcript(isolated_home, "mixed"),
        ['{"type":"assistant","message":{"usage":', "not json at all", claude_line("m1", "r1")],
    )
    result = run_scan(ledger, isolated_home)
    assert result.skipped == []
    assert result.malformed >= 2
    assert [e.id for e in ledger.events()] == ["claude:m1"]


def test_oversized_line_is_skipped_in_bounded_memory(
    ledger: Ledger, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE", 64 * 1024)
    monkeypatch.setattr(jsonl, "BLOCK_SIZE", 16 * 1024)
    path = transcript(isolated_home, "huge")
    write_jsonl(path, [claude_line("m1", "r1")])
    with path.open("a") as handle:
        handle.write('{"usage": "' + "x" * 300_000 + '"}\n')
    write_jsonl(path, [claude_line("m2", "r2")], mode="a")
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 1
    assert sorted(e.id for e in ledger.events()) == ["claude:m1", "claude:m2"]


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_unreadable_file_is_skipped_and_listed(ledger: Ledger, isolated_home: Path) -> None:
    good = write_jsonl(transcript(isolated_home, "good"), [claude_line("m1", "r1")])
    bad = good.with_name("unreadable.jsonl")
    if os.geteuid() == 0:
        bad.symlink_to("/proc/self/mem")  # a regular file whose read fails, even for root
    else:
        write_jsonl(bad, [claude_line("m2", "r2")])
        bad.chmod(0)
    result = run_scan(ledger, isolated_home)
    assert [s.path for s in result.skipped] == [str(bad)]
    assert [e.id for e in ledger.events()] == ["claude:m1"]
    cursors = ledger.scan_cursors()
    assert str(good) in cursors and str(bad) not in cursors  # tried again next time


def test_file_vanishing_mid_scan_is_skipped_and_the_scan_completes(
    ledger: Ledger, isolated_home: Path
) -> None:
    paths = [
        write_jsonl(transcript(isolated_home, f"s{n}"), [claude_line(f"m{n}", "r")])
        for n in range(3)
    ]
    removed: list[Path] = []

    def delete_the_others(done: int, total: int) -> None:
        """Called once a file is read: every other file disappears before it is read."""
        if not removed:
            removed.extend(paths)
            for path in paths:
                path.unlink()

    result = run_scan(ledger, isolated_home, progress=delete_the_others)
    assert result.files == 3
    assert sorted(s.reason for s in result.skipped) == ["vanished during the scan"] * 2
    assert result.read == 1
    assert ledger.count() == 1


def test_a_failing_file_writes_nothing_and_is_retried(ledger: Ledger, isolated_home: Path) -> None:
    from llmledger.sources import opencode

    db = isolated_home / ".local" / "share" / "opencode" / "opencode.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84 + os.urandom(4000))
    write_jsonl(transcript(isolated_home, "ok"), [claude_line("m1", "r1")])
    result = run_scan(ledger, isolated_home)
    assert [s.source for s in result.skipped] == ["opencode"]
    assert {e.source for e in ledger.events()} == {"claude-code"}
    assert opencode.NAME == "opencode"
    db.unlink()
    assert run_scan(ledger, isolated_home).skipped == []
