"""Every shell, console and Python example in README.md and docs/*.md runs, from the
repository root, against the sample home ``examples/home`` (HOME), with a fresh temporary data
dir (``LLMLEDGER_HOME``) per block and no network. Markers and conventions: tests/docs/markdown.py.
Regenerate exact outputs with ``python -m pytest tests/docs --update-docs``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.docs import markdown

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_HOME = ROOT / "examples" / "home"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 180

# Variables that would point a command at the reader's real logs, ledger or terminal.
_DROPPED = (
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "KIMI_SHARE_DIR",
    "COPILOT_HOME",
    "COPILOT_OTEL_FILE_EXPORTER_PATH",
    "CLINE_DIR",
    "CLINE_DATA_DIR",
    "CLINE_SESSION_DATA_DIR",
    "APPDATA",
    "LOCALAPPDATA",
    "GOOSE_PATH_ROOT",
    "CRUSH_GLOBAL_DATA",
    "HERMES_HOME",
    "FLATPAK_XDG_DATA_HOME",
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "FORCE_COLOR",
)
_UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers, nothing leaves


def doc_env(tmp: Path) -> dict[str, str]:
    """The environment of one block: HOME is a copy of the sample home (a tool that writes
    into its HOME cannot touch examples/home), the data dir is new and empty."""
    home = tmp / "home"
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(SAMPLE_HOME, home)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _DROPPED and not name.startswith(("LLMLEDGER_", "XDG_"))
    }
    # `llmledger` and `python` are the ones of the interpreter running the tests.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        HOME=str(home),
        LLMLEDGER_HOME=str(tmp / "llmledger"),
        TMPDIR=str(tmp),
        TZ="UTC",
        COLUMNS="120",
        PYTHONIOENCODING="utf-8",
        HTTP_PROXY=_UNREACHABLE,
        HTTPS_PROXY=_UNREACHABLE,
        ALL_PROXY=_UNREACHABLE,
        http_proxy=_UNREACHABLE,
        https_proxy=_UNREACHABLE,
        all_proxy=_UNREACHABLE,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def _all_blocks() -> list[markdown.Block]:
    return [block for path in DOCS for block in markdown.blocks(path)]


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=TIMEOUT,
        check=False,
    )


def _statements(lines: tuple[str, ...]) -> list[str]:
    """The block's lines grouped into complete shell statements (a group grows until bash
    can parse it: continuation lines, loops and here-documents stay together)."""
    groups: list[str] = []
    pending: list[str] = []
    for line in lines:
        pending.append(line)
        if line.endswith("\\"):
            continue  # a continuation line: the statement goes on
        text = "\n".join(pending)
        parsed = subprocess.run(["bash", "-n", "-c", text], capture_output=True, check=False)
        if parsed.returncode == 0:
            groups.append(text)
            pending = []
    assert not pending, f"incomplete shell statement: {pending}"
    return groups


def shell_script(lines: tuple[str, ...]) -> str:
    """A script that stops at the first statement that fails, `a && b` lines included
    (which `set -e` lets pass), in one shell so variables carry from line to line."""
    checked = [f"eval {shlex.quote(group)} || exit $?" for group in _statements(lines)]
    return "set -o pipefail\n" + "\n".join(checked) + "\n"


def _failed(block: markdown.Block, what: str, result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{block.where}: {what} exited {result.returncode} "
        f"(fix it, or mark it <!-- doc-test: skip (reason) -->):\n{result.stdout}"
    )


def _check_console(block: markdown.Block, env: dict[str, str], update: bool) -> None:
    commands = markdown.commands(block)
    assert commands, f"{block.where}: a console block without a '$ ' command"
    outputs: list[list[str]] = []
    for command in commands:
        result = _run(["bash", "-o", "pipefail", "-c", command.text], env)
        assert result.returncode == 0, _failed(block, f"$ {command.text}", result)
        outputs.append(markdown.normalized(result.stdout.splitlines()))
    if not block.exact:
        return
    expected = [markdown.normalized(command.output) for command in commands]
    if outputs == expected:
        return
    if update:
        markdown.rewrite_outputs(block.path, block.ordinal, outputs)
        warnings.warn(f"{block.where}: output rewritten (--update-docs)", stacklevel=1)
        return
    for command, want, got in zip(commands, expected, outputs):
        assert got == want, (
            f"{block.where}: `{command.text}` printed something else; if the change is "
            "intended, run: python -m pytest tests/docs --update-docs"
        )


@pytest.mark.parametrize("block", _all_blocks(), ids=lambda block: block.where)
def test_doc_block_runs(block: markdown.Block, tmp_path: Path, update_docs: bool) -> None:
    if block.skip:
        pytest.skip(block.skip)
    env = doc_env(tmp_path)
    if block.lang == "console":
        _check_console(block, env, update_docs)
        return
    if block.lang == "python":
        script = tmp_path / "example.py"
        script.write_text("\n".join(block.body) + "\n", encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        script = tmp_path / "example.sh"
        script.write_text(shell_script(block.body), encoding="utf-8")
        argv = ["bash", str(script)]
    result = _run(argv, env)
    assert result.returncode == 0, _failed(block, f"the {block.lang} block", result)


def test_readme_what_you_get_is_compared_exactly() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("## What you get") + 1
    end = next(n for n in range(start, len(lines)) if lines[n].startswith("## "))
    example = next(b for b in markdown.blocks(ROOT / "README.md") if start < b.line <= end)
    assert (example.lang, example.exact) == ("console", True), (
        "README.md's 'What you get' example must be marked <!-- output: exact -->"
    )
    commands = markdown.commands(example)
    assert commands[0].text.startswith("HOME=examples/home ")


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_terminal_sessions_are_tagged_console(path: Path) -> None:
    """An untagged block of '$ ' lines would silently escape these tests."""
    assert markdown.untagged_sessions(path) == [], f"{path.name}: tag these blocks ```console"


def test_a_failing_line_fails_the_block(tmp_path: Path) -> None:
    script = tmp_path / "example.sh"
    script.write_text(shell_script(("X=1", "false && true", "echo $X")), encoding="utf-8")
    assert subprocess.run(["bash", str(script)], capture_output=True).returncode == 1
    body = ("X=1 \\", "  Y=2", "for n in 1 2; do", "  echo $n", "done", "echo $X$Y")
    script.write_text(shell_script(body), encoding="utf-8")
    ran = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert (ran.returncode, ran.stdout) == (0, "1\n2\n12\n")


def test_markers_are_read(tmp_path: Path) -> None:
    sample = """\
<!-- doc-test: skip (needs an API key) -->
```python
print(1)
```

<!-- output: exact -->
```console
$ echo a \\
  b
a b
$ true
```
"""
    path = tmp_path / "sample.md"
    path.write_text(sample, encoding="utf-8")
    first, second = markdown.blocks(path)
    assert (first.lang, first.skip, first.exact) == ("python", "needs an API key", False)
    assert (second.lang, second.skip, second.exact) == ("console", None, True)
    assert markdown.commands(second) == [
        markdown.Command("echo a \\\n  b", ("a b",)),
        markdown.Command("true", ()),
    ]
