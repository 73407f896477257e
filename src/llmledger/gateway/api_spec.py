"""The usage API's routes declared once (``Operation``): each route's method, path, parameters,
body and answer types; ``openapi_document`` turns them into the OpenAPI 3.1 document served at
``/openapi.json`` (schemas generated from the Structs of ``api_models.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from llmledger.gateway.api_errors import ApiError, validation_error
from llmledger.gateway.api_models import ErrorAnswer

__all__ = ["Operation", "Param", "decode_body", "openapi_document"]

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]
Auth = Literal["user", "admin", "simulate", "none"]

_DESCRIBED = {
    400: "Bad request (malformed JSON, a missing header)",
    401: "Missing or wrong credentials",
    403: "Not allowed for this caller",
    404: "Not found, or the route is off",
    409: "Conflicts with what exists",
    422: "A field or parameter is invalid (``param`` names it)",
    429: "Too many requests",
}


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path", "header"]
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str
    summary: str
    handler: Handler
    auth: Auth
    answer: type | None  # the JSON answer's Struct (None: ``media`` with a string schema)
    status: int = 200
    also_ok: tuple[int, ...] = ()  # other success statuses with the same answer
    body: type | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400, 401, 404, 422)
    media: str = "application/json"
    media_schema: dict[str, Any] | None = None  # the schema of a non-JSON answer (an SSE event)
    also_csv: bool = False  # the answer can be text/csv too (``format=csv``)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def decode_body(raw: bytes, kind: type[T]) -> T:
    """A JSON body as ``kind``: 400 when it is not JSON, 422 naming the field when invalid."""
    if not raw.strip():
        raise ApiError(400, "the request body is empty: expected a JSON object", "invalid_body")
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}", "invalid_json") from None


_REF = "#/components/schemas/{name}"
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "user": [{"bearer": []}, {}],
    "admin": [{"bearer": []}],
    "simulate": [{"bearer": []}],
}


def _parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.where,
        "description": param.description,
        "schema": param.schema,
    }
    if param.required or param.where == "path":
        out["required"] = True
    return out


def _operation(op: Operation, refs: dict[type, dict[str, Any]]) -> dict[str, Any]:
    ok: dict[str, Any] = {}
    if op.answer is not None:
        ok[op.media] = {"schema": refs[op.answer]}
    else:
        ok[op.media] = {"schema": op.media_schema or {"type": "string"}}
    if op.also_csv:
        ok["text/csv"] = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {
        str(status): {"description": "OK", "content": ok} for status in (op.status, *op.also_ok)
    }
    error = {"application/json": {"schema": refs[ErrorAnswer]}}
    for status in op.errors:
        responses[str(status)] = {"description": _DESCRIBED[status], "content": error}
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}{op.path}".replace("/", "_")
        .replace("{", "")
        .replace("}", ""),
        "responses": responses,
    }
    if op.description:
        doc["description"] = op.description
    if op.params:
        doc["parameters"] = [_parameter(p) for p in op.params]
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[op.body]}},
        }
    if op.auth in _SECURITY:
        doc["security"] = _SECURITY[op.auth]
    doc.update(op.extra)
    return doc


def openapi_document(operations: Sequence[Operation], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``."""
    types = sorted(
        {t for op in operations for t in (op.answer, op.body) if t is not None} | {ErrorAnswer},
        key=lambda t: t.__name__,
    )
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    refs = dict(zip(types, schemas))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llmledger usage API",
            "version": version,
            "description": (
                "Meters, history, budgets and alerts for each caller; plans, add-ons, budgets "
                "and keys for the admin. The gateway's /v1/* API is OpenAI's and Anthropic's."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a ledger key, a service token (with X-User-Id), or the "
                    "admin token",
                }
            },
        },
    }
