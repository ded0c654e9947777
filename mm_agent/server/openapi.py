"""The OpenAPI document, as the service really behaves.

The success bodies come from the routes' ``response_model``s (``routes/models.py``) and their
``status_code``s. FastAPI's generated document knows nothing of the front door
(``middleware.py``) nor of the error envelope: it misses the bearer scheme, declares ``422``
where the service answers ``400`` with the envelope, and omits 401/404/409/413/429.
``install_openapi`` post-processes it once, so clients and fuzzers (schemathesis, in the
tests) see the real contract.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .middleware import PUBLIC_API

__all__ = ["install_openapi"]

_ENVELOPE = {
    "type": "object",
    "required": ["ok", "error"],
    "properties": {
        "ok": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable error code."},
                "message": {"type": "string"},
                "hint": {"type": "string"},
                "details": {"type": "object"},
            },
        },
    },
}

_DESCRIPTIONS = {
    "400": "Invalid request (INVALID_ARGUMENT, INVALID_JSON, MISSING_FLAG, ...).",
    "401": "No, unknown, expired or revoked bearer token (NOT_AUTHENTICATED).",
    "403": "Agent credentials cannot do this (FORBIDDEN).",
    "404": "No such wallet, request or route (*_NOT_FOUND, NOT_FOUND).",
    "405": "Method not allowed (METHOD_NOT_ALLOWED).",
    "409": "Conflict (IDEMPOTENCY_CONFLICT, ALREADY_*, approval in progress).",
    "410": "Expired (EXPIRED).",
    "413": "Body over the size limit (REQUEST_TOO_LARGE).",
    "422": ("Well-formed but refused by the engine or the chain (UNKNOWN_TOKEN, RPC_ERROR, "
            "NETWORK_UNREACHABLE, INSUFFICIENT_FUNDS, ...)."),
    "428": "Sign-in not finished yet (AUTHORIZATION_PENDING).",
    "429": "Rate limited (RATE_LIMITED); see Retry-After and details.retryAfterSeconds.",
    "500": "Internal error (INTERNAL_ERROR).",
    "503": "The service is stopping (SERVICE_STOPPING); retry in a few seconds.",
}
_HEADER_RETRY = {"Retry-After": {"description": "Seconds to wait.",
                                 "schema": {"type": "integer"}}}
_AUTH_PUBLIC_ERRORS = {"/v1/auth/device/token": ["404", "409", "410", "428"],
                       "/v1/auth/refresh": ["401"]}


def _error(status: str) -> dict[str, Any]:
    out: dict[str, Any] = {"description": _DESCRIPTIONS[status], "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
    if status == "429":
        out["headers"] = _HEADER_RETRY
    return out


def build_openapi(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                      description="mm-agent wallet service. Every error is "
                                  '`{"ok": false, "error": {"code", "message", "hint"}}`.')
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})["ErrorEnvelope"] = _ENVELOPE
    components["securitySchemes"] = {"bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "`mma_…` access token from sign-in or `mm server admin create-login`."}}
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            responses: dict[str, Any] = op.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's validation answer; ours is 400
            codes = ["400", "405", "413", "500"]
            if path.startswith("/v1/") and path not in PUBLIC_API:
                op["security"] = [{"bearerAuth": []}]
                codes += ["401", "403", "404", "409", "422"]
            elif path in PUBLIC_API:
                op["security"] = []
                codes += _AUTH_PUBLIC_ERRORS.get(path, [])
            if method in ("post", "put") and path.startswith("/v1/"):
                codes.append("429")
            if method == "post" and path == "/v1/auth/device":
                codes.append("429")
            if path.endswith("/wait"):  # the long poll ends early on shutdown
                codes.append("503")
            for status in sorted(set(codes)):
                responses.setdefault(status, _error(status))
    return doc


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
