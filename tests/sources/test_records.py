"""Records become events field by field (``to_event`` builds them positionally)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from llmledger.events import UsageEvent
from llmledger.sources.base import Record, to_event


def test_to_event_sets_each_field_from_the_record() -> None:
    record = Record(
        "claude:msg_1:req_1",
        datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
        "claude-sonnet-4-5",
        "anthropic",
        11,
        22,
        33,
        44,
        55,
        6,
        "session-1",
        "/proj",
        3,
        {"speed": "fast"},
        "acct",
        123,
    )
    expected = UsageEvent(
        model=record.model,
        ts=record.ts,
        id=record.id,
        source="claude-code",
        provider=record.provider,
        input_tokens=11,
        cache_read_tokens=22,
        cache_write_tokens=33,
        cache_write_1h_tokens=44,
        output_tokens=55,
        reasoning_tokens=6,
        requests=3,
        session_id="session-1",
        project="/proj",
        account="acct",
        details={"speed": "fast"},
    )
    event = to_event(record, "claude-code")
    assert dataclasses.asdict(event) == dataclasses.asdict(expected)
    # Every field left at its default is the dataclass default.
    assert event.cost_status == "unpriced" and event.tags == () and event.success is True
