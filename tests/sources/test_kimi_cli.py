"""Kimi CLI: wire.jsonl files in an isolated HOME, scanned into a real SQLite ledger; every
total is computed by hand from the lines written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from llmledger.ledger import Ledger
from llmledger.sources import kimi_cli

from .conftest import run_scan, totals, write_jsonl
from .new_agent_logs import (
    T0,
    kimi_session,
    kimi_update,
)


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
