"""The ``[gateway]`` table: how the gateway listens, logs, limits and exposes metrics.

```toml
[gateway]
access_log = "-"            # "-" stderr, a file path, or "off"
drain_timeout = 30          # seconds to keep reading an upstream after its client left
cors_origins = []           # browser origins allowed to call the gateway (CORS); off when empty
metrics_token_env = "LLMLEDGER_METRICS_TOKEN"   # /metrics then needs "Bearer <token>"
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from llmledger.errors import ConfigError
from llmledger.gateway.config_values import (
    check_known,
    count,
    flag,
    positive,
    read_secret,
    table_of,
    text,
)

__all__ = ["GatewaySettings", "parse_settings"]


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 4000
    access_log: str = "-"
    drain_timeout: float = 30.0
    shutdown_timeout: float = 30.0
    request_timeout: float = 60.0  # a client's request (headers and body) must arrive in this
    idle_timeout: float = 75.0  # keep-alive connections idle longer are closed
    max_body_bytes: int = 32 * 1024 * 1024
    max_header_bytes: int = 64 * 1024
    metrics_label_limit: int = 100
    key_refresh_seconds: float = 5.0
    max_connections: int | None = None  # client connections; None: from the open-file limit
    backlog: int = 2048
    cors_origins: tuple[str, ...] = ()  # browser origins allowed (CORS); none by default
    metrics_token: str | None = field(default=None, repr=False)  # /metrics needs it when set
    metrics_user_labels: bool = False  # per-user series on /metrics
    max_rate_limit_rest: float = 60.0  # s an account rests for one model after a 429, at most


_SETTINGS_KNOWN = {
    "host",
    "port",
    "access_log",
    "drain_timeout",
    "shutdown_timeout",
    "request_timeout",
    "idle_timeout",
    "max_body_bytes",
    "max_header_bytes",
    "metrics_label_limit",
    "key_refresh_seconds",
    "max_connections",
    "backlog",
    "cors_origins",
    "metrics_token_env",
    "metrics_token_file",
    "metrics_user_labels",
    "max_rate_limit_rest",
}


def _origins(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get("cors_origins", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(
            f'{key}.cors_origins: expected a list of origins like ["https://app.example.com"]'
        )
    origins = tuple(v.strip().rstrip("/") for v in value)
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ConfigError(f"{key}.cors_origins: {origin!r} is not an http(s) origin or '*'")
    return origins


def _metrics_token(table: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    if table.get("metrics_token_env") is None and table.get("metrics_token_file") is None:
        return None
    names = {"api_key_env": "metrics_token_env", "api_key_file": "metrics_token_file"}
    renamed = {k: table.get(v) for k, v in names.items() if table.get(v) is not None}
    try:
        return read_secret(renamed, "gateway", env)[0]
    except ConfigError as exc:
        message = str(exc)
        for old, new in names.items():
            message = message.replace(old, new)
        raise ConfigError(message) from None


def parse_settings(raw: Any, env: Mapping[str, str] | None = None) -> GatewaySettings:
    env = os.environ if env is None else env
    table = table_of(raw, "gateway")
    check_known(table, _SETTINGS_KNOWN, "gateway")
    defaults = GatewaySettings()
    port = table.get("port", defaults.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"gateway.port: expected a port number 0-65535, got {port!r}")
    return GatewaySettings(
        host=text(table, "host", "gateway") or defaults.host,
        port=port,
        access_log=text(table, "access_log", "gateway") or defaults.access_log,
        drain_timeout=positive(table, "drain_timeout", "gateway", defaults.drain_timeout),
        shutdown_timeout=positive(table, "shutdown_timeout", "gateway", defaults.shutdown_timeout),
        request_timeout=positive(table, "request_timeout", "gateway", defaults.request_timeout),
        idle_timeout=positive(table, "idle_timeout", "gateway", defaults.idle_timeout),
        max_body_bytes=count(table, "max_body_bytes", "gateway", defaults.max_body_bytes)
        or defaults.max_body_bytes,
        max_header_bytes=count(table, "max_header_bytes", "gateway", defaults.max_header_bytes)
        or defaults.max_header_bytes,
        metrics_label_limit=count(
            table, "metrics_label_limit", "gateway", defaults.metrics_label_limit
        )
        or defaults.metrics_label_limit,
        key_refresh_seconds=positive(
            table, "key_refresh_seconds", "gateway", defaults.key_refresh_seconds
        ),
        max_connections=count(table, "max_connections", "gateway", None),
        backlog=count(table, "backlog", "gateway", defaults.backlog) or defaults.backlog,
        cors_origins=_origins(table, "gateway"),
        metrics_token=_metrics_token(table, env),
        metrics_user_labels=flag(table, "metrics_user_labels", "gateway", False),
        max_rate_limit_rest=positive(
            table, "max_rate_limit_rest", "gateway", defaults.max_rate_limit_rest
        ),
    )
