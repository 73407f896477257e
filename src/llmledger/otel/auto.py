"""Turning export on for a Ledger: ``LLMLEDGER_OTEL=1`` in the environment, or in the config::

    [otel]
    export = true      # every event this process records becomes a span and histogram points

The OTLP endpoint, headers and service name come from the standard ``OTEL_*`` variables.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from llmledger.errors import ConfigError

if TYPE_CHECKING:
    from llmledger.ledger import Ledger
    from llmledger.otel.exporter import OtelExporter

__all__ = ["export_if_configured", "export_wanted"]

_ON = {"1", "true", "yes", "on"}
_OFF = {"", "0", "false", "no", "off"}


def export_wanted(raw: Mapping[str, object], env: Mapping[str, str]) -> bool:
    """Whether export is on; a ConfigError names a bad value."""
    if "LLMLEDGER_OTEL" in env:
        value = env["LLMLEDGER_OTEL"].strip().lower()
        if value not in _ON | _OFF:
            raise ConfigError(f"LLMLEDGER_OTEL: expected 1 or 0, got {env['LLMLEDGER_OTEL']!r}")
        return value in _ON
    table = raw.get("otel", {})
    if not isinstance(table, Mapping):
        raise ConfigError("otel: expected a table")
    for key in table:
        if key != "export":
            raise ConfigError(f"otel.{key}: unknown key (the OTEL_* variables configure OTLP)")
    export = table.get("export", False)
    if not isinstance(export, bool):
        raise ConfigError("otel.export: expected true or false")
    return export


_INSTALL_HINT = "OpenTelemetry export needs its packages: pip install 'llmledger[otel]'"
_shared: OtelExporter | None = None  # one set of providers per process, however many Ledgers
_lock = threading.Lock()


def _exporter() -> OtelExporter:
    global _shared
    with _lock:
        if _shared is None:
            try:
                from llmledger.otel.exporter import exporter_from_environment

                _shared = exporter_from_environment()
            except ImportError:
                raise ConfigError(_INSTALL_HINT) from None
            atexit.register(_shared.shutdown)  # the last batch of spans and metrics goes out
        return _shared


def export_if_configured(ledger: Ledger, env: Mapping[str, str]) -> None:
    """Attach the process's exporter to ``ledger`` when export is on."""
    if not export_wanted(ledger.config.raw, env):
        return
    exporter = _exporter()
    from llmledger.otel.exporter import attach

    attach(ledger, exporter)
