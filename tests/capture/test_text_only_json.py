"""Chat Completions text deltas are kept unparsed while a stream passes (``text_only_json``):
the raw test must never call a chunk text-only that parsing would not, and a stream whose usage
never comes still gets its text, and so its estimate, from the unparsed chunks."""

from __future__ import annotations

import json

import pytest

from llmledger.capture.meter import SSEMeter
from llmledger.usage.streams import DeferredStream, OpenAIChatStream

# (a chunk's JSON, whether it is a text delta seen unparsed)
CHUNKS = [
    (b'{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}', True),
    (
        b'{"id": "c1", "choices": [{"index": 0, "delta": {"content": "x"}, '
        b'"finish_reason": null}]}',
        True,
    ),
    (b'{"choices":[{"delta":{"content":"a"},"finish_reason":null},{"delta":{}}]}', True),
    (b'{"choices":[{"finish_reason":null},{"finish_reason":"stop"}]}', False),
    # A null usage is parsed (capture cuts it from the chunk first when it asked for usage).
    (b'{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}', False),
    (b'{"choices":[{"delta":{"content":"\\"usage\\": {1}"},"finish_reason":null}]}', True),
    (b'{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":null}', False),
    (b'{"choices": [{"delta": {}, "finish_reason" : "length"}]}', False),
    (b'{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}', False),
    (b'{"choices": [ ], "usage": {"prompt_tokens": 5}}', False),
    (b'{"choices":[{"delta":{"content":"k"},"finish_reason":null,"usage":{"x":1}}]}', False),
    # Not text for the meter, which must read errors and other APIs' events parsed.
    (b'{"error":{"type":"server_error","message":"boom"}}', False),
    (b'{"type":"response.completed","response":{}}', False),
]


@pytest.mark.parametrize(("data", "text_only"), CHUNKS)
def test_a_chunk_is_text_only_unparsed_only_when_it_is_parsed(data: bytes, text_only: bool) -> None:
    assert OpenAIChatStream.text_only_json(data) is text_only
    if text_only:
        assert OpenAIChatStream.text_only(json.loads(data)) is True


def _sse(*payloads: bytes) -> bytes:
    return b"".join(b"data: " + p + b"\n\n" for p in payloads)


def test_text_kept_unparsed_is_read_when_no_usage_comes() -> None:
    first = b'{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant"}}]}'
    deltas = [
        b'{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"%s"},'
        b'"finish_reason":null}],"usage":null}' % word
        for word in (b"Hello ", b"there")
    ]
    meter = SSEMeter(strip_null_usage=True)
    sent = meter.feed(_sse(first, *deltas))
    assert b'"usage"' not in sent  # the null usage cut from every chunk the app reads
    assert [json.loads(line[6:]) for line in sent.split(b"\n\n") if line] == [
        json.loads(first),
        *[{k: v for k, v in json.loads(d).items() if k != "usage"} for d in deltas],
    ]
    accumulator = meter.accumulator
    assert accumulator is not None
    assert (accumulator.text, accumulator.usage) == ("Hello there", None)


def test_text_kept_unparsed_is_skipped_once_usage_came() -> None:
    deferred = DeferredStream(OpenAIChatStream())
    deferred.add(b'{"choices":[{"delta":{"content":"unread"},"finish_reason":null}]}')
    deferred.add(json.loads(b'{"choices":[{"delta":{},"finish_reason":"stop"}]}'))
    deferred.add(json.loads(b'{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}'))
    accumulator = deferred.settle()
    assert accumulator.usage is not None
    assert (accumulator.usage.input_tokens, accumulator.usage.output_tokens) == (5, 2)
    assert accumulator.text == ""  # the text delta was never parsed: usage made it moot


def test_a_run_of_raw_events_is_read_as_its_events_were() -> None:
    """``add_events`` keeps whole events unsplit; settling reads them as ``add`` would have
    taken each: text deltas only for an estimate, other chunks (a finish reason, usage) always,
    malformed data skipped; past the byte bound they are fed at once."""
    run = _sse(
        b'{"id":"c1","model":"m","choices":[{"delta":{"content":"Hi "},"finish_reason":null}]}',
        b"not json",
        b'{"choices":[{"delta":{"content":"you"},"finish_reason":"stop"}]}',
    )
    usage = json.loads(b'{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}')
    deferred = DeferredStream(OpenAIChatStream())
    deferred.add_events(b": keep-alive\n\n" + run)
    deferred.add(usage)
    settled = deferred.settle()
    assert settled.usage is not None and settled.usage.output_tokens == 2
    assert (settled.finish_reason, settled.text) == ("stop", "you")  # the delta stayed unread
    unfinished = DeferredStream(OpenAIChatStream(), max_pending_bytes=1)
    unfinished.add_events(run)  # over the bound: fed now
    assert unfinished.accumulator.text == "Hi you"
    assert unfinished.settle().usage is None
