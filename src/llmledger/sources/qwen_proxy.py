"""The old "Qwen OpenAI proxy"'s ``~/.qwen/request_counts.json``: daily token totals per
account, and the request count of the current day.

    {"lastResetDate": "2025-08-22", "requests": {"default": 45},
     "tokenUsage": {"default": [
         {"date": "2025-08-20", "inputTokens": 12500, "outputTokens": 8300}]}}

Each (account, date) becomes one aggregate event, id ``qwen-proxy:<account>:<date>``; a day
that grows replaces its earlier copy. The proxy kept UTC dates and no times, so the event sits at
noon UTC (the same calendar day in every zone from UTC-12 to UTC+11). It did not record the
model: the proxy's default, ``qwen3-coder-plus``, is assumed and flagged in ``details``; it did
not split cached input either, so all input counts as fresh. Request counts exist only for
``lastResetDate``; other days carry ``requests = 0`` and say so in ``details``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import msgspec

from llmledger.sources.base import Count, FileParse, FileSource, Record, SourceFile, home_dir

NAME = "qwen-proxy"
ASSUMED_MODEL = "qwen3-coder-plus"
PROVIDER = "dashscope"


class _Day(msgspec.Struct):
    date: str | None = None
    inputTokens: Count | None = None
    outputTokens: Count | None = None


class _Counts(msgspec.Struct):
    lastResetDate: str | None = None
    requests: dict[str, int] | None = None
    tokenUsage: dict[str, list[_Day]] | None = None


_decode = msgspec.json.Decoder(_Counts).decode


class Malformed(Exception):
    """Not a request_counts.json of the Qwen proxy."""


def parse_counts(data: bytes) -> tuple[list[Record], int]:
    """Pure: the file's (account, day) events and the number of unreadable day entries."""
    try:
        counts = _decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise Malformed(str(exc)) from None
    requests = counts.requests or {}
    records: list[Record] = []
    bad = 0
    for account, days in sorted((counts.tokenUsage or {}).items()):
        for day in days:
            try:
                when = date.fromisoformat(day.date or "")
            except ValueError:
                bad += 1
                continue
            fresh = max(day.inputTokens or 0, 0)
            output = max(day.outputTokens or 0, 0)
            details: dict[str, Any] = {"model_assumed": True, "daily_aggregate": True}
            known = day.date == counts.lastResetDate and account in requests
            if not known:
                details["requests_unknown"] = True
            records.append(
                Record(
                    id=f"{NAME}:{account}:{when.isoformat()}",
                    ts=datetime.combine(when, time(12), timezone.utc),
                    model=ASSUMED_MODEL,
                    provider=PROVIDER,
                    input_tokens=fresh,
                    cache_read_tokens=0,
                    cache_write_tokens=0,
                    cache_write_1h_tokens=0,
                    output_tokens=output,
                    reasoning_tokens=0,
                    session_id=None,
                    project=None,
                    requests=max(requests.get(account, 0), 0) if known else 0,
                    details=details,
                    account=account,
                    rank=fresh + output,
                )
            )
    return records, bad


def parse_file(path: Path, offset: int, carry: dict[str, Any] | None, budget: int) -> FileParse:
    data = path.read_bytes()
    try:
        records, bad = parse_counts(data)
    except Malformed:
        return FileParse([], len(data), 1, None)
    return FileParse(records, len(data), bad, None)


class QwenProxy(FileSource):
    name = NAME
    title = "Qwen OpenAI proxy"
    shortcut = None  # no --flag: a proxy's logs, not an agent

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [home_dir(env) / ".qwen" / "request_counts.json"]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        for path in self.roots(env):
            if path.is_file():
                yield SourceFile(NAME, str(path), "document")

    parse = staticmethod(parse_file)


SOURCE = QwenProxy()
