"""The ``[server]`` table: who may call the usage API, and the quota settings of the gateway.

```toml
[server]
admin_token_env = "LLMLEDGER_ADMIN_TOKEN"      # or admin_token_file; the admin routes need it
service_token_env = "LLMLEDGER_SERVICE_TOKEN"  # or service_token_file: a backend names users
trusted_proxies = ["127.0.0.1"]   # these clients may name the user (X-User-Id / chat_user)
allow_simulation = false          # POST /api/test/simulate-tokens (admins only)
simulations_per_minute = 30       # per admin client
audit_log = "/var/log/llmledger/audit.jsonl"   # default: audit.jsonl in the data dir; "-" stderr
reserve_output_tokens = 4096      # output reserved for a request that sets no max output
stream_seconds = 3600             # an SSE stream ends after this (EventSource reconnects)
keepalive_seconds = 15            # a comment line this often on an idle stream
```

``LLMLEDGER_ADMIN_TOKEN`` in the environment turns the admin routes on without a config.
Quotas are enforced by the gateway when the config has a ``[quotas]`` or ``[plans]`` table.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from llmledger.paths import data_dir

__all__ = ["ADMIN_TOKEN_ENV", "ServerSettings", "parse_server_settings", "quotas_configured"]

ADMIN_TOKEN_ENV = "LLMLEDGER_ADMIN_TOKEN"
_MIN_TOKEN_CHARS = 16

_KNOWN = {
    "admin_token_env",
    "admin_token_file",
    "service_token_env",
    "service_token_file",
    "trusted_proxies",
    "allow_simulation",
    "simulations_per_minute",
    "audit_log",
    "reserve_output_tokens",
    "stream_seconds",
    "keepalive_seconds",
}


@dataclass(frozen=True)
class ServerSettings:
    admin_token: str | None = field(default=None, repr=False)
    service_token: str | None = field(default=None, repr=False)
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    allow_simulation: bool = False
    simulations_per_minute: int = 30
    audit_log: str = "-"
    reserve_output_tokens: int = 4096
    stream_seconds: float = 3600.0
    keepalive_seconds: float = 15.0

    def trusts(self, host: str | None) -> bool:
        """Whether a client at ``host`` is a trusted proxy (may name the user)."""
        if not host or not self.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)


def _token(table: Mapping[str, Any], kind: str, env: Mapping[str, str]) -> str | None:
    """``<kind>_token_env`` / ``<kind>_token_file`` read with the upstream keys' reader."""
    names = {"api_key_env": f"{kind}_token_env", "api_key_file": f"{kind}_token_file"}
    given = {k: table.get(v) for k, v in names.items() if table.get(v) is not None}
    if not given:
        return None
    try:
        secret = read_secret(given, "server", env)[0]
    except ConfigError as exc:
        message = str(exc)
        for old, new in names.items():
            message = message.replace(old, new)
        raise ConfigError(message) from None
    if len(secret) < _MIN_TOKEN_CHARS:
        raise ConfigError(f"server.{kind}_token: use at least {_MIN_TOKEN_CHARS} characters")
    return secret


def _networks(
    table: Mapping[str, Any],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    value = table.get("trusted_proxies", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            'server.trusted_proxies: expected a list like ["127.0.0.1", "10.0.0.0/8"]'
        )
    try:
        return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in value)
    except ValueError as exc:
        raise ConfigError(f"server.trusted_proxies: {exc}") from None


def parse_server_settings(
    raw: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> ServerSettings:
    """The ``[server]`` table of a loaded config's raw tables (defaults when absent)."""
    env = os.environ if env is None else env
    table = table_of(raw.get("server", {}), "server")
    check_known(table, _KNOWN, "server")
    defaults = ServerSettings()
    admin = _token(table, "admin", env)
    if admin is None and env.get(ADMIN_TOKEN_ENV, "").strip():
        admin = _token({"admin_token_env": ADMIN_TOKEN_ENV}, "admin", env)
    service = _token(table, "service", env)
    if admin is not None and service is not None and admin == service:
        raise ConfigError("server: the admin token and the service token must differ")
    audit = text(table, "audit_log", "server") or str(data_dir(env) / "audit.jsonl")
    return ServerSettings(
        admin_token=admin,
        service_token=service,
        trusted_proxies=_networks(table),
        allow_simulation=flag(table, "allow_simulation", "server", False),
        simulations_per_minute=count(
            table, "simulations_per_minute", "server", defaults.simulations_per_minute
        )
        or defaults.simulations_per_minute,
        audit_log=audit if audit in ("-", "off") else str(Path(audit).expanduser()),
        reserve_output_tokens=count(
            table, "reserve_output_tokens", "server", defaults.reserve_output_tokens
        )
        or defaults.reserve_output_tokens,
        stream_seconds=positive(table, "stream_seconds", "server", defaults.stream_seconds),
        keepalive_seconds=positive(
            table, "keepalive_seconds", "server", defaults.keepalive_seconds
        ),
    )


def quotas_configured(raw: Mapping[str, Any]) -> bool:
    """Whether the gateway enforces plans and budgets: a ``[quotas]`` or ``[plans]`` table."""
    return "quotas" in raw or "plans" in raw
