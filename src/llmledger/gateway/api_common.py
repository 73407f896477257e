"""What the usage API's route modules share: the context they run in, JSON answers, and
query parameters read with a 422 that names the parameter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from llmledger.gateway.api_errors import ApiError
from llmledger.gateway.api_settings import ServerSettings
from llmledger.gateway.audit import AuditLog
from llmledger.gateway.auth import Authenticator
from llmledger.gateway.quota_gate import subjects_of
from llmledger.gateway.usage_feed import FeedMessage
from llmledger.ledger import Ledger
from llmledger.quota.service import QuotaBook
from llmledger.report.timezones import resolve_zone

if TYPE_CHECKING:
    from llmledger.gateway.state import Gateway

__all__ = ["ApiContext", "answer", "iso", "query_choice", "query_day", "query_int", "query_zone"]

_encode = msgspec.json.Encoder().encode


@dataclass
class ApiContext:
    gw: Gateway
    auth: Authenticator
    settings: ServerSettings
    audit: AuditLog

    @property
    def ledger(self) -> Ledger:
        return self.gw.ledger

    @property
    def book(self) -> QuotaBook:
        return self.gw.ledger.quotas

    def changed(self, user_id: str | None = None, org_id: str | None = None) -> None:
        """Tell the live streams of a user or org that their meter changed."""
        self.gw.feed.publish(FeedMessage("usage", subjects_of(user_id, org_id, None)))


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(data), status, headers, media_type="application/json")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bad(name: str, message: str) -> ApiError:
    return ApiError(422, f"{name}: {message}", "invalid_parameter", name)


def query_choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name, default)
    if value not in choices:
        raise _bad(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return value


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise _bad(name, f"expected a whole number from {low} to {high}, got {text!r}")
    return int(text)


def query_day(request: Request, name: str) -> date | None:
    """``YYYY-MM-DD`` or ``YYYYMMDD``, as the CLI's ``--since``/``--until``."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    compact = text.replace("-", "")
    if len(compact) != 8 or not compact.isascii() or not compact.isdigit():
        raise _bad(name, f"expected a date YYYY-MM-DD, got {text!r}")
    try:
        return date(int(compact[:4]), int(compact[4:6]), int(compact[6:]))
    except ValueError:
        raise _bad(name, f"{text!r} is not a date") from None


def query_zone(request: Request, name: str, default: str) -> tzinfo:
    text = request.query_params.get(name, default)
    try:
        return resolve_zone(text)
    except Exception:
        raise _bad(name, f"{text!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
