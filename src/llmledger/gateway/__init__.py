"""The metering gateway: ``create_app()`` is its ASGI application, ``llmledger serve`` runs it.

``uvicorn --factory llmledger.gateway:create_app`` runs it under uvicorn directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from llmledger.config import Config
    from llmledger.gateway.config import GatewayConfig
    from llmledger.gateway.transport import Transport
    from llmledger.ledger import Ledger

__all__ = ["create_app"]


def create_app(
    config: GatewayConfig | Config | None = None,
    ledger: Ledger | None = None,
    *,
    transport: Transport | None = None,
) -> Starlette:
    """The gateway's ASGI application (see ``llmledger.gateway.app.create_app``)."""
    from llmledger.gateway.app import create_app as build

    return build(config, ledger, transport=transport)
