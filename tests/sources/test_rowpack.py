"""Priced rows packed where records are parsed, de-duplicated by the scan process."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from llmledger.pricing.book import PriceBook
from llmledger.scan.work import Outcome, RowPacking, Task, packed
from llmledger.sources import claude_code
from llmledger.sources.base import Record, to_event
from llmledger.store import rowpack
from llmledger.store.rowpack import batch_rows
from llmledger.store.rows import Rows, build_rows, columns_for, width

from .conftest import claude_line

TS = datetime(2025, 9, 28, 6, 17, 23, 678000, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def prices() -> PriceBook:
    return PriceBook()


def claude(output: int, *, primary: bool = True, session: str = "s") -> Record:
    line = claude_line("msg_1", "req_1", output=output, sidechain=not primary, session=session)
    parsed = claude_code.parse_line(json.dumps(line).encode(), None, None)
    assert parsed is not None
    return parsed


def record(n: int, **fields: Any) -> Record:
    base = Record(f"id-{n}", TS, "gpt-5", "openai", 100 * n, 10, 5, 0, 40, 0, "s", "/p")
    return base._replace(rank=base.total_tokens, **fields)


def pack_rows(records: list[Record], source: str, prices: PriceBook) -> bytes:
    """What a worker does with a file's records for the scan process."""
    return RowPacking(rowpack.pack_rows, prices)(records, source)


def as_dicts(rows: Rows) -> dict[str, dict[str, Any]]:
    """Every row as {column: value}, by id, with its group key's fields."""
    result = {}
    for key, flat in rows.groups.items():
        columns, n = columns_for(key.mask), width(key.mask)
        for start in range(0, len(flat), n):
            row = dict(zip(columns, flat[start : start + n]))
            row.update(hour=key.hour, model=key.model, source=key.source, provider=key.provider)
            row.update(status=key.cost_status)
            row.update(price_version=key.price_version)
            result[row["id"]] = row
    return result


def test_packed_rows_equal_the_rows_of_priced_events(prices: PriceBook) -> None:
    records = [
        record(1),
        record(2, cache_write_1h_tokens=7, reasoning_tokens=9, details={"speed": "fast"}),
        record(3, model="no-such-model-anywhere", account="acct"),
        record(4, requests=3, session_id=None, project=None),
    ]
    events = [to_event(r, "codex") for r in records]
    prices.price_events(events)
    expected = as_dicts(build_rows(events))
    # gpt-5: 100 fresh and 5 cache writes at $1.25/M, 10 reads at $0.125/M, 40 output at $10/M.
    assert expected["id-1"]["cost_nanos"] == 532_500 and "cost_nanos" not in expected["id-3"]

    rows = batch_rows([pack_rows(records, "codex", prices)], {}, set())
    assert rows.count == 4 and as_dicts(rows) == expected


def test_of_copies_of_an_id_the_best_ranked_wins_across_files_and_batches(
    prices: PriceBook,
) -> None:
    def sessions(rows: Rows) -> list[tuple[int, str]]:
        return [(r["output_tokens"], r["session_id"]) for r in as_dicts(rows).values()]

    written: dict[str, int] = {}
    # In one file and across files: the primary copy beats a sidechain replay with more tokens.
    one_file = pack_rows([claude(500, primary=False), claude(7, session="main")], "c", prices)
    assert sessions(batch_rows([one_file], {}, set())) == [(7, "main")]
    first = batch_rows(
        [
            pack_rows([claude(500, primary=False, session="side")], "c", prices),
            pack_rows([claude(7, session="main")], "c", prices),
        ],
        written,
        set(),
    )
    assert sessions(first) == [(7, "main")]
    # A later batch: a replay loses to what was written, a bigger primary copy replaces it.
    replaced: set[str] = set()
    late = [claude(900, primary=False, session="side2"), claude(10, session="main")]
    again = batch_rows([pack_rows(late, "c", prices)], written, replaced)
    assert sessions(again) == [(10, "main")] and replaced == {"claude:msg_1"}
    # Nothing new: an equal copy (a resumed session) or a replay is not written again.
    same = pack_rows([claude(10, session="resumed")], "c", prices)
    assert batch_rows([same], written, set()).count == 0
    assert batch_rows([pack_rows(late[:1], "c", prices)], written, set()).count == 0


def test_a_replay_written_first_is_replaced_by_the_primary_copy(prices: PriceBook) -> None:
    written: dict[str, int] = {}
    replaced: set[str] = set()
    batch_rows([pack_rows([claude(500, primary=False)], "c", prices)], written, replaced)
    assert replaced == set()  # nothing written before: a plain insert
    batch_rows([pack_rows([claude(10)], "c", prices)], written, replaced)
    assert replaced == {"claude:msg_1"}


def task(tmp_path: Path) -> Task:
    return Task("codex", str(tmp_path / "f.jsonl"), "jsonl", 0, None, None, 1 << 20)


def test_a_worker_packs_rows_only_with_a_price_book(tmp_path: Path, prices: PriceBook) -> None:
    from llmledger.sources.base import FileParse

    def outcome() -> Outcome:
        return Outcome(task(tmp_path), FileParse([record(1), record(2)], 10))

    as_records = outcome().pack()
    assert (as_records.rows, as_records.count) == (False, 2)
    assert [r.id for r in as_records.unpack().parsed.records] == ["id-1", "id-2"]  # type: ignore[union-attr]

    as_rows = outcome().pack(RowPacking(rowpack.pack_rows, prices))
    assert (as_rows.rows, as_rows.count) == (True, 2) and as_rows.packed is not None
    assert set(as_dicts(batch_rows([as_rows.packed], {}, set()))) == {"id-1", "id-2"}
    with pytest.raises(ValueError, match="cannot be unpacked"):
        as_rows.unpack()


def test_a_record_the_store_would_reject_skips_its_file(
    tmp_path: Path, prices: PriceBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmledger.sources.base import FileParse

    bad = Outcome(task(tmp_path), FileParse([record(1, output_tokens=-5)], 10))
    skipped = packed(bad, RowPacking(rowpack.pack_rows, prices))
    assert skipped.parsed is None and skipped.error is not None
    assert "output_tokens" in skipped.error
