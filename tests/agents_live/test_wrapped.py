"""``llmledger wrapped``: the year's figures from a prepared ledger, drawn as PNG (checked pixel
by pixel where the figures say) and SVG (parsed), and the command's unhappy paths."""

from __future__ import annotations

import io
import json
import sys
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from llmledger.cli.main import main
from llmledger.ledger import Ledger
from llmledger.wrapped.card import LEVEL_COLORS, cell_center, png, svg
from llmledger.wrapped.year import year_in_review

SVG = "{http://www.w3.org/2000/svg}"
DAYS = {  # day -> (source, model, input tokens)
    date(2025, 3, 1): ("claude-code", "claude-sonnet-4-5", 10_000),
    date(2025, 3, 2): ("claude-code", "claude-sonnet-4-5", 20_000),
    date(2025, 3, 3): ("codex", "gpt-5", 30_000),
    date(2025, 6, 10): ("claude-code", "claude-opus-4-1", 400_000),
    date(2025, 9, 1): ("gemini-cli", "gemini-2.5-pro", 50_000),
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        for day, (source, model, tokens) in DAYS.items():
            moment = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
            ledger.record(model=model, ts=moment, source=source, input_tokens=tokens,
                          output_tokens=1000)  # fmt: skip
        # Another year: not in 2025's card.
        ledger.record(model="gpt-5", ts=datetime(2024, 12, 31, 12, tzinfo=timezone.utc),
                      source="codex", input_tokens=9_999_999, output_tokens=1)  # fmt: skip
    return path


def test_the_years_figures(db: Path) -> None:
    with Ledger(db) as ledger:
        review = year_in_review(ledger, 2025, timezone.utc)
        prices = ledger.prices
        opus = prices.cost_nanos("claude-opus-4-1", input_tokens=400_000, output_tokens=1000)
    assert review.tokens == sum(tokens + 1000 for _, _, tokens in DAYS.values())
    assert (review.calls, review.active_days, review.longest_streak) == (5, 5, 3)
    assert review.busiest == (date(2025, 6, 10), 401_000, opus)
    assert review.models[0].name == "claude-opus-4-1"
    assert review.agents[0].name == "claude-code"
    assert {a.name for a in review.agents} == {"claude-code", "codex", "gemini-cli"}
    assert len(review.days) == 365
    levels = review.levels()
    assert levels[date(2025, 6, 10)] == 4 and levels[date(2025, 3, 1)] == 1
    assert levels[date(2025, 1, 1)] == 0


def test_png_and_svg_cards(db: Path) -> None:
    with Ledger(db) as ledger:
        review = year_in_review(ledger, 2025, timezone.utc)
    image = Image.open(io.BytesIO(png(review))).convert("RGB")
    assert image.size == (1200, 630)

    def color(day: date) -> str:
        return "#{:02x}{:02x}{:02x}".format(*image.getpixel(cell_center(review, day)))

    assert color(date(2025, 6, 10)) == LEVEL_COLORS[4]
    assert color(date(2025, 3, 1)) == LEVEL_COLORS[1]
    assert color(date(2025, 12, 31)) == LEVEL_COLORS[0]

    root = ET.fromstring(svg(review))
    assert (root.get("width"), root.get("height")) == ("1200", "630")
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "2025 in LLM tokens" in texts
    assert "1. claude-opus-4-1" in texts and "1. claude-code" in texts
    assert any(t and t.startswith("Busiest day: Tue 10 Jun · 401.0K tokens · $") for t in texts)
    x, y = cell_center(review, date(2025, 6, 10))
    cells = [r for r in root.iter(f"{SVG}rect") if r.get("width") == "15"]
    assert len(cells) == 365
    [busiest] = [r for r in cells if int(r.get("x", 0)) + 7 == x and int(r.get("y", 0)) + 7 == y]
    assert busiest.get("fill") == LEVEL_COLORS[4]


def test_the_command(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_png, out_svg = tmp_path / "card.png", tmp_path / "card.svg"
    argv = ["--db", str(db), "wrapped", "--year", "2025", "--no-scan", "--tz", "UTC"]
    assert main([*argv, "--output", str(out_png), "--svg", str(out_svg)]) == 0
    assert Image.open(out_png).size == (1200, 630)
    assert ET.parse(out_svg).getroot().tag == f"{SVG}svg"
    assert f"wrote {out_svg}, {out_png}" in capsys.readouterr().err
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["year"], data["activeDays"], data["longestStreak"]) == (2025, 5, 3)
    assert data["busiestDay"]["date"] == "2025-06-10"
    assert main([*argv, "--year", "99999"]) == 2
    assert "--year 99999: give a year" in capsys.readouterr().err


def test_without_pillow_says_what_to_install(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL raises ImportError
    argv = ["--db", str(db), "wrapped", "--year", "2025", "--no-scan"]
    assert main([*argv, "--output", str(tmp_path / "c.png")]) == 2
    assert "pip install pillow" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
    assert main([*argv, "--no-png", "--svg", str(tmp_path / "c.svg")]) == 0  # SVG needs nothing
    assert (tmp_path / "c.svg").read_text(encoding="utf-8").startswith("<svg")
