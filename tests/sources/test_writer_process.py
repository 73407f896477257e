"""The writer process of big scans: used, correct, and its failures reach the scan."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from llmledger.errors import StoreError
from llmledger.ledger import Ledger
from llmledger.sources import scan, writer_process
from llmledger.sources.writer_process import ProcessSink
from llmledger.store.sqlite import ScanCursor

from .conftest import claude_line, run_scan, write_jsonl


def writer_children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "llmledger-scan-writer"]


def cursor(path: str, carry: object = None) -> ScanCursor:
    return ScanCursor(path, "claude-code", 1, 2, 10, 0, 10, carry, 1, 0)  # type: ignore[arg-type]


def test_big_scans_write_from_a_child_process(
    ledger: Ledger, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    for n in range(6):
        write_jsonl(
            isolated_home / ".claude" / "projects" / "p" / f"s{n}.jsonl",
            [claude_line(f"m{n}-{i}", "r", output=i + 1) for i in range(50)],
        )
    # A fork is only safe while this process runs one thread (other tests may leave some):
    # otherwise the scan writes from a thread, with the same result.
    forks = writer_process.usable(ledger)
    seen: list[int] = []
    result = run_scan(
        ledger, isolated_home, workers=2, progress=lambda d, t: seen.append(len(writer_children()))
    )
    assert max(seen) == (1 if forks else 0)  # the writer process was there while files were read
    assert writer_children() == []  # and is gone after the scan
    assert result.written == 300 and ledger.store.count() == 300
    assert len(ledger.store.scan_cursors()) == 6


def test_a_failed_write_is_raised_and_the_batch_is_not_written(ledger: Ledger) -> None:
    sink = ProcessSink(ledger)
    sink.submit({}, [cursor("/ok")])
    sink.submit({}, [cursor("/bad", carry={"x": object()})])  # cannot be stored
    with pytest.raises(StoreError, match="cannot write to the ledger"):
        sink.close()
    assert list(ledger.store.scan_cursors()) == ["/ok"]
    assert writer_children() == []


def test_a_killed_writer_is_reported(ledger: Ledger) -> None:
    sink = ProcessSink(ledger)
    (child,) = writer_children()
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    with pytest.raises(StoreError, match="writer process stopped"):
        sink.submit({}, [cursor("/a")])
        sink.close()
    sink.abort()
