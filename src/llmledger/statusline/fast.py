"""The statusline's entry point (``llmledger-statusline``, and ``llmledger statusline``).

Reads the agent's JSON on stdin (Claude Code's statusline input), only the transcript bytes
appended since the last call, and the snapshot a refresh made; prints one line. Standard
library only, unless a refresh has to run in this process (no snapshot yet, or ``--sync``).
"""

from __future__ import annotations

import json
import os
import sys
import time

from llmledger.pricing.lane import lane_cost
from llmledger.statusline import render, state
from llmledger.statusline.transcript import (
    CONTEXT,
    END,
    FRESH,
    ID,
    MODEL,
    OUTPUT,
    RANK,
    READ,
    REASONING,
    TS,
    WRITE,
    WRITE_1H,
    read_appended,
)

TYPE_CHECKING = False  # not typing: the fast path does without importing it
if TYPE_CHECKING:
    from typing import Any, TextIO

USAGE = """\
usage: llmledger statusline [--format TEMPLATE] [--color auto|always|never] [--json]
                            [--codex] [--transcript PATH] [--db URL] [--tz ZONE]
                            [--refresh-seconds N] [--sync]

One line for a coding agent's status bar: this session's tokens and cost, today's cost, the
current 5-hour block's cost, time left and burn rate, context-window fill, and the official
5-hour and weekly limit percentages with their reset times when the agent reports them.

Claude Code pipes its statusline JSON on stdin; --codex reads the newest Codex rollout (or
--transcript PATH) instead. Only the transcript's new bytes are read; the ledger's figures come
from a snapshot refreshed in the background at most every --refresh-seconds (default 60).

options:
  --format TEMPLATE    fields: {model} {session} {session_tokens} {session_cost} {today}
                       {today_cost} {block} {block_cost} {block_left} {burn} {projection}
                       {context} {limits} {five_hour} {weekly}
  --color WHEN         auto (default: only on a terminal), always (Claude Code shows ANSI
                       colors), never
  --json               the figures as JSON instead of the line
  --codex              the newest Codex session (no stdin needed)
  --transcript PATH    read this transcript (default: stdin's transcript_path)
  --db URL             the ledger (default: LLMLEDGER_DB, the config's db, the data dir's)
  --tz ZONE            time zone of "today" (default: the system's)
  --refresh-seconds N  how old the ledger snapshot may get (default 60)
  --sync               refresh in this process when due (slower; for scripts and tests)

settings.json:  "statusLine": {"type": "command", "command": "llmledger-statusline"}
"""

BLOCK_US = 5 * 3600 * 1_000_000
CONTEXT_DEFAULT = 200_000
READINGS_KEPT = 20
CLAUDE_WINDOWS = {"five_hour": 300, "seven_day": 10080}


class Failure(Exception):
    """Something the user must fix; one line on stderr, exit status 2."""


def parse_args(argv: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"color": "auto", "refresh": 60.0}
    valued = {"--format", "--color", "--transcript", "--db", "--tz", "--refresh-seconds"}
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, _, inline = arg.partition("=")
        if name in ("-h", "--help"):
            options["help"] = True
        elif name in ("--json", "--codex", "--sync"):
            options[name[2:]] = True
        elif name in valued:
            if not inline and not args:
                raise Failure(f"{name} needs a value")
            value = inline or args.pop(0)
            key = {"--refresh-seconds": "refresh"}.get(name, name[2:])
            options[key] = value
        else:
            raise Failure(f"unknown option {arg!r} (see llmledger statusline --help)")
    if options["color"] not in ("auto", "always", "never"):
        raise Failure(f"--color {options['color']!r}: use auto, always or never")
    try:
        options["refresh"] = float(options["refresh"])
    except ValueError:
        raise Failure(f"--refresh-seconds {options['refresh']!r} is not a number") from None
    zone = options.get("tz")
    if zone is not None and zone.upper() not in ("UTC", "Z", "GMT"):
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise Failure(f"unknown time zone {zone!r}: use an IANA name such as UTC") from None
    return options


