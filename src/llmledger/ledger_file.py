"""The ledger file, for ``llmledger db``: these work on a file too damaged to open as a Ledger.

The CLI reaches the store only through the Ledger's modules; these are its file-level half.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store's modules load only when a command uses them
    from llmledger.errors import DamagedLedgerError
    from llmledger.store.health import Health


def ledger_file(url: str | Path) -> Path | str:
    """The SQLite file (or ``":memory:"``) a path or URL names; StoreError for other URLs."""
    from llmledger.store.location import store_target

    return store_target(url)


def check_file(path: Path) -> Health:
    """Integrity, migrations, and the rollup compared with the events, of a ledger file."""
    from llmledger.store.health import check_ledger

    return check_ledger(path)


def backup_file(source: Path, target: Path, *, name: Path | None = None) -> int | None:
    """An online copy of a ledger file; returns its events (None: too damaged to count)."""
    from llmledger.store.backup import backup

    return backup(source, target, name=name)


def damaged_error(path: Path, detail: str) -> DamagedLedgerError:
    """The one message for a damaged ledger file, with what to do."""
    from llmledger.store.diagnose import damaged

    return damaged(path, detail)


def db_command(path: Path, text: str) -> str:
    """An ``llmledger`` command line naming the ledger with --db, ready to copy."""
    from llmledger.store.diagnose import command

    return command(path, text)
