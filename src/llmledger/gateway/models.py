"""``GET /v1/models``: the models a client can call through this gateway.

Named models and aliases come from the config. A glob (``gpt-*``) stands for every model it
matches among the ones known: those the upstream itself lists (fetched; none when it cannot be
asked) and those of the upstream's provider in the price list. A glob that renames
(``{ name = "team/*", model = "*" }``) lists the names a client sends (``team/gpt-4o``). The
answer is in OpenAI's list shape, or Anthropic's when the client sent ``anthropic-version``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from llmledger.gateway.config import ModelRoute, UpstreamConfig
from llmledger.gateway.forwarding import upstream_headers
from llmledger.gateway.transport import TransportError, UpstreamRequest
from llmledger.gateway.upstreams import UpstreamState, utc_day

if TYPE_CHECKING:
    from llmledger.gateway.state import Gateway

__all__ = ["callable_models", "glob_names", "known_models", "list_models"]

log = logging.getLogger("llmledger.gateway")
_FETCH_TIMEOUT = 10.0
# Price-list modes the gateway's endpoints serve: chat and text completions, responses,
# embeddings (not images, audio or video).
SERVED_MODES = frozenset({"chat", "completion", "responses", "embedding"})


def known_models(entries: Mapping[str, Mapping[str, Any]], provider: str) -> list[str]:
    """The price list's models a client could send to an upstream of ``provider``, sorted:
    that provider's entries (``deepseek/deepseek-chat`` as ``deepseek-chat``), or every entry
    without a provider prefix when the list does not know ``provider``."""
    own: set[str] = set()
    bare: set[str] = set()
    prefix = provider + "/"
    for key, entry in entries.items():
        if entry.get("mode") not in SERVED_MODES:
            continue
        if entry.get("litellm_provider") == provider:
            own.add(key.removeprefix(prefix))
        if "/" not in key:
            bare.add(key)
    return sorted(own or bare)


def glob_names(route: ModelRoute, models: Iterable[str]) -> list[str]:
    """The names a client can send that ``route`` (a glob) turns into one of ``models``:
    the models it matches, or, when it renames (``team/*`` -> ``*``), the client-side names of
    the models its target matches. None for a glob that renames every name to one model."""
    if route.target is None:
        return [m for m in models if fnmatchcase(m, route.pattern)]
    if route.pattern.count("*") != 1 or route.target.count("*") != 1:
        return []
    head, tail = route.pattern.split("*")
    target_head, target_tail = route.target.split("*")
    names = []
    for model in models:
        if not fnmatchcase(model, route.target):
            continue
        name = head + model[len(target_head) : len(model) - len(target_tail)] + tail
        if route.resolve(name) == model:
            names.append(name)
    return names


def callable_models(
    config: UpstreamConfig, listed: list[str], entries: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """What a client can call through one upstream, in config order: its named models and
    aliases, and for each glob the known models it matches (``listed``: what the upstream
    itself lists; ``entries``: the price list)."""
    names: dict[str, None] = {}
    known: list[str] | None = None
    for route in config.models:
        if not route.is_glob:
            names[route.pattern] = None
            continue
        if known is None:
            known = sorted(set(listed) | set(known_models(entries, config.provider_name)))
        names.update(dict.fromkeys(glob_names(route, known)))
    return list(names)


async def _fetch(gw: Gateway, upstream: UpstreamState) -> list[str]:
    """Model ids the upstream itself lists (empty on any failure)."""
    config = upstream.config
    now = time.monotonic()
    today = utc_day()
    usable = [a for a in upstream.accounts if a.has_capacity(today) and not a.resting(now)]
    if not usable:
        return []
    base_path = urlsplit(config.base_url).path.rstrip("/")
    path = "/models" if config.protocol == "openai" or base_path.endswith("/v1") else "/v1/models"
    headers = upstream_headers({}, config, usable[0].config)
    request = UpstreamRequest(
        config.name, "GET", config.base_url + path, headers, b"", _FETCH_TIMEOUT
    )
    try:
        response = await gw.transport.send(request)
        try:
            body = await response.read()
        finally:
            response.close()
    except TransportError as exc:
        log.warning("gateway: cannot list the models of %s: %s", config.name, exc)
        return []
    if response.status != 200:
        return []
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return []
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    return [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]


async def list_models(gw: Gateway, anthropic_shape: bool) -> bytes:
    upstreams = gw.router.upstreams
    globbing = [u for u in upstreams if any(r.is_glob for r in u.config.models)]
    fetched = await asyncio.gather(*(_fetch(gw, u) for u in globbing))
    listed = dict(zip((u.config.name for u in globbing), fetched))
    prices = gw.ledger.prices.snapshot.entries
    seen: dict[str, str] = {}  # model id -> upstream name
    for upstream in upstreams:
        for model in callable_models(upstream.config, listed.get(upstream.name, []), prices):
            seen.setdefault(model, upstream.name)
    entries: list[dict[str, Any]]
    if anthropic_shape:
        entries = [
            {"type": "model", "id": m, "display_name": m, "created_at": "1970-01-01T00:00:00Z"}
            for m in seen
        ]
        ids = list(seen)
        return msgspec.json.encode(
            {
                "data": entries,
                "has_more": False,
                "first_id": ids[0] if ids else None,
                "last_id": ids[-1] if ids else None,
            }
        )
    entries = [{"id": m, "object": "model", "created": 0, "owned_by": up} for m, up in seen.items()]
    return msgspec.json.encode({"object": "list", "data": entries})
