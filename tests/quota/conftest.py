"""Ledgers on real SQLite files with quota settings from a config, and a clock tests move."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.config import parse_config
from llmledger.ledger import Ledger
from llmledger.pricing.book import PriceBook
from llmledger.quota.service import QuotaBook

UTC = timezone.utc


def at(text: str) -> datetime:
    """An aware UTC datetime from ``2026-01-31T23:30``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Clock:
    """The time a QuotaBook sees; tests set or advance it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def open_ledger(path: Path | str, raw: Mapping[str, Any] | None = None) -> Ledger:
    """A ledger on ``path`` with the config ``raw`` (``[quotas]``, ``[plans.*]``)."""
    return Ledger(path, config=parse_config(dict(raw or {})), prices=PriceBook(), env={})


OpenBook = Callable[..., QuotaBook]


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-01-10T12:00:00"))


@pytest.fixture
def ledger_path(ledger_url: str) -> Path | str:
    """The ledger's file (SQLite) or URL (PostgreSQL): the quota tests run on each backend."""
    if ledger_url.startswith("sqlite:///"):
        return Path(ledger_url.removeprefix("sqlite:///"))
    return ledger_url


def sqlite_only(ledger_path: Path | str) -> Path:
    """``ledger_path`` for a test that looks into the SQLite file itself (skipped elsewhere)."""
    if not isinstance(ledger_path, Path):
        pytest.skip("looks into the SQLite file itself")
    return ledger_path


@pytest.fixture
def open_book(ledger_path: Path, clock: Clock) -> Iterator[OpenBook]:
    """``open_book(config)``: a QuotaBook over a ledger on ``ledger_path`` (a new Ledger each
    call, as a restarted process would open it); all closed at the end."""
    opened: list[Ledger] = []

    def make(raw: Mapping[str, Any] | None = None) -> QuotaBook:
        ledger = open_ledger(ledger_path, raw)
        opened.append(ledger)
        return QuotaBook(ledger, clock=clock)

    yield make
    for ledger in opened:
        ledger.close()
