"""The statusline's standard-library readers and pricing agree with the ledger's own parsers
and price book, line for line and cent for cent (they are written twice so the statusline can
start without msgspec and the price book)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.ledger import Ledger
from llmledger.pricing.lane import lane_cost
from llmledger.sources import claude_code, codex
from llmledger.statusline import transcript
from llmledger.statusline.refresh import lane_json

from .claude_lines import assistant, progress
from .codex_lines import absolute_limits, flat_limits, meta, relative_limits, token_count, turn
from .codex_lines import tokens as codex_tokens

T = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)

CLAUDE_LINES = [
    assistant("msg_01A", T),
    assistant("msg_01B", T, output=1, thinking=None),  # an early streaming copy
    assistant("msg_01C", T, fresh=3, read=0, write=0, write_1h=4096, output=900, thinking=700),
    assistant("msg_01D", T, sidechain=True),
    assistant("msg_01E", T, model="<synthetic>"),
    progress(assistant("msg_01F", T, output=42), T + timedelta(seconds=1)),
    # cache_creation_input_tokens above its 5m/1h split: the rest counts as 5-minute writes
    {
        **assistant("msg_01G", T),
        "message": {
            **assistant("msg_01G", T)["message"],
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 5000,
                "cache_read_input_tokens": 7,
                "cache_creation": {"ephemeral_5m_input_tokens": 1000},
                "output_tokens": 5,
            },
        },
    },
    {
        "type": "user",
        "message": {"role": "user", "content": "hi"},
        "timestamp": "2026-03-02T10:00:00Z",
    },
]


@pytest.mark.parametrize("line", CLAUDE_LINES, ids=range(len(CLAUDE_LINES)))
def test_claude_lines_read_as_the_parser_reads_them(line: dict[str, Any]) -> None:
    raw = json.dumps(line).encode()
    record = claude_code.parse_line(raw, None, None)
    call = transcript.claude_call(raw)
    if record is None:
        assert call is None
        return
    assert call is not None
    assert call[transcript.ID] == record.id
    assert call[transcript.TS] == int(record.ts.timestamp()) * 1_000_000 + record.ts.microsecond
    assert call[transcript.MODEL] == record.model
    counts = call[transcript.FRESH : transcript.REASONING + 1]
    assert counts == [
        record.input_tokens,
        record.cache_read_tokens,
        record.cache_write_tokens,
        record.cache_write_1h_tokens,
        record.output_tokens,
        record.reasoning_tokens,
    ]
    assert call[transcript.RANK] == record.rank


def test_codex_rollout_reads_as_the_parser_reads_it(tmp_path: Path) -> None:
    lines = [
        meta("2026-03-02T10:00:00.000Z"),
        turn("2026-03-02T10:00:00.000Z"),
        token_count("2026-03-02T10:00:03.000Z", codex_tokens(100, 100), flat_limits(1.0, 2.0)),
        token_count("2026-03-02T10:00:03.002Z", codex_tokens(100, 100), ...),  # re-emitted
        turn("2026-03-02T10:01:00.000Z", model="gpt-5.1-codex"),
        token_count("2026-03-02T10:01:03.000Z", codex_tokens(350, 250), relative_limits(3, 60, 4)),
        token_count("2026-03-02T10:02:00.000Z", None, absolute_limits(5.0, 1_772_460_000)),
        token_count("2026-03-02T10:03:00.000Z", codex_tokens(400, 50), ...),
    ]
    path = tmp_path / "rollout-2026-03-02T10-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    records = codex.parse_file(path, 0, None, 1 << 30).records
    carry: dict[str, object] = {}
    calls, end, malformed = transcript.read_appended(str(path), 0, "codex", carry)
    assert (end, malformed) == (path.stat().st_size, 0)
    assert [c[transcript.ID] for c in calls] == [r.id for r in records]
    assert [c[transcript.MODEL] for c in calls] == [r.model for r in records]
    assert [c[transcript.FRESH : transcript.REASONING + 1] for c in calls] == [
        [r.input_tokens, r.cache_read_tokens, 0, 0, r.output_tokens, r.reasoning_tokens]
        for r in records
    ]
    # The latest readings, as the ledger's parser reads them.
    [reading] = carry["readings"]  # type: ignore[misc]
    assert reading["used_percent"] == 5.0
    assert reading["resets_at_us"] == 1_772_460_000_000_000


def test_read_appended_takes_complete_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    first = json.dumps(assistant("msg_1", T)) + "\n"
    path.write_text(first + '{"type":"assistant","message":{"usage"', encoding="utf-8")
    calls, end, malformed = transcript.read_appended(str(path), 0, "claude-code", {})
    assert ([c[transcript.ID] for c in calls], end, malformed) == (["claude:msg_1"], len(first), 0)
    assert calls[0][transcript.END] == len(first)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(',"x": 1}\n' + 'not json but "usage"\n')
    calls, end2, malformed = transcript.read_appended(str(path), end, "claude-code", {})
    assert (calls, end2, malformed) == ([], path.stat().st_size, 2)


def _models_with(book: Any, predicate: Any) -> str:
    for match in book.entries(""):
        lane = book.lane(match.key)
        if lane is not None and predicate(lane):
            return str(match.key)
    raise AssertionError("no such model in the price list")


def test_lane_pricing_equals_the_price_book() -> None:
    with Ledger(":memory:") as ledger:
        book = ledger.prices
        models = [
            "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-20250514",  # a 200k long-context tier
            "gpt-5-codex",
            _models_with(book, lambda lane: lane.reasoning >= 0),
            _models_with(book, lambda lane: lane.unit % 2 == 0 and lane.tiers),
        ]
        sizes = [
            (4, 10_000, 2_000, 0, 300, 0),
            (150_000, 40_000, 20_000, 1, 10_000, 2_000),  # above 200k input: the tier
            (3, 0, 0, 4096, 900, 700),
            (1, 1, 1, 1, 1, 1),
        ]
        for model in models:
            lane = lane_json(book.lane(model))
            assert lane is not None
            for fresh, read, write, write_1h, output, reasoning in sizes:
                expected = book.cost_nanos(
                    model,
                    input_tokens=fresh,
                    cache_read_tokens=read,
                    cache_write_tokens=write,
                    cache_write_1h_tokens=write_1h,
                    output_tokens=output,
                    reasoning_tokens=reasoning,
                )
                assert lane_cost(lane, fresh, read, write, write_1h, output, reasoning) == expected
        assert lane_json(book.lane("no-such-model-anywhere")) is None
