"""Code blocks of the project's Markdown files, and the comment markers that say how to test
them.

Conventions (an HTML comment on its own line, directly above the block's opening fence; blank
lines between are allowed, several comments may be stacked):

* ``<!-- doc-test: skip (why) -->``: the block is not run (``pip install .``, a server that
  blocks, a call that needs an API key); the reason is required and shown as the skip reason.
* ``<!-- output: exact -->`` (``console`` blocks only): what each ``$ `` command prints must
  equal the lines under it, trailing spaces and trailing blank lines aside.

Blocks tagged ``bash``, ``sh``, ``shell``, ``console`` or ``python`` are run; any other block
(``toml``, ``json``, untagged) is prose. In a ``console`` block a line starting with ``$ ``
is a command (a line ending in `` \\`` continues on the next), every other line is output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUNNABLE = ("bash", "sh", "shell", "console", "python")
_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_COMMENT = re.compile(r"^\s*<!--\s*(?P<text>.*?)\s*-->\s*$")
_SKIP = re.compile(r"^doc-test:\s*skip\s*\((?P<reason>[^)]+)\)$")
_EXACT = "output: exact"


class MarkerError(ValueError):
    """A ``doc-test:`` / ``output:`` comment that is not one of the conventions."""


@dataclass(frozen=True)
class Block:
    path: Path
    ordinal: int  # index among the file's runnable blocks (stable when outputs are rewritten)
    line: int  # 1-based line of the opening fence
    lang: str
    body: tuple[str, ...]
    skip: str | None  # the reason, when marked skip
    exact: bool

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


@dataclass(frozen=True)
class Command:
    text: str  # the command, continuation lines joined with newlines
    output: tuple[str, ...]


def _fences(lines: list[str]) -> list[tuple[int, int, str, str]]:
    """(opening index, closing index, indent, info string) of each fenced block."""
    found = []
    index = 0
    while index < len(lines):
        opening = _OPEN.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        close = index + 1
        while close < len(lines):
            stripped = lines[close].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            close += 1
        found.append((index, close, opening["indent"], opening["info"].strip()))
        index = close + 1
    return found


def _markers(lines: list[str], opening: int, where: str) -> tuple[str | None, bool]:
    skip: str | None = None
    exact = False
    index = opening - 1
    while index >= 0:
        text = lines[index]
        if not text.strip():
            index -= 1
            continue
        comment = _COMMENT.match(text)
        if comment is None:
            break
        directive = comment["text"]
        if directive.startswith("doc-test:"):
            matched = _SKIP.match(directive)
            if matched is None:
                raise MarkerError(f"{where}: write <!-- doc-test: skip (reason) -->, not {text!r}")
            skip = matched["reason"].strip()
        elif directive.startswith("output:"):
            if directive != _EXACT:
                raise MarkerError(f"{where}: write <!-- {_EXACT} -->, not {text!r}")
            exact = True
        index -= 1
    return skip, exact


def blocks(path: Path) -> list[Block]:
    """The runnable code blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    result: list[Block] = []
    for opening, closing, indent, info in _fences(lines):
        lang = info.split()[0].lower() if info else ""
        where = f"{path.name}:{opening + 1}"
        skip, exact = _markers(lines, opening, where)
        if lang not in RUNNABLE:
            if exact or skip:
                raise MarkerError(f"{where}: a marker above a block that is not run ({lang!r})")
            continue
        if exact and lang != "console":
            raise MarkerError(f"{where}: <!-- {_EXACT} --> is for console blocks")
        body = tuple(
            line[len(indent) :] if line.startswith(indent) else line
            for line in lines[opening + 1 : closing]
        )
        result.append(Block(path, len(result), opening + 1, lang, body, skip, exact))
    return result


def untagged_sessions(path: Path) -> list[int]:
    """Lines of untagged blocks that start with ``$ ``: terminal sessions that should be
    tagged ``console`` (and so run) or marked skip."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        opening + 1
        for opening, closing, _, info in _fences(lines)
        if not info and closing > opening + 1 and lines[opening + 1].lstrip().startswith("$ ")
    ]


def commands(block: Block) -> list[Command]:
    """The ``$ `` commands of a console block, each with the output lines under it."""
    result: list[Command] = []
    current: list[str] | None = None
    output: list[str] = []
    continued = False
    for line in block.body:
        if continued and current is not None:
            current.append(line)
            continued = line.rstrip().endswith("\\")
            continue
        if line.startswith("$ "):
            if current is not None:
                result.append(Command("\n".join(current), tuple(output)))
            current, output = [line[2:]], []
            continued = line.rstrip().endswith("\\")
        elif current is None:
            if line.strip():
                raise MarkerError(f"{block.where}: a console block starts with a '$ ' command")
        else:
            output.append(line)
    if current is not None:
        result.append(Command("\n".join(current), tuple(output)))
    return result


def normalized(lines: list[str] | tuple[str, ...]) -> list[str]:
    """Lines without trailing spaces, and without trailing blank lines."""
    result = [line.rstrip() for line in lines]
    while result and not result[-1]:
        result.pop()
    return result


def rewrite_outputs(path: Path, ordinal: int, outputs: list[list[str]]) -> None:
    """Replace the output lines of the ``ordinal``-th runnable block (a console block) with
    ``outputs``, one list per command; everything else in the file stays as it is."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    block = blocks(path)[ordinal]
    opening = block.line - 1
    closing = opening + 1 + len(block.body)
    indent = _OPEN.match(lines[opening])["indent"]  # type: ignore[index]
    body: list[str] = []
    for command, output in zip(commands(block), outputs, strict=True):
        first, *rest = command.text.split("\n")
        body.append(f"{indent}$ {first}")
        body.extend(f"{indent}{line}" for line in rest)
        body.extend(f"{indent}{line}".rstrip() for line in output)
    lines[opening + 1 : closing] = body
    path.write_text("\n".join(lines) + ("\n" if text.endswith("\n") else ""), encoding="utf-8")
