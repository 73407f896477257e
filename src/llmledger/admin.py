"""Looking after a ledger given by URL, for ``llmledger db``: migrate it, copy it into another
(SQLite ↔ PostgreSQL), check a PostgreSQL one. The CLI reaches the store through here."""

from __future__ import annotations

from llmledger.store.admin import Migrated, check, copy, is_postgres, migrate
from llmledger.store.transfer import MONTH_FIELDS, CopyResult

__all__ = ["MONTH_FIELDS", "CopyResult", "Migrated", "check", "copy", "is_postgres", "migrate"]
