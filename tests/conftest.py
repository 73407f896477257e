"""Every test runs in a fresh, empty home: no real agent logs, config or ledger leak in."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.gateway.quota_fixtures import FixedUsageUpstream

ISOLATED_VARS = (
    "LLMLEDGER_DB",
    "LLMLEDGER_CONFIG",
    "LLMLEDGER_PRICES_URL",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "KIMI_SHARE_DIR",
    "COPILOT_HOME",
    "COPILOT_OTEL_FILE_EXPORTER_PATH",
    "CLINE_DIR",
    "CLINE_DATA_DIR",
    "CLINE_SESSION_DATA_DIR",
    "APPDATA",
    "LOCALAPPDATA",
    "GOOSE_PATH_ROOT",
    "CRUSH_GLOBAL_DATA",
    "HERMES_HOME",
    "FLATPAK_XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "NO_COLOR",
    "FORCE_COLOR",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name in ISOLATED_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("LLMLEDGER_HOME", str(tmp_path / "llmledger-home"))
    return home


# The Store backends the suite runs against: fixtures that open a ledger take its URL from
# ``ledger_url``, so a new backend is one more entry here (and its URL below).
STORE_BACKENDS = ("sqlite", "postgresql")

# The test PostgreSQL server (.ci/run starts it): each test gets a schema of its own there.
POSTGRES_SERVER = os.environ.get(
    "LLMLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def postgres_or_skip() -> str:
    """The test server's URL; skips (fails under CI=true) when it or psycopg is missing."""
    why = ""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_SERVER, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except ImportError:
        why = "psycopg is not installed (pip install -e '.[test]')"
    except Exception as exc:
        why = f"no PostgreSQL server at {POSTGRES_SERVER} ({str(exc).strip().splitlines()[0]})"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is needed under CI: {why}")
        pytest.skip(why)
    return POSTGRES_SERVER


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose tables live in a new, empty schema of the test database (dropped after)."""
    import psycopg

    server = postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{server}?options=-csearch_path%3D{schema}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=STORE_BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ledger's URL on each backend."""
    backend = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_schema_url"))
    raise AssertionError(f"no URL for the {backend} backend")


@pytest.fixture(scope="module")
def fixed() -> Iterator[FixedUsageUpstream]:
    """A fake upstream on loopback whose every answer reports the same usage (the quota and
    many-gateway tests); one per test module."""
    from tests.gateway.quota_fixtures import FixedUsageUpstream

    upstream = FixedUsageUpstream()
    upstream.start_in_thread()
    yield upstream
    upstream.stop()
