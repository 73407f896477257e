"""The raw SSE screening of Chat Completions streams (``capture.streams._screen``), unit level."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai._streaming import ServerSentEvent

from llmledger.capture.streams import _screen


class Recorder:
    """The two things ``_screen`` asks of a ``StreamRecorder``."""

    def __init__(self, hide: bool) -> None:
        self.hide_usage_chunk = hide
        self.taken: list[str] = []

    def take_usage_chunk(self, data: str) -> bool:
        payload = json.loads(data)
        if payload.get("choices") == [] and isinstance(payload.get("usage"), dict):
            self.taken.append(data)
            return True
        return False


def screened(data: str, hide: bool = True) -> tuple[bool, Any, Recorder]:
    sse = ServerSentEvent(data=data)
    rec = Recorder(hide)
    keep = _screen(sse, data, rec)  # type: ignore[arg-type]
    return keep, sse.json(), rec


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
    keep, payload, _ = screened(data)
    expected = json.loads(data)
    del expected["usage"]
    assert (keep, payload) == (True, expected)


@pytest.mark.parametrize(
    "data",
    [
        '{"id":"c","choices":[{"index":0,"usage":null}]}',  # nested: not the chunk's usage
        '{"id":"c","choices":[{"index":0,"delta":{"content":"\\"usage\\":null}"}}]}',
        '{"id":"c","choices":[{"index":0}],"usage":{"prompt_tokens":1}}',  # Kimi-like
    ],
)
def test_other_usage_fields_are_left_alone(data: str) -> None:
    keep, payload, _ = screened(data)
    assert (keep, payload) == (True, json.loads(data))


def test_caller_who_asked_keeps_null_usage_and_sees_the_usage_chunk() -> None:
    keep, payload, _ = screened('{"id":"c","choices":[{"index":0}],"usage":null}', hide=False)
    assert (keep, payload) == (True, {"id": "c", "choices": [{"index": 0}], "usage": None})
    usage_chunk = '{"id":"c","choices":[],"usage":{"prompt_tokens":1}}'
    keep, _, rec = screened(usage_chunk, hide=False)
    assert (keep, rec.taken) == (True, [usage_chunk])


def test_usage_chunk_capture_asked_for_is_kept_and_hidden() -> None:
    usage_chunk = '{"id": "c", "choices": [], "usage": {"prompt_tokens": 1}}'
    keep, _, rec = screened(usage_chunk)
    assert not keep and rec.taken == [usage_chunk]


def test_empty_choices_without_usage_reach_the_sdk() -> None:
    keep, payload, rec = screened('{"id":"c","choices":[],"usage":null}')
    assert (keep, rec.taken, payload) == (True, [], {"id": "c", "choices": []})


def test_filter_drops_null_usage_and_hides_the_usage_chunk() -> None:
    from llmledger.capture.calls import make_spec
    from llmledger.capture.context import EMPTY
    from llmledger.capture.record import Sink, StreamRecorder
    from llmledger.capture.streams import _filter_events

    spec = make_spec("chat", "openai", {"model": "m"}, True)
    spec.injected_usage_option = True
    rec = StreamRecorder(Sink(None), spec, EMPTY)
    chunks = [
        '{"id":"c","choices":[{"index":0}],"usage":null}',
        '{"id": "c", "choices": [{"index": 0}], "usage": null}',
        '{"id":"c","choices":[],"usage":{"prompt_tokens":1}}',
        "[DONE]",
    ]
    seen = [
        sse.json() if sse.data != "[DONE]" else None
        for sse in _filter_events(
            iter([ServerSentEvent(data=d) for d in chunks]),
            rec,  # type: ignore[arg-type]
        )
    ]
    assert seen == [{"id": "c", "choices": [{"index": 0}]}] * 2 + [None]
    assert rec.usage_chunk == {"id": "c", "choices": [], "usage": {"prompt_tokens": 1}}
    assert rec.events_ended is True and rec.first_at is not None
