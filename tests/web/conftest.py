"""The dashboard's fixtures: the seeded ledger (written once per session, opened per test), and
the command line run in-process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmledger import Ledger, PriceBook
from llmledger.cli.main import main
from llmledger.report.timezones import resolve_zone
from llmledger.web.query import DashboardQuery
from tests.web.seed import seed_ledger


@pytest.fixture(scope="session")
def seeded_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "ledger.db"
    seed_ledger(path)
    return path


@pytest.fixture
def seeded(seeded_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(seeded_path, prices=PriceBook(), env={}, readonly=True)
    yield ledger
    ledger.close()


@pytest.fixture
def utc() -> DashboardQuery:
    return DashboardQuery(zone=resolve_zone("UTC"))


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``llmledger`` in-process; returns its exit code and output."""

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
