"""Droid (Factory), Kimi CLI and Copilot CLI: real files in an isolated HOME, scanned into a
real SQLite ledger; every total below is computed by hand from the lines written."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.sources import copilot_cli, droid, kimi_cli

from .conftest import claude_line, run_scan, totals, write_jsonl

# -- Kimi CLI ----------------------------------------------------------------------------------


def kimi_update(ts: float, message_id: str | None, usage: list[int]) -> dict[str, Any]:
    other, output, cache_read, cache_creation = usage
    payload: dict[str, Any] = {
        "context_usage": 0.02,
        "token_usage": {
            "input_other": other,
            "output": output,
            "input_cache_read": cache_read,
            "input_cache_creation": cache_creation,
        },
        "message_id": message_id,
    }
    return {"timestamp": ts, "message": {"type": "StatusUpdate", "payload": payload}}


def kimi_session(share: Path, work_dir: str, session: str) -> Path:
    """A session folder named as Kimi CLI names it, and kimi.json listing its work dir."""
    group = hashlib.md5(work_dir.encode()).hexdigest()
    folder = share / "sessions" / group / session
    folder.mkdir(parents=True)
    (share / "kimi.json").write_text(json.dumps({"work_dirs": [{"path": work_dir}]}))
    return folder


T0 = datetime(2026, 2, 15, 10, 0, tzinfo=timezone.utc).timestamp()


def test_kimi_steps_subagents_and_models(ledger: Ledger, isolated_home: Path) -> None:
    share = isolated_home / ".kimi"
    folder = kimi_session(share, "/src/kapp", "s-1")
    (share / "config.toml").write_text(
        'default_model = "main"\n[models.main]\nprovider = "moonshot"\nmodel = "kimi-k2.5"\n'
    )
    sub_step = kimi_update(T0 + 20, "chatcmpl-B", [10, 20, 30, 40])["message"]
    write_jsonl(
        folder / "wire.jsonl",
        [
            {"type": "metadata", "protocol_version": "1.3"},
            kimi_update(T0, "chatcmpl-A", [1508, 205, 4864, 0]),
            {"timestamp": T0 + 5, "message": {"type": "StatusUpdate", "payload": {"plan_mode": 1}}},
            {
                "timestamp": T0 + 20,
                "message": {
                    "type": "SubagentEvent",
                    "payload": {"agent_id": "ag1", "event": sub_step},
                },
            },
            kimi_update(T0 + 30, "chatcmpl-A", [1508, 205, 4864, 0]),  # repeated: counted once
            '{"timestamp": 1, "message": {"token_usage": ',  # cut off
        ],
    )
    # Newer versions keep the subagent's own wire too: not read (its steps are in the parent's).
    agent = folder / "subagents" / "ag1"
    write_jsonl(agent / "wire.jsonl", [sub_step])
    (agent / "meta.json").write_text(
        json.dumps({"launch_spec": {"effective_model": "moonshot/kimi-k2.6"}})
    )
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, result.sources["kimi-cli"].files) == (1, 1)
    events = {e.id: e for e in ledger.events() if e.source == "kimi-cli"}
    assert set(events) == {"kimi-cli:chatcmpl-A", "kimi-cli:chatcmpl-B"}
    main_step, sub = events["kimi-cli:chatcmpl-A"], events["kimi-cli:chatcmpl-B"]
    assert (main_step.model, sub.model) == ("kimi-k2.5", "kimi-k2.6")
    assert (main_step.provider, main_step.project, main_step.session_id) == (
        "moonshot",
        "/src/kapp",
        "s-1",
    )
    assert main_step.cost_status == sub.cost_status == "computed"
    assert totals(ledger, "kimi-cli")["2026-02-15"] == {
        "input": 1518,
        "output": 225,
        "cache_read": 4894,
        "cache_write": 40,
        "cache_write_1h": 0,
        "reasoning": 0,
        "messages": 2,
    }


def test_kimi_share_dir_default_model_and_appended_steps(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    share = tmp_path / "kimi-share"
    folder = kimi_session(share, "/src/other", "s-2")
    wire = write_jsonl(
        folder / "wire.jsonl",
        [kimi_update(T0, None, [100, 10, 0, 0]), kimi_update(T0 + 1, None, [100, 10, 0, 0])],
    )
    env = {"KIMI_SHARE_DIR": str(share)}
    run_scan(ledger, isolated_home, env=env)
    write_jsonl(wire, [kimi_update(T0 + 2, "chatcmpl-C", [7, 3, 0, 0])], mode="a")
    second = run_scan(ledger, isolated_home, env=env)
    assert second.sources["kimi-cli"].records == 1  # only the appended line was read
    events = [e for e in ledger.events() if e.source == "kimi-cli"]
    # Steps without a response id are told apart by their time: two steps, not one.
    assert sorted(e.input_tokens for e in events) == [7, 100, 100]
    assert {e.model for e in events} == {kimi_cli.DEFAULT_MODEL}
    assert {e.project for e in events} == {"/src/other"}


def test_kimi_config_model_names() -> None:
    config = b'default_model = "kimi-code/kimi-for-coding"\n'
    assert kimi_cli.configured_model(config) == "kimi-for-coding"
    config = b'default_model = "k"\n[models.k]\nmodel = "moonshot/kimi-k2.6"\n'
    assert kimi_cli.configured_model(config) == "kimi-k2.6"
    assert kimi_cli.configured_model(b"default_model = [") is None  # not TOML
    assert kimi_cli.configured_model(b"") is None


def test_kimi_bad_lines_are_counted() -> None:
    def model_of(agent: str | None) -> str:
        return "m"

    for line in (b"[1, 2]", b'{"message": {}}', b'{"timestamp": "x", "message": {}}'):
        with pytest.raises(kimi_cli.Malformed):
            kimi_cli.parse_line(line, "s", None, model_of)
    bad_usage = kimi_update(T0, "x", [1, 1, 1, 1])
    bad_usage["message"]["payload"]["token_usage"]["output"] = "many"
    with pytest.raises(kimi_cli.Malformed):
        kimi_cli.parse_line(json.dumps(bad_usage).encode(), "s", None, model_of)
    zero = json.dumps(kimi_update(T0, "z", [0, 0, 0, 0])).encode()
    assert kimi_cli.parse_line(zero, "s", None, model_of) == []


# -- Droid -------------------------------------------------------------------------------------


def droid_settings(usage: list[int], **extra: Any) -> dict[str, Any]:
    inp, out, cache_write, cache_read, thinking = usage
    token_usage = {
        "inputTokens": inp,
        "outputTokens": out,
        "cacheCreationTokens": cache_write,
        "cacheReadTokens": cache_read,
        "thinkingTokens": thinking,
    }
    return {"tokenUsage": token_usage, **extra}


def write_settings(path: Path, settings: dict[str, Any], mtime: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings))
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def test_droid_session_totals_grow_and_replace(ledger: Ledger, isolated_home: Path) -> None:
    folder = isolated_home / ".factory" / "sessions" / "-src-dapp"
    write_jsonl(folder / "d1.jsonl", [{"type": "session_start", "id": "d1", "cwd": "/src/dapp"}])
    settings = folder / "d1.settings.json"
    first_day = datetime(2025, 11, 4, 12, 0, tzinfo=timezone.utc)
    extra = {
        "model": "custom:Claude-Opus-4.5-[Anthropic]-0",
        "providerLock": "anthropic",
        "providerLockTimestamp": "2025-11-04T10:26:09.323Z",
    }
    write_settings(settings, droid_settings([73400, 47485, 100, 3518842, 15], **extra), first_day)
    run_scan(ledger, isolated_home)
    assert totals(ledger, "droid")["2025-11-04"] == {
        "input": 73400,
        "output": 47500,  # thinking is billed as output on top of outputTokens
        "cache_read": 3518842,
        "cache_write": 100,
        "cache_write_1h": 0,
        "reasoning": 15,
        "messages": 1,
    }
    (event,) = list(ledger.events())
    assert (event.id, event.model, event.provider, event.project) == (
        "droid:d1",
        "claude-opus-4.5",
        "anthropic",
        "/src/dapp",
    )
    assert event.cost_status == "computed" and event.requests == 0

    # The session goes on two days later: the totals grew, the one event moves and grows.
    later = datetime(2025, 11, 6, 9, 0, tzinfo=timezone.utc)
    write_settings(settings, droid_settings([80000, 50000, 100, 4000000, 15], **extra), later)
    run_scan(ledger, isolated_home)
    days = totals(ledger, "droid")
    assert list(days) == ["2025-11-06"]
    assert (days["2025-11-06"]["input"], days["2025-11-06"]["messages"]) == (80000, 1)


def test_droid_model_from_transcript_and_bad_files(ledger: Ledger, isolated_home: Path) -> None:
    root = isolated_home / ".factory" / "sessions"
    when = datetime(2025, 12, 1, 8, 0, tzinfo=timezone.utc)
    # An older install: files directly in sessions/, no model in the settings.
    write_jsonl(
        root / "d2.jsonl",
        [
            {"type": "session_start", "id": "d2", "cwd": "/src/old"},
            {
                "type": "message",
                "message": {"content": [{"text": "<system-reminder>Model: gpt-5.1"}]},
            },
        ],
    )
    write_settings(root / "d2.settings.json", droid_settings([10, 5, 0, 0, 0]), when)
    write_settings(root / "d3.settings.json", {"autonomyMode": "auto"}, when)  # no usage
    (root / "d4.settings.json").write_text('{"tokenUsage": {"inputTokens": "lots"}}')
    (root / "d5.settings.json").write_bytes(b"\x00\xff not json")
    result = run_scan(ledger, isolated_home)
    assert (result.sources["droid"].files, result.malformed) == (4, 2)
    (event,) = list(ledger.events())
    assert (event.model, event.project, event.provider) == ("gpt-5.1", "/src/old", None)
    assert event.ts == when


def test_droid_model_names() -> None:
    assert droid.model_name("custom:Claude-Opus-4.5-Thinking-[Anthropic]-0") == (
        "claude-opus-4.5-thinking"
    )
    assert droid.model_name("gemini-2.5-pro") == "gemini-2.5-pro"
    assert droid.model_name("GPT-5.1") == "gpt-5.1"
    assert droid.model_name("custom:[x]") == "unknown"


# -- Copilot CLI -------------------------------------------------------------------------------


def copilot_shutdown(event_id: str, ts: str, metrics: dict[str, list[int]]) -> dict[str, Any]:
    """``metrics``: model -> [input (cache included), output, cache read, cache write,
    reasoning, requests]."""
    model_metrics = {
        model: {
            "requests": {"count": m[5], "cost": 1},
            "usage": {
                "inputTokens": m[0],
                "outputTokens": m[1],
                "cacheReadTokens": m[2],
                "cacheWriteTokens": m[3],
                "reasoningTokens": m[4],
            },
        }
        for model, m in metrics.items()
    }
    data = {"shutdownType": "routine", "modelMetrics": model_metrics, "currentModel": "x"}
    return {"type": "session.shutdown", "id": event_id, "timestamp": ts, "data": data}


def copilot_start(session: str) -> dict[str, Any]:
    data = {"sessionId": session, "context": {"cwd": "/src/capp"}, "producer": "copilot-agent"}
    return {"type": "session.start", "id": "e0", "timestamp": "2026-04-08T04:00:00Z", "data": data}


CHECKPOINT = {"type": "session.usage_checkpoint", "id": "c1", "timestamp": "2026-04-08T04:30:00Z"}


def test_copilot_cumulative_shutdowns_count_what_grew(ledger: Ledger, isolated_home: Path) -> None:
    events_file = isolated_home / ".copilot" / "session-state" / "sess-1" / "events.jsonl"
    first = copilot_shutdown(
        "s1", "2026-04-08T05:00:13.000Z", {"gpt-5.4": [4700, 327, 4600, 0, 0, 3]}
    )
    write_jsonl(events_file, [copilot_start("sess-1"), CHECKPOINT, "not json", first])
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 0  # a line that is no session event is never decoded
    # Resumed the next day: the same file gets the session's new cumulative totals.
    second = copilot_shutdown(
        "s2",
        "2026-04-09T05:00:13.000Z",
        {"gpt-5.4": [6700, 427, 5600, 0, 50, 5], "claude-sonnet-4.5-1m": [100, 10, 0, 20, 0, 1]},
    )
    write_jsonl(events_file, [second], mode="a")
    run_scan(ledger, isolated_home)
    days = totals(ledger, "copilot-cli")
    assert days["2026-04-08"] == {
        "input": 100,  # 4700 minus the 4600 cache reads
        "output": 327,
        "cache_read": 4600,
        "cache_write": 0,
        "cache_write_1h": 0,
        "reasoning": 0,
        "messages": 1,
    }
    assert days["2026-04-09"] == {
        "input": 1000 + 80,
        "output": 100 + 10,
        "cache_read": 1000,
        "cache_write": 20,
        "cache_write_1h": 0,
        "reasoning": 50,
        "messages": 2,
    }
    by_model = {e.model: e for e in ledger.events() if e.ts.day == 9}
    assert set(by_model) == {"gpt-5.4", "claude-sonnet-4.5"}
    assert (by_model["gpt-5.4"].requests, by_model["gpt-5.4"].project) == (2, "/src/capp")
    assert {e.session_id for e in ledger.events()} == {"sess-1"}


def test_copilot_resets_without_checkpoints_and_legacy_files(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "copilot-home"
    state = home / "session-state"
    # No usage_checkpoint: an older CLI, whose totals start over on resume: both count in full.
    write_jsonl(
        state / "sess-2" / "events.jsonl",
        [
            copilot_shutdown("a", "2026-03-01T10:00:00Z", {"gpt-5.1": [500, 50, 100, 0, 0, 2]}),
            copilot_shutdown("b", "2026-03-01T11:00:00Z", {"gpt-5.1": [300, 30, 0, 0, 0, 1]}),
            {"type": "session.shutdown", "id": "c", "timestamp": "2026-03-01T12:00:00Z"},
            '{"type": "session.shutdown", "data": ',
        ],
    )
    write_jsonl(  # the flat layout of older versions
        state / "sess-3.jsonl",
        [copilot_shutdown("x", "2026-03-02T10:00:00Z", {"openai/gpt-4.1": [40, 4, 0, 0, 0, 1]})],
    )
    result = run_scan(ledger, isolated_home, env={"COPILOT_HOME": str(home)})
    assert (result.sources["copilot-cli"].files, result.malformed) == (2, 2)
    days = totals(ledger, "copilot-cli")
    assert (days["2026-03-01"]["input"], days["2026-03-01"]["output"]) == (700, 80)
    assert (days["2026-03-01"]["cache_read"], days["2026-03-01"]["messages"]) == (100, 2)
    (legacy,) = [e for e in ledger.events() if e.session_id == "sess-3"]
    assert (legacy.model, legacy.input_tokens) == ("gpt-4.1", 40)


def test_copilot_counter_that_went_down_is_a_reset() -> None:
    id_less = copilot_shutdown("", "2026-04-08T07:00:00Z", {"m": [90, 30, 0, 0, 0, 3]})
    del id_less["id"]
    lines = [
        copilot_start("sess-9"),
        CHECKPOINT,
        copilot_shutdown("s1", "2026-04-08T05:00:00Z", {"m": [100, 10, 0, 0, 0, 1]}),
        copilot_shutdown("s2", "2026-04-08T06:00:00Z", {"m": [60, 20, 0, 0, 0, 2]}),
        id_less,
    ]
    encoded = [json.dumps(x).encode() for x in lines]
    records, malformed, _ = copilot_cli.parse_events(encoded, "f")
    assert malformed == 0
    assert [(r.id, r.input_tokens, r.output_tokens, r.project) for r in records] == [
        ("copilot-cli:sess-9:s1:m", 100, 10, "/src/capp"),
        ("copilot-cli:sess-9:s2:m", 60, 20, "/src/capp"),  # went down: a reset
        ("copilot-cli:sess-9:shutdown2:m", 30, 10, "/src/capp"),  # what grew
    ]
    # Read in parts, each with the state the part before left: the same records.
    for cut in range(len(encoded) + 1):
        head, _, state = copilot_cli.parse_events(encoded[:cut], "f")
        tail, _, _ = copilot_cli.parse_events(encoded[cut:], "f", state)
        assert head + tail == records


# -- the CLI's shortcut flags --------------------------------------------------------------------


def test_shortcut_flags_filter_the_new_agents(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    share = isolated_home / ".kimi"
    write_jsonl(kimi_session(share, "/k", "s") / "wire.jsonl", [kimi_update(T0, "a", [5, 1, 0, 0])])
    write_jsonl(
        isolated_home / ".copilot" / "session-state" / "c" / "events.jsonl",
        [copilot_shutdown("s", "2026-02-15T10:00:00Z", {"gpt-5.1": [9, 2, 0, 0, 0, 1]})],
    )
    when = datetime(2026, 2, 15, 12, 0, tzinfo=timezone.utc)
    write_settings(
        isolated_home / ".factory" / "sessions" / "p" / "d.settings.json",
        droid_settings([3, 1, 0, 0, 0], model="gpt-5.1"),
        when,
    )
    for flag, expected in (("--kimi", 6), ("--copilot", 11), ("--droid", 4)):
        code = main(["daily", "--json", "--tz", "UTC", flag])
        data = json.loads(capsys.readouterr().out)
        assert (code, data["totals"]["totalTokens"]) == (0, expected), flag


def test_copilot_shutdown_still_being_written(ledger: Ledger, isolated_home: Path) -> None:
    events_file = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    line = json.dumps(
        copilot_shutdown("s1", "2026-04-08T05:00:00Z", {"gpt-5.1": [30, 3, 0, 0, 0, 1]})
    )
    write_jsonl(events_file, [copilot_start("s")])
    with events_file.open("a") as handle:
        handle.write(line[:40])  # the CLI is mid-write
    first = run_scan(ledger, isolated_home)
    assert (first.malformed, list(ledger.events())) == (0, [])
    with events_file.open("a") as handle:
        handle.write(line[40:] + "\n")
    run_scan(ledger, isolated_home)
    (event,) = list(ledger.events())
    assert (event.input_tokens, event.output_tokens, event.project) == (30, 3, "/src/capp")


# -- review findings: hostile and odd inputs -----------------------------------------------------


def test_kimi_odd_settings_never_stop_a_file(ledger: Ledger, isolated_home: Path) -> None:
    share = isolated_home / ".kimi"
    folder = kimi_session(share, "/src/k", "s-odd")
    (share / "config.toml").write_text('default_model = "k"\nmodels = ["x"]\n')  # not a table
    (share / "kimi.json").write_text('{"work_dirs": [{"path": "\\ud800"}, {"path": "/src/k"}]}')
    nested = {"type": "SubagentEvent", "payload": {"agent_id": "a\u0000b", "event": None}}
    evil = "../../../../etc"
    write_jsonl(
        folder / "wire.jsonl",
        [
            kimi_update(T0, "m1", [1, 1, 0, 0]),
            {"timestamp": T0 + 1, "message": nested},
            *(
                {
                    "timestamp": T0 + 2 + n,
                    "message": {
                        "type": "SubagentEvent",
                        "payload": {"agent_id": agent, "event": kimi_update(0, mid, u)["message"]},
                    },
                }
                for n, (agent, mid, u) in enumerate(
                    [("a\u0000b", "m2", [2, 0, 0, 0]), (evil, "m3", [3, 0, 0, 0])]
                )
            ),
            {
                "timestamp": T0 + 9,
                "message": {
                    "type": "SubagentEvent",  # older versions name the task, not the agent
                    "payload": {
                        "task_tool_call_id": "deep",
                        "event": kimi_update(0, "m4", [4, 0, 0, 0])["message"],
                    },
                },
            },
        ],
    )
    (folder / "subagents" / "deep").mkdir(parents=True)
    (folder / "subagents" / "deep" / "meta.json").write_text("[" * 100_000)
    result = run_scan(ledger, isolated_home)
    assert result.sources["kimi-cli"].skipped == 0
    events = {e.id: e for e in ledger.events()}
    assert sorted(events) == [f"kimi-cli:m{n}" for n in (1, 2, 3, 4)]
    assert {e.model for e in events.values()} == {"k"}  # the key, as no table maps it
    # A lone surrogate is not UTF-8 JSON: kimi.json names no work dir, the usage still counts.
    assert {e.project for e in events.values()} == {None}


def test_kimi_remote_work_dirs_carry_their_kaos_prefix() -> None:
    data = json.dumps({"work_dirs": [{"path": "/w", "kaos": "ssh"}, {"path": "/v"}]}).encode()
    md5 = hashlib.md5
    assert kimi_cli.work_dirs(data) == {
        f"ssh_{md5(b'/w').hexdigest()}": "/w",
        md5(b"/v").hexdigest(): "/v",
    }


def test_copilot_totals_depend_on_the_file_not_on_scan_history(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    """Old-CLI shutdowns (full segments), then an upgrade: a checkpoint and a cumulative one."""
    lines = [
        copilot_shutdown("a", "2026-03-01T10:00:00Z", {"m": [500, 50, 0, 0, 0, 1]}),
        copilot_shutdown("b", "2026-03-01T11:00:00Z", {"m": [600, 60, 0, 0, 0, 1]}),
        CHECKPOINT | {"timestamp": "2026-03-01T11:30:00Z"},
        copilot_shutdown("c", "2026-03-01T12:00:00Z", {"m": [700, 70, 0, 0, 0, 2]}),
    ]
    grown = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    for line in lines:  # scanned while it grew, line by line
        write_jsonl(grown, [line], mode="a")
        run_scan(ledger, isolated_home)
    with Ledger(str(tmp_path / "fresh.db")) as fresh:  # the finished file, in one scan
        run_scan(fresh, isolated_home)
        assert totals(fresh, "copilot-cli") == totals(ledger, "copilot-cli")
    day = totals(ledger, "copilot-cli")["2026-03-01"]
    assert (day["input"], day["output"], day["messages"]) == (500 + 600 + 100, 50 + 60 + 10, 3)


def test_copilot_odd_lines() -> None:
    mention = {"type": "user.message", "data": {"content": "session.shutdown"}}  # the marker
    odd_type = {"type": ["session.start"], "data": {}}
    no_ids = [
        {
            k: v
            for k, v in copilot_shutdown("x", ts, {"m": [10, 5, 0, 0, 9, 1]}).items()
            if k != "id"
        }
        for ts in ("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z")
    ]
    bad_model = copilot_shutdown("y", "2026-03-01T12:00:00Z", {"ok": [4, 1, 0, 0, 0, 1]})
    bad_model["data"]["modelMetrics"]["bad"] = {"usage": {"inputTokens": 1.5}}
    huge = copilot_shutdown("z", "2026-03-01T13:00:00Z", {"big": [10**30, 1, 0, 0, 0, 1]})
    lines = [mention, odd_type, *no_ids, bad_model, huge]
    records, malformed, _ = copilot_cli.parse_events([json.dumps(x).encode() for x in lines], "f")
    assert malformed == 2  # the bad model and the impossible count; the mentions are no events
    assert [(r.id, r.input_tokens, r.output_tokens, r.reasoning_tokens) for r in records] == [
        ("copilot-cli:f:shutdown0:m", 10, 5, 5),  # reasoning is part of output: capped by it
        ("copilot-cli:f:shutdown1:m", 10, 5, 5),
        ("copilot-cli:f:y:ok", 4, 1, 0),
    ]


def test_droid_dates_stay_while_totals_do(ledger: Ledger, isolated_home: Path) -> None:
    settings = isolated_home / ".factory" / "sessions" / "p" / "d.settings.json"
    usage = droid_settings([100, 10, 0, 0, 0], model="gpt-5.1")
    write_settings(settings, usage, datetime(2025, 11, 4, 12, 0, tzinfo=timezone.utc))
    run_scan(ledger, isolated_home)
    # A month later only a setting changed (and the file was replaced by a rename).
    settings.unlink()
    write_settings(
        settings, usage | {"autonomyMode": "high"}, datetime(2025, 12, 9, tzinfo=timezone.utc)
    )
    run_scan(ledger, isolated_home)
    assert list(totals(ledger, "droid")) == ["2025-11-04"]


def test_droid_lock_time_when_later_than_the_file(ledger: Ledger, isolated_home: Path) -> None:
    root = isolated_home / ".factory" / "sessions" / "p"
    old_mtime = datetime(2020, 1, 1, tzinfo=timezone.utc)  # a copy that lost its times
    for name, lock in (
        ("a", "2025-11-04T10:26:09.323Z"),
        ("b", "2025-11-05T23:30:00"),  # no zone: UTC
        ("c", "yesterday"),  # not a time: only the date is lost, not the usage
        ("d", "9999-12-31T23:00:00-05:00"),
    ):
        usage = droid_settings([1, 1, 0, 0, 0], model="gpt-5.1", providerLockTimestamp=lock)
        write_settings(root / f"{name}.settings.json", usage, old_mtime)
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 0
    dates = {e.id: e.ts for e in ledger.events()}
    assert dates == {
        "droid:a": datetime(2025, 11, 4, 10, 26, 9, 323000, tzinfo=timezone.utc),
        "droid:b": datetime(2025, 11, 5, 23, 30, tzinfo=timezone.utc),
        "droid:c": old_mtime,
        "droid:d": old_mtime,
    }


def test_impossible_counts_and_times_are_malformed_not_fatal(
    ledger: Ledger, isolated_home: Path
) -> None:
    """Any source: a count no real call has, or a time past datetime's range, skips that entry
    (counted) and the scan goes on."""
    root = isolated_home / ".copilot" / "session-state"
    write_jsonl(
        root / "s" / "events.jsonl",
        [
            copilot_shutdown("far", "9999-12-31T23:00:00-05:00", {"m": [5, 1, 0, 0, 0, 1]}),
            copilot_shutdown("ok", "2026-01-01T00:00:00Z", {"gpt-5": [7, 1, 0, 0, 0, 1]}),
        ],
    )
    project = isolated_home / ".claude" / "projects" / "p"
    huge = claude_line("m1", "r1", input_tokens=10**30)
    write_jsonl(project / "s.jsonl", [huge, claude_line("m2", "r2", input_tokens=3)])
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 2
    assert sorted(e.input_tokens for e in ledger.events()) == [3, 7]


def test_copilot_last_line_without_newline_counts(ledger: Ledger, isolated_home: Path) -> None:
    events_file = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    events_file.parent.mkdir(parents=True)
    line = copilot_shutdown("s1", "2026-04-08T05:00:00Z", {"gpt-5.1": [30, 3, 0, 0, 0, 1]})
    events_file.write_text(json.dumps(line))  # complete JSON, no newline after it
    run_scan(ledger, isolated_home)
    assert [e.input_tokens for e in ledger.events()] == [30]


def test_copilot_cursor_without_state_reads_from_the_start(
    ledger: Ledger, isolated_home: Path
) -> None:
    """A cursor with an offset but no parser state (what the whole-file reader of older
    versions stored): the file is read again from the start, nothing counted twice."""
    events_file = isolated_home / ".copilot" / "session-state" / "s" / "events.jsonl"
    first = copilot_shutdown("a", "2026-01-01T10:00:00Z", {"m": [500, 50, 0, 0, 0, 1]})
    write_jsonl(events_file, [copilot_start("s"), CHECKPOINT, first])
    run_scan(ledger, isolated_home)
    ledger.store._conn.execute("UPDATE scan_files SET carry = NULL")
    second = copilot_shutdown("b", "2026-01-02T10:00:00Z", {"m": [1500, 150, 0, 0, 0, 2]})
    write_jsonl(events_file, [second], mode="a")
    run_scan(ledger, isolated_home)
    days = totals(ledger, "copilot-cli")
    assert (days["2026-01-01"]["input"], days["2026-01-02"]["input"]) == (500, 1000)
    assert {e.project for e in ledger.events()} == {"/src/capp"}


def test_deep_nesting_and_counts_past_the_limit_are_malformed(
    ledger: Ledger, isolated_home: Path
) -> None:
    deep = '{"type": "assistant", "usage": 1, "x": ' + "[" * 5000 + "]" * 5000 + "}"
    over = claude_line("m1", "r1", output=2 * 10**12)  # above COUNT_LIMIT, in int64
    project = isolated_home / ".claude" / "projects" / "p"
    write_jsonl(project / "s.jsonl", [deep, over, claude_line("m2", "r2", output=7)])
    folder = kimi_session(isolated_home / ".kimi", "/k", "s")
    kimi_deep = '{"timestamp": 1, "token_usage": 1, "x": ' + "[" * 5000 + "]" * 5000 + "}"
    write_jsonl(folder / "wire.jsonl", [kimi_deep, kimi_update(T0, "a", [5, 1, 0, 0])])
    write_jsonl(
        isolated_home / ".copilot" / "session-state" / "c" / "events.jsonl",
        [copilot_shutdown("y1", "0001-01-01T00:00:00+05:00", {"m": [3, 1, 0, 0, 0, 1]})],
    )
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, sum(s.skipped for s in result.sources.values())) == (4, 0)
    assert sorted(e.output_tokens for e in ledger.events()) == [1, 7]


def test_droid_date_survives_a_read_mid_write_and_a_rename(
    ledger: Ledger, isolated_home: Path
) -> None:
    settings = isolated_home / ".factory" / "sessions" / "p" / "d.settings.json"
    usage = droid_settings([100, 10, 0, 0, 0], model="gpt-5.1")
    write_settings(settings, usage, datetime(2025, 11, 4, 12, 0, tzinfo=timezone.utc))
    run_scan(ledger, isolated_home)
    settings.write_text('{"tokenUsage": {"inputTok')  # caught while Droid rewrites it
    assert run_scan(ledger, isolated_home).malformed == 1
    fresh = settings.with_name("tmp.json")  # written beside it, renamed over it: a new inode
    write_settings(fresh, usage, datetime(2025, 12, 9, tzinfo=timezone.utc))
    os.replace(fresh, settings)
    run_scan(ledger, isolated_home)
    assert list(totals(ledger, "droid")) == ["2025-11-04"]
