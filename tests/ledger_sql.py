"""Raw SQL on a test ledger, whichever its backend: for tests that set up a state the Ledger
cannot write (an older version's rows, damage). Only tests reach under the Store like this."""

from __future__ import annotations

from llmledger.ledger import Ledger


def fetch_sql(ledger: Ledger, sql: str) -> list[tuple[object, ...]]:
    """The rows of a query (no parameters, portable SQL) on ``ledger``'s database."""
    url = str(ledger.url)
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            return [tuple(row) for row in conn.execute(sql.encode()).fetchall()]
    return [tuple(row) for row in ledger.store._conn.execute(sql).fetchall()]  # type: ignore[attr-defined]


def execute_sql(ledger: Ledger, sql: str) -> None:
    """Run ``sql`` (no parameters, portable SQL) on ``ledger``'s database and commit."""
    url = str(ledger.url)
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.encode())
        return
    ledger.store._conn.execute(sql)  # type: ignore[attr-defined]
