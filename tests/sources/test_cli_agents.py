"""The agent commands through the real CLI entry point: scan, sources, blocks, sessions, and
bare ``llmledger`` (scan, then daily)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmledger.cli.main import main

from .conftest import claude_line, codex_count, codex_turn, write_jsonl


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def logs(isolated_home: Path) -> Path:
    project = isolated_home / ".claude" / "projects" / "-Users-x-proj"
    write_jsonl(
        project / "s1.jsonl",
        [
            claude_line("m1", "r1", output=1, stop=None),
            claude_line("m1", "r1", output=100, ts="2025-09-28T06:17:24.000Z"),
            claude_line("m2", "r2", output=50, ts="2025-09-28T07:00:00.000Z"),
            '{"type":"assistant","message":{"usage":{"input_tokens":',  # cut off
        ],
    )
    rollout = isolated_home / ".codex" / "sessions" / "2025" / "09" / "28" / "rollout-c1.jsonl"
    write_jsonl(
        rollout,
        [
            codex_turn("2025-09-28T08:00:00Z", "gpt-5-codex"),
            codex_count("2025-09-28T08:00:01Z", [1000, 200, 30, 10], [1000, 200, 30, 10]),
        ],
    )
    return isolated_home


def test_scan_json_then_nothing_new(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    code, out, _ = cli(capsys, "scan", "--json")
    data = json.loads(out)
    assert code == 0
    assert {k: data[k] for k in ("files", "read", "written", "malformed")} == {
        "files": 2,
        "read": 2,
        "written": 3,
        "malformed": 1,
    }
    assert data["sources"]["claude-code"] == {
        "files": 1,
        "read": 1,
        "records": 2,
        "malformed": 1,
        "skipped": 0,
    }
    assert data["skipped"] == []
    path = str(logs / ".claude" / "projects" / "-Users-x-proj" / "s1.jsonl")
    assert data["malformedFiles"] == [{"source": "claude-code", "path": path, "entries": 1}]
    _, again, _ = cli(capsys, "scan", "--json")
    assert json.loads(again)["read"] == 0 and json.loads(again)["unchanged"] == 2


def test_scan_verbose_lists_skipped_files(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    db = logs / ".local" / "share" / "opencode" / "opencode.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 100)
    code, out, _ = cli(capsys, "scan", "-v")
    assert code == 0
    assert f"skipped {db} (opencode): " in out
    transcript = logs / ".claude" / "projects" / "-Users-x-proj" / "s1.jsonl"
    assert f"malformed {transcript} (claude-code): 1 entries skipped" in out
    assert "1 files skipped" in out
    _, quiet, _ = cli(capsys, "scan")
    assert "(-v lists the skipped files)" in quiet
    _, _, err = cli(capsys, "daily", "--json")
    assert "1 log file(s) could not be read" in err


def test_scan_with_a_source_filter(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    _, out, _ = cli(capsys, "scan", "--codex", "--json")
    assert json.loads(out)["written"] == 1
    code, _, err = cli(capsys, "scan", "--source", "proxy")
    assert code == 2 and "no agent-log source" in err


def test_bare_llmledger_scans_then_shows_daily(
    capsys: pytest.CaptureFixture[str], logs: Path
) -> None:
    code, out, _ = cli(capsys, "--json", "--tz", "UTC")
    data: dict[str, Any] = json.loads(out)
    assert code == 0
    (day,) = data["daily"]
    assert day["date"] == "2025-09-28"
    assert day["outputTokens"] == 100 + 50 + 30
    assert day["requests"] == 3
    assert data["totals"]["totalTokens"] == day["totalTokens"]
    _, claude_only, _ = cli(capsys, "daily", "--json", "--claude", "--no-scan", "--tz", "UTC")
    assert json.loads(claude_only)["daily"][0]["outputTokens"] == 150


def test_no_scan_reads_nothing(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    _, out, _ = cli(capsys, "daily", "--json", "--no-scan")
    assert json.loads(out)["daily"] == []


def test_sessions_show_agent_session_and_project(
    capsys: pytest.CaptureFixture[str], logs: Path
) -> None:
    _, out, _ = cli(capsys, "sessions", "--json")
    rows = {row["sessionId"]: row for row in json.loads(out)["sessions"]}
    assert rows["s1"]["source"] == "claude-code"
    assert rows["s1"]["projectPath"] == "/Users/x/proj"
    assert rows["s1"]["outputTokens"] == 150
    assert rows["rollout-c1"]["source"] == "codex"


def test_sources_json(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    code, out, _ = cli(capsys, "sources", "--json")
    by_name = {s["source"]: s for s in json.loads(out)["sources"]}
    assert code == 0
    claude = by_name["claude-code"]
    assert claude["files"] == 1 and claude["events"] == 2
    assert (claude["firstDate"], claude["lastDate"]) == ("2025-09-28", "2025-09-28")
    assert {"path": str(logs / ".claude" / "projects"), "exists": True} in claude["locations"]
    assert by_name["opencode"]["files"] == 0 and by_name["opencode"]["events"] == 0
    _, text, _ = cli(capsys, "sources", "--no-scan")
    assert "Claude Code" in text and "Codex CLI" in text


def test_blocks_json_and_text(capsys: pytest.CaptureFixture[str], logs: Path) -> None:
    code, out, _ = cli(capsys, "blocks", "--json", "--token-limit", "1000000")
    (block,) = json.loads(out)["blocks"]
    assert code == 0
    assert block["startTime"] == "2025-09-28T06:00:00Z"
    assert block["endTime"] == "2025-09-28T11:00:00Z"
    assert block["entries"] == 2 and block["isActive"] is False
    assert block["tokenCounts"]["outputTokens"] == 150
    assert block["models"] == ["claude-sonnet-4-20250514"]
    assert block["percentOfLimit"] == round(block["totalTokens"] / 10_000, 1)
    _, codex, _ = cli(capsys, "blocks", "--json", "--codex")
    assert json.loads(codex)["blocks"][0]["startTime"] == "2025-09-28T08:00:00Z"
    _, text, _ = cli(capsys, "blocks", "--tz", "UTC")
    assert "2025-09-28 06:00" in text and "no active block" in text
    code, _, err = cli(capsys, "blocks", "--token-limit", "lots")
    assert code == 2 and "--token-limit" in err


def test_progress_bar_draws_on_a_terminal_only() -> None:
    import io
    import os

    from llmledger.cli.agents import Progress

    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        bar = Progress(terminal, after=0.0)
        bar(50, 100)
        bar.close()
    chunks = []
    while True:  # the terminal is closed: read until it reports the end (EIO on Linux)
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    drawn = b"".join(chunks).decode()
    assert "scanning agent logs [###############---------------]  50.0%" in drawn
    assert drawn.endswith("\r\x1b[2K")
    piped = io.StringIO()
    quiet = Progress(piped, after=0.0)
    quiet(50, 100)
    quiet.close()
    assert piped.getvalue() == ""


def test_sources_and_reports_keep_history_of_deleted_transcripts(
    capsys: pytest.CaptureFixture[str], logs: Path
) -> None:
    cli(capsys, "scan")
    (logs / ".claude" / "projects" / "-Users-x-proj" / "s1.jsonl").unlink()
    _, out, _ = cli(capsys, "sources", "--json", "--claude")
    (claude,) = json.loads(out)["sources"]
    assert (claude["files"], claude["filesRemembered"], claude["events"]) == (0, 1, 2)
    _, daily, _ = cli(capsys, "daily", "--json", "--claude", "--tz", "UTC")
    assert json.loads(daily)["daily"][0]["outputTokens"] == 150
