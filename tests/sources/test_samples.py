"""Real agent logs (../shared/samples, beside the repository): our per-day totals equal
expected.json exactly. Without them these tests skip, except under CI=true, where they fail."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmledger.ledger import Ledger

from .conftest import run_scan, totals

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "samples"


@pytest.fixture(autouse=True)
def _samples_present() -> None:
    if (SAMPLES / "expected.json").is_file():
        return
    message = f"the real agent logs are not at {SAMPLES} (../shared/samples beside the repository)"
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(f"{message}; CI=true, so this fails instead of skipping")
    pytest.skip(message)


def _ours(ledger: Ledger, source: str) -> dict[str, dict[str, Any]]:
    days: dict[str, dict[str, Any]] = totals(ledger, source)
    models: dict[str, set[str]] = {}
    for event in ledger.events():
        if event.source == source:
            models.setdefault(event.ts.date().isoformat(), set()).add(event.model)
    for day, bucket in days.items():
        bucket["total"] = (
            bucket["input"] + bucket["output"] + bucket["cache_read"] + bucket["cache_write"]
        )
        bucket["models"] = sorted(models[day])
    return days


@pytest.fixture
def sample_home(tmp_path: Path) -> Path:
    home = tmp_path / "samples-home"
    shutil.copytree(SAMPLES / "home", home)
    return home


@pytest.mark.parametrize("workers", [1, 2])
def test_per_day_totals_equal_expected_json(
    ledger: Ledger, sample_home: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmledger.scan import run as scan_module

    monkeypatch.setattr(scan_module, "PARALLEL_MIN_BYTES", 0)  # force the process pool for 2
    result = run_scan(ledger, sample_home, workers=workers)
    expected = json.loads((SAMPLES / "expected.json").read_text())["sources"]
    assert result.skipped == []
    assert result.malformed == 0
    for source, want in expected.items():
        assert _ours(ledger, source) == want["days"], source


def test_rescan_and_full_rescan_change_nothing(ledger: Ledger, sample_home: Path) -> None:
    run_scan(ledger, sample_home)
    before = {s: _ours(ledger, s) for s in ("claude-code", "codex", "gemini-cli")}
    again = run_scan(ledger, sample_home)
    assert again.read == 0 and again.unchanged == again.files == 30
    run_scan(ledger, sample_home, full=True)
    assert {s: _ours(ledger, s) for s in before} == before
    assert ledger.count() == 153 + 405 + 20
