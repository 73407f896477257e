"""Every report, in every format, compared whole with tests/cli/golden/ (from the ledger that
conftest.seed builds: a CJK model and project, an emoji, an unpriced model, long names).

Tables at COLUMNS=80, at 120, and with no width at all (stdout not a terminal): the natural
width. Colors are off: stdout is not a terminal here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.conftest import Runner

KINDS = ("daily", "weekly", "monthly", "models", "sessions", "blocks")

# name -> (arguments, COLUMNS or None for output that is not a terminal)
CASES: dict[str, tuple[tuple[str, ...], int | None]] = {}
for kind in KINDS:
    CASES[f"w80-{kind}"] = ((kind,), 80)
    CASES[f"w120-{kind}"] = ((kind,), 120)
    CASES[f"json-{kind}"] = ((kind, "--json"), 80)
for kind in KINDS:
    CASES[f"csv-{kind}"] = ((kind, "--csv"), 80)
for kind in ("daily", "weekly", "monthly", "sessions"):
    CASES[f"w80-{kind}-breakdown"] = ((kind, "--breakdown"), 80)
CASES.update(
    {
        "w120-daily-breakdown": (("daily", "-b"), 120),
        "w80-daily-group-user": (("daily", "--group-by", "user"), 80),
        "w80-monthly-group-project": (("monthly", "--group-by", "project"), 80),
        "w80-models-group-source": (("models", "--group-by", "source"), 80),
        "w80-sessions-group-user": (("sessions", "--group-by", "user"), 80),
        "w80-daily-tokyo": (("daily", "-z", "Asia/Tokyo"), 80),
        "w80-daily-desc": (("daily", "-o", "desc"), 80),
        "w80-blocks-all-sources": (("blocks", "--claude", "--qwen", "--codex"), 80),
        "w60-sessions": (("sessions",), 60),
        "narrow40-models": (("models",), 40),
        "json-monthly-group-user": (("monthly", "--json", "--group-by", "user"), 80),
        "json-sessions-desc": (("sessions", "-j", "--order", "desc"), 80),
        "csv-daily-breakdown": (("daily", "--csv", "--breakdown"), 80),
        "csv-monthly-group-project": (("monthly", "--csv", "--group-by", "project"), 80),
        "natural-daily-breakdown": (("daily", "--breakdown"), None),
        "natural-sessions": (("sessions",), None),
        "natural-models-group-user": (("models", "--group-by", "user"), None),
        "natural-blocks": (("blocks", "--claude", "--qwen"), None),
        "csv-blocks-desc": (("blocks", "--csv", "--claude", "--qwen", "-o", "desc"), 80),
    }
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_output(name: str, run: Runner, golden: Callable[[str, str], None]) -> None:
    argv, columns = CASES[name]
    if "-z" not in argv:
        argv = (*argv, "-z", "UTC")
    result = run(*argv, columns=columns)
    assert result.code == 0, result.err
    assert result.err == ""
    extension = "json" if "json" in name else "csv" if name.startswith("csv") else "txt"
    golden(f"{name}.{extension}", result.out)
