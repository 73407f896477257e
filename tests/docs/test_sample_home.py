"""examples/home is what examples/make_home.py writes, byte for byte, and reads as intended."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from llmledger.ledger import Ledger
from llmledger.scan import scan

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_HOME = ROOT / "examples" / "home"


def _make_home() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_home", ROOT / "examples" / "make_home.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_home", module)
    spec.loader.exec_module(module)
    return module


def _on_disk(home: Path) -> dict[str, bytes]:
    return {
        path.relative_to(home).as_posix(): path.read_bytes()
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


def test_committed_sample_home_equals_the_script_output() -> None:
    wanted = {name: text.encode("utf-8") for name, text in _make_home().files().items()}
    assert _on_disk(SAMPLE_HOME) == wanted, "run: python examples/make_home.py"


def test_the_script_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    make_home = _make_home()
    make_home.write(tmp_path / "home")
    first = _on_disk(tmp_path / "home")
    make_home.write(tmp_path / "home")
    assert _on_disk(tmp_path / "home") == first
    assert sum(map(len, first.values())) < 32_000  # a few KB, not a corpus


def test_the_script_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    try:
        _make_home().write(mine)
    except SystemExit as exc:
        assert "refusing" in str(exc)
    else:
        raise AssertionError("wrote into a foreign directory")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_every_source_and_rule_in_the_sample_home_counts_once(tmp_path: Path) -> None:
    with Ledger(str(tmp_path / "ledger.db")) as ledger:
        result = scan(ledger, env={"HOME": str(SAMPLE_HOME)}, workers=1)
        assert result.malformed == 0 and result.skipped == []
        per_source: dict[str, int] = {}
        for event in ledger.events():
            per_source[event.source] = per_source.get(event.source, 0) + 1
    # Claude: 3 streamed copies + 1 reply + 2 subagent replies + 1 in session two, the
    # <synthetic> notice ignored; Codex: 3 turns, the re-emitted event and info:null skipped.
    assert per_source == {"claude-code": 5, "codex": 3, "gemini-cli": 2, "opencode": 2}
