"""The project's own promises: public surface, lint and types clean, README commands, and
documentation links that stay inside the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import llmledger

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]


def in_ci() -> bool:
    """CI=true (or 1/yes), as CI services and .ci/run set it: missing tools fail, not skip."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def test_public_surface_is_sorted_and_importable() -> None:
    assert llmledger.__all__ == sorted(llmledger.__all__)
    for name in llmledger.__all__:
        assert getattr(llmledger, name) is not None, name


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[0] == "pip install . && llmledger"
    assert commands[1] == "pip install -e '.[test]' && python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (pip install -e '.[test]')"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this fails instead of skipping")
        pytest.skip(message)
    return path


@pytest.mark.parametrize(
    "argv",
    [["check", "."], ["format", "--check", "."]],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff_clean(argv: list[str]) -> None:
    result = subprocess.run(
        [_tool("ruff"), *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    _tool("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the layering ----------------------------------------------------------------------------


def _lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [_tool("lint-imports"), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("sources/walk.py", "import llmledger.ledger", "import nothing above them"),
        ("report/blocks.py", "import llmledger.store.sqlite", "internals stay inside store/"),
        ("gateway/errors.py", "import llmledger.store.health", "only through the Ledger"),
    ],
)
def test_the_import_contracts_catch_a_break(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    broken = tmp_path / "src" / "llmledger" / module
    broken.write_text(broken.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint_imports(tmp_path, tmp_path / "src")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 kept, 1 broken" in result.stdout
    assert f"{contract} BROKEN" in result.stdout


# -- links in the documentation ------------------------------------------------------------

_INLINE = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>")
_HTML = re.compile(r"\b(?:href|src)\s*=\s*[\"']([^\"']*)[\"']", re.I)
_BARE = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.I)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def _prose(text: str) -> str:
    """The Markdown without fenced code blocks and code spans (their URLs are not links)."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.strip().startswith(fence) and not line.strip(" `~"):
            fence = None
        elif fence is None:
            kept.append(line)
    return re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", "", "\n".join(kept), flags=re.S)


def links(text: str) -> list[str]:
    """Every link target in a Markdown text, bare URLs in its prose included."""
    prose = _prose(text)
    found: list[str] = []
    for pattern in (_INLINE, _REFERENCE, _AUTOLINK, _HTML):
        found.extend(match.group(1) for match in pattern.finditer(prose))
    rest = prose
    for pattern in (_INLINE, _REFERENCE, _AUTOLINK, _HTML):
        rest = pattern.sub("", rest)
    found.extend(match.group(0).rstrip(".,;:!?)>'\"") for match in _BARE.finditer(rest))
    return found


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file."""
    anchors: set[str] = set()
    for line in _prose(path.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchor, n = slug, 1
            while anchor in anchors:
                anchor, n = f"{slug}-{n}", n + 1
            anchors.add(anchor)
    return anchors


def link_problem(source: Path, target: str) -> str | None:
    """Why ``target`` (a link in ``source``) is not a working link inside the repository."""
    if _SCHEME.match(target) or target.startswith(("//", "www.")):
        return "leaves the repository"
    path_part, _, anchor = target.partition("#")
    if path_part.startswith("/"):
        return "is absolute; use a path relative to the file"
    resolved = (source.parent / path_part).resolve() if path_part else source
    if not resolved.is_relative_to(ROOT):
        return "leaves the repository"
    if not resolved.exists():
        return "names a file that does not exist"
    if anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
        return f"names a heading #{anchor} that {resolved.name} does not have"
    return None


def test_documentation_links_stay_inside_the_repository() -> None:
    problems = [
        f"{path.relative_to(ROOT)}: ({target}) {problem}"
        for path in DOC_FILES
        for target in links(path.read_text(encoding="utf-8"))
        if (problem := link_problem(path, target)) is not None
    ]
    assert problems == []


def test_the_link_check_sees_what_it_must() -> None:
    sample = """\
See [the notes](../../shared/notes/agent-logs.md), [a site](https://example.com/x "t"),
<https://example.org>, www.example.net, [ok](README.md#python-api) and [ref].
`https://in-code.example` is code, not a link.

[ref]: http://example.com/ref

```toml
base_url = "https://api.openai.com/v1"
```
"""
    found = links(sample)
    assert found == [
        "../../shared/notes/agent-logs.md",
        "https://example.com/x",
        "README.md#python-api",
        "http://example.com/ref",
        "https://example.org",
        "www.example.net",
    ]
    problems = {target: link_problem(ROOT / "README.md", target) for target in found}
    assert problems["README.md#python-api"] is None
    assert all(problem for target, problem in problems.items() if "example" in target)
    assert problems["../../shared/notes/agent-logs.md"] == "leaves the repository"
