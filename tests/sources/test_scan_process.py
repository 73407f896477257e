"""The scan process of big scans: used, correct, and its failures reach the scan."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmledger.bookkeeping import ScanCursor
from llmledger.errors import StoreError
from llmledger.ledger import Ledger
from llmledger.query import EventFilter
from llmledger.scan import batches, run
from llmledger.store import scan_process
from llmledger.store.scan_process import ScanProcess

from .conftest import claude_line, run_scan, write_jsonl


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A SQLite ledger: the scan process is SQLite's way of writing big scans."""
    with Ledger(tmp_path / "ledger.db") as led:
        yield led


def writer_children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "llmledger-scan-process"]


def cursor(path: str, carry: object = None) -> ScanCursor:
    return ScanCursor(path, "claude-code", 1, 2, 10, 0, 10, carry, 1, 0)  # type: ignore[arg-type]


def test_big_scans_write_from_a_child_process(
    ledger: Ledger, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "PARALLEL_MIN_BYTES", 0)
    for n in range(6):
        write_jsonl(
            isolated_home / ".claude" / "projects" / "p" / f"s{n}.jsonl",
            [claude_line(f"m{n}-{i}", "r", output=i + 1) for i in range(50)],
        )
    # A fork is only safe while this process runs one thread (other tests may leave some):
    # otherwise the scan writes from a thread, with the same result.
    forks = scan_process.usable(Path(ledger.location))
    seen: list[int] = []
    result = run_scan(
        ledger, isolated_home, workers=2, progress=lambda d, t: seen.append(len(writer_children()))
    )
    assert max(seen) == (1 if forks else 0)  # the writer process was there while files were read
    assert writer_children() == []  # and is gone after the scan
    assert result.written == 300 and ledger.count() == 300
    assert len(ledger.scan_cursors()) == 6


def test_a_failed_write_is_raised_and_the_batch_is_not_written(ledger: Ledger) -> None:
    sink = ScanProcess(Path(ledger.location))
    sink.submit([], [cursor("/ok")])
    sink.submit([], [cursor("/bad", carry={"x": object()})])  # cannot be stored
    with pytest.raises(StoreError, match="cannot write to the ledger"):
        sink.close()
    assert list(ledger.scan_cursors()) == ["/ok"]
    assert writer_children() == []


def test_a_killed_writer_is_reported(ledger: Ledger) -> None:
    sink = ScanProcess(Path(ledger.location))
    (child,) = writer_children()
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    with pytest.raises(StoreError, match="writer process stopped"):
        sink.submit([], [cursor("/a")])
        sink.close()
    sink.abort()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("names", [("a-agent", "b-main"), ("b-agent", "a-main")])
def test_sidechain_replay_in_an_earlier_batch_loses_to_the_primary_copy(
    ledger: Ledger,
    isolated_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
    names: tuple[str, str],
) -> None:
    # One write per file, files in either order: when the replay (more tokens) is written
    # first, the primary copy in a later batch must still replace it, in the store too.
    monkeypatch.setattr(run, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(batches, "BATCH_RECORDS", 1)  # one write per file
    monkeypatch.setattr(batches, "FIRST_BATCH", 1)
    project = isolated_home / ".claude" / "projects" / "p"
    agent, main = names
    write_jsonl(project / f"{main}.jsonl", [claude_line("msg_1", "req_1", output=10, session="m")])
    write_jsonl(
        project / f"{agent}.jsonl",
        [claude_line("msg_1", "req_1", output=500, sidechain=True, session="side")],
    )
    result = run_scan(ledger, isolated_home, workers=workers)
    event = ledger.get("claude:msg_1")
    assert event is not None and (event.output_tokens, event.session_id) == (10, "m")
    assert result.records == 2 and ledger.count() == 1
    (total,) = ledger.aggregate(EventFilter(), [])  # from the rollup
    assert (total.totals.output_tokens, total.totals.events) == (10, 1)


def test_write_scan_replaces_a_larger_stored_copy_only_when_told(ledger: Ledger) -> None:
    from llmledger.events import UsageEvent

    def event(output: int, session: str) -> UsageEvent:
        return UsageEvent(
            model="claude-sonnet-4-5",
            id="x",
            source="claude-code",
            output_tokens=output,
            session_id=session,
        )

    ledger.write_scan([event(500, "side")], [])
    ledger.write_scan([event(10, "main")], [])  # fewer tokens, no instruction: kept out
    stored = ledger.get("x")
    assert stored is not None and stored.session_id == "side"
    ledger.write_scan([event(10, "main")], [], {"x"})
    stored = ledger.get("x")
    assert stored is not None and (stored.session_id, stored.output_tokens) == ("main", 10)
    assert ledger.count() == 1


class _FakeSink:
    def __init__(self) -> None:
        self.batches: list[tuple[list[bytes], list[str]]] = []
        self.is_busy = True

    def submit(self, packed: list[bytes], cursors: list[ScanCursor]) -> int:
        self.batches.append((packed, [c.path for c in cursors]))
        return 0

    def busy(self) -> bool:
        return self.is_busy


def test_queued_records_go_oldest_first_each_batch_with_its_files_cursors(
    ledger: Ledger,
) -> None:
    writer = batches.ScanBatches(ledger, batch_records=5)
    sink = _FakeSink()
    writer._process = sink  # type: ignore[assignment]
    for n, count in enumerate((3, 0, 2, 4, 1, 6)):
        writer.add_packed("claude-code", f"blob{n}".encode(), count, cursor(f"/f{n}"))
    assert sink.batches == []  # the writer is busy: the batch grows
    sink.is_busy = False
    writer.flush()
    assert sink.batches == [
        ([b"blob0", b"blob2"], ["/f0", "/f1", "/f2"]),
        ([b"blob3", b"blob4"], ["/f3", "/f4"]),
        ([b"blob5"], ["/f5"]),  # one file bigger than a batch goes whole
    ]
    assert writer.count == 0


def test_records_piled_up_while_the_writer_was_busy_go_as_one_larger_batch(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "LARGEST_BATCH", 8)
    writer = batches.ScanBatches(ledger, batch_records=5)
    sink = _FakeSink()
    writer._process = sink  # type: ignore[assignment]
    for n, count in enumerate((3, 2, 2)):
        writer.add_packed("claude-code", f"blob{n}".encode(), count, cursor(f"/f{n}"))
    assert sink.batches == []  # busy: 7 records wait
    sink.is_busy = False
    writer.add_packed("claude-code", b"blob3", 4, cursor("/f3"))
    # Due and the writer free: one batch of up to LARGEST_BATCH records (not batch_records);
    # the 4 left are not due yet.
    assert [paths for _, paths in sink.batches] == [["/f0", "/f1", "/f2"]]
    assert writer.count == 4