def read_stdin(stream: TextIO) -> dict[str, Any]:
    if stream.isatty():
        raise Failure("no statusline JSON on stdin (Claude Code pipes it; or use --codex)")
    text = stream.read()
    if not text.strip():
        raise Failure("no statusline JSON on stdin (Claude Code pipes it; or use --codex)")
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise Failure(f"the statusline input is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Failure("the statusline input is not a JSON object")
    return payload


def newest_rollout(env: dict[str, str] | os._Environ[str]) -> str:
    """The most recently written rollout of the newest day in ``$CODEX_HOME/sessions``."""
    home = env.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    day = os.path.join(home, "sessions")
    for _ in range(3):  # YYYY / MM / DD
        try:
            names = sorted((n for n in os.listdir(day) if n.isdigit()), reverse=True)
        except OSError:
            names = []
        if not names:
            raise Failure(f"no Codex sessions under {os.path.join(home, 'sessions')}")
        day = os.path.join(day, names[0])
    rollouts = [os.path.join(day, n) for n in os.listdir(day) if n.startswith("rollout-")]
    if not rollouts:
        raise Failure(f"no Codex rollout in {day}")
    return max(rollouts, key=os.path.getmtime)


def _claude_readings(payload: dict[str, Any], now_us: int, session: str | None) -> list[Any]:
    limits = payload.get("rate_limits")
    found = []
    for name, minutes in CLAUDE_WINDOWS.items():
        window = limits.get(name) if isinstance(limits, dict) else None
        used = window.get("used_percentage") if isinstance(window, dict) else None
        if not isinstance(used, (int, float)) or isinstance(used, bool) or not used >= 0:
            continue
        resets = window.get("resets_at") if isinstance(window, dict) else None
        found.append(
            {
                "source": "claude-code",
                "window": name,
                "observed_us": now_us,
                "used_percent": float(used),
                "window_minutes": minutes,
                "resets_at_us": int(resets * 1_000_000)
                if isinstance(resets, (int, float)) and resets > 0
                else None,
                "session_id": session,
            }
        )
    return found


def _keep_readings(fast: dict[str, Any], readings: list[Any]) -> None:
    """Remember readings that say something new (the refresh files them in the ledger)."""
    kept: list[Any] = fast.setdefault("readings", [])
    for reading in readings:
        same = [r for r in kept if r["window"] == reading["window"]]
        if same and (same[-1]["used_percent"], same[-1]["resets_at_us"]) == (
            reading["used_percent"],
            reading["resets_at_us"],
        ):
            continue
        kept.append(reading)
    del kept[:-READINGS_KEPT]


def _context_size(payload: dict[str, Any], model_id: str, display: str) -> int:
    window = payload.get("context_window")
    size = window.get("context_window_size") if isinstance(window, dict) else None
    if isinstance(size, int) and size > 0:
        return size
    return 1_000_000 if "[1m]" in model_id.lower() or "1m" in display.lower() else CONTEXT_DEFAULT


def snapshot_offset(fast: dict[str, Any], snap: dict[str, Any] | None) -> int:
    """How far into the transcript the snapshot's figures go (0 when it was taken of another
    file at this path, or of a longer one: -1 when there is none)."""
    if snap is None:
        return -1
    offset = int(snap.get("offset", 0))
    same = snap.get("inode") == fast.get("inode") and offset <= fast.get("size", 0)
    return offset if same else 0


def figures(
    fast: dict[str, Any], snap: dict[str, Any] | None, now_us: int
) -> tuple[dict[str, Any], bool]:
    """The line's numbers from the snapshot plus the calls read since it; and whether a call
    could not be priced with the snapshot's rates (a refresh will)."""
    base = snap or {}
    offset = snapshot_offset(fast, snap)
    counted = base.get("calls", {})
    lanes = base.get("lanes", {})
    session_tokens = base.get("session_tokens", 0)
    session_cost: int | None = base.get("session_cost_nanos", 0)
    today: int | None = base.get("today_cost_nanos", 0) if snap else None
    day = (base.get("day_start_us", 0), base.get("day_end_us", 0))
    block = dict(base["block"]) if base.get("block") else None
    unpriced = False
    for call in sorted(fast["calls"].values(), key=lambda c: c[TS]):
        if call[END] <= offset:
            continue  # the snapshot has it
        lane = lanes.get(call[MODEL])
        cost = None
        if lane is not None:
            cost = lane_cost(
                lane,
                call[FRESH],
                call[READ],
                call[WRITE],
                call[WRITE_1H],
                call[OUTPUT],
                call[REASONING],
            )
        tokens = call[FRESH] + call[READ] + call[WRITE] + call[WRITE_1H] + call[OUTPUT]
        before = counted.get(call[ID], [0, 0])
        tokens = max(tokens - before[1], 0)
        if cost is None:
            unpriced = True
            delta = 0
        else:
            delta = max(cost - before[0], 0)
        session_tokens += tokens
        if session_cost is not None:
            session_cost = None if cost is None else session_cost + delta
        if today is not None and day[0] <= call[TS] < day[1]:
            today += delta
        ts = call[TS]
        if block is None or ts >= block["end_us"] or ts - block["last_us"] > BLOCK_US:
            start = ts - ts % 3_600_000_000
            block = {"start_us": start, "end_us": start + BLOCK_US, "first_us": ts}
            block |= {"last_us": ts, "cost_nanos": 0, "tokens": 0}
        block["last_us"] = max(block["last_us"], ts)
        block["cost_nanos"] += delta
        block["tokens"] += tokens
    if today is not None and not day[0] <= now_us < day[1]:
        today = None  # a new day: the refresh will say
    if block is not None and not (
        now_us < block["end_us"] and now_us - block["last_us"] < BLOCK_US
    ):
        block = None
    if block is not None:
        minutes = (block["last_us"] - block["first_us"]) / 60e6
        if minutes > 0:
            per_minute = block["cost_nanos"] / minutes
            block["cost_per_hour_nanos"] = round(per_minute * 60)
            remaining = max((block["end_us"] - now_us) / 60e6, 0)
            block["projected_cost_nanos"] = block["cost_nanos"] + round(per_minute * remaining)
    result = {
        "session_tokens": session_tokens,
        "session_cost_nanos": session_cost,
        "today_cost_nanos": today,
        "block": block,
    }
    return result, unpriced


def _context_tokens(fast: dict[str, Any], snap: dict[str, Any] | None) -> int | None:
    latest = max(
        (c for c in fast["calls"].values() if c[CONTEXT]), key=lambda c: c[TS], default=None
    )
    if latest is not None and latest[END] > snapshot_offset(fast, snap):
        return int(latest[CONTEXT])
    value = (snap or {}).get("context_tokens")
    return value if isinstance(value, int) else None


def _official(
    fast: dict[str, Any], snap: dict[str, Any] | None, agent: str, now_us: int
) -> dict[str, Any]:
    """The latest official reading per window, by the line's names (five_hour, weekly)."""
    out: dict[str, Any] = {}
    readings = fast.get("readings") or []
    if agent == "codex":
        readings = fast["carry"].get("readings") or (snap or {}).get("readings") or []
    for reading in readings:  # oldest first: the latest per window stays
        minutes = reading.get("window_minutes") or 0
        name = "five_hour" if abs(minutes - 300) <= 1 else "weekly" if minutes > 1440 else None
        if name is not None:
            out[name] = reading
    # A window whose reset time has passed since its reading has restarted: nothing to show.
    return {
        name: reading
        for name, reading in out.items()
        if not (reading.get("resets_at_us") and reading["resets_at_us"] <= now_us)
    }


def _start_refresh(key: str, sync: bool, now: float) -> None:
    if sync:
        from llmledger.statusline.refresh import refresh

        refresh(key)
        return
    lock = state.file_for(key, "lock")
    try:
        if now - os.stat(lock).st_mtime < state.LOCK_STALE_SECONDS:
            return  # one is running
    except OSError:
        pass
    import subprocess

    subprocess.Popen(
        [sys.executable, "-m", "llmledger.statusline.refresh", key],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def run(options: dict[str, Any], stdin: TextIO, now: float) -> dict[str, Any]:
    """Everything but printing: the figures of the line (``model``, ``session_tokens``, ...)."""
    now_us = int(now * 1_000_000)
    payload: dict[str, Any] = {}
    agent = "codex" if options.get("codex") else "claude-code"
    if agent == "claude-code":
        payload = read_stdin(stdin)
    transcript = options.get("transcript") or payload.get("transcript_path")
    if agent == "codex" and not transcript:
        transcript = newest_rollout(os.environ)
    if not isinstance(transcript, str) or not transcript:
        raise Failure("the statusline input names no transcript_path")
    transcript = os.path.abspath(os.path.expanduser(transcript))
    raw_model = payload.get("model")
    model: dict[str, Any] = raw_model if isinstance(raw_model, dict) else {}
    model_id, display = str(model.get("id") or ""), str(model.get("display_name") or "")
    session = payload.get("session_id")
    if agent == "codex":
        session = os.path.basename(transcript).removesuffix(".jsonl")[-36:]  # its uuid
    key = state.key_for(agent, transcript)
    fast = state.load(state.file_for(key, "json"))
    try:
        stat = os.stat(transcript)
    except OSError:
        stat = None
    if (
        fast is None
        or stat is None
        or fast.get("inode") != stat.st_ino
        or stat.st_size < fast.get("offset", 0)
    ):  # new, replaced or truncated: read it from the start
        fast = {"offset": 0, "calls": {}, "carry": {}, "readings": []}
    fast |= {"agent": agent, "path": transcript, "session": session, "tz": options.get("tz")}
    fast |= {"db": options.get("db") or os.environ.get("LLMLEDGER_DB")}
    fast["inode"] = stat.st_ino if stat is not None else None
    fast["size"] = stat.st_size if stat is not None else 0
    snap = state.load(state.file_for(key, "snap.json"))
    if snap is not None and snap.get("path") != transcript:
        snap = None  # another transcript's (a key collision)
    if snapshot_offset(fast, snap) > fast["offset"]:
        fast["offset"] = snapshot_offset(fast, snap)  # the ledger read further: go on from there
    if stat is not None and stat.st_size > fast["offset"]:
        calls, fast["offset"], _ = read_appended(transcript, fast["offset"], agent, fast["carry"])
        kept = fast["calls"]
        for call in calls:
            seen = kept.get(call[ID])
            if seen is None or call[RANK] >= seen[RANK]:
                kept[call[ID]] = call
    if snap is not None:  # what the snapshot holds need not be kept
        held = snapshot_offset(fast, snap)
        fast["calls"] = {i: c for i, c in fast["calls"].items() if c[END] > held}
    models = {c[MODEL] for c in fast["calls"].values()}
    if model_id:
        models.add(model_id)
    fast["models"] = sorted(models)
    _keep_readings(fast, _claude_readings(payload, now_us, session))
    result, unpriced = figures(fast, snap, now_us)
    due = (
        snap is None
        or unpriced
        or now_us - snap.get("taken_us", 0) > options["refresh"] * 1_000_000
        or not snap.get("day_start_us", 0) <= now_us < snap.get("day_end_us", 0)
        or snap.get("inode") != fast["inode"]
        or snap.get("offset", 0) > fast["size"]
    )
    state.save(state.file_for(key, "json"), fast)
    if due:
        _start_refresh(key, bool(options.get("sync")) or snap is None, now)
        if snap is None or options.get("sync"):  # the snapshot is there now: use it
            snap = state.load(state.file_for(key, "snap.json"))
            fast = state.load(state.file_for(key, "json")) or fast
            if snap is not None:
                held = snapshot_offset(fast, snap)
                fast["calls"] = {i: c for i, c in fast["calls"].items() if c[END] > held}
            result, _ = figures(fast, snap, now_us)
    window = payload.get("context_window")
    official_context = window.get("used_percentage") if isinstance(window, dict) else None
    if isinstance(official_context, (int, float)) and not isinstance(official_context, bool):
        result["context_percent"] = float(official_context)
    else:
        used = _context_tokens(fast, snap)
        size = (
            fast["carry"].get("context_window")
            if agent == "codex"
            else _context_size(payload, model_id, display)
        )
        if used is not None and isinstance(size, int) and size > 0:
            result["context_percent"] = used * 100 / size
    last_model = max(fast["calls"].values(), key=lambda c: c[TS], default=None)
    result["model"] = display or model_id or fast["carry"].get("model") or (snap or {}).get("model")
    if not result["model"] and last_model is not None:
        result["model"] = last_model[MODEL]
    result |= _official(fast, snap, agent, now_us)
    result |= {"agent": agent, "session": session, "transcript": transcript}
    return result


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_args(sys.argv[1:] if argv is None else argv)
        if options.get("help"):
            sys.stdout.write(USAGE)
            return 0
        now = time.time()
        result = run(options, sys.stdin, now)
    except Failure as exc:
        print(f"llmledger statusline: {exc}", file=sys.stderr)
        return 2
    if options.get("json"):
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    color = options["color"] == "always" or (
        options["color"] == "auto"
        and sys.stdout.isatty()
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
    )
    values = render.fields(result, int(now * 1_000_000), color)
    print(render.line(values, options.get("format"), color))
    return 0


if __name__ == "__main__":
    sys.exit(main())
