"""Gateways on several hosts must share their quota counters: without ``[quotas] redis`` a
gateway on a PostgreSQL ledger that another host's gateway serves refuses to start, and says
why. (One machine's gateways share the ledger's own counters: a SQLite ledger is one machine
by nature, and several processes on one host are exact on PostgreSQL too.)

Each gateway with quotas announces itself on the ledger as ``llmledger-serve/<mode>@<host>``
(store/postgres_presence.py): ``mode`` is ``redis`` or ``ledger`` (counters in the ledger),
``host`` the machine's name. Mixing the two modes is refused as well: their counters would not
see each other's reservations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from llmledger.errors import LedgerError
from llmledger.host import machine_name

if TYPE_CHECKING:
    from llmledger.ledger import Ledger

__all__ = ["Announced", "Mode", "announce_gateway", "conflict", "gateway_name"]

Mode = Literal["redis", "ledger"]
PREFIX = "llmledger-serve/"
_SET_REDIS = 'set [quotas] redis = "redis://…" on every gateway (docs/redis.md)'


class Announced(Protocol):
    def close(self) -> None: ...


def gateway_name(mode: Mode, host: str) -> str:
    """``llmledger-serve/redis@web-1`` (PostgreSQL keeps 63 bytes of a name)."""
    return f"{PREFIX}{mode}@{host}"[:63]


def _parse(name: str) -> tuple[str, str] | None:
    if not name.startswith(PREFIX) or "@" not in name:
        return None
    mode, _, host = name[len(PREFIX) :].partition("@")
    return mode, host


def conflict(mode: Mode, host: str, others: Sequence[str]) -> str | None:
    """Why a gateway in ``mode`` on ``host`` may not serve beside ``others`` (their names);
    None when it may."""
    found = [parsed for parsed in map(_parse, others) if parsed is not None]
    me = gateway_name(mode, host).partition("@")[2]
    if mode == "ledger":
        remote = sorted({h for _, h in found if h != me})
        if remote:
            return (
                f"a gateway on host {remote[0]} serves this ledger too, and gateways on several "
                f"hosts need shared quota counters: {_SET_REDIS}"
            )
        if any(m == "redis" for m, _ in found):
            return (
                "another gateway on this ledger counts quotas in Redis: set the same "
                "[quotas] redis here"
            )
        return None
    ledger_hosts = sorted({h for m, h in found if m == "ledger"})
    if ledger_hosts:
        return (
            f"a gateway on host {ledger_hosts[0]} counts quotas in the ledger without Redis; "
            f"its reservations and these would not see each other: {_SET_REDIS}, or stop it"
        )
    return None


def announce_gateway(ledger: Ledger, mode: Mode, host: str | None = None) -> Announced | None:
    """Announce this gateway on a PostgreSQL ledger (None on others) and check the gateways
    already there; ``LedgerError`` (one line) when it may not serve beside them. Close the
    returned handle when the gateway stops."""
    url = getattr(ledger.store, "url", None)
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        return None
    from llmledger.store.postgres_presence import announce

    where = host or machine_name()
    presence = announce(url, gateway_name(mode, where))
    problem = conflict(mode, where, presence.others())
    if problem is not None:
        presence.close()
        raise LedgerError(f"the gateway cannot start with quotas on: {problem}")
    return presence
