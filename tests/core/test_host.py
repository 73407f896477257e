"""Every event carries the machine it was recorded on (``host``): the stored default is the
same from process to process, ``LLMLEDGER_HOST`` and the config override it, a caller's own
is kept, and it survives the scan, capture, ``db copy`` and export; reports filter by it
(``--host``) and split by it (``--group-by host``), on both backends."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.events import UsageEvent
from llmledger.host import HOST_ID_FILE
from llmledger.ledger import Ledger
from llmledger.scan import run
from tests.sources.conftest import claude_line, run_scan, write_jsonl

from .conftest import CliRunner

DAY = "2026-03-01"


def at(hour: int) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=timezone.utc)


def record_as(url: str, host: str, *events: UsageEvent) -> None:
    with Ledger(url, env={**os.environ, "LLMLEDGER_HOST": host}) as ledger:
        ledger.record_many(list(events))


def event(event_id: str, hour: int, tokens: int, cost_nanos: int, **fields: Any) -> UsageEvent:
    return UsageEvent(
        model="gpt-4o",
        id=event_id,
        ts=at(hour),
        input_tokens=tokens,
        output_tokens=tokens // 10,
        cost_nanos=cost_nanos,
        cost_status="reported",
        **fields,
    )


def two_laptops(url: str) -> None:
    record_as(url, "laptop-a", event("a1", 9, 1000, 500_000_000), event("a2", 11, 300, 0))
    record_as(url, "laptop-b", event("b1", 10, 2000, 250_000_000))
    # the caller's own host is kept
    record_as(url, "laptop-b", event("c1", 12, 50, 1_000, host="build-box"))


def daily_row(
    host: str, inp: int, out: int, cost: float, requests: int, last: int
) -> dict[str, Any]:
    return {
        "date": DAY,
        "host": host,
        "inputTokens": inp,
        "outputTokens": out,
        "cacheCreationTokens": 0,
        "cacheReadTokens": 0,
        "totalTokens": inp + out,
        "totalCost": cost,
        "reasoningTokens": 0,
        "cacheWrite1hTokens": 0,
        "requests": requests,
        "unpricedRequests": 0,
        "estimatedRequests": 0,
        "lastActivity": f"{DAY}T{last:02d}:00:00+00:00",
        "modelsUsed": ["gpt-4o"],
        "modelBreakdowns": [
            {
                "modelName": "gpt-4o",
                "inputTokens": inp,
                "outputTokens": out,
                "cacheCreationTokens": 0,
                "cacheReadTokens": 0,
                "totalTokens": inp + out,
                "cost": cost,
                "reasoningTokens": 0,
                "requests": requests,
                "priced": True,
            }
        ],
        "unpricedModels": [],
    }


def test_daily_group_by_host_splits_each_day_by_machine(cli: CliRunner, ledger_url: str) -> None:
    two_laptops(ledger_url)
    result = cli("daily", "--json", "--no-scan", "--group-by", "host", "-z", "UTC")
    assert result.code == 0, result.err
    assert result.json() == {
        "daily": [
            daily_row("build-box", 50, 5, 0.000001, 1, 12),
            daily_row("laptop-a", 1300, 130, 0.5, 2, 11),
            daily_row("laptop-b", 2000, 200, 0.25, 1, 10),
        ],
        "totals": {
            "inputTokens": 3350,
            "outputTokens": 335,
            "cacheCreationTokens": 0,
            "cacheReadTokens": 0,
            "totalTokens": 3685,
            "totalCost": 0.750001,
            "reasoningTokens": 0,
            "cacheWrite1hTokens": 0,
            "requests": 4,
            "unpricedRequests": 0,
            "estimatedRequests": 0,
        },
        "unpricedModels": [],
        "timezone": "UTC",
    }
    table = cli("daily", "--no-scan", "--group-by", "host", "-z", "UTC")
    assert table.code == 0, table.err
    assert "Host" in table.out and "laptop-a" in table.out


def test_host_filter_keeps_only_that_machine(cli: CliRunner, ledger_url: str) -> None:
    two_laptops(ledger_url)
    one = cli("daily", "--json", "--no-scan", "--host", "laptop-a", "-z", "UTC").json()
    assert one["totals"]["inputTokens"] == 1300 and one["totals"]["requests"] == 2
    both = cli(
        "models", "--json", "--no-scan", "--host", "laptop-b", "--host", "build-box", "-z", "UTC"
    ).json()
    assert both["totals"]["inputTokens"] == 2050 and both["totals"]["requests"] == 2
    none = cli("daily", "--json", "--no-scan", "--host", "nobody", "-z", "UTC").json()
    assert none["totals"]["requests"] == 0


def test_old_events_without_a_host_group_as_none(cli: CliRunner, ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        ledger.store.write_events([event("old", 9, 100, 0)])  # past the Ledger: no host
    record_as(ledger_url, "laptop-a", event("new", 10, 200, 0))
    rows = cli("daily", "--json", "--no-scan", "--group-by", "host", "-z", "UTC").json()["daily"]
    assert [(r["host"], r["inputTokens"]) for r in rows] == [("(none)", 100), ("laptop-a", 200)]


def record_in_new_process(url: str, event_id: str, env: dict[str, str]) -> None:
    argv = ["record", "--db", url, "--model", "gpt-4o", "--input", "5", "--id", event_id]
    done = subprocess.run(
        [sys.executable, "-m", "llmledger", *argv, "--ts", f"{DAY}T10:00:00Z"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr


def hosts_of(url: str) -> dict[str, str | None]:
    with Ledger(url) as ledger:
        return {e.id: e.host for e in ledger.events()}


def test_the_default_host_is_the_same_in_every_process(ledger_url: str, tmp_path: Path) -> None:
    laptop, other = tmp_path / "laptop-data", tmp_path / "other-data"
    record_in_new_process(ledger_url, "first", {"LLMLEDGER_HOME": str(laptop)})
    record_in_new_process(ledger_url, "second", {"LLMLEDGER_HOME": str(laptop)})
    record_in_new_process(ledger_url, "elsewhere", {"LLMLEDGER_HOME": str(other)})
    hosts = hosts_of(ledger_url)
    stored = (laptop / HOST_ID_FILE).read_text().strip()
    assert hosts["first"] == hosts["second"] == stored
    assert len(stored) > 9 and hosts["elsewhere"] not in (None, stored)


def test_the_environment_and_the_config_override_the_host(ledger_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('host = "ci-runner-7"\n')
    record_in_new_process(ledger_url, "by-config", {"LLMLEDGER_CONFIG": str(config)})
    record_in_new_process(
        ledger_url, "by-env", {"LLMLEDGER_CONFIG": str(config), "LLMLEDGER_HOST": "desk"}
    )
    assert hosts_of(ledger_url) == {"by-config": "ci-runner-7", "by-env": "desk"}


def test_the_scan_and_capture_stamp_the_host(
    ledger_url: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMLEDGER_HOST", "laptop-a")
    write_jsonl(
        isolated_home / ".claude" / "projects" / "p" / "s.jsonl",
        [claude_line(f"m{i}", f"r{i}", output=i + 1) for i in range(3)],
    )
    with Ledger(ledger_url) as ledger:
        run_scan(ledger, isolated_home, workers=1)
        ledger.submit(event("captured", 9, 10, 0)).result(timeout=30)
        assert {e.host for e in ledger.events()} == {"laptop-a"}
        assert ledger.count() == 4


def test_a_big_scan_written_by_the_scan_process_stamps_the_host(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setenv("LLMLEDGER_HOST", "laptop-b")
    for n in range(4):
        write_jsonl(
            isolated_home / ".claude" / "projects" / "p" / f"s{n}.jsonl",
            [claude_line(f"m{n}-{i}", "r", output=i + 1) for i in range(20)],
        )
    with Ledger(tmp_path / "big.db") as ledger:
        run_scan(ledger, isolated_home, workers=2)
        assert ledger.count() == 80
        assert {e.host for e in ledger.events()} == {"laptop-b"}


def test_db_copy_and_export_keep_the_host(cli: CliRunner, ledger_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'laptop.db'}"
    two_laptops(source)
    copied = cli("db", "copy", "--from", source, "--to", ledger_url, db=None)
    assert copied.code == 0, copied.err
    assert hosts_of(ledger_url) == {
        "a1": "laptop-a",
        "a2": "laptop-a",
        "b1": "laptop-b",
        "c1": "build-box",
    }
    lines = cli("export", "--json", "--no-scan").out.splitlines()
    assert sorted(json.loads(line)["host"] for line in lines) == [
        "build-box",
        "laptop-a",
        "laptop-a",
        "laptop-b",
    ]
    rows = list(csv.DictReader(io.StringIO(cli("export", "--csv", "--no-scan").out)))
    assert {row["id"]: row["host"] for row in rows}["b1"] == "laptop-b"


def test_the_gateway_records_the_host(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmledger.config import Config
    from llmledger.gateway.keys import issue_key
    from tests.gateway.test_app_inprocess import CHAT, FakeTransport, Harness

    monkeypatch.setenv("LLMLEDGER_HOST", "gateway-1")
    with Ledger(ledger_url, config=Config()) as ledger:
        key, _ = issue_key(ledger.keys, user_id="u1")
        harness = Harness(ledger, FakeTransport(), key)

        async def scenario(client: Any, app: Any) -> None:
            for _ in range(2):
                reply = await client.post("/v1/chat/completions", json=CHAT, headers=harness.auth())
                assert reply.status_code == 200

        harness.run(scenario)
        ledger.flush()
        assert [(e.user_id, e.host) for e in ledger.events()] == [("u1", "gateway-1")] * 2
