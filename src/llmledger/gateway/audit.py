"""The audit log: one JSON line per admin change and per simulation (who, for whom, what,
when), appended to ``[server] audit_log`` (a file, ``-`` for stderr, ``off``) and logged at INFO
on logger ``llmledger.audit``. Tokens never appear in it."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import msgspec

__all__ = ["AuditLog"]

log = logging.getLogger("llmledger.audit")
_encode = msgspec.json.Encoder().encode


class AuditLog:
    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()
        if target not in ("-", "off"):
            Path(target).parent.mkdir(parents=True, exist_ok=True)

    def write(self, action: str, **fields: object) -> None:
        """Append one entry (blocking: call off the event loop)."""
        entry = {"ts": datetime.now(timezone.utc).isoformat(), "action": action, **fields}
        line = _encode(entry) + b"\n"
        log.info("audit %s", line.decode().rstrip())
        if self.target == "off":
            return
        with self._lock:
            if self.target == "-":
                sys.stderr.write(line.decode())
                sys.stderr.flush()
                return
            with open(self.target, "ab") as file:
                file.write(line)
