"""The usage API mounted in the gateway: the caller's routes (usage_api.py), the admin's
(admin_api.py), the simulate endpoint (simulate_api.py), and ``GET /openapi.json`` describing
all of them. Errors are JSON in the OpenAI shape with ``param`` naming a bad field; a ledger
that cannot be read or written answers 503."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from llmledger import __version__
from llmledger.errors import InvalidEventError, LedgerError
from llmledger.gateway.admin_api import AdminApi
from llmledger.gateway.api_common import ApiContext
from llmledger.gateway.api_errors import ApiError
from llmledger.gateway.api_spec import Handler, Operation, openapi_document
from llmledger.gateway.audit import AuditLog
from llmledger.gateway.auth import Authenticator
from llmledger.gateway.errors import GatewayError
from llmledger.gateway.simulate_api import SimulateApi
from llmledger.gateway.usage_api import UsageApi

if TYPE_CHECKING:
    from llmledger.gateway.state import Gateway

__all__ = ["api_operations", "api_routes"]

log = logging.getLogger("llmledger.gateway")


def _error_response(gw: Gateway, error: GatewayError) -> Response:
    gw.metrics.rejected.inc((error.code,))
    headers = error.headers if isinstance(error, ApiError) else None
    return Response(error.body("openai"), error.status, headers, media_type="application/json")


def _guarded(gw: Gateway, handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except GatewayError as exc:
            return _error_response(gw, exc)
        except InvalidEventError as exc:
            return _error_response(gw, ApiError(422, str(exc), "invalid_request"))
        except LedgerError as exc:
            log.error("usage API: %s %s: %s", request.method, request.url.path, exc)
            error = ApiError(503, "the ledger cannot be read right now", "ledger_unavailable")
            return _error_response(gw, error)

    return run


def api_operations(gw: Gateway) -> list[Operation]:
    """Every usage API route, declared once."""
    settings = gw.config.server
    ctx = ApiContext(gw, Authenticator(gw, settings), settings, AuditLog(settings.audit_log))
    return [
        *UsageApi(ctx).operations(),
        *AdminApi(ctx).operations(),
        *SimulateApi(ctx).operations(),
    ]


def api_routes(gw: Gateway) -> list[BaseRoute]:
    """The usage API's Starlette routes and ``GET /openapi.json``."""
    operations = api_operations(gw)
    document = msgspec.json.encode(openapi_document(operations, __version__))

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    routes: list[BaseRoute] = [
        Route(op.path, _guarded(gw, op.handler), methods=[op.method]) for op in operations
    ]
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    return routes
