"""JSON error bodies in the shape each protocol's SDKs understand.

OpenAI: ``{"error": {"message", "type", "param", "code"}}``.
Anthropic: ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import msgspec

__all__ = ["GatewayError", "error_body", "error_type"]

_encode = msgspec.json.Encoder().encode

# OpenAI's error ``type`` and Anthropic's by HTTP status.
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    414: "invalid_request_error",
    429: "rate_limit_error",
    431: "invalid_request_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_type(status: int, protocol: str = "openai") -> str:
    table = _ANTHROPIC_TYPES if protocol == "anthropic" else _OPENAI_TYPES
    default = "api_error" if status >= 500 else "invalid_request_error"
    return table.get(status, default)


def error_body(message: str, code: str, status: int = 400, protocol: str = "openai") -> bytes:
    kind = error_type(status, protocol)
    if protocol == "anthropic":
        return _encode({"type": "error", "error": {"type": kind, "message": message}})
    return _encode({"error": {"message": message, "type": kind, "param": None, "code": code}})


class GatewayError(Exception):
    """A request the gateway answers itself with a JSON error."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def body(self, protocol: str = "openai") -> bytes:
        return error_body(self.message, self.code, self.status, protocol)
