"""The gateway's part of the TOML config: ``[[upstreams]]`` here, ``[gateway]`` in ``settings.py``.

```toml
[[upstreams]]
name = "openai"
protocol = "openai"                  # or "anthropic"
base_url = "https://api.openai.com/v1"
models = ["gpt-*", "o*", { name = "fast", model = "gpt-4o-mini" }]
strategy = "round-robin"             # or "least-used"
max_connections = 100                # open connections to this upstream, at most
  [[upstreams.accounts]]
  name = "main"
  api_key_env = "OPENAI_API_KEY"     # or api_key_file = "/run/secrets/openai"
  daily_request_cap = 2000           # optional
```

Every problem raises ``ConfigError`` naming the key (``upstreams[0].accounts[1].api_key_env``).
API keys are read here, once, and kept only in ``AccountConfig.api_key`` (never in ``repr``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal
from urllib.parse import urlsplit

from llmledger.errors import ConfigError
from llmledger.gateway.api_settings import (
    ServerSettings,
    parse_server_settings,
    quotas_configured,
)
from llmledger.gateway.config_values import (
    check_known,
    count,
    positive,
    read_secret,
    table_of,
    text,
)
from llmledger.gateway.settings import GatewaySettings, parse_settings

Protocol = Literal["openai", "anthropic"]
Strategy = Literal["round-robin", "least-used"]
PROTOCOLS: tuple[str, ...] = ("openai", "anthropic")
STRATEGIES: tuple[str, ...] = ("round-robin", "least-used")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ModelRoute:
    """A model name or glob the upstream serves; ``target`` renames it upstream.

    ``{ name = "fast", model = "gpt-4o-mini" }`` sends ``fast`` as ``gpt-4o-mini``;
    ``{ name = "oai/*", model = "*" }`` strips a prefix (the ``*`` carries over).
    """

    pattern: str
    target: str | None = None

    @property
    def is_glob(self) -> bool:
        return any(ch in self.pattern for ch in "*?[")

    def resolve(self, model: str) -> str | None:
        """The upstream model name for ``model``, or None when this route does not match."""
        if not self.is_glob:
            if model != self.pattern:
                return None
            return self.target or model
        if not fnmatchcase(model, self.pattern):
            return None
        if self.target is None:
            return model
        if "*" in self.target and self.pattern.count("*") == 1 and "?" not in self.pattern:
            head, tail = self.pattern.split("*")
            return self.target.replace("*", model[len(head) : len(model) - len(tail)], 1)
        return self.target


@dataclass(frozen=True)
class AccountConfig:
    name: str
    api_key: str = field(repr=False)
    daily_request_cap: int | None = None
    key_source: str = ""  # "env OPENAI_API_KEY" / "file /run/secrets/x": safe to show


@dataclass(frozen=True)
class UpstreamConfig:
    name: str
    protocol: Protocol
    base_url: str
    models: tuple[ModelRoute, ...]
    accounts: tuple[AccountConfig, ...]
    strategy: Strategy = "round-robin"
    provider: str | None = None
    timeout: float = 600.0
    connect_timeout: float = 10.0
    include_usage: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    max_connections: int = 100  # open connections to this upstream at most

    @property
    def provider_name(self) -> str:
        return self.provider or self.protocol

    def upstream_model(self, model: str) -> str | None:
        """The name to send upstream when this upstream serves ``model``, else None."""
        for route in self.models:
            target = route.resolve(model)
            if target is not None:
                return target
        return None


@dataclass(frozen=True)
class GatewayConfig:
    settings: GatewaySettings
    upstreams: tuple[UpstreamConfig, ...]
    server: ServerSettings = field(default_factory=ServerSettings)  # [server]: the usage API
    quotas: bool = False  # [quotas] or [plans] configured: the proxy enforces them


# -- [[upstreams]] -----------------------------------------------------------------------------

_UPSTREAM_KNOWN = {
    "name",
    "protocol",
    "base_url",
    "models",
    "accounts",
    "strategy",
    "provider",
    "timeout",
    "connect_timeout",
    "include_usage",
    "headers",
    "max_connections",
}
_ACCOUNT_KNOWN = {"name", "api_key_env", "api_key_file", "daily_request_cap"}
# Headers the gateway owns on the upstream request; config may not set them.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "authorization", "x-api-key"}
)


def _account(raw: Any, key: str, env: Mapping[str, str]) -> AccountConfig:
    table = table_of(raw, key)
    check_known(table, _ACCOUNT_KNOWN, key)
    name = text(table, "name", key, required=True)
    assert name is not None
    if not _NAME.match(name):
        raise ConfigError(f"{key}.name: {name!r} must be letters, digits, '.', '_' or '-'")
    secret, source = read_secret(table, key, env)
    if any(ch in secret for ch in "\r\n\0"):
        raise ConfigError(f"{key}: the API key contains a line break or NUL")
    cap = count(table, "daily_request_cap", key, None)
    return AccountConfig(name=name, api_key=secret, daily_request_cap=cap, key_source=source)


def _model_route(raw: Any, key: str) -> ModelRoute:
    if isinstance(raw, str) and raw.strip():
        return ModelRoute(raw.strip())
    if isinstance(raw, Mapping):
        check_known(raw, {"name", "model"}, key)
        name = text(raw, "name", key, required=True)
        target = text(raw, "model", key, required=True)
        assert name is not None
        return ModelRoute(name, target)
    raise ConfigError(
        f'{key}: expected a model name, a glob, or {{ name = "alias", model = "upstream-name" }}'
    )


def _base_url(table: Mapping[str, Any], key: str) -> str:
    url = text(table, "base_url", key, required=True)
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}.base_url: expected an http:// or https:// URL, got {url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"{key}.base_url: must not have a query or fragment")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise ConfigError(f"{key}.base_url: bad port in {url!r}") from exc
    return url.rstrip("/")


def _headers(raw: Any, key: str) -> dict[str, str]:
    table = table_of(raw, f"{key}.headers")
    headers: dict[str, str] = {}
    for name, value in table.items():
        if not isinstance(value, str) or any(ch in value for ch in "\r\n\0"):
            raise ConfigError(f"{key}.headers.{name}: expected a one-line string")
        if not re.fullmatch(r"[A-Za-z0-9-]+", name) or name.lower() in _RESERVED_HEADERS:
            raise ConfigError(f"{key}.headers.{name}: not a header the config may set")
        headers[name.lower()] = value
    return headers


def _upstream(raw: Any, index: int, env: Mapping[str, str]) -> UpstreamConfig:
    key = f"upstreams[{index}]"
    table = table_of(raw, key)
    check_known(table, _UPSTREAM_KNOWN, key)
    name = text(table, "name", key, required=True)
    assert name is not None
    if not _NAME.match(name):
        raise ConfigError(f"{key}.name: {name!r} must be letters, digits, '.', '_' or '-'")
    protocol = table.get("protocol", "openai")
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"{key}.protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}"
        )
    strategy = table.get("strategy", "round-robin")
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"{key}.strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}"
        )
    models_raw = table.get("models")
    if not isinstance(models_raw, list) or not models_raw:
        raise ConfigError(f"{key}.models: expected a non-empty list of model names or globs")
    models = tuple(_model_route(m, f"{key}.models[{i}]") for i, m in enumerate(models_raw))
    accounts_raw = table.get("accounts")
    if not isinstance(accounts_raw, list) or not accounts_raw:
        raise ConfigError(f"{key}.accounts: at least one [[upstreams.accounts]] is required")
    accounts = tuple(_account(a, f"{key}.accounts[{i}]", env) for i, a in enumerate(accounts_raw))
    seen: set[str] = set()
    for i, account in enumerate(accounts):
        if account.name in seen:
            raise ConfigError(f"{key}.accounts[{i}].name: {account.name!r} is used twice")
        seen.add(account.name)
    include_usage = table.get("include_usage", True)
    if not isinstance(include_usage, bool):
        raise ConfigError(f"{key}.include_usage: expected true or false")
    provider = text(table, "provider", key)
    return UpstreamConfig(
        name=name,
        protocol=protocol,
        base_url=_base_url(table, key),
        models=models,
        accounts=accounts,
        strategy=strategy,
        provider=provider.lower() if provider else None,
        timeout=positive(table, "timeout", key, 600.0),
        connect_timeout=positive(table, "connect_timeout", key, 10.0),
        include_usage=include_usage,
        headers=_headers(table.get("headers", {}), key),
        max_connections=count(table, "max_connections", key, 100) or 100,
    )


def parse_gateway_config(
    raw: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Validate ``[gateway]`` and ``[[upstreams]]`` of a loaded config's raw tables."""
    env = os.environ if env is None else env
    settings = parse_settings(raw.get("gateway", {}), env)
    upstreams_raw = raw.get("upstreams", [])
    if not isinstance(upstreams_raw, list):
        raise ConfigError("upstreams: expected [[upstreams]] tables")
    upstreams = tuple(_upstream(u, i, env) for i, u in enumerate(upstreams_raw))
    names: set[str] = set()
    for i, upstream in enumerate(upstreams):
        if upstream.name in names:
            raise ConfigError(f"upstreams[{i}].name: {upstream.name!r} is used twice")
        names.add(upstream.name)
    return GatewayConfig(
        settings=settings,
        upstreams=upstreams,
        server=parse_server_settings(raw, env),
        quotas=quotas_configured(raw),
    )
