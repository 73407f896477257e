"""``GET /v1/models``: the models this gateway serves.

Named models and aliases come from the config. For upstreams that serve globs (``gpt-*``), the
upstream's own model list is fetched and filtered by those globs. The answer is in OpenAI's list
shape, or Anthropic's when the client sent ``anthropic-version``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec

from llmledger.gateway.client import UpstreamError
from llmledger.gateway.forwarding import upstream_headers
from llmledger.gateway.upstreams import UpstreamState, utc_day

if TYPE_CHECKING:
    from llmledger.gateway.app import Gateway

__all__ = ["list_models"]

log = logging.getLogger("llmledger.gateway")
_FETCH_TIMEOUT = 10.0


async def _fetch(gw: Gateway, upstream: UpstreamState) -> list[str]:
    """Model ids the upstream itself lists (empty on any failure)."""
    config = upstream.config
    now = time.monotonic()
    today = utc_day()
    usable = [a for a in upstream.accounts if a.has_capacity(today) and not a.resting(now)]
    if not usable:
        return []
    pool = gw.pools[config.name]
    path = (
        "/models" if config.protocol == "openai" or pool.base_path.endswith("/v1") else "/v1/models"
    )
    try:
        response = await pool.request(
            "GET", path, upstream_headers({}, config, usable[0].config), b"", timeout=_FETCH_TIMEOUT
        )
        body = await response.read(_FETCH_TIMEOUT)
        response.release()
    except UpstreamError as exc:
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
    seen: dict[str, str] = {}  # model id -> upstream name
    for upstream in upstreams:
        for route in upstream.config.models:
            if not route.is_glob:
                seen.setdefault(route.pattern, upstream.name)
        for model in listed.get(upstream.name, []):
            if any(
                r.is_glob and r.target is None and r.resolve(model) for r in upstream.config.models
            ):
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
