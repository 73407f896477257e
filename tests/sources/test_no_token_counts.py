"""Codebuff and Cursor keep no token counts on disk: their files, laid out as those agents lay
them out, are found and listed by ``sources`` with the reason, and a scan reads nothing from
them (not even the odd count Cursor's store holds: it names no model)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.sources import codebuff, cursor

from .conftest import run_scan


def codebuff_chat(home: Path) -> Path:
    chat = home / ".config" / "manicode" / "projects" / "app" / "chats" / "2026-03-02T09-00-00.000Z"
    chat.mkdir(parents=True)
    messages = {
        "id": "2026-03-02T09-00-00.000Z",
        "messages": [{"role": "user", "content": "fix the test"}],
        "updatedAt": "2026-03-02T09:01:00.000Z",
    }
    (chat / "messages.json").write_text(json.dumps(messages))
    return home / ".config" / "manicode" / "projects"


def cursor_store(home: Path) -> Path:
    store = home / ".config" / "Cursor" / "User" / "globalStorage" / "state.vscdb"
    store.parent.mkdir(parents=True)
    conn = sqlite3.connect(store)
    conn.execute("CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    bubble = {"type": 2, "text": "done", "tokenCount": {"inputTokens": 1200, "outputTokens": 80}}
    conn.execute("INSERT INTO cursorDiskKV VALUES ('bubbleId:c1:b1', ?)", (json.dumps(bubble),))
    conn.commit()
    conn.close()
    return store


def test_found_listed_with_the_reason_and_never_read(
    ledger: Ledger,
    isolated_home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    projects, store = codebuff_chat(isolated_home), cursor_store(isolated_home)
    result = run_scan(ledger, isolated_home)
    assert (result.files, result.malformed, ledger.count()) == (0, 0, 0)
    assert main(["sources", "--json", "--no-scan"]) == 0
    listed = {s["source"]: s for s in json.loads(capsys.readouterr().out)["sources"]}
    assert listed["codebuff"]["locations"] == [{"path": str(projects), "exists": True}]
    assert listed["cursor"]["locations"] == [{"path": str(store), "exists": True}]
    assert listed["codebuff"]["noTokenCounts"] == codebuff.SOURCE.no_token_counts
    assert listed["cursor"]["noTokenCounts"] == cursor.SOURCE.no_token_counts
    assert (listed["cursor"]["files"], listed["cursor"]["events"]) == (0, 0)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["sources", "--no-scan"]) == 0
    text = capsys.readouterr().out
    assert "Codebuff: no token counts on disk (its chats keep messages;" in text
    assert "Cursor: no token counts on disk (its chat store leaves per-message" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_cursor_is_looked_for_where_the_editor_keeps_it() -> None:
    env = {"HOME": "/h", "APPDATA": "C:/Users/me/AppData/Roaming"}
    expected = Path("/h/.config/Cursor/User/globalStorage/state.vscdb")
    assert cursor.SOURCE.roots(env) == [expected]  # none present: the Linux one is named
    assert codebuff.SOURCE.roots({"HOME": "/h"}) == [Path("/h/.config/manicode/projects")]
    assert codebuff.SOURCE.shortcut is None and cursor.SOURCE.shortcut is None
