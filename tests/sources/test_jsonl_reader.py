"""The block reader finds exactly the marked lines, whatever the block size, and stops on line
boundaries."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from llmledger.sources import jsonl
from llmledger.sources.jsonl import JsonlReader, marker_pattern

MARK = marker_pattern(b'"usage"')


def make_lines(rng: random.Random) -> list[bytes]:
    lines = []
    for n in range(300):
        body = b"x" * rng.choice((0, 1, 5, 40, 300, 2000))
        marked = rng.random() < 0.4
        lines.append(b'{"n": %d, "pad": "%s"%s}' % (n, body, b', "usage": 1' if marked else b""))
    return lines


@pytest.mark.parametrize("block", [1, 7, 64, 1000, 4096, 1 << 20])
@pytest.mark.parametrize("unterminated", [False, True])
def test_marked_lines_for_any_block_size(tmp_path: Path, block: int, unterminated: bool) -> None:
    rng = random.Random(block)
    lines = make_lines(rng)
    data = b"\n".join(lines) + (b"" if unterminated else b"\n")
    path = tmp_path / "log.jsonl"
    path.write_bytes(data)
    reader = JsonlReader(path, 0, MARK, budget=1 << 40, block_size=block)
    found = list(reader.lines())
    complete = lines[:-1] if unterminated else lines
    assert found == [line for line in complete if b'"usage"' in line]
    assert reader.complete is True
    assert reader.first_line == lines[0]
    if unterminated:
        assert reader.tail == lines[-1]
        assert reader.end_offset == len(data) - len(lines[-1])
        reader.accept_tail()
    assert reader.end_offset == len(data)


def test_reading_resumes_from_an_offset_and_budget(tmp_path: Path) -> None:
    lines = make_lines(random.Random(5))
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "log.jsonl"
    path.write_bytes(data)
    got: list[bytes] = []
    offset, parts = 0, 0
    while True:
        reader = JsonlReader(path, offset, MARK, budget=5000, block_size=777)
        got += list(reader.lines())
        assert data[reader.end_offset - 1 : reader.end_offset] == b"\n"
        offset, parts = reader.end_offset, parts + 1
        if reader.complete:
            break
    assert parts > 3
    assert got == [line for line in lines if b'"usage"' in line]


def test_oversized_line_is_dropped_up_to_its_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE", 100)
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"usage": 1}\n{"usage": "' + b"y" * 1000 + b'"}\n{"usage": 2}\n')
    reader = JsonlReader(path, 0, MARK, budget=1 << 40, block_size=16)
    assert list(reader.lines()) == [b'{"usage": 1}', b'{"usage": 2}']
    assert reader.oversized == 1
    assert reader.end_offset == path.stat().st_size
