"""The exception hierarchy. Every error a user can cause is a LedgerError with a message that
says what was wrong and what to do; the CLI prints it as one line.

    LedgerError
    ├── InvalidEventError   an event that cannot be recorded (also a ValueError)
    ├── ConfigError         a bad config file or value; the message names the key
    ├── PriceListError      a price list that cannot be read
    └── StoreError          the database cannot be opened or written
        └── NotALedgerError the file exists but is not an llmledger database
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error llmledger raises on purpose."""


class InvalidEventError(LedgerError, ValueError):
    """An event that cannot be recorded (negative tokens, bad timestamp, missing model)."""


class ConfigError(LedgerError):
    """A configuration problem; the message names the file and the key."""


class PriceListError(LedgerError):
    """A price list that is missing or malformed."""


class StoreError(LedgerError):
    """The ledger database cannot be opened, migrated or written."""


class NotALedgerError(StoreError):
    """The database exists but was not created by llmledger."""
