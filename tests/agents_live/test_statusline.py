"""``llmledger statusline`` as Claude Code runs it: a new process per message, its JSON on
stdin (with and without ``rate_limits``), against a prepared ledger and a transcript that grows
between calls. The first call makes the ledger snapshot (filing the transcript as a scan
would); later calls read only the appended bytes and price them with the snapshot's rates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.ledger import Ledger
from llmledger.query import EventFilter

from .claude_lines import MODEL, SESSION, assistant, statusline_input

ESC = "\x1b["


@pytest.fixture
def setup(isolated_home: Path, tmp_path: Path) -> dict[str, Any]:
    db = tmp_path / "ledger.db"
    now = datetime.now(timezone.utc)
    with Ledger(db) as ledger:
        # Today, another agent: counts in "today", not in the session or Claude's block.
        ledger.record(model="gpt-5", ts=now - timedelta(seconds=90), source="codex",
                      input_tokens=100_000, output_tokens=10_000)  # fmt: skip
        # Two days ago, Claude: in nothing shown.
        ledger.record(model=MODEL, ts=now - timedelta(days=2), source="claude-code",
                      input_tokens=5_000, output_tokens=500, session_id="old")  # fmt: skip
    folder = isolated_home / ".claude" / "projects" / "-work-app"
    folder.mkdir(parents=True)
    path = folder / f"{SESSION}.jsonl"
    return {"db": db, "path": path, "now": now}


def _append(path: Path, *lines: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")


def _run(setup: dict[str, Any], payload: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMLEDGER_DB": str(setup["db"]), "TZ": "UTC"}
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run(
        [sys.executable, "-m", "llmledger.statusline", *args],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _figures(setup: dict[str, Any], payload: Any, *args: str) -> dict[str, Any]:
    done = _run(setup, payload, "--json", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _price(**counts: int) -> int:
    with Ledger(":memory:") as ledger:
        cost = ledger.prices.cost_nanos(MODEL, provider="anthropic", **counts)
    assert cost is not None
    return cost


CALL = {"input_tokens": 4, "cache_read_tokens": 10_000, "cache_write_tokens": 2_000}


def test_growing_transcript_without_rate_limits(setup: dict[str, Any]) -> None:
    path, now = setup["path"], setup["now"]
    _append(path, assistant("msg_01", now - timedelta(seconds=60)))
    payload = statusline_input(str(path))
    with Ledger(setup["db"]) as ledger:
        codex_today = ledger.aggregate(EventFilter(equals={"source": ("codex",)}), [])[0]
    other = codex_today.totals.cost_nanos
    first = _price(**CALL, output_tokens=300)

    result = _figures(setup, payload, "--refresh-seconds", "3600")
    assert result["session_tokens"] == 12_304
    assert result["session_cost_nanos"] == first
    assert result["today_cost_nanos"] == other + first
    assert result["block"]["cost_nanos"] == first  # Claude's block only
    assert result["context_percent"] == pytest.approx(12_004 * 100 / 200_000)
    assert result["model"] == "Sonnet 4.5"
    assert "five_hour" not in result and "weekly" not in result
    with Ledger(setup["db"]) as ledger:  # the first call filed the transcript as a scan would
        assert ledger.get("claude:msg_01") is not None
        cursor = ledger.scan_cursors()[str(path)]
        assert cursor.offset == path.stat().st_size

    # A new call and an early streaming copy of the next: read from the appended bytes only,
    # priced with the snapshot's rates; the ledger is not touched (no refresh due).
    _append(
        path,
        assistant("msg_02", now - timedelta(seconds=30), read=20_000, output=1),
        assistant("msg_02", now - timedelta(seconds=29), read=20_000, output=800),
    )
    second = _price(**{**CALL, "cache_read_tokens": 20_000}, output_tokens=800)
    result = _figures(setup, payload, "--refresh-seconds", "3600")
    assert result["session_cost_nanos"] == first + second
    assert result["session_tokens"] == 12_304 + 22_804
    assert result["today_cost_nanos"] == other + first + second
    assert result["block"]["cost_nanos"] == first + second
    assert result["context_percent"] == pytest.approx(22_004 * 100 / 200_000)
    with Ledger(setup["db"]) as ledger:
        assert ledger.get("claude:msg_02") is None

    # A later copy straddling the next snapshot is counted once: refresh now (--sync), then
    # the final copy arrives.
    result = _figures(setup, payload, "--refresh-seconds", "0", "--sync")
    assert result["session_cost_nanos"] == first + second
    with Ledger(setup["db"]) as ledger:
        assert ledger.get("claude:msg_02") is not None
    _append(path, assistant("msg_02", now - timedelta(seconds=28), read=20_000, output=900))
    third = _price(**{**CALL, "cache_read_tokens": 20_000}, output_tokens=900)
    result = _figures(setup, payload, "--refresh-seconds", "3600")
    assert result["session_cost_nanos"] == first + third
    assert result["today_cost_nanos"] == other + first + third

    line = _run(setup, payload, "--refresh-seconds", "3600")
    assert line.returncode == 0
    text = line.stdout.strip()
    assert text.startswith("Sonnet 4.5 | 35.2k tok $")
    assert "today" in text and "block" in text and "left" in text and "ctx 11%" in text
    assert ESC not in text and "official" not in text


def test_rate_limits_are_shown_as_official_and_filed(setup: dict[str, Any]) -> None:
    path, now = setup["path"], setup["now"]
    _append(path, assistant("msg_01", now - timedelta(seconds=60)))
    five_reset = int(time.time()) + 2 * 3600
    week_reset = int(time.time()) + 3 * 86_400
    payload = statusline_input(str(path), limits=(23.5, five_reset, 41.2, week_reset))
    result = _figures(setup, payload)
    assert result["five_hour"]["used_percent"] == 23.5
    assert result["five_hour"]["resets_at_us"] == five_reset * 1_000_000
    assert result["weekly"]["used_percent"] == 41.2
    text = _run(setup, payload, "--color", "never").stdout
    reset_clock = time.strftime("%H:%M", time.gmtime(five_reset))
    assert f"5h 24% ↻{reset_clock} · wk 41% ↻" in text
    assert text.rstrip().endswith("(official)")
    # The readings reach the ledger with the next refresh.
    _figures(setup, payload, "--refresh-seconds", "0", "--sync")
    with Ledger(setup["db"]) as ledger:
        readings = ledger.rate_windows(source="claude-code")
    assert {(r.window, r.used_percent, r.window_minutes) for r in readings} == {
        ("five_hour", 23.5, 300),
        ("seven_day", 41.2, 10080),
    }
    assert {r.session_id for r in readings} == {SESSION}
    # A reading whose window has reset since is not shown.
    stale = statusline_input(str(path), limits=(99.0, int(time.time()) - 5, 41.2, week_reset))
    result = _figures(setup, stale)
    assert "five_hour" not in result and result["weekly"]["used_percent"] == 41.2


def test_format_template_and_colors(setup: dict[str, Any]) -> None:
    path, now = setup["path"], setup["now"]
    _append(path, assistant("msg_01", now - timedelta(seconds=60)))
    payload = statusline_input(str(path), limits=(81.0, int(time.time()) + 3600, 10.0, 0))
    done = _run(setup, payload, "--format", "{model}: {session_cost} [{five_hour}] {nothing}")
    cost = _price(**CALL, output_tokens=300) / 1e9
    assert done.stdout.startswith(f"Sonnet 4.5: ${cost:.2f} [5h 81% ↻")
    assert done.stdout.endswith("] \n")
    colored = _run(setup, payload, "--color", "always").stdout
    assert f"{ESC}31m81%{ESC}0m" in colored  # red from 80 %
    assert f"{ESC}1mSonnet 4.5{ESC}0m" in colored


def test_the_full_command_line_runs_the_same(setup: dict[str, Any]) -> None:
    path, now = setup["path"], setup["now"]
    _append(path, assistant("msg_01", now - timedelta(seconds=60)))
    env = {**os.environ, "LLMLEDGER_DB": str(setup["db"]), "TZ": "UTC"}
    done = subprocess.run(
        [sys.executable, "-m", "llmledger.cli.main", "statusline", "--format", "{session}"],
        input=json.dumps(statusline_input(str(path))),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("12.3k tok $0.")


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "no statusline JSON on stdin"),
        ("{not json", "the statusline input is not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"session_id": "x"}', "names no transcript_path"),
    ],
)
def test_bad_input_says_what_is_wrong(setup: dict[str, Any], stdin: str, message: str) -> None:
    done = _run(setup, stdin)
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr and done.stderr.startswith("llmledger statusline: ")


def test_bad_options(setup: dict[str, Any]) -> None:
    for args, message in (
        (("--color", "sometimes"), "--color 'sometimes'"),
        (("--bogus",), "unknown option '--bogus'"),
        (("--format",), "--format needs a value"),
        (("--refresh-seconds", "soon"), "is not a number"),
        (("--tz", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    ):
        done = _run(setup, "{}", *args)
        assert (done.returncode, done.stdout) == (2, "")
        assert message in done.stderr


def test_a_missing_or_replaced_transcript(setup: dict[str, Any]) -> None:
    path, now = setup["path"], setup["now"]
    payload = statusline_input(str(path))
    result = _figures(setup, payload)  # not written yet: the ledger's figures, no session
    assert result["session_tokens"] == 0 and result["block"] is None
    _append(path, assistant("msg_01", now - timedelta(seconds=60), output=300))
    _figures(setup, payload, "--refresh-seconds", "0", "--sync")  # msg_01 is in the ledger
    path.unlink()  # replaced by a shorter file with another call
    _append(path, assistant("msg_09", now - timedelta(seconds=10), output=1))
    result = _figures(setup, payload, "--refresh-seconds", "3600", "--sync")
    assert result["session_cost_nanos"] == _price(**CALL, output_tokens=300) + _price(
        **CALL, output_tokens=1
    )


def test_codex_session_with_its_official_windows(setup: dict[str, Any], tmp_path: Path) -> None:
    from .codex_lines import SESSION as CODEX_SESSION
    from .codex_lines import absolute_limits, meta, token_count, turn
    from .codex_lines import tokens as codex_tokens

    home = tmp_path / "codex"
    folder = home / "sessions" / "2026" / "12" / "07"
    folder.mkdir(parents=True)
    path = folder / f"rollout-2026-12-07T10-00-00-{CODEX_SESSION}.jsonl"
    now = setup["now"]

    def at(seconds: int) -> str:
        moment = now - timedelta(seconds=seconds)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    resets = int(time.time()) + 3600
    lines = [
        meta(at(120)),
        turn(at(120)),
        token_count(at(100), codex_tokens(1000, 1000), absolute_limits(12.0, resets)),
    ]
    _append(path, *lines)
    setup = {**setup, "env": {"CODEX_HOME": str(home)}}
    os.environ["CODEX_HOME"] = str(home)
    try:
        result = _figures(setup, "", "--codex")
        assert result["model"] == "gpt-5-codex"
        assert result["session"] == CODEX_SESSION
        assert result["five_hour"]["used_percent"] == 12.0
        with Ledger(":memory:") as ledger:
            first = ledger.prices.cost_nanos(
                "gpt-5-codex", provider="openai", input_tokens=1000, output_tokens=10
            )
        assert result["session_cost_nanos"] == first
        # The next event, read from the appended bytes: its usage and its newer reading.
        _append(path, token_count(at(10), codex_tokens(1500, 500), absolute_limits(19.5, resets)))
        result = _figures(setup, "", "--codex", "--refresh-seconds", "3600")
        assert result["five_hour"]["used_percent"] == 19.5
        assert result["session_tokens"] == 1010 + 510
        text = _run(setup, "", "--codex", "--refresh-seconds", "3600").stdout
        assert text.startswith("gpt-5-codex | 1.5k tok $") and "5h 20% ↻" in text
    finally:
        del os.environ["CODEX_HOME"]
    missing = _run(setup, "", "--codex")
    assert missing.returncode == 2 and "no Codex sessions under" in missing.stderr


def test_claude_codes_own_context_figure_wins(setup: dict[str, Any]) -> None:
    path, now = setup["path"], setup["now"]
    _append(path, assistant("msg_01", now - timedelta(seconds=60)))
    payload = statusline_input(str(path))
    payload["context_window"] = {
        "total_input_tokens": 15234,
        "total_output_tokens": 4521,
        "context_window_size": 1_000_000,
        "used_percentage": 42.5,
        "remaining_percentage": 57.5,
    }
    assert _figures(setup, payload)["context_percent"] == 42.5
    del payload["context_window"]["used_percentage"]  # older versions: the size only
    assert _figures(setup, payload)["context_percent"] == pytest.approx(12_004 * 100 / 1_000_000)
    assert "ctx 1%" in _run(setup, payload).stdout


def test_the_settings_snippet_names_an_installed_script() -> None:
    """README's and docs/statusline.md's settings.json command is a script pyproject installs,
    and it runs the statusline's fast entry point."""
    import importlib
    import re

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    for doc in ("README.md", "docs/statusline.md"):
        text = (root / doc).read_text(encoding="utf-8")
        [block] = re.findall(r"```json\n(\{\n  \"statusLine\".*?)```", text, re.S)
        command = json.loads(block)["statusLine"]["command"]
        assert command == "llmledger-statusline"
        module, _, name = scripts[command].partition(":")
        assert getattr(importlib.import_module(module), name).__module__ == (
            "llmledger.statusline.fast"
        )
