"""The gateway's pure parts, in-process: stream metering over any chunking, config parsing,
account choice, and what crosses the gateway in each direction."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from llmledger.capture.meter import SSEMeter
from llmledger.errors import ConfigError
from llmledger.gateway.config import ModelRoute, parse_gateway_config
from llmledger.gateway.forwarding import (
    parse_head,
    response_headers,
    rewrite_body,
    upstream_headers,
)
from llmledger.gateway.upstreams import UpstreamState, utc_day

USAGE = {
    "prompt_tokens": 30,
    "completion_tokens": 9,
    "total_tokens": 39,
    "prompt_tokens_details": {"cached_tokens": 12},
    "completion_tokens_details": {"reasoning_tokens": 2},
}


def sse(payload: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(payload).encode() + b"\n\n"


def openai_stream() -> list[bytes]:
    base = {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4o"}
    return [
        sse({**base, "choices": [{"index": 0, "delta": {"content": "Hi"}}], "usage": None}),
        sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        sse({**base, "choices": [], "usage": USAGE}),
        b"data: [DONE]\n\n",
    ]


def gateway_meter(shape: str, provider: str, *, hide: bool = False) -> SSEMeter:
    """The meter as the gateway sets it: the end held, the usage chunk hidden or held."""
    return SSEMeter(
        shape,  # type: ignore[arg-type]
        provider,
        hold_end=True,
        hide_usage_chunk=hide,
        hold_usage_chunk=not hide,
    )


def feed_in_pieces(meter: SSEMeter, data: bytes, size: int) -> bytes:
    out = b"".join(meter.feed(data[i : i + size]) for i in range(0, len(data), size))
    return out + meter.close()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100_000])
def test_meter_hides_the_usage_chunk_and_holds_the_end_over_any_chunking(size: int) -> None:
    events = openai_stream()
    meter = gateway_meter("openai_chat", "openai", hide=True)
    sent = feed_in_pieces(meter, b"".join(events), size)
    assert sent == events[0] + events[1]  # byte for byte, minus the usage chunk
    assert meter.held == events[3]  # [DONE] waits for the commit
    assert meter.accumulator is not None
    usage = meter.accumulator.usage
    assert usage is not None and meter.accumulator.finished
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (18, 12, 9)
    assert usage.reasoning_tokens == 2


def test_meter_keeps_the_usage_chunk_a_client_asked_for() -> None:
    events = openai_stream()
    meter = gateway_meter("openai_chat", "openai")
    assert feed_in_pieces(meter, b"".join(events), 5) == b"".join(events[:2])
    assert meter.held == events[3]
    # Held until the commit, then sent with the committed cost added.
    chunk = meter.usage_chunk({"cost": "0.01"})
    assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
    payload = json.loads(chunk[6:])
    assert payload["usage"] == USAGE and payload["choices"] == []
    assert payload["llmledger"] == {"cost": "0.01"}


@pytest.mark.parametrize("size", [1, 13, 4096])
def test_meter_anthropic_uses_the_latest_cumulative_usage(size: int) -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "model": "claude-sonnet-4-5",
            "usage": {
                "input_tokens": 5,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 40,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 10,
                    "ephemeral_1h_input_tokens": 30,
                },
                "output_tokens": 1,
            },
        },
    }
    events = [
        sse(start, "message_start"),
        sse({"type": "content_block_delta", "delta": {"text": "Hi"}}, "content_block_delta"),
        sse({"type": "message_delta", "usage": {"output_tokens": 20}}, "message_delta"),
        sse({"type": "message_delta", "usage": {"output_tokens": 50}}, "message_delta"),
        sse({"type": "message_stop"}, "message_stop").replace(b"\n", b"\r\n"),
    ]
    meter = gateway_meter("anthropic", "anthropic")
    sent = feed_in_pieces(meter, b"".join(events), size)
    assert sent == b"".join(events[:4]) and meter.held == events[4]
    assert meter.accumulator is not None
    usage = meter.accumulator.usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (5, 100, 50)
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (10, 30)


def test_meter_passes_non_sse_bytes_through() -> None:
    meter = gateway_meter("openai_chat", "openai")
    blob = b"x" * (9 * 1024 * 1024)  # no blank line ever: framing gives up, bytes pass
    assert meter.feed(blob) == blob
    assert meter.close() == b""


# -- config ------------------------------------------------------------------------------------


def upstream(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "u",
        "protocol": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "models": ["gpt-*"],
        "accounts": [{"name": "a", "api_key_env": "K"}],
    }
    base.update(fields)
    return base


def test_config_reads_keys_from_env_and_files(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("sk-from-file\n")
    accounts = [
        {"name": "a", "api_key_env": "K", "daily_request_cap": 2000},
        {"name": "b", "api_key_file": str(secret)},
    ]
    config = parse_gateway_config({"upstreams": [upstream(accounts=accounts)]}, {"K": "sk-env"})
    a, b = config.upstreams[0].accounts
    assert (a.api_key, a.daily_request_cap, b.api_key) == ("sk-env", 2000, "sk-from-file")
    assert "sk-env" not in repr(config) and "sk-from-file" not in repr(config)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"upstreams": [upstream(protocol="grpc")]}, "upstreams[0].protocol"),
        ({"upstreams": [upstream(strategy="random")]}, "upstreams[0].strategy"),
        ({"upstreams": [upstream(models=[])]}, "upstreams[0].models"),
        ({"upstreams": [upstream(base_url="ftp://x")]}, "upstreams[0].base_url"),
        ({"upstreams": [upstream(accounts=[])]}, "upstreams[0].accounts"),
        ({"upstreams": [upstream(accounts=[{"name": "a"}])]}, "exactly one of api_key_env"),
        (
            {"upstreams": [upstream(accounts=[{"name": "a", "api_key_file": "/nonexistent/k"}])]},
            "upstreams[0].accounts[0].api_key_file: cannot read",
        ),
        (
            {"upstreams": [upstream(accounts=[{"name": "a", "api_key_env": "K", "cap": 1}])]},
            "upstreams[0].accounts[0].cap: unknown setting",
        ),
        ({"upstreams": [upstream(), upstream()]}, "upstreams[1].name: 'u' is used twice"),
        ({"gateway": {"port": 70000}, "upstreams": [upstream()]}, "gateway.port"),
        ({"gateway": {"drain_timeout": -1}, "upstreams": []}, "gateway.drain_timeout"),
    ],
)
def test_config_errors_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_gateway_config(raw, {"K": "sk-secret"})
    assert message in str(caught.value)
    assert "sk-secret" not in str(caught.value)


def test_model_routes() -> None:
    assert ModelRoute("gpt-*").resolve("gpt-4o") == "gpt-4o"
    assert ModelRoute("gpt-*").resolve("claude") is None
    assert ModelRoute("fast", "gpt-4o-mini").resolve("fast") == "gpt-4o-mini"
    assert ModelRoute("team/*", "*").resolve("team/gpt-4o") == "gpt-4o"
    assert ModelRoute("oai-*-x", "*").resolve("oai-o3-x") == "o3"


# -- accounts ----------------------------------------------------------------------------------


def state(strategy: str, caps: list[int | None]) -> UpstreamState:
    accounts = [
        {"name": f"a{i}", "api_key_env": "K", **({"daily_request_cap": c} if c else {})}
        for i, c in enumerate(caps)
    ]
    raw = {"upstreams": [upstream(strategy=strategy, accounts=accounts)]}
    return UpstreamState.build(parse_gateway_config(raw, {"K": "k"}).upstreams[0])


def test_round_robin_and_caps() -> None:
    up = state("round-robin", [2, None, 1])
    today = utc_day()
    picks = [up.pick(today, 0.0) for _ in range(7)]
    assert [p.label if p else None for p in picks] == [
        "u/a0",
        "u/a1",
        "u/a2",
        "u/a0",
        "u/a1",
        "u/a1",
        "u/a1",
    ]
    assert up.exhausted_reason(today, 0.0) == "2 at their daily request cap"
    tomorrow = [up.pick(today + 1, 0.0) for _ in range(3)]  # caps reset with the UTC day
    assert [p.label if p else None for p in tomorrow] == ["u/a2", "u/a0", "u/a1"]


def test_least_used_and_resting_accounts() -> None:
    up = state("least-used", [None, None, None])
    today = utc_day()
    for account in up.accounts:
        account.day = today
    up.accounts[0].requests_today = 5
    up.accounts[1].requests_today = 1
    up.accounts[2].requests_today = 3
    picked = up.pick(today, 0.0)
    assert picked is not None and picked.label == "u/a1"
    up.accounts[1].cooldown_until = 100.0  # resting after a 429
    up.accounts[1].requests_today = 0
    picked = up.pick(today, 50.0)
    assert picked is not None and picked.label == "u/a2"
    assert up.pick(today, 50.0, exclude={"u/a0", "u/a2"}) is None


# -- forwarding --------------------------------------------------------------------------------


def test_rewrite_body_injects_include_usage_and_renames() -> None:
    body = b'{"model": "fast", "stream": true, "messages": []}'
    head = parse_head(body)
    spliced = rewrite_body(body, head, model=None, include_usage=True)
    assert msgspec.json.decode(spliced) == {
        "stream_options": {"include_usage": True},
        "model": "fast",
        "stream": True,
        "messages": [],
    }
    renamed = rewrite_body(body, head, model="gpt-4o-mini", include_usage=False)
    assert msgspec.json.decode(renamed)["model"] == "gpt-4o-mini"
    assert rewrite_body(body, head, model=None, include_usage=False) is body
    with_options = b'{"model": "m", "stream": true, "stream_options": {"x": 1}}'
    merged = rewrite_body(with_options, parse_head(with_options), model=None, include_usage=True)
    assert msgspec.json.decode(merged)["stream_options"] == {"x": 1, "include_usage": True}


def test_headers_in_both_directions() -> None:
    raw = {"upstreams": [upstream(headers={"OpenAI-Beta": "assistants=v2"})]}
    config = parse_gateway_config(raw, {"K": "sk-account"}).upstreams[0]
    client = {
        "authorization": "Bearer llk_client",
        "x-api-key": "llk_client",
        "cookie": "c=1",
        "x-session-id": "s",
        "content-type": "application/json",
        "user-agent": "sdk",
    }
    sent = dict(upstream_headers(client, config, config.accounts[0]))
    assert sent["authorization"] == "Bearer sk-account"
    assert "llk_client" not in str(sent) and "cookie" not in sent and "x-session-id" not in sent
    assert (sent["user-agent"], sent["openai-beta"]) == ("sdk", "assistants=v2")
    back = response_headers(
        [(b"X-Request-Id", b"r1"), (b"Set-Cookie", b"s=1"), (b"transfer-encoding", b"chunked")]
    )
    assert back == [(b"x-request-id", b"r1")]
