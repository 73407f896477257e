"""``llmledger sources`` shows, per agent, the paths looked in, whether each was found, files
and events, in a table that fits 80 columns (paths shortened in the middle); --json keeps
the full paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmledger.cli.display import shorten_middle, tilde
from llmledger.cli.sources_view import sources_text
from llmledger.report.render.table import Style

from .helpers import claude_log, cli

HOME = Path("/home/me")


def entry(source: str, title: str, *paths: tuple[str, bool], **more: object) -> dict[str, object]:
    item: dict[str, object] = {
        "source": source,
        "title": title,
        "locations": [{"path": str(HOME / p), "exists": e} for p, e in paths],
        "files": 0,
        "events": 0,
        "totalTokens": 0,
        "firstDate": None,
        "lastDate": None,
        "skipped": [],
    }
    item.update(more)
    return item


DATA = [
    entry(
        "claude-code",
        "Claude Code",
        (".config/claude/projects", False),
        (".claude/projects", True),
        files=1_234,
        events=56_789,
        skipped=[
            {
                "path": str(HOME / ".claude/projects/-Users-me-secret"),
                "kind": "directory",
                "reason": "permission denied",
            }
        ],
    ),
    entry(
        "opencode",
        "OpenCode",
        (".local/share/opencode", False),
        (".local/share/opencode/storage/message", False),
    ),
]

EXPECTED_80 = """\
┌─────────────┬─────────────────────────────────────┬─────────┬───────┬────────┐
│ Agent       │ Looked in                           │ Found   │ Files │ Events │
├─────────────┼─────────────────────────────────────┼─────────┼───────┼────────┤
│ Claude Code │ ~/.config/claude/projects           │ no      │ 1,234 │ 56,789 │
│             │ ~/.claude/projects                  │ yes     │       │        │
│             │ ~/.claude/projects/-Users-me-secret │ skipped │       │        │
│ OpenCode    │ ~/.local/share/opencode             │ no      │     0 │      0 │
│             │ ~/.local/share/op…e/storage/message │ no      │       │        │
└─────────────┴─────────────────────────────────────┴─────────┴───────┴────────┘
skipped ~/.claude/projects/-Users-me-secret (claude-code): permission denied"""


def test_paths_as_people_read_them() -> None:
    assert tilde("/home/me/.codex/sessions", HOME) == "~/.codex/sessions"
    assert tilde("/home/meow/x", HOME) == "/home/meow/x"
    assert tilde("/home/me", HOME) == "~"
    assert shorten_middle("~/.local/share/opencode/storage/message", 20) == "~/.local/…ge/message"
    assert shorten_middle("short", 20) == "short"


def test_table_fits_80_columns_shortening_paths_in_the_middle() -> None:
    text = sources_text(DATA, 80, Style(), HOME)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "…" in text
    assert "~/.claude/projects" in text and "skipped" in text


def test_table_exact_at_80_columns() -> None:
    assert sources_text(DATA, 80, Style(), HOME) == EXPECTED_80


def test_wide_terminal_keeps_full_paths_and_totals() -> None:
    text = sources_text(DATA, 160, Style(), HOME)
    assert "~/.local/share/opencode/storage/message" in text
    assert "Tokens" in text and "First" in text and "Last" in text


def test_cli_table_and_json(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    claude_log(isolated_home)
    code, out, _ = cli(capsys, "sources")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "Looked in" in lines[1] and "Found" in lines[1]
    claude = next(line for line in lines if "Claude Code" in line)
    assert "~/.config/claude/projects" in claude and " 1 │" in claude
    assert any("~/.claude/projects" in line and "yes" in line for line in lines)
    assert any("~/.codex/sessions" in line and "no" in line for line in lines)
    _, raw, _ = cli(capsys, "sources", "--json", "--no-scan")
    by_name = {s["source"]: s for s in json.loads(raw)["sources"]}
    message_dir = isolated_home / ".local" / "share" / "opencode" / "storage" / "message"
    assert {"path": str(message_dir), "exists": False} in by_name["opencode"]["locations"]
    assert by_name["claude-code"]["skipped"] == []
