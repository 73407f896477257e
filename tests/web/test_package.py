"""What ships with the dashboard: assets that fetch nothing from anywhere, an intensity scale
told apart in grayscale in both themes, and the import contract that keeps the dashboard on
the Ledger's side of the database."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from llmledger.web.page import STATIC_DIR
from tests.test_project import in_ci

ROOT = Path(__file__).resolve().parents[2]
ASSETS = sorted(STATIC_DIR.iterdir())
# The only http(s) strings the assets hold: the SVG namespace (a name, not a request), and
# meter.js's example of embedding it on another site (a comment).
NOT_REQUESTS = ("http://www.w3.org/2000/svg", "https://your-gateway/static/meter.js")


def test_the_assets_fetch_nothing_from_anywhere() -> None:
    assert {path.name for path in ASSETS} == {
        "app.js",
        "auth.js",
        "cells.js",
        "charts.js",
        "dashboard.css",
        "data.js",
        "format.js",
        "graph2d.js",
        "graph3d.js",
        "meter.css",
        "meter.js",
        "panel-charts.js",
        "panel-graph.js",
        "panel-limits.js",
        "panel-lists.js",
        "panel-operators.js",
        "state.js",
        "tables.js",
        "test-usage.js",
        "theme.js",
    }
    for path in ASSETS:
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'()]*", text))
        assert urls <= set(NOT_REQUESTS), f"{path.name}: {urls}"
        assert "@import" not in text and "</script" not in text.lower(), path.name
        assert "innerHTML" not in text and "eval(" not in text, path.name


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_levels_differ_in_grayscale(theme: str) -> None:
    css = (STATIC_DIR / "dashboard.css").read_text(encoding="utf-8")
    block = css.split(f'html[data-theme="{theme}"] {{', 1)[1].split("}", 1)[0]
    levels = [re.search(rf"--level-{n}: (#[0-9a-f]{{6}});", block) for n in range(5)]
    luminance = [_luminance(found[1]) for found in levels if found]
    assert len(luminance) == 5
    if theme == "dark":
        luminance.reverse()  # brighter is more on a dark background
    assert luminance == sorted(luminance, reverse=True)  # each level darker than the one before
    for lighter, darker in itertools.pairwise(luminance):
        assert (lighter + 0.05) / (darker + 0.05) >= 1.4  # WCAG contrast between neighbours


def test_the_dashboard_reaches_the_database_only_through_the_ledger(tmp_path: Path) -> None:
    lint = shutil.which("lint-imports")
    if lint is None:
        if in_ci():
            pytest.fail("lint-imports is not installed; CI=true, so this fails")
        pytest.skip("lint-imports is not installed (pip install -e '.[test]')")
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    views = tmp_path / "src" / "llmledger" / "web" / "views.py"
    views.write_text(views.read_text(encoding="utf-8") + "\nimport llmledger.store.sqlite\n")
    result = subprocess.run(
        [lint, "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "src"), "PATH": str(Path(lint).parent), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 kept, 2 broken" in result.stdout
    assert "internals stay inside store/ BROKEN" in result.stdout
    assert "only through the Ledger BROKEN" in result.stdout
    assert "llmledger.web.views -> llmledger.store.sqlite" in result.stdout
