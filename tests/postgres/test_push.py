"""``llmledger push``: two laptops' SQLite ledgers (overlapping and distinct events) pushed into
one PostgreSQL ledger, in either order and twice, hold exactly the union; a push sends what
was stored since the last one (older timestamps imported later included), and nothing else."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from llmledger.errors import StoreError
from llmledger.events import UsageEvent
from llmledger.ledger import Ledger
from llmledger.push import push

from .conftest import run_cli
from .test_laptops import report, scan, session


def ev(event_id: str, day: int, hour: int, tokens: int, **fields: object) -> UsageEvent:
    return UsageEvent(
        model="claude-sonnet-4-5" if tokens % 2 else "gpt-4o",
        id=event_id,
        ts=datetime(2026, 3, day, hour, tzinfo=timezone.utc),
        input_tokens=tokens,
        output_tokens=tokens // 4,
        cache_read_tokens=tokens * 3,
        cost_nanos=tokens * 1_001,
        cost_status="reported",
        **fields,  # type: ignore[arg-type]
    )


# A conversation synced to both laptops has the same ids on each.
SHARED = [ev(f"shared-{n}", 1, 9 + n, 100 + n) for n in range(5)]
ONLY_A = [ev(f"a-{n}", 1 + n % 3, 14, 1_000 + 7 * n) for n in range(6)]
ONLY_B = [ev(f"b-{n}", 2 + n % 2, 8 + n, 555 + n) for n in range(4)]


def laptop(path: Path, host: str, events: list[UsageEvent]) -> str:
    url = f"sqlite:///{path}"
    with Ledger(url, env={"LLMLEDGER_HOST": host, "LLMLEDGER_HOME": str(path.parent)}) as led:
        led.record_many([UsageEvent.from_mapping(e.to_dict()) for e in events])
    return url


def cli_push(source: str, target: str) -> dict[str, object]:
    result = run_cli("push", "--db", source, "--to", target, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def daily(db: str, *extra: str) -> object:
    result = run_cli(
        "daily", "--json", "--no-scan", "--since", "2026-03-01", "-z", "UTC", "--db", db, *extra
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("order", ["a-then-b", "b-then-a"])
def test_two_laptops_pushed_twice_in_either_order_hold_the_union(
    order: str, pg_url: str, tmp_path: Path
) -> None:
    a = laptop(tmp_path / "a" / "ledger.db", "laptop-a", SHARED + ONLY_A)
    b = laptop(tmp_path / "b" / "ledger.db", "laptop-b", ONLY_B + SHARED)
    union = laptop(tmp_path / "u" / "ledger.db", "laptop-a", SHARED + ONLY_A)
    with Ledger(union, env={"LLMLEDGER_HOST": "laptop-b"}) as led:
        led.record_many([UsageEvent.from_mapping(e.to_dict()) for e in ONLY_B])

    first, second = (a, b) if order == "a-then-b" else (b, a)
    sizes = {a: len(SHARED + ONLY_A), b: len(ONLY_B + SHARED)}
    for source in (first, second):
        result = cli_push(source, pg_url)
        assert result["sent"] == sizes[source]
    # the shared conversation is new only for the first laptop to push
    with Ledger(pg_url) as led:
        assert led.count() == len(SHARED) + len(ONLY_A) + len(ONLY_B)
    for source in (first, second):  # a second round sends only the last event again
        again = cli_push(source, pg_url)
        assert (again["sent"], again["written"], again["cursor"]) == (1, 0, sizes[source])

    assert daily(pg_url) == daily(union)
    expected_input = sum(e.input_tokens for e in SHARED + ONLY_A + ONLY_B)
    totals = daily(pg_url)["totals"]  # type: ignore[index]
    assert totals["inputTokens"] == expected_input
    assert totals["totalCost"] == pytest.approx(expected_input * 1_001 / 1e9, abs=1e-9)
    # each laptop's own events carry its host; the shared ones the first pusher's
    by_host = daily(pg_url, "--host", "laptop-b")["totals"]  # type: ignore[index]
    own_b = sum(e.input_tokens for e in ONLY_B)
    shared = sum(e.input_tokens for e in SHARED)
    assert by_host["inputTokens"] == own_b + (shared if order == "b-then-a" else 0)


def test_a_push_sends_events_stored_since_the_last_one_whatever_their_time(
    pg_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "laptop" / "ledger.db"
    url = laptop(path, "laptop-a", ONLY_A)
    with Ledger(url, env={"LLMLEDGER_HOST": "laptop-a"}) as led:
        first = push(led, pg_url)
        assert (first.sent, first.written) == (len(ONLY_A), len(ONLY_A))
        # an old log imported after the push: older than everything pushed so far
        led.record(ev("imported-late", 1, 0, 42))
        # a larger copy of a pushed id replaces it locally: it goes again, and wins
        bigger = ev("a-0", 1, 14, 5_000)
        led.record(bigger)
        again = push(led, pg_url)
        assert (again.sent, again.written) == (3, 2)  # the last event of before, then two
        assert push(led, pg_url).written == 0
    with Ledger(pg_url) as target:
        assert target.count() == len(ONLY_A) + 1
        stored = target.get("a-0")
        late = target.get("imported-late")
    assert stored is not None and stored.input_tokens == 5_000
    assert late is not None and late.host == "laptop-a"


def test_events_without_a_host_get_the_pushing_machines(pg_url: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with Ledger(url, env={"LLMLEDGER_HOST": "old-laptop"}) as led:
        led.store.write_events([ev("before-hosts", 1, 9, 10)])  # as a ledger from before hosts
        push(led, pg_url)
    with Ledger(pg_url) as target:
        pushed = target.get("before-hosts")
    assert pushed is not None and pushed.host == "old-laptop"


def test_push_refuses_a_shared_source_and_itself(pg_url: str, tmp_path: Path) -> None:
    url = laptop(tmp_path / "l" / "ledger.db", "laptop-a", ONLY_A[:1])
    with Ledger(pg_url) as shared, pytest.raises(StoreError, match="not one"):
        push(shared, url)
    result = run_cli("push", "--db", url, "--to", url)
    assert result.returncode != 0
    assert "another ledger" in result.stderr and "Traceback" not in result.stderr
    unreachable = run_cli("push", "--db", url, "--to", "postgresql://nobody@127.0.0.1:9/none")
    assert unreachable.returncode != 0 and "Traceback" not in unreachable.stderr
    with Ledger(url) as led:
        assert led.count() == 1  # nothing lost


@pytest.mark.parametrize("order", ["a-then-b", "b-then-a"])
def test_two_homes_scanned_locally_then_pushed_count_the_union_once(
    order: str, pg_url: str, tmp_path: Path
) -> None:
    laptop_a, laptop_b, union = tmp_path / "a", tmp_path / "b", tmp_path / "union"
    session(laptop_a, "only-a", "2026-03-01", 4)
    session(laptop_b, "only-b", "2026-03-02", 3)
    for home in (laptop_a, laptop_b, union):  # one conversation synced to both machines
        session(home, "shared", "2026-03-01", 5)
    session(union, "only-a", "2026-03-01", 4)
    session(union, "only-b", "2026-03-02", 3)
    ledgers = {home: f"sqlite:///{home / 'ledger.db'}" for home in (laptop_a, laptop_b, union)}
    for home, url in ledgers.items():
        scan(home, url)

    homes = [laptop_a, laptop_b] if order == "a-then-b" else [laptop_b, laptop_a]
    for home in homes + homes:
        cli_push(ledgers[home], pg_url)
    session(laptop_b, "later-b", "2026-02-27", 2)  # an old log found after the pushes
    session(union, "later-b", "2026-02-27", 2)
    for home in (laptop_b, union):
        scan(home, ledgers[home])
    cli_push(ledgers[laptop_b], pg_url)
    since_february = ("--since", "2026-02-01")
    assert report(pg_url) == report(ledgers[union])
    assert daily(pg_url, *since_february) == daily(ledgers[union], *since_february)
    later = daily(pg_url, *since_february)["daily"][0]  # type: ignore[index]
    assert (later["date"], later["inputTokens"]) == ("2026-02-27", 100 + 200)
