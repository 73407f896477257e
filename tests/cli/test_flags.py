"""ccusage's short flags (-s -u -z -j -b -o), --days/--last and --order on the report
commands, taught by --help; -v stays --verbose and export keeps -o for its file."""

from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from pathlib import Path

import pytest

from llmledger.cli.main import build_parser, main
from llmledger.report import timezones
from tests.cli.conftest import Runner

# The fixed "now" of these tests: late on 2025-08-20 in UTC, already the 21st in Tokyo.
NOW = datetime(2025, 8, 20, 23, 45, tzinfo=timezone.utc)


@pytest.fixture
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    def today(zone: tzinfo) -> date:
        return NOW.astimezone(zone).date()

    monkeypatch.setattr(timezones, "today", today)


def dates(run: Runner, *argv: str) -> list[str]:
    result = run("daily", "--json", *argv)
    assert result.code == 0, result.err
    return [row["date"] for row in result.json()["daily"]]


def test_short_flags_mean_the_long_ones(run: Runner) -> None:
    short = run("daily", "-s", "20250805", "-u", "2025-08-20", "-z", "Asia/Tokyo", "-j", "-b")
    long = run(
        "daily", "--since", "20250805", "--until", "2025-08-20", "--tz", "Asia/Tokyo", "--json"
    )
    assert short.code == 0 and short.out == long.out
    assert [d["date"] for d in short.json()["daily"]] == ["2025-08-05", "2025-08-12"]
    table = run("monthly", "-b", "-z", "UTC", columns=120).out
    assert "└ gpt-5-codex" in table


def test_verbose_keeps_v_and_export_keeps_o(run: Runner, tmp_path: Path) -> None:
    args = build_parser().parse_args(["daily", "-v", "-o", "desc", "-s", "20250101"])
    assert (args.verbose, args.order, args.since) == (1, "desc", "20250101")
    out = tmp_path / "events.jsonl"
    assert run("export", "-o", str(out)).code == 0
    assert len(out.read_text().splitlines()) == 7


@pytest.mark.usefixtures("fixed_today")
def test_days_counts_back_from_today_in_the_report_zone(run: Runner) -> None:
    assert dates(run, "--days", "1", "-z", "UTC") == ["2025-08-20"]
    assert dates(run, "--last", "17", "-z", "UTC") == [
        "2025-08-04",
        "2025-08-05",
        "2025-08-12",
        "2025-08-20",
    ]
    assert dates(run, "--days", "16", "-z", "UTC") == ["2025-08-05", "2025-08-12", "2025-08-20"]
    # In Tokyo it is already the 21st: the 23:30 UTC event is on the 21st there.
    assert dates(run, "--days", "1", "-z", "Asia/Tokyo") == ["2025-08-21"]


@pytest.mark.usefixtures("fixed_today")
def test_days_on_every_report_command(run: Runner) -> None:
    for kind in ("weekly", "monthly", "models", "sessions"):
        result = run(kind, "--days", "9", "-j", "-z", "UTC")
        assert result.code == 0, result.err
        assert result.json()["totals"]["inputTokens"] == 8_000  # the 12th and the 20th
    blocks = run("blocks", "--days", "9", "--qwen", "-j", "-z", "UTC")
    assert blocks.code == 0, blocks.err
    assert [b["id"] for b in blocks.json()["blocks"]] == ["2025-08-12T08:00:00Z"]


@pytest.mark.parametrize(
    "argv",
    [
        ("--days", "0"),
        ("--days", "x"),
        ("--days", "3", "--since", "20250801"),
        ("--last", "3", "--until", "20250801"),
        ("--days", "3", "--year", "2025"),
        ("--order", "newest"),
    ],
)
def test_bad_window_is_exit_2(run: Runner, argv: tuple[str, ...]) -> None:
    result = run("daily", *argv)
    assert result.code == 2 and result.out == ""
    assert len(result.err.splitlines()) == 1


def test_order_desc_puts_the_newest_rows_first(run: Runner) -> None:
    assert dates(run, "-z", "UTC", "-o", "desc") == [
        "2025-09-01",
        "2025-08-20",
        "2025-08-12",
        "2025-08-05",
        "2025-08-04",
    ]
    assert dates(run, "-z", "UTC", "--order", "asc")[0] == "2025-08-04"
    months = run("monthly", "-j", "-o", "desc", "-z", "UTC").json()["monthly"]
    assert [m["month"] for m in months] == ["2025-09", "2025-08"]
    sessions = run("sessions", "-j", "-o", "desc", "-z", "UTC").json()["sessions"]
    last = [s["lastActivity"] for s in sessions]
    assert last == sorted(last, reverse=True)
    csv_lines = run("weekly", "--csv", "-o", "desc", "-z", "UTC").out.splitlines()
    assert [line.split(",")[0] for line in csv_lines[1:]] == [
        "2025-09-01",
        "2025-08-18",
        "2025-08-11",
        "2025-08-04",
    ]


def test_models_are_ordered_by_cost_not_by_order(run: Runner) -> None:
    result = run("models", "-o", "desc")
    assert result.code == 2 and "-o" in result.err


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "models", "sessions", "blocks"])
def test_help_teaches_the_short_flags(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([kind, "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for flag in ("-s DATE, --since DATE", "-u DATE, --until DATE", "-z ZONE, --tz ZONE"):
        assert flag in text
    for flag in ("-j, --json", "-b, --breakdown", "--days N, --last N", "-v, --verbose"):
        assert flag in text
    if kind in ("daily", "weekly", "monthly", "sessions"):
        assert "-o {asc,desc}, --order {asc,desc}" in text
        assert f"llmledger {kind} --days 7 -b" in text and "--model sonnet" in text


def test_options_before_the_command_are_kept(run: Runner) -> None:
    """`llmledger -j daily` is `llmledger daily -j`: the command's defaults do not undo it."""
    before = run("-j", "-z", "UTC", "daily", "-s", "20250805")
    after = run("daily", "-j", "-z", "UTC", "-s", "20250805")
    assert before.code == 0 and before.out == after.out
    assert [d["date"] for d in before.json()["daily"]][:1] == ["2025-08-05"]
    assert run("--csv", "models").out == run("models", "--csv").out


def test_bare_llmledger_takes_order(run: Runner) -> None:
    newest_first = run("-o", "desc", "-j", "-z", "UTC", "--no-scan")
    assert newest_first.code == 0
    days = [d["date"] for d in newest_first.json()["daily"]]
    assert days == sorted(days, reverse=True) and len(days) == 5
