"""llmledger: one ledger for every LLM token you spend."""

from llmledger.events import UsageEvent

__all__ = ["UsageEvent"]
__version__ = "0.1.0"
