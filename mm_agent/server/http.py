"""The JSON envelope on the wire: success and error responses, and framework errors mapped to
the error tree. A leaf: the middleware, the routes and the app all answer through it.

The HTTP status of an error is its class's ``http_status`` (``mm_agent/errors/``), inherited
down the tree; nothing here looks at the spelling of a code.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from mm_agent.errors import (
    InvalidJson,
    MethodNotAllowed,
    MissingFlag,
    MMError,
    RateLimited,
    RouteNotFound,
    ValidationError,
)

__all__ = ["EnvelopeResponse", "envelope_error", "http_error", "ok", "validation_error"]


class EnvelopeResponse(JSONResponse):
    """JSON with non-ASCII escaped: a message that quotes hostile input (a lone surrogate)
    still renders, instead of failing to encode and turning a 4xx into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":"),
                          default=str).encode("ascii")


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """The success envelope ``{"ok": true, "data": ...}``."""
    return JSONResponse({"ok": True, "data": data}, status_code=status, headers=headers)


def envelope_error(err: MMError, headers: dict[str, str] | None = None,
                   status: int | None = None) -> JSONResponse:
    """The error envelope of ``err`` with its class's HTTP status (or ``status``)."""
    payload = err.to_payload()
    if err.code == "INTERNAL_ERROR":
        payload.pop("details", None)
    extra = dict(headers or {})
    retry = err.details.get("retryAfterSeconds") if isinstance(err, RateLimited) else None
    if retry is not None:
        extra["Retry-After"] = str(int(retry))
    return EnvelopeResponse({"ok": False, "error": payload},
                            status_code=status or err.http_status, headers=extra or None)


def http_error(status: int, detail: object) -> tuple[MMError, int]:
    """The envelope error for a plain HTTP error raised by the framework, and the status to
    answer with (the framework's own for anything but 404/405)."""
    if status == 404:
        return RouteNotFound("No such route."), 404
    if status == 405:
        return MethodNotAllowed("This route does not take that HTTP method."), 405
    return ValidationError(str(detail)[:200] if detail else "Bad request."), status


def validation_error(exc: RequestValidationError) -> MMError:
    """The envelope error for a request FastAPI could not parse or validate."""
    errors = exc.errors()
    first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")[:200]
    kind = first.get("type")
    if kind == "json_invalid":
        return InvalidJson("The request body is not valid JSON.")
    if kind == "missing":
        return MissingFlag(f"Missing field `{where}`.")
    return ValidationError(f"{where}: {first.get('msg')}."[:500])
