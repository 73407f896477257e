"""The command line end to end: record, reports, prices, export, reprice and bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.conftest import CliRunner

SONNET = ["--model", "claude-sonnet-4-5", "--input", "1000", "--cache-read", "2000"]
SONNET += ["--cache-write", "300", "--output", "500"]


def test_issue_example_record_then_daily_json(cli: CliRunner) -> None:
    assert cli("record", *SONNET).code == 0
    result = cli("daily", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["totals"]["totalCost"] == 0.012225
    assert data["totals"]["totalTokens"] == 3800
    (day,) = data["daily"]
    assert day["inputTokens"] == 1000
    assert day["cacheCreationTokens"] == 300
    assert day["cacheReadTokens"] == 2000
    assert day["modelsUsed"] == ["claude-sonnet-4-5"]
    assert day["modelBreakdowns"][0]["modelName"] == "claude-sonnet-4-5"


def test_record_with_id_is_idempotent(cli: CliRunner) -> None:
    for _ in range(3):
        assert cli("record", *SONNET, "--id", "job-42").code == 0
    assert cli("daily", "--json").json()["totals"]["requests"] == 1


def test_days_are_grouped_in_the_requested_zone(cli: CliRunner) -> None:
    # 23:30 UTC on the 20th is the 21st in Tokyo and still the 20th in New York.
    cli("record", "--model", "gpt-4o", "--input", "10", "--ts", "2025-08-20T23:30:00Z")
    cli("record", "--model", "gpt-4o", "--input", "5", "--ts", "2025-08-20T12:00:00Z")
    utc = cli("daily", "--json", "--tz", "UTC").json()["daily"]
    tokyo = cli("daily", "--json", "--tz", "Asia/Tokyo").json()["daily"]
    assert [(d["date"], d["inputTokens"]) for d in utc] == [("2025-08-20", 15)]
    assert [(d["date"], d["inputTokens"]) for d in tokyo] == [
        ("2025-08-20", 5),
        ("2025-08-21", 10),
    ]


def test_local_zone_is_the_default(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    cli("record", "--model", "gpt-4o", "--input", "10", "--ts", "2025-08-20T23:30:00Z")
    data = cli("daily", "--json").json()
    assert data["timezone"] == "Asia/Tokyo"
    assert data["daily"][0]["date"] == "2025-08-21"


def _seed(cli: CliRunner) -> None:
    rows = [
        ("2025-08-04T10:00:00Z", "gpt-4o", "alice", "acme", "100", "10"),
        ("2025-08-05T10:00:00Z", "claude-sonnet-4-5", "bob", "acme", "200", "20"),
        ("2025-08-20T10:00:00Z", "gpt-4o", "alice", "beta", "300", "30"),
        ("2025-09-01T10:00:00Z", "gpt-4o", "bob", "beta", "400", "40"),
    ]
    for ts, model, user, org, tin, tout in rows:
        code = cli(
            "record",
            "--model",
            model,
            "--user",
            user,
            "--org",
            org,
            "--input",
            tin,
            "--output",
            tout,
            "--ts",
            ts,
            "--session",
            f"s-{user}",
        ).code
        assert code == 0


def test_weekly_monthly_models_sessions(cli: CliRunner) -> None:
    _seed(cli)
    weekly = cli("weekly", "--json", "--tz", "UTC").json()["weekly"]
    assert [(w["week"], w["inputTokens"]) for w in weekly] == [
        ("2025-08-04", 300),
        ("2025-08-18", 300),
        ("2025-09-01", 400),
    ]
    monthly = cli("monthly", "--json", "--tz", "UTC").json()["monthly"]
    assert [(m["month"], m["inputTokens"]) for m in monthly] == [
        ("2025-08", 600),
        ("2025-09", 400),
    ]
    # Days folded into a month: each model's breakdown sums its days once, and they add up.
    for month in monthly:
        parts = month["modelBreakdowns"]
        assert sum(b["inputTokens"] for b in parts) == month["inputTokens"]
        assert sum(b["outputTokens"] for b in parts) == month["outputTokens"]
    assert cli("monthly", "--json", "--tz", "UTC").json()["totals"]["inputTokens"] == 1000
    models = cli("models", "--json", "--tz", "UTC").json()["models"]
    assert {m["model"]: m["inputTokens"] for m in models} == {
        "gpt-4o": 800,
        "claude-sonnet-4-5": 200,
    }
    sessions = cli("sessions", "--json", "--tz", "UTC").json()["sessions"]
    assert {s["sessionId"]: s["inputTokens"] for s in sessions} == {"s-alice": 400, "s-bob": 600}


def test_group_by_and_filters(cli: CliRunner) -> None:
    _seed(cli)
    by_user = cli("monthly", "--json", "--tz", "UTC", "--group-by", "user").json()["monthly"]
    assert {(r["month"], r["userId"], r["inputTokens"]) for r in by_user} == {
        ("2025-08", "alice", 400),
        ("2025-08", "bob", 200),
        ("2025-09", "bob", 400),
    }
    only_bob = cli("daily", "--json", "--tz", "UTC", "--user", "bob").json()
    assert only_bob["totals"]["inputTokens"] == 600
    window = cli(
        "daily", "--json", "--tz", "UTC", "--since", "20250805", "--until", "2025-08-20"
    ).json()
    assert window["totals"]["inputTokens"] == 500
    model = cli("daily", "--json", "--tz", "UTC", "--model", "claude-sonnet-4-5").json()
    assert model["totals"]["inputTokens"] == 200
    year = cli("daily", "--json", "--tz", "UTC", "--year", "2024").json()
    assert year["daily"] == [] and year["totals"]["inputTokens"] == 0


def test_table_has_totals_requests_and_fits_80_columns(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(cli)
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("daily", "--tz", "UTC", "--breakdown")
    assert result.code == 0
    lines = result.out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("│ TOTAL") for line in lines)
    assert "Total Requests: 4" in result.out
    assert "1,000" in result.out  # thousands separators
    assert "\x1b[" not in result.out  # no colors when not a terminal


def test_narrow_terminal_drops_columns_not_rows(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(cli)
    cli("record", "--model", "claude-sonnet-4-5", "--input", "1", "--cache-read", "5")
    monkeypatch.setenv("COLUMNS", "60")
    result = cli("daily", "--tz", "UTC")
    assert max(len(line) for line in result.out.splitlines()[:20]) <= 60
    assert "2025-09-01" in result.out and "TOTAL" in result.out


def test_unpriced_model_is_shown_not_zero(cli: CliRunner) -> None:
    cli("record", "--model", "claude-sonnet-4-7", "--input", "10", "--output", "1")
    data = cli("daily", "--json").json()
    assert data["unpricedModels"] == ["claude-sonnet-4-7"]
    assert data["totals"]["unpricedRequests"] == 1
    text = cli("daily").out
    assert "unpriced*" in text and "claude-sonnet-4-7" in text


def test_csv_report(cli: CliRunner) -> None:
    _seed(cli)
    rows = list(csv.DictReader(io.StringIO(cli("monthly", "--csv", "--tz", "UTC").out)))
    assert [(r["month"], r["inputTokens"]) for r in rows] == [
        ("2025-08", "600"),
        ("2025-09", "400"),
    ]


def test_export_every_field(cli: CliRunner, tmp_path: Path) -> None:
    _seed(cli)
    lines = cli("export", "--json").out.splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 4
    assert {"id", "ts", "user_id", "org_id", "cost_nanos", "price_version", "tags"} <= set(
        events[0]
    )
    target = tmp_path / "out.csv"
    assert cli("export", "--csv", "--user", "alice", "-o", str(target)).code == 0
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 2 and {r["user_id"] for r in rows} == {"alice"}


def test_prices_shows_matched_entry(cli: CliRunner) -> None:
    result = cli("prices", "claude-sonnet-4-5-20250929", "--json")
    data = result.json()
    assert data["matched"] in {"claude-sonnet-4-5", "claude-sonnet-4-5-20250929"}
    base = data["usdPerMillionTokens"][0]
    assert (base["input"], base["output"], base["cache_read"]) == ("3", "15", "0.3")
    assert "input > 128,000" in cli("prices", "dashscope/qwen3-max").out
    unknown = cli("prices", "gpt-9-mini")
    assert unknown.code == 1 and "unpriced" in unknown.out


def test_prices_refresh_failure_is_a_warning(cli: CliRunner) -> None:
    result = cli("prices", "--refresh", "--url", "http://127.0.0.1:9/x.json")
    assert result.code == 0
    assert result.err.startswith("llmledger: warning:")


def test_reprice_after_adding_a_price(cli: CliRunner, tmp_path: Path) -> None:
    cli("record", "--model", "inhouse-llm", "--input", "1000000", "--output", "0")
    assert cli("daily", "--json").json()["unpricedModels"] == ["inhouse-llm"]
    config = tmp_path / "c.toml"
    config.write_text(
        '[pricing.models."inhouse-llm"]\ninput_per_million = 2\noutput_per_million = 4\n'
    )
    result = cli("reprice", "--config", str(config))
    assert result.code == 0 and "repriced 1 event" in result.out
    data = cli("daily", "--json").json()
    assert data["totals"]["totalCost"] == 2.0 and data["unpricedModels"] == []


# -- bad input: one line, right exit code, nothing written ------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "fragment"),
    [
        (["daily", "--since", "2025-02-30"], 2, "--since '2025-02-30' is not a date"),
        (["daily", "--until", "yesterday"], 2, "--until 'yesterday' is not a date"),
        (["daily", "--since", "2025-09-01", "--until", "2025-08-01"], 2, "is after"),
        (["daily", "--tz", "Mars/Olympus"], 1, "unknown time zone 'Mars/Olympus'"),
        (["record", "--model", "m", "--input", "-5"], 2, "negative"),
        (["record", "--model", "m", "--input", "lots"], 2, "not a whole number"),
        (["record", "--model", "m", "--ts", "not-a-time"], 1, "ISO-8601"),
        (["record", "--model", "m", "--output", "5", "--reasoning", "9"], 2, "cannot exceed"),
        (["record", "--model", "m", "--cost", "cheap"], 1, "cost"),
        (["daily", "--group-by", "planet"], 2, "invalid choice"),
        (["dailyy"], 2, "invalid choice"),
    ],
)
def test_bad_input_is_one_line(
    cli: CliRunner, db_path: Path, argv: list[str], code: int, fragment: str
) -> None:
    result = cli(*argv)
    assert result.code == code
    assert result.err.count("\n") == 1 and result.err.startswith("llmledger: error:")
    assert fragment in result.err
    assert "Traceback" not in result.err
    if db_path.exists():
        assert sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_corrupt_config_names_the_file(cli: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[pricing\nnope = ")
    result = cli("record", *SONNET, "--config", str(config))
    assert result.code == 1 and str(config) in result.err
    assert result.err.count("\n") == 1


def test_missing_explicit_config_is_an_error(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("daily", "--config", str(tmp_path / "nope.toml"))
    assert result.code == 1 and "config file not found" in result.err


def test_database_that_is_not_ours(cli: CliRunner, tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    result = cli("record", *SONNET, db=other)
    assert result.code == 1 and "not an llmledger" in result.err
    tables = {r[0] for r in sqlite3.connect(other).execute("SELECT name FROM sqlite_master")}
    assert tables == {"users"}


def test_console_script_no_traceback_and_help(tmp_path: Path) -> None:
    env = {**os.environ, "LLMLEDGER_DB": str(tmp_path / "l.db")}
    cmd = [sys.executable, "-m", "llmledger.cli.main"]
    bad = subprocess.run(
        [*cmd, "daily", "--tz", "Nowhere/Land"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    helped = subprocess.run([*cmd, "--help"], capture_output=True, text=True, env=env, check=False)
    assert helped.returncode == 0
    for command in ("daily", "monthly", "models", "record", "prices", "export"):
        assert command in helped.stdout


EXPECTED_TABLE = """\
LLM usage — daily (UTC)
┌────────────┬──────────────┬───────────────┬──────────────┬────────────┐
│ Date       │ Input Tokens │ Output Tokens │ Total Tokens │ Cost (USD) │
├────────────┼──────────────┼───────────────┼──────────────┼────────────┤
│ 2025-08-20 │       12,500 │         8,300 │       20,800 │      $0.11 │
│ 2025-08-21 │       23,950 │        14,500 │       38,450 │      $0.20 │
├────────────┼──────────────┼───────────────┼──────────────┼────────────┤
│ TOTAL      │       36,450 │        22,800 │       59,250 │      $0.32 │
└────────────┴──────────────┴───────────────┴──────────────┴────────────┘
Total Requests: 2
"""


def test_daily_table_exact_output(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # gpt-4o: $2.50/M input, $10/M output
    cli(
        "record",
        "--model",
        "gpt-4o",
        "--ts",
        "2025-08-20T10:00:00Z",
        "--input",
        "12500",
        "--output",
        "8300",
    )
    cli(
        "record",
        "--model",
        "gpt-4o",
        "--ts",
        "2025-08-21T10:00:00Z",
        "--input",
        "23950",
        "--output",
        "14500",
    )
    monkeypatch.setenv("COLUMNS", "80")
    assert cli("daily", "--tz", "UTC").out == EXPECTED_TABLE
