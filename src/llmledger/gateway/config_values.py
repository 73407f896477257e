"""Readers of config values: each checks one value's type and names the key when it is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmledger.errors import ConfigError

__all__ = ["check_known", "count", "flag", "positive", "read_secret", "table_of", "text"]


def text(table: Mapping[str, Any], name: str, key: str, *, required: bool = False) -> str | None:
    value = table.get(name)
    if value is None:
        if required:
            raise ConfigError(f"{key}.{name}: required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}.{name}: expected a non-empty string, got {value!r}")
    return value.strip()


def positive(table: Mapping[str, Any], name: str, key: str, default: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{key}.{name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def count(table: Mapping[str, Any], name: str, key: str, default: int | None) -> int | None:
    value = table.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}.{name}: expected a whole number >= 1, got {value!r}")
    return value


def check_known(table: Mapping[str, Any], known: set[str], key: str) -> None:
    for name in table:
        if name not in known:
            raise ConfigError(f"{key}.{name}: unknown setting (expected one of {sorted(known)})")


def table_of(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table, got {type(value).__name__}")
    return value


def read_secret(table: Mapping[str, Any], key: str, env: Mapping[str, str]) -> tuple[str, str]:
    var = text(table, "api_key_env", key)
    path = text(table, "api_key_file", key)
    if (var is None) == (path is None):
        raise ConfigError(f"{key}: give exactly one of api_key_env or api_key_file")
    if var is not None:
        secret = env.get(var, "").strip()
        if not secret:
            raise ConfigError(f"{key}.api_key_env: environment variable {var} is not set")
        return secret, f"env {var}"
    assert path is not None
    file = Path(path).expanduser()
    try:
        secret = file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{key}.api_key_file: cannot read {file}: {reason}") from exc
    if not secret:
        raise ConfigError(f"{key}.api_key_file: {file} is empty")
    return secret, f"file {file}"


def flag(table: Mapping[str, Any], name: str, key: str, default: bool) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}.{name}: expected true or false, got {value!r}")
    return value
