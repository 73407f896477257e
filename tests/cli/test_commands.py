"""The command table of ``cli/main.py``: it names every command the modules register (and
nothing else), and running a command imports only the module that registers it."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from llmledger.cli.common import Parser, UsageError, make_parents
from llmledger.cli.main import COMMANDS, build_parser, command_modules
from llmledger.ledger import Ledger

CLI = Path(__file__).resolve().parents[2] / "src" / "llmledger" / "cli"


def registered_by(module: str) -> set[str]:
    """The command names (aliases included) that ``llmledger.cli.<module>`` registers."""
    commands = Parser().add_subparsers(dest="command", parser_class=Parser)
    importlib.import_module(f"llmledger.cli.{module}").register(commands, make_parents())
    return set(commands.choices)


def modules_with_register() -> set[str]:
    """The modules of llmledger.cli that define ``register`` (read, not imported)."""
    return {
        path.stem
        for path in CLI.glob("*.py")
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "register"
            for node in ast.parse(path.read_text()).body
        )
    }


def test_the_table_names_what_each_module_registers() -> None:
    modules = set(COMMANDS.values())
    assert modules == modules_with_register(), "a module with register() is not in COMMANDS"
    for module in sorted(modules):
        declared = {name for name, owner in COMMANDS.items() if owner == module}
        assert registered_by(module) == declared, f"COMMANDS disagrees with cli/{module}.py"


@pytest.mark.parametrize(
    ("argv", "modules"),
    [
        ([], []),
        (["--json", "--no-scan"], []),
        (["--version"], []),
        (["daily", "--json"], ["reports"]),
        (["--db", "/tmp/ledger.db", "-s", "20250101", "monthly"], ["reports"]),
        (["--db", "daily.db", "sessions"], ["reports"]),
        (["record", "--model", "m", "--input", "1"], ["record"]),
        (["usage", "--help"], ["meter"]),
        (["html"], ["html_report"]),
    ],
)
def test_a_command_registers_only_its_module(argv: list[str], modules: list[str]) -> None:
    assert command_modules(argv) == modules


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["dialy"], ["--days", "x", "daily"]])
def test_help_and_mistakes_register_every_command(argv: list[str]) -> None:
    assert command_modules(argv) == list(dict.fromkeys(COMMANDS.values()))


def test_an_unknown_command_is_refused_naming_the_commands() -> None:
    with pytest.raises(UsageError, match="invalid choice: 'dialy'") as raised:
        build_parser(["dialy"]).parse_args(["dialy"])
    assert "'budgets'" in str(raised.value)


def test_the_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser(["--help"]).parse_args(["--help"])
    assert exited.value.code == 0
    listed = capsys.readouterr().out
    missing = [name for name in COMMANDS if f"    {name}" not in listed]
    assert missing == []


def test_the_daily_report_imports_no_other_command_module(tmp_path: Path) -> None:
    Ledger(tmp_path / "ledger.db").close()
    code = (
        "import sys\n"
        "from llmledger.cli.main import main\n"
        "main(['--no-scan', '--json', '--db', sys.argv[1]])\n"
        "print(sorted(m for m in sys.modules if m.startswith('llmledger.cli.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "ledger.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(ast.literal_eval(done.stdout.splitlines()[-1]))
    others = {f"llmledger.cli.{m}" for m in COMMANDS.values()} - {"llmledger.cli.reports"}
    assert "llmledger.cli.reports" in loaded
    assert loaded & others == set()
