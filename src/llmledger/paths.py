"""Where llmledger keeps its files: the data dir, the default database and config file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "llmledger"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$LLMLEDGER_HOME`` or the platform user data dir (``~/.local/share/llmledger``)."""
    env = os.environ if env is None else env
    home = env.get("LLMLEDGER_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / "ledger.db"


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$LLMLEDGER_CONFIG``, else ``config.toml`` in ``$LLMLEDGER_HOME`` or the user config dir."""
    env = os.environ if env is None else env
    explicit = env.get("LLMLEDGER_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    if env.get("LLMLEDGER_HOME"):
        return data_dir(env) / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / "cache"
