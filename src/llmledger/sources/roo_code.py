"""Roo Code (VS Code extension ``rooveterinaryinc.roo-cline``): task folders, read as the Cline
family reads them (``cline_family``).

``tokensIn``: requests over an OpenAI-style protocol (``apiProtocol: "openai"``) report the
whole prompt, cache included. Over the Anthropic protocol, Roo Code reported the input without
the cache until RooCodeInc/Roo-Code#8954 (merged 2025-10-31T19:14Z), and the whole prompt
(``input + cacheWrites + cacheReads``, ``calculateApiCostAnthropic``'s ``totalInputTokens``)
since. A message does not say which version wrote it, so: ``tokensIn`` below
``cacheReads + cacheWrites`` is the input without the cache (it cannot be a total), an
Anthropic-protocol request dated before the merge is too, and the rest are totals. Messages
without ``apiProtocol`` (the oldest versions) are read as Cline's: without the cache.

The model: UI messages do not name it; every request's prompt does, in its environment
details (``<model>…</model>``), in a user message of ``api_conversation_history.json`` stamped
with ``ts`` just after the request's ``api_req_started``. A request's model is the last one
stamped before the next request. The project is ``history_item.json``'s ``workspace``, else
the prompt's ``# Current Workspace Directory (…) Files``. A custom storage path
(``roo-cline.customStoragePath``) is not followed. Roo Code's CLI runs the extension on a shim
whose global storage is ``~/.vscode-mock/global-storage``: its tasks are read too.

Verified against RooCodeInc/Roo-Code @ cb836567 (``src/core/task/Task.ts``,
``packages/vscode-shim/src/context/ExtensionContext.ts``, ``apps/cli/src/lib/task-history``,
``src/shared/cost.ts``, ``src/core/environment/getEnvironmentDetails.ts``,
``packages/types/src/history.ts``) and commit 416fa572 (#8954).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from llmledger.sources.base import home_dir, nonnegative
from llmledger.sources.cline_family import ApiReqInfo, Flavor, TaskSource, roo_context

NAME = "roo-code"
# RooCodeInc/Roo-Code#8954: tokensIn became the whole prompt for Anthropic-protocol requests.
TOTAL_INPUT_SINCE_MS = int(
    datetime(2025, 10, 31, 19, 14, 29, tzinfo=timezone.utc).timestamp() * 1000
)


def roo_includes_cache(info: ApiReqInfo, total_since_ms: int, ts_ms: int) -> bool:
    """Whether a Roo-style ``tokensIn`` has the cache inside it (see the module's rule)."""
    protocol = (info.apiProtocol or "").lower()
    if protocol == "openai":
        return True
    if protocol != "anthropic":
        return False
    cache = nonnegative(info.cacheReads) + nonnegative(info.cacheWrites)
    if nonnegative(info.tokensIn) < cache:
        return False
    return ts_ms >= total_since_ms


def includes_cache(info: ApiReqInfo, provider: str | None, ts_ms: int) -> bool:
    return roo_includes_cache(info, TOTAL_INPUT_SINCE_MS, ts_ms)


def cli_tasks(env: Mapping[str, str]) -> list[Path]:
    """The tasks of Roo Code's CLI (its VS Code shim's global storage)."""
    return [home_dir(env) / ".vscode-mock" / "global-storage" / "tasks"]


FLAVOR = Flavor(
    name=NAME,
    title="Roo Code",
    shortcut="roo",  # llmledger daily --roo
    extension_id="rooveterinaryinc.roo-cline",
    includes_cache=includes_cache,
    context=roo_context,
    extra_roots=cli_tasks,
)
SOURCE = TaskSource(FLAVOR)
