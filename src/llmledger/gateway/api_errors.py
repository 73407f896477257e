"""The usage API's errors: the OpenAI error shape, with ``param`` naming the bad field."""

from __future__ import annotations

import re

import msgspec

from llmledger.gateway.errors import GatewayError, error_type

__all__ = ["ApiError", "validation_error"]

_encode = msgspec.json.Encoder().encode
_UNKNOWN = re.compile(r"(?:unknown|missing required) field `([^`]*)`")


class ApiError(GatewayError):
    """``{"error": {"message", "type", "param", "code"}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, code)
        self.param = param
        self.headers = headers or {}

    def body(self, protocol: str = "openai") -> bytes:
        kind = error_type(self.status, "openai")
        error = {"message": self.message, "type": kind, "param": self.param, "code": self.code}
        return _encode({"error": error})


def validation_error(exc: msgspec.ValidationError, where: str = "body") -> ApiError:
    """msgspec's ``Expected `int`, got `float` - at `$.tokens``` as 422 naming ``tokens``."""
    text = str(exc)
    message, _, at = text.partition(" - at `$")
    field = at.rstrip("`").lstrip(".") or None
    unknown = _UNKNOWN.search(message)
    if unknown is not None:
        field = ".".join(part for part in (field, unknown.group(1)) if part)
    named = f"{where}.{field}" if field else where
    return ApiError(422, f"{named}: {message}", "validation_error", field)
