"""Fixtures for the PostgreSQL ledger's own tests: a fresh schema per test on the test server
(tests/conftest.py ``postgres_schema_url``), and a CLI run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``llmledger ARGV`` in a process of its own (what a user's shell runs)."""
    return subprocess.run(
        [sys.executable, "-m", "llmledger", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "TZ": "UTC", **(env or {})},
    )


@pytest.fixture
def pg_url(postgres_schema_url: str) -> str:
    return postgres_schema_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"
