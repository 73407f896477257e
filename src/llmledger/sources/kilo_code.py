"""Kilo Code (VS Code extension ``kilocode.kilo-code``, and its CLI).

Up to its 5.x versions: task folders, read as Roo Code's (``roo_code``), which Kilo Code
forked: the same messages, the model from the prompts' ``<model>`` tags, the same rule for
what ``tokensIn`` holds. Kilo Code took Roo Code's change to whole-prompt ``tokensIn``
(RooCodeInc/Roo-Code#8954) after Roo Code did; the date used is Roo Code's, so
Anthropic-protocol requests of an older Kilo Code made after it whose ``tokensIn`` is at least
their cache are read as totals.

Kilo Code 7 (the extension and the ``kilo`` CLI) is a rewrite on an OpenCode-derived core:
sessions live in ``${XDG_DATA_HOME:-~/.local/share}/kilo/kilo.db`` (channel builds
``kilo-<channel>.db``), OpenCode's database, read as OpenCode's (``opencode.parse_database``:
assistant messages, ids ``opencode:<message id>``, so a message that also sits in an OpenCode
store counts once).

Verified against Kilo-Org/kilocode @ f2d62c8f (``src/shared/cost.ts``: the pre-#8954 cost
functions), @ f10b24fc (``packages/opencode/src/storage/db.ts``: ``Global.Path.data/kilo.db``),
its ``global`` module (``const app = "kilo"``, the XDG data dir) and the Roo Code sources
``roo_code`` names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from llmledger.sources import opencode
from llmledger.sources.base import FileParse, Fingerprint, SourceFile, xdg_dir
from llmledger.sources.cline_family import ApiReqInfo, Flavor, TaskSource, roo_context
from llmledger.sources.roo_code import TOTAL_INPUT_SINCE_MS, roo_includes_cache
from llmledger.sources.sqlite_files import databases_in, wal_fingerprint

NAME = "kilo-code"


def includes_cache(info: ApiReqInfo, provider: str | None, ts_ms: int) -> bool:
    return roo_includes_cache(info, TOTAL_INPUT_SINCE_MS, ts_ms)


def data_dir(env: Mapping[str, str]) -> Path:
    """Kilo Code 7's data directory (xdg-basedir's data dir, ``~/.local/share`` without it)."""
    return xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "kilo"


def _is_database(name: str) -> bool:
    return name == "kilo.db" or (name.startswith("kilo-") and name.endswith(".db"))


FLAVOR = Flavor(
    name=NAME,
    title="Kilo Code",
    shortcut="kilo",  # llmledger daily --kilo
    extension_id="kilocode.kilo-code",
    includes_cache=includes_cache,
    context=roo_context,
)


class KiloCode(TaskSource):
    """Task folders (up to 5.x) and Kilo Code 7's OpenCode-style databases."""

    def roots(self, env: Mapping[str, str]) -> list[Path]:
        return [*super().roots(env), data_dir(env)]

    def discover(self, env: Mapping[str, str]) -> Iterator[SourceFile]:
        yield from super().discover(env)
        yield from databases_in(NAME, data_dir(env), _is_database)

    def parse(
        self, path: Path, offset: int, carry: dict[str, Any] | None, budget: int
    ) -> FileParse:
        if path.suffix == ".db":
            return opencode.parse_database(path, carry)
        return super().parse(path, offset, carry, budget)

    def fingerprint(self, path: str) -> Fingerprint:
        return wal_fingerprint(path) if path.endswith(".db") else super().fingerprint(path)


SOURCE = KiloCode(FLAVOR)
