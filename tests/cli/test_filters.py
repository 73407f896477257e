"""--source and --model are checked against what the ledger holds: an unknown source is a
usage error naming the valid ones; a model name selects the stored models containing it,
and one that selects nothing is said on stderr."""

from __future__ import annotations

from pathlib import Path

from llmledger.ledger import Ledger
from tests.cli.conftest import Runner


def test_unknown_source_is_exit_2_with_the_closest_name(run: Runner) -> None:
    result = run("daily", "--source", "claude")
    assert result.code == 2 and result.out == ""
    (line,) = result.err.splitlines()
    assert "unknown source 'claude'" in line and "did you mean claude-code?" in line
    for name in ("claude-code", "codex", "gemini-cli", "proxy", "sdk", "manual", "qwen-code"):
        assert name in line


def test_unknown_source_without_a_close_name(run: Runner) -> None:
    result = run("models", "--source", "vim-ai", "--json")
    assert result.code == 2 and result.out == ""
    (line,) = result.err.splitlines()
    assert "unknown source 'vim-ai'" in line and "did you mean" not in line
    assert "valid sources: amp, claude-code, cline, codebuff, codex" in line


def test_a_source_recorded_under_any_name_is_valid(run: Runner, seeded: Path) -> None:
    with Ledger(seeded) as ledger:
        ledger.record(model="gpt-4o", source="my-app", input_tokens=5, ts="2025-08-04T00:00:00Z")
    result = run("daily", "--source", "my-app", "--json", "-z", "UTC")
    assert result.code == 0, result.err
    assert result.json_totals()["inputTokens"] == 5
    # Shortcut flags and the built-in names are valid with or without events.
    assert run("daily", "--kimi", "--source", "proxy").code == 0


def test_model_name_part_selects_every_model_containing_it(run: Runner) -> None:
    result = run("models", "--model", "sonnet", "--json")
    assert result.code == 0 and result.err == ""
    assert [m["model"] for m in result.json()["models"]] == ["claude-sonnet-4-5-20250929"]
    result = run("models", "--model", "CLAUDE", "--json")
    assert {m["model"] for m in result.json()["models"]} == {
        "claude-sonnet-4-5-20250929",
        "claude-opus-4-1-20250805",
    }
    assert [m["model"] for m in run("models", "--model", "通义", "-j").json()["models"]] == [
        "通义千问-max-🚀"
    ]


def test_a_stored_model_name_is_exact(run: Runner) -> None:
    models = run("models", "--model", "gpt-4o", "--json").json()["models"]
    assert [m["model"] for m in models] == ["gpt-4o"]  # not gpt-4o-mini
    models = run("models", "--model", "gpt-4", "--json").json()["models"]
    assert {m["model"] for m in models} == {"gpt-4o", "gpt-4o-mini"}


def test_model_that_matches_nothing_is_said_on_stderr(run: Runner) -> None:
    result = run("daily", "--model", "opus-9", "--json")
    assert result.code == 0
    assert result.json()["daily"] == []
    (line,) = result.err.splitlines()
    assert line.startswith("llmledger: no events for model 'opus-9'")
    listed = "claude-sonnet-4-5-20250929, gpt-5-codex, claude-opus-4-1-20250805, 通义千问-max-🚀"
    assert f"models in the ledger: {listed}, gpt-4o (and 1 more: llmledger models)" in line


def test_one_unmatched_model_among_others(run: Runner) -> None:
    result = run("models", "--model", "gpt-4o", "--model", "gpt-4x", "-j")
    assert [m["model"] for m in result.json()["models"]] == ["gpt-4o"]
    assert "no events for model 'gpt-4x'; did you mean gpt-4o?" in result.err


def test_model_in_an_empty_ledger(run: Runner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    Ledger(empty).close()
    result = run("daily", "--model", "gpt-4o", db=empty)
    assert result.code == 0
    assert "no events for model 'gpt-4o'; the ledger has no events yet" in result.err


def test_blocks_checks_its_source_and_model_like_the_reports(run: Runner) -> None:
    unknown = run("blocks", "--source", "claude")
    assert unknown.code == 2 and unknown.out == ""
    assert "did you mean claude-code?" in unknown.err
    opus = run("blocks", "--claude", "--model", "opus", "-j", "-z", "UTC")
    assert opus.code == 0, opus.err
    assert [b["models"] for b in opus.json()["blocks"]] == [["claude-opus-4-1-20250805"]]
