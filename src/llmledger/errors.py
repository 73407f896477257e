"""The exception hierarchy. Every error a user can cause is a LedgerError with a message that
says what was wrong and what to do; the CLI prints it as one line.

    LedgerError
    ├── InvalidEventError   an event that cannot be recorded (also a ValueError)
    ├── ConfigError         a bad config file or value; the message names the key
    ├── PriceListError      a price list that cannot be read
    ├── FileError           a file named on the command line cannot be read or written
    └── StoreError          the database cannot be opened, read or written
        ├── NoLedgerError       there is no ledger at the path yet (and nothing may create it)
        ├── NotALedgerError     the file exists but is not an llmledger database
        ├── DamagedLedgerError  the file is an llmledger database, but damaged
        └── ReadOnlyLedgerError a write to a ledger that can only be read
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


class FileError(LedgerError):
    """A file the user named (an export target, a backup) cannot be read or written."""


class StoreError(LedgerError):
    """The ledger database cannot be opened, migrated, read or written."""


class NoLedgerError(StoreError):
    """No ledger exists at the path yet, and the command only reads (it never creates one)."""


class NotALedgerError(StoreError):
    """The file exists but is not an llmledger database (not SQLite, or not our tables)."""


class DamagedLedgerError(StoreError):
    """The file is an llmledger database whose pages are damaged; nothing is written to it."""


class ReadOnlyLedgerError(StoreError):
    """A write to a ledger opened read-only (the file or its directory is not writable)."""
