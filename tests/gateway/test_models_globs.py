"""``GET /v1/models`` when upstreams serve globs: what a client can call is listed even when the
upstream cannot be asked for its own list (the price list's known models that match the glob,
named models and aliases), in OpenAI's list shape."""

from __future__ import annotations

import asyncio
import socket
import sys
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import pytest

from llmledger.gateway import create_app
from llmledger.gateway.config import ModelRoute, parse_gateway_config
from llmledger.gateway.models import callable_models, glob_names, known_models, list_models
from llmledger.ledger import Ledger
from tests.gateway.conftest import GatewayProcess

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRICES: dict[str, dict[str, Any]] = {
    "gpt-4o": {"litellm_provider": "openai", "mode": "chat"},
    "gpt-4o-mini": {"litellm_provider": "openai", "mode": "chat"},
    "gpt-4o-mini-tts": {"litellm_provider": "openai", "mode": "audio_speech"},
    "text-embedding-3-small": {"litellm_provider": "openai", "mode": "embedding"},
    "azure/gpt-4o": {"litellm_provider": "azure", "mode": "chat"},
    "claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat"},
    "deepseek/deepseek-chat": {"litellm_provider": "deepseek", "mode": "chat"},
}


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def upstreams_toml(port: int) -> str:
    return f"""
[[upstreams]]
name = "oai"
protocol = "openai"
base_url = "http://127.0.0.1:{port}/v1"
models = ["gpt-4o*", "o3*", {{ name = "fast", model = "gpt-4o-mini" }},
          {{ name = "team/*", model = "*" }}, "my-finetune"]
  [[upstreams.accounts]]
  name = "a"
  api_key_env = "FAKE_KEY_A"

[[upstreams]]
name = "claude"
protocol = "anthropic"
base_url = "http://127.0.0.1:{port}"
models = ["claude-sonnet-4*"]
  [[upstreams.accounts]]
  name = "main"
  api_key_env = "FAKE_KEY_A"
"""


def test_known_models_are_the_providers_servable_ones() -> None:
    assert known_models(PRICES, "openai") == ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
    assert known_models(PRICES, "deepseek") == ["deepseek-chat"]
    # A provider the price list does not know: every entry without a provider prefix.
    assert known_models(PRICES, "my-vllm") == [
        "claude-sonnet-4-5",
        "gpt-4o",
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]


def test_glob_names_match_and_rename() -> None:
    models = ["gpt-4o", "gpt-4o-mini", "o3-mini"]
    assert glob_names(ModelRoute("gpt-*"), models) == ["gpt-4o", "gpt-4o-mini"]
    assert glob_names(ModelRoute("team/*", "*"), models) == [
        "team/gpt-4o",
        "team/gpt-4o-mini",
        "team/o3-mini",
    ]
    assert glob_names(ModelRoute("oai-*", "gpt-*"), models) == ["oai-4o", "oai-4o-mini"]
    assert glob_names(ModelRoute("any-*", "gpt-4o"), models) == []  # every name, one model


def test_callable_models_in_config_order_with_the_upstreams_own_list() -> None:
    config = parse_gateway_config(
        {
            "upstreams": [
                {
                    "name": "oai",
                    "protocol": "openai",
                    "base_url": "http://127.0.0.1:9/v1",
                    "models": ["o3*", "gpt-4o*", {"name": "fast", "model": "gpt-4o-mini"}],
                    "accounts": [{"name": "a", "api_key_env": "K"}],
                }
            ]
        },
        {"K": "sk"},
    ).upstreams[0]
    assert callable_models(config, ["o3-pro", "dall-e-3"], PRICES) == [
        "o3-pro",
        "gpt-4o",
        "gpt-4o-mini",
        "fast",
    ]


def _listed(tmp_path: Path, anthropic_shape: bool) -> Any:
    raw = tomllib.loads('[gateway]\naccess_log = "off"\n' + upstreams_toml(closed_port()))
    config = parse_gateway_config(raw, {"FAKE_KEY_A": "sk-a"})

    async def run() -> bytes:
        with Ledger(str(tmp_path / "ledger.db")) as ledger:
            app = create_app(config, ledger)
            async with app.router.lifespan_context(app):
                return await list_models(app.state.gateway, anthropic_shape)

    return msgspec.json.decode(asyncio.run(run()))


def test_models_lists_glob_matches_from_the_price_list_when_upstreams_cannot_be_asked(
    tmp_path: Path,
) -> None:
    body = _listed(tmp_path, anthropic_shape=False)
    assert body["object"] == "list"
    ids = [entry["id"] for entry in body["data"]]
    assert {"gpt-4o", "gpt-4o-mini", "o3-mini", "claude-sonnet-4-5"} <= set(ids)
    assert {"fast", "my-finetune", "team/gpt-4o", "team/gpt-4o-mini"} <= set(ids)
    assert "gpt-4o-mini-tts" not in ids  # speech: no endpoint of the gateway serves it
    assert len(ids) == len(set(ids))
    by_id = {entry["id"]: entry for entry in body["data"]}
    assert by_id["gpt-4o"] == {"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "oai"}
    assert by_id["claude-sonnet-4-5"]["owned_by"] == "claude"
    anthropic = _listed(tmp_path, anthropic_shape=True)
    assert [entry["id"] for entry in anthropic["data"]] == ids
    assert anthropic["first_id"] == ids[0] and anthropic["has_more"] is False


def test_running_gateway_lists_glob_models(tmp_path: Path) -> None:
    workdir = tmp_path / "gw"
    config = '[gateway]\naccess_log = "off"\n' + upstreams_toml(closed_port())
    process = GatewayProcess(workdir, config).start()
    try:
        key, _ = process.create_key("models-user")
        request = urllib.request.Request(
            f"{process.url}/v1/models", headers={"authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, msgspec.json.decode(response.read())
    finally:
        process.stop()
    assert status == 200
    ids = [entry["id"] for entry in body["data"]]
    assert body["object"] == "list"
    assert {"gpt-4o", "o3-mini", "claude-sonnet-4-5", "fast", "team/gpt-4o"} <= set(ids)
    assert all(set(entry) == {"id", "object", "created", "owned_by"} for entry in body["data"])


@pytest.mark.parametrize("route", [ModelRoute("gpt-*"), ModelRoute("team/*", "*")])
def test_every_listed_name_routes_to_a_known_model(route: ModelRoute) -> None:
    known = known_models(PRICES, "openai")
    for name in glob_names(route, known):
        assert route.resolve(name) in known
