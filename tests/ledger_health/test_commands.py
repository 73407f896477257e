"""export, record, prices and ``python -m llmledger``: one clear line instead of a traceback,
and what each did said plainly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EVENTS, Run

SONNET = ["--model", "claude-sonnet-4-5", "--input", "1000", "--output", "500"]


# -- export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["missing-dir", "directory"])
def test_export_to_a_path_that_cannot_be_a_file_is_one_line(
    run: Run, ledger_path: Path, tmp_path: Path, where: str
) -> None:
    target = tmp_path / "no" / "such" / "x.csv" if where == "missing-dir" else tmp_path
    result = run("export", "--csv", "-o", target, "--db", ledger_path)
    line = result.one_error_line
    assert result.code == 1
    if where == "missing-dir":
        assert f"cannot write {target}: the directory {target.parent} does not exist" in line
    else:
        assert f"-o {target} is a directory; name a file in it" in line


def test_export_writes_the_file_whole(run: Run, ledger_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "events.jsonl"
    target.parent.mkdir()
    target.write_text("old\n")
    assert run("export", "-o", target, "--db", ledger_path).code == 0
    lines = target.read_text().splitlines()
    assert len(lines) == EVENTS and json.loads(lines[0])["model"] == "gpt-4o"
    assert [p.name for p in target.parent.iterdir()] == ["events.jsonl"]


@pytest.mark.parametrize("flag", [["--breakdown"], ["--group-by", "user"]])
def test_export_refuses_report_shaping_options(
    run: Run, ledger_path: Path, flag: list[str]
) -> None:
    result = run("export", *flag, "--db", ledger_path)
    line = result.one_error_line
    assert result.code == 2 and result.out == ""
    assert "export writes every event with every field" in line and flag[0] in line


# -- record ------------------------------------------------------------------------------------


def test_recording_an_id_again_says_nothing_changed(run: Run, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    first = run("record", *SONNET, "--id", "job-42", "--ts", "2026-01-31T12:00:00Z", "--db", db)
    assert first.out.startswith("recorded job-42: claude-sonnet-4-5, 1,500 tokens, $")
    stored = run("export", "--db", db).out
    again = run("record", *SONNET, "--id", "job-42", "--db", db)  # ts: now
    assert again.code == 0
    assert again.out.strip() == (
        "duplicate: job-42 is already recorded (claude-sonnet-4-5, 1,500 tokens, "
        "$0.010500 (computed)); nothing changed"
    )
    assert run("export", "--db", db).out == stored  # the first copy, its time included
    bigger = run("record", "--model", "gpt-4o", "--input", "9000", "--id", "job-42", "--db", db)
    assert "nothing changed" in bigger.out and "gpt-4o with 9,000 tokens, was not stored" in (
        bigger.out
    )
    as_json = json.loads(run("record", *SONNET, "--id", "job-42", "--json", "--db", db).out)
    assert as_json["duplicate"] is True and as_json["ts"] == "2026-01-31T12:00:00Z"
    assert run("export", "--db", db).out == stored


def test_an_unknown_model_says_why_it_is_unpriced(run: Run, tmp_path: Path) -> None:
    result = run("record", "--model", "my-own-llm", "--input", "5", "--db", tmp_path / "l.db")
    assert result.code == 0
    assert result.out.strip().endswith(
        "my-own-llm, 5 tokens, cost: unpriced (model my-own-llm is not in the price list; "
        "see `llmledger prices --list`)"
    )
    assert "unpriced (unpriced)" not in result.out


def test_a_bad_timestamp_names_the_flag(run: Run, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    result = run("record", "--model", "gpt-4o", "--ts", "yesterday", "--db", db)
    assert result.code == 1
    assert result.one_error_line == (
        "llmledger: error: --ts: 'yesterday' is not a date/time "
        "(use ISO-8601, e.g. 2026-01-31T12:00:00Z)"
    )
    assert not db.exists()  # refused before the ledger was opened


# -- prices ------------------------------------------------------------------------------------


def test_prices_searches_when_no_entry_matches(run: Run) -> None:
    result = run("prices", "sonnet")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].endswith("priced models containing 'sonnet', USD per million tokens:")
    assert lines[1].split() == ["Model", "Provider", "Input", "$/M", "Output", "$/M"]
    assert all(len(line) <= 80 for line in lines)
    rows = [line.split() for line in lines[2:-1]]
    assert ["claude-sonnet-4-5", "anthropic", "3", "15"] in rows
    assert all("sonnet" in row[0].lower() or "…" in row[0] for row in rows)
    assert lines[-1].startswith("prices ") and "`llmledger prices NAME`" in lines[-1]
    upper = run("prices", "SONNET")
    assert upper.out == result.out.replace("'sonnet'", "'SONNET'")


def test_prices_list_and_json(run: Run) -> None:
    listed = run("prices", "--list", "--json")
    assert listed.code == 0
    data = listed.json()
    models = {row["model"]: row for row in data["usdPerMillionTokens"]}
    assert len(models) > 1_000
    assert models["gpt-4o"] == {
        "model": "gpt-4o",
        "provider": "openai",
        "input": "2.5",
        "output": "10",
    }
    text = run("prices", "--list").out.splitlines()
    assert len(text) == len(models) + 3 and all(len(line) <= 80 for line in text)
    found = run("prices", "sonnet", "--json").json()
    assert found["query"] == "sonnet" and found["matched"] is None
    assert {row["model"] for row in found["usdPerMillionTokens"]} <= set(models)


def test_prices_for_an_exact_model_is_unchanged(run: Run) -> None:
    result = run("prices", "claude-sonnet-4-5")
    assert result.code == 0
    assert result.out.splitlines()[0].startswith("claude-sonnet-4-5 → claude-sonnet-4-5 (")
    assert "base: input 3, output 15" in result.out
    nothing = run("prices", "gpt-9-mini")
    assert nothing.code == 1 and "no price entry" in nothing.out


# -- python -m llmledger -----------------------------------------------------------------------


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    env = {**os.environ, "LLMLEDGER_DB": str(tmp_path / "l.db")}
    command = [sys.executable, "-m", "llmledger"]
    version = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, env=env, check=False
    )
    assert version.returncode == 0 and version.stdout.startswith("llmledger ")
    recorded = subprocess.run(
        [*command, "record", *SONNET], capture_output=True, text=True, env=env, check=False
    )
    assert recorded.returncode == 0 and recorded.stdout.startswith("recorded ")
    bad = subprocess.run(
        [*command, "daily", "--tz", "Nowhere/Land"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
