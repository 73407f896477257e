"""The dashboard: the contribution graph, charts and tables over a ledger, served by
``llmledger dashboard`` and the gateway (``llmledger serve``) or written as one offline file
(``llmledger html``); and the usage meter script other pages can embed.

``create_dashboard_app`` and ``dashboard_routes`` load Starlette on first use, so the command
line can read ``web.query`` without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmledger.web.app import create_dashboard_app, dashboard_routes

__all__ = ["create_dashboard_app", "dashboard_routes"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return getattr(importlib.import_module("llmledger.web.app"), name)
    raise AttributeError(f"module 'llmledger.web' has no attribute {name!r}")
