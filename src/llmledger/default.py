"""The process-wide default Ledger (opened on first use) and the helpers over it that
``llmledger`` exports: ``get_token_usage_summary``, ``format_token_usage_report``,
``get_session_token_usage``, ``record_token_usage``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmledger.events import UsageEvent
    from llmledger.ledger import Ledger

_default: Ledger | None = None
_lock = threading.Lock()


def default_ledger() -> Ledger:
    """The process-wide Ledger: ``LLMLEDGER_DB`` / config ``db`` / the data-dir SQLite file."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                from llmledger.ledger import Ledger

                _default = Ledger()
    return _default


def set_default_ledger(ledger: Ledger | None) -> Ledger | None:
    """Replace (or with None, forget) the default ledger; returns the previous one."""
    global _default
    with _lock:
        previous, _default = _default, ledger
    return previous


def get_token_usage_summary(days: int = 30, *, tz: str | None = None) -> dict[str, Any]:
    """Usage of the last ``days`` days in the default ledger (see ``Ledger.summary``)."""
    return default_ledger().summary(days=days, tz=tz)


def format_token_usage_report(days: int = 7, *, tz: str | None = None, width: int = 80) -> str:
    """A formatted daily table of the last ``days`` days of the default ledger."""
    return default_ledger().report(days=days, tz=tz, width=width)


def get_session_token_usage() -> dict[str, Any]:
    """What this process recorded through the default ledger."""
    return default_ledger().session_usage()


def record_token_usage(
    account_id: str,
    input_tokens: int,
    output_tokens: int,
    *,
    model: str = "unknown",
    **fields: Any,
) -> UsageEvent:
    """Record one call's usage for ``account_id`` (the old Qwen proxy's helper signature)."""
    return default_ledger().record(
        model=model,
        account=account_id,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        **fields,
    )
