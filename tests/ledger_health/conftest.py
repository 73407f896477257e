"""Ledgers in trouble, made for real: a read-only file, damaged pages, a missing path.

Every command runs through ``llmledger.cli.main.main`` against real SQLite files in tmp dirs
(the autouse fixture in tests/conftest.py keeps the real home out).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.pricing.book import PriceBook


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def one_error_line(self) -> str:
        """The error, checked to be one line on stderr and no traceback."""
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("llmledger: error: "), self.err
        return lines[0]


Run = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``llmledger ARGV`` in-process."""

    def invoke(*argv: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return invoke


# The seeded ledger: enough events to fill many pages of the events table (``damage`` hits one
# of them), and their input tokens.
EVENTS = 800
INPUT_TOKENS = sum(100 + n for n in range(EVENTS))


def make_ledger(path: Path, events: int = EVENTS) -> Path:
    """A ledger with ``events`` events over a month, closed cleanly."""
    with Ledger(path, prices=PriceBook(), env={}) as ledger:
        ledger.record_many(
            ledger.make_event(
                id=f"e{n}",
                model="gpt-4o",
                input_tokens=100 + n,
                output_tokens=10,
                ts=f"2025-08-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
                session_id=f"s{n % 7}",
                source="claude-code",
                details={"note": "x" * 200},
            )
            for n in range(events)
        )
    return path


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return make_ledger(tmp_path / "ledger" / "ledger.db")


def damage(path: Path, seed: int = 7) -> None:
    """Overwrite one page in the middle of the events table with random bytes (seeded: the
    same every run), as a bad disk or a stray write would; where it lies does not depend on
    what else the schema holds."""
    with sqlite3.connect(path) as conn:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' "
                "ORDER BY pageno"
            )
        ]
    conn.close()
    assert len(pages) > 2, "the seeded ledger's events fill too few pages to damage one"
    with open(path, "r+b") as file:
        file.seek((pages[len(pages) // 2] - 1) * page_size)
        file.write(random.Random(seed).randbytes(page_size))


def digest(directory: Path) -> dict[str, str]:
    """Every file in ``directory`` and a hash of its bytes (to show nothing was written)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file() and p.stat().st_size and not p.name.endswith("-shm")
    }


def _chattr(flag: str, *paths: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def freeze() -> Iterator[Callable[[Path], None]]:
    """Make a ledger file and its directory read-only: chmod 444/555, and for root (whom
    permissions do not stop) the immutable attribute, as a read-only file system would."""
    frozen: list[Path] = []

    def apply(path: Path) -> None:
        path.chmod(0o444)
        path.parent.chmod(0o555)
        frozen.append(path)
        if os.geteuid() == 0 and not _chattr("+i", path, path.parent):
            pytest.skip("running as root without chattr +i: nothing is read-only to root")

    yield apply
    for path in frozen:
        if os.geteuid() == 0:
            _chattr("-i", path, path.parent)
        path.parent.chmod(0o755)
        path.chmod(0o644)


def claude_log(home: Path, count: int = 3) -> Path:
    """A Claude Code transcript with ``count`` assistant messages under ``home``."""
    lines = []
    for n in range(count):
        message = {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
        lines.append(
            {
                "type": "assistant",
                "sessionId": "s1",
                "cwd": "/tmp/p",
                "uuid": f"u{n}",
                "requestId": f"req_{n}",
                "timestamp": f"2025-09-28T06:0{n}:00.000Z",
                "message": message,
            }
        )
    path = home / ".claude" / "projects" / "-tmp-p" / "s1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
