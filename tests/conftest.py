"""Every test runs in a fresh, empty home: no real agent logs, config or ledger leak in."""

from __future__ import annotations

from pathlib import Path

import pytest

ISOLATED_VARS = (
    "LLMLEDGER_DB",
    "LLMLEDGER_CONFIG",
    "LLMLEDGER_PRICES_URL",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "KIMI_SHARE_DIR",
    "COPILOT_HOME",
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
STORE_BACKENDS = ("sqlite",)


@pytest.fixture(params=STORE_BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ledger's URL on each backend."""
    backend = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    raise AssertionError(f"no URL for the {backend} backend")
