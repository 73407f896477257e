"""An SSE event's data and JSON (``usage.sse``); the stream parser ``usage.sse.SSEFrames`` is
tested in tests/capture/test_sse_reader.py."""

from __future__ import annotations

from llmledger.usage import SSEEvent, decode_json


def test_done_sentinel_and_json() -> None:
    done, chunk, broken = SSEEvent("[DONE]"), SSEEvent('{"usage": null}'), SSEEvent("{oops")
    assert (done.is_done, done.json()) == (True, None)
    assert chunk.is_done is False and chunk.json() == {"usage": None}
    assert broken.json() is None


def test_decode_json_never_raises() -> None:
    assert decode_json(b'{"a": 1e400}') == {"a": float("inf")}
    assert decode_json('{"a": 123456789012345678901234567890}') == {
        "a": 123456789012345678901234567890
    }
    assert decode_json("[" * 100_000) is None
    assert decode_json(b"\xff\xfe") is None
    assert decode_json("") is None
