"""Who calls the usage API: a user (by ledger key, or named by a trusted backend) or the admin.

- ``Authorization: Bearer <ledger key>`` (or ``x-api-key``): that key's user, org and key.
- ``Bearer <service token>`` plus ``X-User-Id`` (or a ``chat_user`` cookie): the named user;
  a backend that logs its users in vouches for them. ``X-Org-Id`` names their org.
- No credentials from a ``[server] trusted_proxies`` address, with ``X-User-Id`` or the cookie:
  the named user (a reverse proxy in front of the gateway has authenticated them).
- ``Bearer <admin token>``: the admin (admin routes; on a user's route, for ``X-User-Id``).

Tokens are compared in constant time (``hmac.compare_digest``) and never logged. Wrong or
missing credentials: 401; a user on an admin route: 403.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from starlette.requests import Request

from llmledger.gateway.api_errors import ApiError
from llmledger.gateway.api_settings import ServerSettings
from llmledger.quota.limits import Subject

if TYPE_CHECKING:
    from llmledger.gateway.state import Gateway

__all__ = ["Authenticator", "Caller"]

_MAX_ID_CHARS = 256
Via = Literal["key", "service", "proxy", "admin"]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller. ``user_id`` is None only for the admin acting for nobody."""

    via: Via
    user_id: str | None
    org_id: str | None = None
    key_id: str | None = None

    @property
    def admin(self) -> bool:
        return self.via == "admin"

    @property
    def subject(self) -> Subject:
        return Subject(user_id=self.user_id, org_id=self.org_id, key_id=self.key_id)


def _same(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def _named(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > _MAX_ID_CHARS or not value.isprintable():
        raise ApiError(
            400, f"{name} must be printable and at most {_MAX_ID_CHARS} characters", "bad_header"
        )
    return value


def bearer(request: Request) -> str:
    """The token of ``Authorization: Bearer …`` or ``x-api-key`` ("" when neither)."""
    token = request.headers.get("x-api-key", "").strip()
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class Authenticator:
    def __init__(self, gw: Gateway, settings: ServerSettings) -> None:
        self.gw = gw
        self.settings = settings

    def named_user(self, request: Request) -> str | None:
        """The user a backend or proxy names: ``X-User-Id``, else the ``chat_user`` cookie."""
        header = _named(request.headers.get("x-user-id"), "X-User-Id")
        return header or _named(request.cookies.get("chat_user"), "the chat_user cookie")

    async def caller(self, request: Request) -> Caller:
        """The caller of a user's route; 401 without valid credentials."""
        token = bearer(request)
        named = self.named_user(request)
        org = _named(request.headers.get("x-org-id"), "X-Org-Id")
        if token:
            if _same(token, self.settings.admin_token):
                return Caller("admin", named, org)
            if _same(token, self.settings.service_token):
                if named is None:
                    raise ApiError(
                        400, "a service token needs the user in X-User-Id", "user_required"
                    )
                return Caller("service", named, org)
            identity = await self.gw.authenticate({"authorization": f"Bearer {token}"})
            return Caller("key", identity.user_id, identity.org_id, identity.key_id)
        client = request.client.host if request.client is not None else None
        if named is not None and self.settings.trusts(client):
            return Caller("proxy", named, org)
        raise ApiError(
            401,
            "missing credentials: send 'Authorization: Bearer <ledger key>' (or a service "
            "token with X-User-Id)",
            "missing_api_key",
        )

    async def user(self, request: Request) -> Caller:
        """A caller with a user: the admin must name one (``X-User-Id``)."""
        caller = await self.caller(request)
        if caller.user_id is None:
            raise ApiError(400, "name the user in X-User-Id", "user_required")
        return caller

    async def admin(self, request: Request) -> Caller:
        """The admin; 404 when no admin token is configured, 403 for anyone else."""
        if self.settings.admin_token is None:
            raise ApiError(404, "the admin API is off (set [server] admin_token_env)", "not_found")
        caller = await self.caller(request)
        if not caller.admin:
            raise ApiError(403, "this route needs the admin token", "admin_required")
        return caller
