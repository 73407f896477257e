"""Copilot CLI's OpenTelemetry file export, scanned into a real SQLite ledger.

``fixtures/copilot_otel_export.jsonl`` has the exact line shape of Copilot CLI's file exporter
as quoted from real runs in public repositories (1.0.86 for the first trace: ``cache_write``
key, a first call with no cache read, an ``invoke_agent`` root with only input/output totals,
a ``"type": "metric"`` line; 1.0.78-2 for the second: ``cache_creation`` key). The token
counts are those real runs' counts; the 1.0.86 ids are made up, as they were in the source.
Every total below is computed by hand from the fixture.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.sources import copilot_otel

from .conftest import run_scan, totals, write_jsonl

FIXTURE = Path(__file__).parent / "fixtures" / "copilot_otel_export.jsonl"
SESSION_86 = "5e0c1f2a-7b3d-4c8e-9f10-2a3b4c5d6e7f"
SESSION_78 = "d85af7c8-bde4-412e-988e-1bf2160178a8"

# 1.0.86: two chat calls (17114 in, of which 17111 written to the cache; then 19374 in,
# 17111 read + 2260 written); the invoke_agent root's 36488/178 repeats their sum.
DAY_86 = {
    "input": 3 + 3,
    "output": 48 + 130,
    "cache_read": 17111,
    "cache_write": 17111 + 2260,
    "cache_write_1h": 0,
    "reasoning": 29 + 78,
    "messages": 2,
}
# 1.0.78-2: 22799 in = 13013 read + 9776 written + 10 fresh.
DAY_78 = {
    "input": 10,
    "output": 77,
    "cache_read": 13013,
    "cache_write": 9776,
    "cache_write_1h": 0,
    "reasoning": 13,
    "messages": 1,
}


def export_to(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURE, path)
    return path


def test_chat_spans_count_once_and_the_agent_total_not_at_all(
    ledger: Ledger, isolated_home: Path
) -> None:
    export_to(isolated_home / ".copilot" / "otel" / "2026-09" / "run.jsonl")
    with (isolated_home / ".copilot" / "otel" / "2026-09" / "run.jsonl").open("a") as handle:
        handle.write('{"type":"span","attributes":{"gen_ai.usage.input_tokens":\n')  # cut off
    result = run_scan(ledger, isolated_home)
    assert result.malformed == 1
    assert totals(ledger, "copilot-otel") == {"2026-09-19": DAY_86, "2026-08-03": DAY_78}
    events = {e.id: e for e in ledger.events()}
    assert set(events) == {
        "otel:0a1b2c3d4e5f60718293a4b5c6d7e8f9:c000000000000000",
        "otel:0a1b2c3d4e5f60718293a4b5c6d7e8f9:c000000000000001",
        "otel:321648a1c0eab9db79a7e72e47d42fac:b51d3cec961bdfe7",
    }
    opus = events["otel:321648a1c0eab9db79a7e72e47d42fac:b51d3cec961bdfe7"]
    assert (opus.model, opus.session_id, opus.source) == (
        "claude-opus-4.6",
        SESSION_78,
        "copilot-otel",
    )
    assert opus.ts.isoformat() == "2026-08-03T16:04:21.496000+00:00"  # the span's end
    assert {e.model for e in events.values()} == {"gpt-5.6-luna", "claude-opus-4.6"}


def test_the_configured_export_path_is_read_and_appended_lines_only(
    ledger: Ledger, isolated_home: Path, tmp_path: Path
) -> None:
    path = export_to(tmp_path / "elsewhere" / "copilot-otel.jsonl")
    env = {copilot_otel.EXPORT_PATH: str(path)}
    first = run_scan(ledger, isolated_home, env=env)
    assert (first.files, first.bytes) == (1, FIXTURE.stat().st_size)
    # The next call of the same session is appended.
    line = json.loads(FIXTURE.read_text().splitlines()[2])
    line["spanId"] = "c000000000000002"
    line["attributes"].update(
        {
            "gen_ai.usage.input_tokens": 19537,
            "gen_ai.usage.cache_read.input_tokens": 19371,
            "gen_ai.usage.cache_write.input_tokens": 163,
            "gen_ai.usage.output_tokens": 52,
            "gen_ai.usage.reasoning.output_tokens": 8,
        }
    )
    appended = json.dumps(line, separators=(",", ":")) + "\n"
    write_jsonl(path, [appended.rstrip("\n")], mode="a")
    second = run_scan(ledger, isolated_home, env=env)
    assert second.bytes == len(appended.encode())  # only the new line was read
    grown = dict(DAY_86, messages=3, input=6 + 3, output=178 + 52, reasoning=107 + 8)
    grown.update(cache_read=17111 + 19371, cache_write=19371 + 163)
    assert totals(ledger, "copilot-otel") == {"2026-09-19": grown, "2026-08-03": DAY_78}
    run_scan(ledger, isolated_home, env=env)
    assert len(list(ledger.events())) == 4


def test_importing_the_file_and_scanning_it_count_each_span_once(
    ledger: Ledger, ledger_url: str, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export_to(isolated_home / ".copilot" / "otel" / "run.jsonl")
    assert main(["--db", ledger_url, "import", "otel", str(path), "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert [(f["events"], f["written"], f["agentTotals"]) for f in imported["files"]] == [(3, 3, 1)]
    run_scan(ledger, isolated_home)
    days = totals(ledger)
    assert days == {"2026-09-19": DAY_86, "2026-08-03": DAY_78}


def test_the_import_too_leaves_a_session_in_session_state_to_copilot_cli(
    ledger: Ledger, ledger_url: str, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = isolated_home / ".copilot" / "session-state"
    write_jsonl(state / SESSION_86 / "events.jsonl", [{"type": "session.start", "data": {}}])
    path = export_to(isolated_home / "copied" / "run.jsonl")
    assert main(["--db", ledger_url, "import", "otel", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: 1 event, 1 new (skipped: 1 record without token usage; "
        "1 agent span totalling its calls; 2 Copilot CLI calls the scan counts from "
        "session-state)\n"
    )
    assert totals(ledger) == {"2026-08-03": DAY_78}


def test_a_session_copilot_keeps_in_session_state_is_left_to_copilot_cli(
    ledger: Ledger, isolated_home: Path
) -> None:
    state = isolated_home / ".copilot" / "session-state"
    write_jsonl(state / SESSION_86 / "events.jsonl", [{"type": "session.start", "data": {}}])
    write_jsonl(state / f"{SESSION_78}.jsonl", [{"type": "session.start", "data": {}}])
    export_to(isolated_home / ".copilot" / "otel" / "run.jsonl")
    result = run_scan(ledger, isolated_home)
    assert (result.malformed, list(ledger.events())) == (0, [])
    (state / f"{SESSION_78}.jsonl").unlink()  # only the older session is still there
    export_to(isolated_home / ".copilot" / "otel" / "again.jsonl")
    run_scan(ledger, isolated_home)
    assert totals(ledger, "copilot-otel") == {"2026-08-03": DAY_78}


def test_where_it_looks(isolated_home: Path, tmp_path: Path) -> None:
    source = copilot_otel.SOURCE
    assert source.roots({"HOME": str(isolated_home)}) == [isolated_home / ".copilot" / "otel"]
    custom = {"HOME": str(isolated_home), "COPILOT_HOME": str(tmp_path / "ch")}
    configured = export_to(tmp_path / "ch" / "otel" / "a.jsonl")
    custom[copilot_otel.EXPORT_PATH] = str(configured)  # the same file: found once
    assert [f.path for f in source.discover(custom)] == [str(configured)]
