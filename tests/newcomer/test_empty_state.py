"""A report with no rows explains itself: on a first run (no agent logs anywhere) it names
each agent and where its logs were looked for, and what to do next; when logs exist and the
period or filters select nothing, one line names them."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmledger.cli.empty_state import explain_empty, filter_words
from llmledger.report.aggregate import ReportOptions
from llmledger.scan.discovery import Root

from .helpers import claude_log, cli

FIRST_RUN = """\
LLM usage — daily (UTC)
No usage found: none of these coding agents has logs on this machine.
Looked for:
  Amp                ~/.local/share/amp/threads
  Claude Code        ~/.config/claude/projects
                     ~/.claude/projects
  Cline              ~/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks
                     ~/.cline/data/tasks
                     ~/.cline/data/sessions
  Codex CLI          ~/.codex/sessions
                     ~/.codex/archived_sessions
  Copilot CLI        ~/.copilot/session-state
  Copilot CLI OTel   ~/.copilot/otel
  Droid (Factory)    ~/.factory/sessions
  Gemini CLI         ~/.gemini/tmp
  Goose              ~/.local/share/goose/sessions/sessions.db
  Grok CLI           ~/.grok/grok.db
  Hermes Agent       ~/.hermes/state.db
  Kilo Code          ~/.config/Code/User/globalStorage/kilocode.kilo-code/tasks
                     ~/.local/share/kilo
  Kimi CLI           ~/.kimi/sessions
  OpenClaw           ~/.openclaw/agents
                     ~/.clawdbot/agents
  OpenCode           ~/.local/share/opencode
                     ~/.local/share/opencode/storage/message
  pi                 ~/.pi/agent/sessions
  Qwen Code          ~/.qwen/projects
                     ~/.qwen/tmp
  Qwen OpenAI proxy  ~/.qwen/request_counts.json
  Roo Code           ~/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/tasks
                     ~/.vscode-mock/global-storage/tasks
  Zed agent          ~/.local/share/zed/threads/threads.db
To see usage here:
  - use one of these agents, then run llmledger again;
  - if your logs live elsewhere, point CLAUDE_CONFIG_DIR or CODEX_HOME at them (also
    KIMI_SHARE_DIR, COPILOT_HOME, XDG_CONFIG_HOME, XDG_DATA_HOME);
  - or record usage yourself: llmledger record --model MODEL --input N --output N
    (or meter API calls through the gateway: llmledger serve).
"""


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_first_run_names_agents_paths_and_next_steps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--tz", "UTC")
    assert code == 0
    assert out == FIRST_RUN


def test_first_run_with_filters_still_explains_and_names_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = cli(capsys, "daily", "--tz", "UTC", "--since", "2025-01-01", "--codex")
    assert "none of these coding agents has logs on this machine" in out
    assert "(filters: --since 2025-01-01 --source codex)" in out
    assert "llmledger record" in out


def test_logs_present_but_filtered_out_is_one_line_naming_the_filters(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    claude_log(isolated_home)
    _, out, _ = cli(capsys, "daily", "--tz", "UTC", "--since", "2026-01-01", "--claude")
    assert out == (
        "LLM usage — daily (UTC)\nNo usage found for --since 2026-01-01 --source claude-code.\n"
    )
    _, unfiltered, _ = cli(capsys, "daily", "--tz", "UTC")
    assert "2025-09-28" in unfiltered and "No usage found" not in unfiltered


def test_logs_found_without_usage_say_so_and_where(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    (isolated_home / ".codex" / "sessions").mkdir(parents=True)
    _, out, _ = cli(capsys, "daily", "--tz", "UTC")
    assert "No usage found: the agent logs llmledger found hold no usage yet." in out
    assert "  Codex CLI          ~/.codex/sessions  (found)\n" in out
    assert "'llmledger scan -v' shows what was read and skipped." in out


def test_logs_not_imported_with_no_scan_say_so(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    claude_log(isolated_home)
    _, out, _ = cli(capsys, "daily", "--tz", "UTC", "--no-scan")
    assert out == (
        "LLM usage — daily (UTC)\nNo usage in the ledger: --no-scan skipped importing the agent "
        "logs found on this machine; run the same command without --no-scan (or llmledger scan) "
        "first.\n"
    )


def test_unreadable_root_is_named_with_its_reason() -> None:
    home = Path("/home/me")
    agents = {
        "Codex CLI": [
            Root(home / ".codex" / "sessions", "unreadable", "permission denied"),
            Root(home / ".codex" / "archived_sessions", "missing"),
        ]
    }
    text = explain_empty(ReportOptions(), agents, home)
    assert text.splitlines()[:4] == [
        "No usage found: none of these coding agents has logs on this machine.",
        "Looked for:",
        "  Codex CLI  ~/.codex/sessions  (cannot be read: permission denied)",
        "             ~/.codex/archived_sessions",
    ]


def test_filter_words_use_the_options_people_type() -> None:
    options = ReportOptions(
        filters={"source": ("codex",), "user_id": ("u1", "u2"), "org_id": ("acme",)}
    )
    assert filter_words(options) == "--source codex --user u1 --user u2 --org acme"
