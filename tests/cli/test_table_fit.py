"""Tables fit their width in terminal cells: CJK and emoji count two, long names are cut in
the middle, optional columns go only when names cannot shrink further; no width, no limit."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from llmledger.cli import common
from llmledger.report.render.cells import cell_width, printable, shorten_middle
from llmledger.report.render.table import Column, Style, Table, render
from tests.cli.conftest import GOLDEN, Runner

KINDS = ("daily", "weekly", "monthly", "models", "sessions", "blocks")


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "┌│├└"]


def test_cjk_and_emoji_are_two_cells() -> None:
    assert cell_width("gpt-4o") == 6
    assert cell_width("数据分析项目") == 12
    assert cell_width("通义千问-max-🚀") == 15
    assert cell_width("👩‍💻") == 2  # one emoji sequence
    assert cell_width("e\u0301") == 1  # a letter and its accent


def test_names_are_cut_in_the_middle_by_whole_characters() -> None:
    assert shorten_middle("claude-sonnet-4-5-20250929", 26) == "claude-sonnet-4-5-20250929"
    assert shorten_middle("claude-sonnet-4-5-20250929", 15) == "claude-…0250929"
    assert shorten_middle("通义千问-max-🚀", 8) == "通…ax-🚀"
    # a wide character that does not fit is left out whole: one cell short, never split
    assert shorten_middle("数据分析项目", 6) == "数…目"
    coder = "👩\u200d💻"
    assert shorten_middle(coder * 4, 6) == coder + "…" + coder  # 2 + 1 + 2 cells


def test_control_characters_never_reach_the_terminal() -> None:
    assert printable("evil\x1b[31mred\tname") == "evil?[31mred?name"
    table = Table([Column("Name", "left")], [["a\x1b[2Jb"]], [])
    text, _ = render(table, 80, Style())
    assert "\x1b" not in text


def test_a_cjk_name_does_not_misalign_the_table() -> None:
    table = Table(
        [Column("Model", "left", min_width=8), Column("Tokens")],
        [["通义千问-max-🚀", "1,000"], ["gpt-4o", "20"]],
        [["TOTAL", "1,020"]],
    )
    for width in (None, 80, 24, 21):  # 21: the name at its narrowest
        text, _ = render(table, width, Style())
        widths = {cell_width(line) for line in text.splitlines()}
        assert len(widths) == 1, text
        assert width is None or widths.pop() <= width


def test_names_shrink_before_columns_are_dropped() -> None:
    table = Table(
        [
            Column("Model", "left", min_width=12),
            Column("Input"),
            Column("Cache", drop_order=2),
        ],
        [["claude-sonnet-4-5-20250929", "1,000", "50,000"]],
        [],
    )
    text, dropped = render(table, 40, Style())
    assert not dropped and "Cache" in text and "claude-so…-20250929" in text
    text, dropped = render(table, 28, Style())  # too narrow even for a 12-cell name
    assert dropped is True
    assert text.splitlines() == [
        "┌──────────────────┬───────┐",
        "│ Model            │ Input │",
        "├──────────────────┼───────┤",
        "│ claude-…20250929 │ 1,000 │",
        "└──────────────────┴───────┘",
    ]


def test_no_width_is_the_natural_width() -> None:
    name = "a-model-name-that-is-very-long-indeed-" * 4
    table = Table(
        [Column("Model", "left", min_width=8), Column("X", drop_order=1)], [[name, "1"]], []
    )
    text, dropped = render(table, None, Style())
    assert name in text and not dropped


@pytest.mark.parametrize("kind", KINDS)
def test_every_report_fits_80_columns(kind: str, run: Runner) -> None:
    for extra in ((), ("--breakdown",), ("--group-by", "project")):
        result = run(kind, "-z", "UTC", *extra, columns=80)
        assert result.code == 0, result.err
        assert max(cell_width(line) for line in result.out.splitlines()) <= 80, result.out


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("*.txt")))
def test_golden_tables_are_aligned(name: str) -> None:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    lines = table_lines(text)
    assert lines and len({cell_width(line) for line in lines}) == 1, name
    width = name.split("-")[0]  # w80-…: must fit; narrow40-…: cannot (numbers never shrink)
    if width.startswith("w"):
        assert all(cell_width(line) <= int(width[1:]) for line in text.splitlines()), name


def test_not_a_terminal_keeps_every_column(run: Runner) -> None:
    natural = run("sessions", "-z", "UTC", columns=None)
    assert "Project" in natural.out and "Last Activity" in natural.out
    assert "/home/alice/code/llmledger-with-a-rather-long-project-folder-name" in natural.out
    assert "0f1e2d3c-4b5a-6978-8a9b-abcdef012345" in natural.out
    assert "widen" not in natural.out


def test_full_names_stay_in_json_and_csv(run: Runner) -> None:
    for fmt in ("--json", "--csv"):
        out = run("sessions", fmt, "-z", "UTC", columns=40).out
        assert "0f1e2d3c-4b5a-6978-8a9b-abcdef012345" in out
        assert "/home/alice/code/llmledger-with-a-rather-long-project-folder-name" in out
        assert "…" not in out


class FakeTerminal(io.StringIO):
    def __init__(self, columns: int) -> None:
        super().__init__()
        self.columns = columns

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 99


def test_output_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((72, 24)))
    assert common.output_width(FakeTerminal(72)) == 72
    assert common.output_width(io.StringIO()) is None  # a file or a pipe: no limit
    assert common.terminal_width(io.StringIO()) == common.NO_LIMIT
    monkeypatch.setenv("COLUMNS", "100")
    assert common.output_width(io.StringIO()) == 100
    assert common.output_width(FakeTerminal(72)) == 100


def test_on_a_terminal_the_table_fits_it_in_color(
    seeded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmledger.cli.main import main

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((70, 24)))
    terminal = FakeTerminal(70)
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["models", "-z", "UTC", "--db", str(seeded), "--no-scan"]) == 0
    out = terminal.getvalue()
    assert "\x1b[" in out
    plain = out.replace("\x1b[0m", "")
    for code in ("\x1b[1;36m", "\x1b[1;33m", "\x1b[2m"):
        plain = plain.replace(code, "")
    assert max(cell_width(line) for line in plain.splitlines()) <= 70
    assert "…" in plain  # names were shortened to fit

    monkeypatch.setenv("NO_COLOR", "1")
    terminal = FakeTerminal(70)
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["models", "-z", "UTC", "--db", str(seeded), "--no-scan"]) == 0
    assert "\x1b[" not in terminal.getvalue()
