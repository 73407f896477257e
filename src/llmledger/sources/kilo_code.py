"""Kilo Code (VS Code extension ``kilocode.kilo-code``), up to its 5.x versions: task folders,
read as Roo Code's (``roo_code``), which Kilo Code forked: the same messages, the model from
the prompts' ``<model>`` tags, the same rule for what ``tokensIn`` holds. Kilo Code took Roo
Code's change to whole-prompt ``tokensIn`` (RooCodeInc/Roo-Code#8954) after Roo Code did; the
date used is Roo Code's, so Anthropic-protocol requests of an older Kilo Code made after it
whose ``tokensIn`` is at least their cache are read as totals.

Not read: Kilo Code 7, a rewrite on an OpenCode-derived core that keeps sessions in a
database (``$XDG_DATA_HOME/kilo/kilo.db``), not in task folders.

Verified against Kilo-Org/kilocode @ f2d62c8f (``src/shared/cost.ts``: the pre-#8954 cost
functions) and the Roo Code sources ``roo_code`` names.
"""

from __future__ import annotations

from llmledger.sources.cline_family import ApiReqInfo, Flavor, TaskSource, roo_context
from llmledger.sources.roo_code import TOTAL_INPUT_SINCE_MS, roo_includes_cache

NAME = "kilo-code"


def includes_cache(info: ApiReqInfo, provider: str | None, ts_ms: int) -> bool:
    return roo_includes_cache(info, TOTAL_INPUT_SINCE_MS, ts_ms)


FLAVOR = Flavor(
    name=NAME,
    title="Kilo Code",
    shortcut="kilo",  # llmledger daily --kilo
    extension_id="kilocode.kilo-code",
    includes_cache=includes_cache,
    context=roo_context,
)
SOURCE = TaskSource(FLAVOR)
