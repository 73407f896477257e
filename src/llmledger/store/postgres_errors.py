"""What went wrong with a PostgreSQL ledger, in one line: psycopg's errors become StoreErrors.

The server's own words stay in the message where they help (a missing database, a refused
role); the URL is shown without its password.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from llmledger.errors import ReadOnlyLedgerError, StoreError

INSTALL_HINT = "pip install 'llmledger[postgres]'"


def missing_driver() -> StoreError:
    return StoreError(f"PostgreSQL ledgers need psycopg 3; install it with: {INSTALL_HINT}")


def redacted(url: str) -> str:
    """``url`` without its password (for messages and ``Store.location``)."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1@", url)
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # a malformed URL is reported when connecting
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1@", url)
    user = parts.get("user")
    host = str(parts.get("host") or "localhost")
    port = parts.get("port")
    name = parts.get("dbname") or user or ""
    text = "postgresql://" + (quote(str(user)) + "@" if user else "") + host
    text += f":{port}" if port else ""
    text += f"/{name}"
    options = str(parts.get("options") or "")
    schema = re.search(r"search_path=([\w,]+)", options)
    if schema:
        text += f"?options=-csearch_path%3D{schema.group(1)}"
    return text


def _server(location: str) -> str:
    match = re.match(r"postgresql://(?:[^@/]*@)?([^/?]*)", location)
    return match.group(1) if match else location


def connect_error(exc: BaseException, location: str) -> StoreError:
    """The StoreError for a failed connection to ``location``."""
    text = str(exc)
    server = _server(location)
    detail = text.split("FATAL:", 1)[-1].strip().splitlines()[0] if "FATAL:" in text else ""
    if re.search(r"password authentication failed|role .* does not exist|no pg_hba", text):
        return StoreError(
            f"PostgreSQL at {server} refused the credentials ({detail}); check the user and "
            f"password in --db {location}"
        )
    if re.search(r"database .* does not exist", text):
        return StoreError(
            f"PostgreSQL at {server}: {detail}; create it (e.g. `createdb`) or fix --db {location}"
        )
    if re.search(r"refused|timeout expired|could not translate|No route|unreachable", text):
        cause = text.splitlines()[0].rsplit(":", 1)[-1].strip()
        return StoreError(
            f"cannot reach the PostgreSQL server at {server} ({cause}); is it running and "
            f"is --db {location} right?"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return StoreError(f"cannot connect to the PostgreSQL ledger at {location}: {first}")


def explain(exc: BaseException, location: str) -> StoreError | None:
    """The StoreError for a psycopg error raised while using the ledger (None: not one)."""
    try:
        import psycopg
        from psycopg_pool import PoolClosed, PoolTimeout
    except ImportError:  # pragma: no cover - the store exists only with the driver
        return None
    if isinstance(exc, PoolClosed):
        return StoreError(f"the PostgreSQL ledger at {location} is closed")
    if isinstance(exc, PoolTimeout):
        return StoreError(
            f"cannot reach the PostgreSQL server at {_server(location)} (no connection "
            "within the pool's timeout); is it running?"
        )
    if not isinstance(exc, psycopg.Error):
        return None
    state = getattr(exc, "sqlstate", None) or ""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.OperationalError) and not state:
        return connect_error(exc, location)
    if state == "25006":  # read_only_sql_transaction
        return ReadOnlyLedgerError(f"the PostgreSQL ledger at {location} is read-only: {first}")
    if state == "42501":  # insufficient_privilege
        return StoreError(f"the PostgreSQL ledger at {location} refused: {first}")
    if state in ("53100", "53200"):  # disk_full, out_of_memory
        return StoreError(f"the PostgreSQL server of {location} is out of space: {first}")
    if state.startswith("08") or state.startswith("57P"):
        return StoreError(f"lost the connection to the PostgreSQL ledger at {location}: {first}")
    return StoreError(f"the PostgreSQL ledger at {location} failed: {first}")
