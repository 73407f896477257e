"""The graph's pure parts: quartile levels, streaks, and the dashboard's query parameters."""

from __future__ import annotations

from datetime import date, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmledger.web.levels import quartile_levels
from llmledger.web.query import DashboardQuery, QueryError, parse_query
from llmledger.web.streaks import current_streak, longest_streak


def test_levels_rank_the_active_days_by_quarters() -> None:
    assert quartile_levels([0, 10, 20, 30, 40, 0]) == [0, 1, 2, 3, 4, 0]
    assert quartile_levels([1, 2, 3, 4, 5, 6, 7, 8]) == [1, 1, 2, 2, 3, 3, 4, 4]
    # One huge day does not wash out the rest (a ratio to the maximum would put them all at 1).
    assert quartile_levels([5, 6, 7, 1_000_000]) == [1, 2, 3, 4]
    assert quartile_levels([0, 0]) == [0, 0]
    assert quartile_levels([]) == []
    # Ties share the higher level; a lone active day is the top level.
    assert quartile_levels([3, 3, 3, 3]) == [4, 4, 4, 4]
    assert quartile_levels([0, 9]) == [0, 4]
    assert quartile_levels([1, 9]) == [2, 4]


@given(st.lists(st.integers(min_value=0, max_value=10**12), max_size=400))
def test_levels_follow_the_values_and_fill_each_quarter(values: list[int]) -> None:
    levels = quartile_levels(values)
    assert len(levels) == len(values)
    for value, level in zip(values, levels):
        assert (level == 0) == (value == 0)
        assert 0 <= level <= 4
    ordered = sorted(zip(values, levels))
    assert [level for _, level in ordered] == sorted(levels)  # more never ranks lower
    active = [v for v in values if v > 0]
    if active:
        top = max(active)
        assert levels[values.index(top)] == 4
        # At most a quarter of the active days (rounded up, ties aside) sit below each level.
        for level in (1, 2, 3):
            below = sum(1 for v, lv in zip(values, levels) if v > 0 and lv <= level)
            assert below <= -(-len(active) * level // 4) or len(set(active)) < len(active)


def test_streaks() -> None:
    start = date(2025, 3, 1)
    active = {start + timedelta(days=n) for n in (0, 1, 2, 5, 6, 7, 8, 20)}
    assert longest_streak(active) == 4
    assert longest_streak([]) == 0
    assert current_streak(active, date(2025, 3, 9)) == 4  # the 6th to the 9th
    assert current_streak(active, date(2025, 3, 10)) == 4  # nothing yet on the 10th
    assert current_streak(active, date(2025, 3, 8)) == 3
    assert current_streak(active, date(2025, 3, 11)) == 0
    assert current_streak(active, date(2025, 3, 22)) == 1


def test_query_parameters_are_the_clis() -> None:
    zone = timezone.utc
    query = parse_query(
        {
            "tz": ["Europe/Berlin"],
            "since": ["20250301"],
            "until": ["2025-03-31"],
            "source": ["codex"],
        },
        zone,
    )
    assert (query.zone_name, query.since, query.until, query.sources) == (
        "Europe/Berlin",
        date(2025, 3, 1),
        date(2025, 3, 31),
        ("codex",),
    )
    assert query.canonical() == "since=2025-03-01&source=codex&tz=Europe%2FBerlin&until=2025-03-31"
    year = parse_query({"year": ["2024"], "since": ["2024-06-01"]}, zone)
    assert (year.first_day, year.last_day) == (date(2024, 6, 1), date(2024, 12, 31))
    assert parse_query({}, zone) == DashboardQuery(zone=zone)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tz": ["Mars/Olympus"]}, "tz: unknown time zone 'Mars/Olympus'"),
        ({"since": ["2025-02-30"]}, "since='2025-02-30' is not a date"),
        ({"since": ["2025-03-02"], "until": ["2025-03-01"]}, "since 2025-03-02 is after until"),
        ({"year": ["25"]}, "year=25 is out of range"),
        ({"days": ["7"], "since": ["2025-01-01"]}, "days counts back from today"),
        ({"tz": ["UTC", "UTC"]}, "tz is given 2 times"),
        ({"colour": ["red"]}, "unknown parameter 'colour'"),
    ],
)
def test_bad_parameters_say_which(params: dict[str, list[str]], message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(params, timezone.utc)
    assert str(caught.value).startswith(message)
