"""llmledger: one ledger for every LLM token you spend.

The public surface: ``Ledger``, ``PriceBook``, ``UsageEvent``, ``instrument`` and
``attribute`` (SDK capture), ``UsageMiddleware`` (ASGI capture), and module-level helpers over
the default ledger.
"""

from __future__ import annotations

# Not ``typing``: importing the package stays as cheap as it can (the statusline's fast path).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from llmledger.default import (
        default_ledger,
        format_token_usage_report,
        get_session_token_usage,
        get_token_usage_summary,
        record_token_usage,
        set_default_ledger,
    )
    from llmledger.errors import ConfigError, InvalidEventError, LedgerError, StoreError
    from llmledger.events import UsageEvent
    from llmledger.ledger import Ledger
    from llmledger.pricing.book import PriceBook

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "InvalidEventError",
    "Ledger",
    "LedgerError",
    "PriceBook",
    "StoreError",
    "UsageEvent",
    "UsageMiddleware",
    "attribute",
    "default_ledger",
    "format_token_usage_report",
    "get_session_token_usage",
    "get_token_usage_summary",
    "instrument",
    "record_token_usage",
    "set_default_ledger",
]

# Everything loads on first use, so `import llmledger` (and so every ``llmledger.*`` module,
# e.g. the statusline's fast path) stays light.
_LAZY = {
    "default_ledger": ("llmledger.default", "default_ledger"),
    "format_token_usage_report": ("llmledger.default", "format_token_usage_report"),
    "get_session_token_usage": ("llmledger.default", "get_session_token_usage"),
    "get_token_usage_summary": ("llmledger.default", "get_token_usage_summary"),
    "record_token_usage": ("llmledger.default", "record_token_usage"),
    "set_default_ledger": ("llmledger.default", "set_default_ledger"),
    "ConfigError": ("llmledger.errors", "ConfigError"),
    "InvalidEventError": ("llmledger.errors", "InvalidEventError"),
    "LedgerError": ("llmledger.errors", "LedgerError"),
    "StoreError": ("llmledger.errors", "StoreError"),
    "UsageEvent": ("llmledger.events", "UsageEvent"),
    "Ledger": ("llmledger.ledger", "Ledger"),
    "PriceBook": ("llmledger.pricing.book", "PriceBook"),
    "instrument": ("llmledger.capture.sdk", "instrument"),
    "attribute": ("llmledger.capture.context", "attribute"),
    "UsageMiddleware": ("llmledger.capture.middleware", "UsageMiddleware"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'llmledger' has no attribute {name!r}")
