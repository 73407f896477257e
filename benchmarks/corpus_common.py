"""The agent-log corpus generator's shared parts: its size (``Spec``), the list of API calls it
made up (``Truth``) and the exact totals derived from it, and random text and ids."""

from __future__ import annotations

import random
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import msgspec

UTC = timezone.utc
ZONES = ("UTC", "America/New_York")
_encode = msgspec.json.Encoder().encode

CLAUDE_MODELS = (
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-6",
)
CODEX_MODELS = ("gpt-5-codex", "gpt-5.1-codex", "gpt-5.3-codex")
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-3-pro-preview")
OPENCODE_MODELS = (
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-5"),
    ("google", "gemini-2.5-pro"),
)


@dataclass
class Spec:
    claude_files: int = 1000  # session transcripts (subagent files come on top)
    claude_messages: int = 100_000  # unique API calls in the main transcripts
    codex_files: int = 60
    gemini_files: int = 30
    opencode_messages: int = 3000
    seed: int = 20250601
    start: str = "2025-10-01"
    days: int = 45
    long_line_every: int = 400  # one ~100-300 KB tool result per this many user lines


@dataclass
class Call:
    source: str
    model: str
    ts: datetime
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0  # 5-minute
    cache_write_1h: int = 0
    reasoning: int = 0


@dataclass
class Truth:
    calls: list[Call] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    files: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, call: Call) -> None:
        self.calls.append(call)

    def expected(self, zone: tzinfo = UTC) -> dict[str, Any]:
        """source -> day -> model -> totals, and per-day and all-days sums."""
        sources: dict[str, Any] = {}
        for call in self.calls:
            day = call.ts.astimezone(zone).date().isoformat()
            src = sources.setdefault(call.source, {"days": {}, "all_days": _zero()})
            per_day = src["days"].setdefault(day, {"models": {}, "totals": _zero()})
            for bucket in (
                per_day["models"].setdefault(call.model, _zero()),
                per_day["totals"],
                src["all_days"],
            ):
                _add(bucket, call)
        for src in sources.values():
            src["days"] = dict(sorted(src["days"].items()))
            for per_day in src["days"].values():
                per_day["models"] = dict(sorted(per_day["models"].items()))
        return dict(sorted(sources.items()))


def _zero() -> dict[str, int]:
    return dict.fromkeys(
        (
            "input",
            "output",
            "cache_read",
            "cache_write",
            "cache_write_1h",
            "reasoning",
            "messages",
            "total",
        ),
        0,
    )


def _add(bucket: dict[str, int], call: Call) -> None:
    cache_write = call.cache_write + call.cache_write_1h
    bucket["input"] += call.input
    bucket["output"] += call.output
    bucket["cache_read"] += call.cache_read
    bucket["cache_write"] += cache_write
    bucket["cache_write_1h"] += call.cache_write_1h
    bucket["reasoning"] += call.reasoning
    bucket["messages"] += 1
    bucket["total"] += call.input + call.output + call.cache_read + cache_write


class Text:
    """Cheap filler text: slices of one random word soup."""

    def __init__(self, rng: random.Random) -> None:
        words = [
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(4000)
        ]
        self.soup = " ".join(rng.choices(words, k=400_000))
        self.rng = rng

    def __call__(self, low: int, high: int) -> str:
        size = self.rng.randint(low, high)
        if size >= len(self.soup):
            return (self.soup * (size // len(self.soup) + 1))[:size]
        start = self.rng.randrange(0, len(self.soup) - size)
        return self.soup[start : start + size]


class Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.alphabet = string.ascii_letters + string.digits

    def token(self, n: int) -> str:
        return "".join(self.rng.choices(self.alphabet, k=n))

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def session_start(rng: random.Random, first: date, days: int) -> datetime:
    """Start times crowd around UTC midnight and New York midnight (04:00/05:00 UTC)."""
    day = datetime.combine(first + timedelta(days=rng.randrange(days)), datetime.min.time(), UTC)
    kind = rng.random()
    if kind < 0.3:
        offset = timedelta(hours=23, minutes=rng.randrange(0, 60))
    elif kind < 0.5:
        offset = timedelta(hours=rng.choice((3, 4)), minutes=rng.randrange(30, 60))
    else:
        offset = timedelta(seconds=rng.randrange(0, 86400))
    return day + offset + timedelta(milliseconds=rng.randrange(1000))


def _write_jsonl(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"\n".join(lines) + b"\n")
