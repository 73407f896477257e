"""How capture rewrites a Chat Completions stream it asked the usage for (``SSEMeter`` with
``hide_usage_chunk`` and ``strip_null_usage``): the app reads the very chunks it would have read
without the option, byte for byte where nothing had to change, however the body is split."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmledger.capture.meter import SSEMeter
from llmledger.usage.streams import is_usage_only_chunk


def capture_meter(asked: bool) -> SSEMeter:
    """The meter of a stream capture asked the usage for (``asked``), or only watches."""
    return SSEMeter("openai_chat", "openai", hide_usage_chunk=asked, strip_null_usage=asked)


def rewritten(data: str, asked: bool = True) -> tuple[bytes, SSEMeter]:
    meter = capture_meter(asked)
    block = f"data: {data}\n\n".encode()
    out = meter.feed(block) + meter.close()
    return out, meter


def payload_of(out: bytes) -> Any:
    assert out.startswith(b"data: ") and out.endswith(b"\n\n"), out
    return json.loads(out[6:-2])


@pytest.mark.parametrize(
    "data",
    [
        '{"id":"c","choices":[{"index":0}],"usage":null}',
        '{"id": "c", "choices": [{"index": 0}], "usage": null}',
        '{"id":"c","choices":[{"index":0}],"usage":null,"obfuscation":"Zz"}',
        '{"usage":null,"id":"c","choices":[{"index":0}]}',
        '{"usage": null}',
    ],
)
def test_top_level_null_usage_is_dropped(data: str) -> None:
    out, _ = rewritten(data)
    expected = json.loads(data)
    del expected["usage"]
    assert payload_of(out) == expected


@pytest.mark.parametrize(
    "data",
    [
        '{"id":"c","choices":[{"index":0,"usage":null}]}',  # nested: not the chunk's usage
        '{"id":"c","choices":[{"index":0,"delta":{"content":"\\"usage\\":null}"}}]}',
        '{"id":"c","choices":[{"index":0}],"usage":{"prompt_tokens":1}}',  # Kimi-like
    ],
)
def test_other_usage_fields_are_left_alone(data: str) -> None:
    out, _ = rewritten(data)
    assert out == f"data: {data}\n\n".encode()


def test_a_caller_who_asked_gets_every_byte_and_the_usage_chunk() -> None:
    chunk = '{"id":"c","choices":[{"index":0}],"usage":null}'
    assert rewritten(chunk, asked=False)[0] == f"data: {chunk}\n\n".encode()
    usage_chunk = '{"id":"c","choices":[],"usage":{"prompt_tokens":1}}'
    out, meter = rewritten(usage_chunk, asked=False)
    assert out == f"data: {usage_chunk}\n\n".encode()
    assert meter.accumulator is not None and meter.accumulator.usage is not None


def test_the_usage_chunk_capture_asked_for_is_kept_and_hidden() -> None:
    out, meter = rewritten('{"id": "c", "choices": [], "usage": {"prompt_tokens": 1}}')
    assert out == b"" and meter.hidden_chunks == 1
    acc = meter.accumulator
    assert acc is not None and acc.usage is not None and acc.usage.input_tokens == 1


def test_empty_choices_without_usage_reach_the_app() -> None:
    out, meter = rewritten('{"id":"c","choices":[],"usage":null}')
    assert payload_of(out) == {"id": "c", "choices": []} and meter.hidden_chunks == 0


def test_other_fields_of_the_event_are_kept() -> None:
    meter = capture_meter(True)
    block = b'event: chunk\r\nid: 7\r\ndata: {"id":"c","choices":[],"usage":null}\r\n\r\n'
    assert meter.feed(block) == b'event: chunk\nid: 7\ndata: {"id":"c","choices":[]}\n\n'


def test_one_test_decides_the_usage_only_chunk() -> None:
    assert is_usage_only_chunk({"choices": [], "usage": {"prompt_tokens": 1}})
    assert not is_usage_only_chunk({"choices": [], "usage": None})
    assert not is_usage_only_chunk({"choices": [{"index": 0}], "usage": {"prompt_tokens": 1}})
    assert not is_usage_only_chunk({"usage": {"prompt_tokens": 1}})


# Chat Completions data as providers send it, compact and spaced.
DATA = [
    '{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}',
    '{"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": null}',
    '{"id":"c","choices":[{"index":0}],"usage":null,"obfuscation":"Zz"}',
    '{"id":"c","choices":[{"index":0,"usage":null}]}',
    '{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
    '{"id": "c", "choices": [], "usage": {"prompt_tokens": 3}}',
    '{"id":"c","choices":[],"usage":null}',
    '{"id":"c","choices":[{"index":0,"finish_reason":"stop"}]}',
    "[DONE]",
]


def shown(data: str) -> str | None:
    """What the app should read for one chunk: None for the hidden usage chunk, else the
    chunk without a top-level null usage."""
    if data == "[DONE]":
        return data
    payload = json.loads(data)
    if is_usage_only_chunk(payload):
        return None
    if "usage" in payload and payload["usage"] is None:
        del payload["usage"]
    return json.dumps(payload, sort_keys=True)


def read(out: bytes) -> list[str]:
    chunks = []
    for line in out.splitlines():
        if line.startswith(b"data: "):
            data = line[6:].decode()
            chunks.append(
                data if data == "[DONE]" else json.dumps(json.loads(data), sort_keys=True)
            )
    return chunks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(DATA)), st.data())
def test_any_split_reads_as_the_stream_without_the_option(
    datas: list[str], draw: st.DataObject
) -> None:
    body = b"".join(f"data: {d}\n\n".encode() for d in datas)
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    meter = capture_meter(True)
    out = b"".join(meter.feed(body[a:b]) for a, b in itertools.pairwise([0, *cuts, len(body)]))
    out += meter.close()
    assert read(out) == [s for s in map(shown, datas) if s is not None]
    usage_chunks = [d for d in datas if d != "[DONE]" and is_usage_only_chunk(json.loads(d))]
    assert meter.hidden_chunks == len(usage_chunks)
