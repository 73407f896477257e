"""Fixtures for the foundation tests: a CLI runner over an isolated ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmledger.cli.main import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


CliRunner = Callable[..., CliResult]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], ledger_url: str) -> CliRunner:
    """Run ``llmledger`` in-process against a fresh ledger on each backend (``ledger_url``;
    on SQLite that is ``db_path``); pass db=None for the default."""

    def run(*argv: str, db: Path | str | None = "default") -> CliResult:
        args = list(argv)
        if db == "default":
            args += ["--db", ledger_url]
        elif db is not None:
            args += ["--db", str(db)]
        capsys.readouterr()
        code = main(args)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
