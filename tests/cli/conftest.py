"""Fixtures for the report command tests: a ledger seeded the same way every time, a runner
that fixes the output width, and golden files (``--update-golden`` rewrites them:
``python -m pytest tests/cli --update-golden``)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmledger.cli.main import main
from llmledger.ledger import Ledger

GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/cli/golden/ from the current output instead of comparing",
    )


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_totals(self) -> dict[str, Any]:
        return dict(self.json()["totals"])


Runner = Callable[..., Run]


# (ts, source, model, session, project, user, input, output, cache write, cache read,
#  reported cost in USD or None: priced by the price book, or unpriced when it has no entry)
SEED: list[tuple[str, str, str, str | None, str | None, str | None, int, int, int, int,
                 float | None]] = [
    ("2025-08-04T09:15:00Z", "claude-code", "claude-sonnet-4-5-20250929",
     "0f1e2d3c-4b5a-6978-8a9b-abcdef012345",
     "/home/alice/code/llmledger-with-a-rather-long-project-folder-name", "alice",
     12_345, 6_789, 45_000, 1_234_567, 1.2345),
    ("2025-08-04T11:40:00Z", "claude-code", "claude-opus-4-1-20250805",
     "0f1e2d3c-4b5a-6978-8a9b-abcdef012345",
     "/home/alice/code/llmledger-with-a-rather-long-project-folder-name", "alice",
     2_000, 3_000, 0, 250_000, 2.5),
    ("2025-08-05T14:00:00Z", "codex", "gpt-5-codex", "rollout-2025-08-05T14-00-00-019a",
     "/home/bob/src/api", "bob", 50_000, 8_000, 0, 400_000, 0.98),
    ("2025-08-12T08:00:00Z", "qwen-code", "通义千问-max-🚀", "s-qwen", "数据分析项目", "张伟",
     7_000, 900, 0, 0, None),
    ("2025-08-20T23:30:00Z", "manual", "gpt-4o", None, None, "alice", 1_000, 500, 0, 0, None),
    ("2025-09-01T10:00:00Z", "claude-code", "claude-sonnet-4-5-20250929",
     "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
     "/home/alice/code/llmledger-with-a-rather-long-project-folder-name", "alice",
     800, 1_200, 0, 90_000, 0.3),
    ("2025-09-01T12:00:00Z", "sdk", "gpt-4o-mini", None, "数据分析项目", "bob", 100, 50, 0, 0,
     None),
]  # fmt: skip


def seed(path: Path) -> None:
    with Ledger(path) as ledger:
        for number, row in enumerate(SEED):
            ts, source, model, session, project, user, tin, tout, cw, cr, cost = row
            ledger.record(
                id=f"seed-{number}",
                ts=ts,
                source=source,
                model=model,
                session_id=session,
                project=project,
                user_id=user,
                input_tokens=tin,
                output_tokens=tout,
                cache_write_tokens=cw,
                cache_read_tokens=cr,
                cost=cost,
            )


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    path = tmp_path / "seeded.db"
    seed(path)
    return path


@pytest.fixture
def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, seeded: Path
) -> Runner:
    """``llmledger ARGV --db <seeded> --no-scan`` in-process, stdout not a terminal;
    ``columns`` sets COLUMNS (None: unset, the natural width of output that is no terminal)."""

    def invoke(*argv: str, columns: int | None = 80, db: Path | None = None) -> Run:
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", str(columns))
        capsys.readouterr()
        code = main([*argv, "--db", str(db or seeded), "--no-scan"])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare ``text`` with ``tests/cli/golden/<name>``, whole; rewrite it instead with
    ``--update-golden``."""
    update = bool(request.config.getoption("update_golden", default=False))

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"no golden file {path}: run pytest tests/cli --update-golden")
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"golden/{name}",
                "actual output",
            )
            pytest.fail(
                f"output differs from golden/{name} (pytest tests/cli --update-golden "
                "rewrites it):\n" + "".join(diff),
                pytrace=False,
            )

    return check
