"""Shared by the newcomer tests: the CLI run in-process, and a small Claude Code log."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmledger.cli.main import main
from tests.sources.conftest import claude_line, write_jsonl


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def claude_log(home: Path, project: str = "-Users-x-proj") -> Path:
    """One Claude Code transcript with one usage entry (2025-09-28, its ids from ``project``),
    under ``home``."""
    return write_jsonl(
        home / ".claude" / "projects" / project / "s1.jsonl",
        [claude_line(f"m{project}", f"r{project}", output=100, ts="2025-09-28T06:17:24.000Z")],
    )
