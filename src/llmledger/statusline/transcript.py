"""The calls appended to a transcript since an offset, read with the standard library only (a
statusline runs after every message: no msgspec, no ledger imports).

The rules are the agent parsers' (sources/claude_code.py, sources/codex.py; tests check that
both give the same ids and counts): a Claude Code call is an ``assistant`` line with
``message.usage`` (or a subagent's, nested in a ``progress`` line), its id ``claude:<message
id>``, copies of one id keep the best (a main-chain copy over a sidechain replay, then the
larger); a Codex call is a ``token_count`` event's ``last_token_usage`` (an event repeating the
previous running total is skipped), with the model of the last ``turn_context``, and its
``rate_limits`` are official window readings.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)
PRIMARY_BONUS = 1 << 62  # sources.base.PRIMARY_BONUS
SYNTHETIC_MODEL = "<synthetic>"
CODEX_FALLBACK_MODEL = "gpt-5"  # sources.codex.FALLBACK_MODEL

# One call, as a JSON-able list (the state file keeps them):
# [id, ts_us, model, fresh, read, write, write_1h, output, reasoning, rank, context_tokens,
#  end offset of its line]
ID, TS, MODEL, FRESH, READ, WRITE, WRITE_1H, OUTPUT, REASONING, RANK, CONTEXT, END = range(12)


def ts_us(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // ONE_US


def _n(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _claude_counts(usage: dict[str, object]) -> tuple[int, int, int, int, int, int]:
    """(fresh, read, 5-minute writes, 1-hour writes, output, reasoning), as
    usage.anthropic.anthropic_tokens maps them."""
    fresh, read, output = (
        _n(usage.get("input_tokens")),
        _n(usage.get("cache_read_input_tokens")),
        _n(usage.get("output_tokens")),
    )
    reported = usage.get("cache_creation_input_tokens")
    split = usage.get("cache_creation")
    five = hour = None
    if isinstance(split, dict):
        five, hour = split.get("ephemeral_5m_input_tokens"), split.get("ephemeral_1h_input_tokens")
    if five is None and hour is None:
        five, hour = _n(reported), 0
    else:
        five, hour = _n(five), _n(hour)
        if isinstance(reported, int) and max(reported, 0) > five + hour:
            five = reported - hour
    reasoning = 0
    details = usage.get("output_tokens_details")
    if isinstance(details, dict):
        reasoning = min(_n(details.get("thinking_tokens")), output)
    return fresh, read, five, hour, output, reasoning


def claude_call(line: bytes) -> list[object] | None:
    """One transcript line's call (None: not a billable one; raises ValueError when the line
    is not JSON)."""
    entry = json.loads(line)
    if not isinstance(entry, dict):
        return None
    outer = None
    if entry.get("type") == "progress":
        data = entry.get("data")
        nested = data.get("message") if isinstance(data, dict) else None
        if not isinstance(nested, dict):
            return None
        outer, entry = entry, nested
    elif entry.get("type") != "assistant":
        return None
    message = entry.get("message")
    usage = message.get("usage") if isinstance(message, dict) else None
    if not isinstance(message, dict) or not isinstance(usage, dict):
        return None
    model = message.get("model") or "unknown"
    if model == SYNTHETIC_MODEL:
        return None
    moment = ts_us(entry.get("timestamp"))
    if moment is None and outer is not None:
        moment = ts_us(outer.get("timestamp"))
    message_id = message.get("id") or entry.get("uuid")
    if moment is None or not message_id:
        return None
    fresh, read, five, hour, output, reasoning = _claude_counts(usage)
    sidechain = bool(entry.get("isSidechain")) or bool(outer and outer.get("isSidechain"))
    total = fresh + read + five + hour + output
    rank = total + (0 if sidechain else PRIMARY_BONUS)
    context = 0 if sidechain else fresh + read + five + hour
    return [
        f"claude:{message_id}",
        moment,
        str(model),
        fresh,
        read,
        five,
        hour,
        output,
        reasoning,
        rank,
        context,
    ]


def _codex_values(tokens: object) -> list[int] | None:
    if not isinstance(tokens, dict):
        return None
    names = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
    return [_n(tokens.get(name)) for name in (*names, "total_tokens")]


def codex_readings(limits: object, observed: int) -> list[dict[str, object]]:
    """Official window readings of a ``rate_limits`` object (sources/codex.rate_windows reads
    the same shapes for the ledger)."""
    if not isinstance(limits, dict):
        return []
    found: list[dict[str, object]] = []
    for name in ("primary", "secondary"):
        window = limits.get(name)
        if isinstance(window, dict):
            used, minutes = window.get("used_percent"), window.get("window_minutes")
            at, after = window.get("resets_at"), window.get("resets_in_seconds")
        else:
            used, minutes = limits.get(f"{name}_used_percent"), limits.get(f"{name}_window_minutes")
            at, after = None, limits.get(f"{name}_reset_after_seconds")
        if not isinstance(used, (int, float)) or isinstance(used, bool) or not used >= 0:
            continue
        resets = None
        if isinstance(at, (int, float)) and at > 0:
            resets = int(at * 1000) if at > 10**11 else int(at * 1_000_000)
        elif isinstance(after, (int, float)) and after >= 0:
            resets = observed + int(after * 1_000_000)
        found.append(
            {
                "source": "codex",
                "window": name,
                "observed_us": observed,
                "used_percent": float(used),
                "window_minutes": minutes if isinstance(minutes, int) and minutes > 0 else None,
                "resets_at_us": resets,
            }
        )
    return found


def codex_line(line: bytes, carry: dict[str, object]) -> list[object] | None:
    """One rollout line: updates ``carry`` (model, previous total, context window, latest
    readings) and returns its call, if it is one."""
    item = json.loads(line)
    if not isinstance(item, dict):
        return None
    payload = item.get("payload")
    if not isinstance(payload, dict):
        return None
    if item.get("type") == "turn_context":
        carry["model"] = payload.get("model") or carry.get("model")
        return None
    if item.get("type") != "event_msg" or payload.get("type") != "token_count":
        return None
    moment = ts_us(item.get("timestamp"))
    if moment is None:
        return None
    readings = codex_readings(payload.get("rate_limits"), moment)
    if readings:
        carry["readings"] = readings
    info = payload.get("info")
    if not isinstance(info, dict):
        return None
    if isinstance(info.get("model_context_window"), int):
        carry["context_window"] = info["model_context_window"]
    total = _codex_values(info.get("total_token_usage"))
    previous = carry.get("prev")
    if total is not None:
        if total == previous:
            return None
        carry["prev"] = total
    last = _codex_values(info.get("last_token_usage"))
    if last is None:
        if total is None:
            return None
        base = previous if isinstance(previous, list) else [0, 0, 0, 0, 0]
        last = [max(a - b, 0) for a, b in zip(total, base)]
    all_input, cached, output, reasoning, _ = last
    if not (all_input or output):
        return None
    key = total if total is not None else last
    model = carry.get("model") or CODEX_FALLBACK_MODEL
    fresh = max(all_input - cached, 0)
    reasoning = min(reasoning, output)
    return [
        f"codex:{moment}:{key[0]}:{key[1]}:{key[2]}:{key[3]}",
        moment,
        str(model),
        fresh,
        cached,
        0,
        0,
        output,
        reasoning,
        fresh + cached + output,
        all_input,
    ]


MARKERS = {"claude-code": (b'"usage"',), "codex": (b'"token_count"', b'"turn_context"')}


def read_appended(
    path: str, offset: int, agent: str, carry: dict[str, object]
) -> tuple[list[list[object]], int, int]:
    """The calls in the complete lines after ``offset``: (calls, new offset, malformed lines).
    Raises OSError when the file cannot be read."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1
    markers = MARKERS[agent]
    calls: list[list[object]] = []
    malformed = 0
    position = offset
    for line in data[:end].split(b"\n")[:-1]:
        position += len(line) + 1
        if not any(marker in line for marker in markers):
            continue
        try:
            call = claude_call(line) if agent == "claude-code" else codex_line(line, carry)
        except (ValueError, RecursionError):
            malformed += 1
            continue
        if call is not None:
            call.append(position)
            calls.append(call)
    return calls, offset + end, malformed
