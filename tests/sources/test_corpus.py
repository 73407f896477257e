"""The generated corpus (benchmarks/agent_corpus.py, small size): per-day totals in UTC and in
America/New_York, per model, equal the generator's own list of the calls it made up."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from llmledger.ledger import Ledger

from .conftest import TOKEN_KEYS, add_event, run_scan

GENERATOR = Path(__file__).resolve().parents[2] / "benchmarks" / "agent_corpus.py"
SIZE = [
    "--claude-files",
    "30",
    "--claude-messages",
    "1500",
    "--codex-files",
    "8",
    "--gemini-files",
    "8",
    "--opencode-messages",
    "150",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    subprocess.run([sys.executable, str(GENERATOR), str(out), *SIZE], check=True)
    return out


def ours(ledger: Ledger, zone: tzinfo) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for event in ledger.events():
        day = event.ts.astimezone(zone).date().isoformat()
        source = result.setdefault(event.source, {"days": {}, "all_days": {}})
        per_day = source["days"].setdefault(day, {"models": {}, "totals": {}})
        for bucket in (
            per_day["models"].setdefault(event.model, {}),
            per_day["totals"],
            source["all_days"],
        ):
            for key in (*TOKEN_KEYS, "messages", "total"):
                bucket.setdefault(key, 0)
            add_event(bucket, event)
            bucket["total"] += event.total_tokens
    return result


def _sorted(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, sort_keys=True))


@pytest.mark.parametrize("workers", [1, 2])
def test_corpus_totals_per_day_and_model(
    corpus: Path, ledger: Ledger, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmledger.scan import run as scan_module

    monkeypatch.setattr(scan_module, "PARALLEL_MIN_BYTES", 0)
    expected = json.loads((corpus / "expected.json").read_text())
    result = run_scan(ledger, corpus / "home", workers=workers)
    assert result.skipped == []
    assert result.malformed == sum(expected["malformed_lines"].values())
    assert result.workers == workers
    for name, want in expected["by_zone"].items():
        zone = timezone.utc if name == "UTC" else ZoneInfo(name)
        assert _sorted(ours(ledger, zone)) == _sorted(want), name


def test_corpus_rescan_adds_nothing(corpus: Path, ledger: Ledger) -> None:
    run_scan(ledger, corpus / "home")
    count = ledger.count()
    again = run_scan(ledger, corpus / "home")
    assert again.read == 0 and again.written == 0
    assert ledger.count() == count
