"""The contribution graph's data (tokscale's ``graph`` export shape) against the ledger's daily
report, and ``llmledger graph``."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec

from llmledger import Ledger
from llmledger.web.graph import build_graph, encode_graph
from llmledger.web.query import DashboardQuery
from tests.web.conftest import CliResult
from tests.web.seed import EARLIER_YEAR, UNPRICED_MODEL, YEAR

Cli = Callable[..., CliResult]

# tokscale's TokenContributionData (packages/cli/src/graph-types.ts), then what ours adds.
TOKSCALE_KEYS = {
    "": {"meta", "summary", "years", "contributions"},
    "meta": {"generatedAt", "version", "dateRange"},
    "summary": {
        "totalTokens",
        "totalCost",
        "totalDays",
        "activeDays",
        "averagePerDay",
        "maxCostInSingleDay",
        "sources",
        "models",
    },
    "year": {"year", "totalTokens", "totalCost", "range"},
    "contribution": {"date", "totals", "intensity", "tokenBreakdown", "sources"},
    "totals": {"tokens", "cost", "messages"},
    "tokenBreakdown": {"input", "output", "cacheRead", "cacheWrite", "reasoning"},
    "source": {"source", "modelId", "tokens", "cost", "messages"},
}
EXTRA_KEYS = {
    "": set(),
    "meta": {"timezone", "sources", "availableYears", "availableSources"},
    "summary": {"maxTokensInSingleDay", "unpricedModels", "stats"},
    "year": {"stats"},
    "contribution": {"tokenIntensity"},
    "totals": set(),
    "tokenBreakdown": set(),
    "source": {"providerId", "unpricedMessages"},
}


def graph_json(ledger: Ledger, query: DashboardQuery) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(encode_graph(build_graph(ledger, query)))
    return result


def expected_levels(values: list[float]) -> list[int]:
    """The rule written out: a day's level is the quarter of the year's active days it falls
    in, counting the days at most as big as it."""
    active = [v for v in values if v > 0]
    levels = []
    for value in values:
        if value <= 0:
            levels.append(0)
        else:
            share = sum(1 for other in active if other <= value) / len(active)
            levels.append(next(level for level in (1, 2, 3, 4) if share <= level / 4))
    return levels


def test_each_day_matches_the_daily_report(seeded: Ledger, seeded_path: Path, cli: Cli) -> None:
    daily = cli(
        "daily", "--json", "--year", str(YEAR), "--tz", "UTC", "--no-scan", "--db", str(seeded_path)
    )
    assert daily.code == 0, daily.err
    rows = daily.json()["daily"]
    graph = graph_json(seeded, DashboardQuery(zone=seeded_zone(), year=YEAR))
    days = graph["contributions"]
    assert [d["date"] for d in days] == [r["date"] for r in rows]
    for day, row in zip(days, rows):
        assert day["totals"] == {
            "tokens": row["totalTokens"],
            "cost": row["totalCost"],
            "messages": row["requests"],
        }
        parts = day["tokenBreakdown"]
        assert sum(parts.values()) == row["totalTokens"]
        assert (parts["input"], parts["cacheRead"], parts["cacheWrite"]) == (
            row["inputTokens"],
            row["cacheReadTokens"],
            row["cacheCreationTokens"],
        )
        assert parts["output"] + parts["reasoning"] == row["outputTokens"]
        assert parts["reasoning"] == row["reasoningTokens"]
        by_model: dict[str, int] = defaultdict(int)
        for entry in day["sources"]:
            by_model[entry["modelId"]] += sum(entry["tokens"].values())
        assert dict(by_model) == {m["modelName"]: m["totalTokens"] for m in row["modelBreakdowns"]}
    totals = daily.json()["totals"]
    assert (graph["summary"]["totalTokens"], graph["summary"]["totalCost"]) == (
        totals["totalTokens"],
        totals["totalCost"],
    )
    assert graph["summary"]["unpricedModels"] == [UNPRICED_MODEL]
    assert graph["summary"]["totalDays"] == 365
    assert graph["meta"]["availableYears"] == [EARLIER_YEAR, YEAR]
    assert graph["meta"]["availableSources"] == ["claude-code", "codex", "gemini-cli", "proxy"]


def seeded_zone() -> Any:
    from llmledger.report.timezones import resolve_zone

    return resolve_zone("UTC")


def test_levels_and_stats_follow_the_days(seeded: Ledger) -> None:
    graph = graph_json(seeded, DashboardQuery(zone=seeded_zone(), year=YEAR))
    days = graph["contributions"]
    assert [d["intensity"] for d in days] == expected_levels([d["totals"]["cost"] for d in days])
    assert [d["tokenIntensity"] for d in days] == expected_levels(
        [d["totals"]["tokens"] for d in days]
    )
    assert {d["intensity"] for d in days} == {0, 1, 2, 3, 4}
    # A day with only unpriced usage has no cost to rank: level 0 by cost, not by tokens.
    costless = [d for d in days if d["intensity"] == 0]
    assert costless and all(d["tokenIntensity"] > 0 for d in costless)
    assert {e["modelId"] for d in costless for e in d["sources"]} == {UNPRICED_MODEL}
    stats = graph["summary"]["stats"]
    active = sorted(date.fromisoformat(d["date"]) for d in days if d["totals"]["tokens"])
    runs, run = [], 1
    for before, after in itertools.pairwise(active):
        run = run + 1 if after - before == timedelta(days=1) else 1
        runs.append(run)
    busiest = max(days, key=lambda d: d["totals"]["cost"])
    assert stats["activeDays"] == len(active) == len(days)
    assert stats["longestStreak"] == max(runs)
    assert stats["busiestDay"]["cost"] == {
        "date": busiest["date"],
        "tokens": busiest["totals"]["tokens"],
        "cost": busiest["totals"]["cost"],
    }
    # The seeded year ends on Dec 31 (work on the 29th-31st after the empty 25th and 26th).
    assert stats["currentStreak"] == 3
    models: dict[str, int] = defaultdict(int)
    for day in days:
        for entry in day["sources"]:
            models[entry["modelId"]] += sum(entry["tokens"].values())
    favourite = max(models, key=lambda m: models[m])
    assert stats["favouriteModel"]["tokens"]["model"] == favourite
    assert stats["favouriteModel"]["tokens"]["tokens"] == models[favourite]
    assert graph["years"][0]["stats"] == stats


def test_the_shape_is_tokscales_plus_extras(seeded: Ledger) -> None:
    graph = graph_json(seeded, DashboardQuery(zone=seeded_zone()))

    def keys(name: str) -> set[str]:
        return TOKSCALE_KEYS[name] | EXTRA_KEYS[name]

    assert set(graph) == keys("")
    assert set(graph["meta"]) == keys("meta")
    assert set(graph["meta"]["dateRange"]) == {"start", "end"}
    assert set(graph["summary"]) == keys("summary")
    assert [y["year"] for y in graph["years"]] == [str(EARLIER_YEAR), str(YEAR)]
    for year in graph["years"]:
        assert set(year) == keys("year")
    for day in graph["contributions"]:
        assert set(day) == keys("contribution")
        assert set(day["totals"]) == keys("totals")
        assert set(day["tokenBreakdown"]) == keys("tokenBreakdown")
        for entry in day["sources"]:
            assert TOKSCALE_KEYS["source"] <= set(entry) <= keys("source")
            assert set(entry["tokens"]) == keys("tokenBreakdown")
            assert entry["unpricedMessages"] if entry["modelId"] == UNPRICED_MODEL else True
    providers = {
        e["modelId"]: e.get("providerId") for d in graph["contributions"] for e in d["sources"]
    }
    assert providers["gpt-5"] == "openai" and providers[UNPRICED_MODEL] == "tencent"


def test_a_source_filter_ranks_its_own_days(seeded: Ledger) -> None:
    graph = graph_json(seeded, DashboardQuery(zone=seeded_zone(), year=YEAR, sources=("codex",)))
    days = graph["contributions"]
    assert {e["source"] for d in days for e in d["sources"]} == {"codex"}
    assert [d["intensity"] for d in days] == expected_levels([d["totals"]["cost"] for d in days])
    assert graph["meta"]["sources"] == ["codex"]
    assert graph["summary"]["unpricedModels"] == []


def test_graph_command_writes_the_endpoints_data(
    seeded: Ledger, seeded_path: Path, tmp_path: Path, cli: Cli
) -> None:
    target = tmp_path / "data.json"
    args = ("--year", str(YEAR), "--tz", "UTC", "--no-scan", "--db", str(seeded_path))
    result = cli("graph", "--output", str(target), "--benchmark", *args)
    assert result.code == 0, result.err
    written = json.loads(target.read_text())
    expected = graph_json(
        seeded, DashboardQuery(zone=seeded_zone(), since=date(YEAR, 1, 1), until=date(YEAR, 12, 31))
    )
    for data in (written, expected):
        del data["meta"]["generatedAt"]
    assert written == expected
    lines = result.err.splitlines()
    assert lines[0] == f"llmledger: graph data written to {target}"
    days, total = len(expected["contributions"]), expected["summary"]["totalCost"]
    assert lines[1] == f"  {days} days, 4 sources, 6 models; total ${total:,.2f}"
    assert lines[2].startswith("  processing time: ") and lines[2].endswith(" ms)")
    assert result.out == ""


def test_graph_command_to_stdout_with_a_source(seeded_path: Path, cli: Cli) -> None:
    result = cli("graph", "--claude", "--tz", "UTC", "--no-scan", "--db", str(seeded_path))
    assert result.code == 0, result.err
    data = msgspec.json.decode(result.out)
    assert {e["source"] for d in data["contributions"] for e in d["sources"]} == {"claude-code"}
    assert data["meta"]["sources"] == ["claude-code"]
    assert result.out.startswith('{\n  "meta": {\n')  # indented as tokscale writes it


def test_graph_command_refuses_what_it_does_not_take(seeded_path: Path, cli: Cli) -> None:
    db = ("--no-scan", "--db", str(seeded_path))
    bad_source = cli("graph", "--source", "claud", *db)
    assert bad_source.code == 2
    assert "unknown source 'claud' (did you mean claude-code?)" in bad_source.err
    by_model = cli("graph", "--model", "gpt-5", *db)
    assert (by_model.code, by_model.err.strip()) == (
        2,
        "llmledger: error: graph filters by --source only; --model applies to reports",
    )
    grouped = cli("html", "x.html", "--group-by", "user", *db)
    assert grouped.err.strip() == (
        "llmledger: error: html does not take --group-by; it shapes reports only"
    )
