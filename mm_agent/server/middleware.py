"""The service's front door: a pure ASGI middleware that runs before any body is parsed.

FastAPI parses (and validates) a JSON body *before* it resolves dependencies, so a bearer check
done as a dependency comes too late: an unauthenticated client could make the service parse
anything. Here, in order:

1. **Bearer token** for every ``/v1/`` route except the sign-in ones (device start/poll,
   refresh): presence and validity are checked (one indexed lookup) before a byte of the body
   is read. The principal is handed to the route (``scope["state"]["mm_principal"]``).
2. **Rate limits** kept in the database (``ratelimit.py``): wallet creation and submissions
   per account, unauthenticated sign-in posts per client address.
3. **Body size**: ``Content-Length`` over the cap → 413 at once; a streamed body is cut off at
   the cap. JSON API bodies may be ``max_body_bytes`` (256 KiB), everything else (the pages'
   small forms: the approval page whose credential is its ``t`` field, sign-in, pairing)
   ``max_form_bytes`` (16 KiB).
4. **JSON shape**, for JSON bodies, on the raw bytes: valid UTF-8, nesting depth at most
   ``max_json_depth`` (brackets counted outside strings, so no parser ever recurses deeper),
   and no lone UTF-16 surrogate escapes (``"\\ud800"``), which no UTF-8 text can hold.

Every refusal is the JSON error envelope with a stable code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from mm_agent.errors import (
    InvalidJson,
    MMError,
    NotAuthenticated,
    RequestTooLarge,
    ValidationError,
)

from .http import envelope_error
from .services.auth import Principal, authenticate
from .services.ratelimit import hit

if TYPE_CHECKING:
    from .deps import Services

__all__ = ["FrontDoor", "json_shape_problem"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# /v1 routes reachable without a bearer token: the CLI's sign-in and token refresh.
PUBLIC_API = frozenset({"/v1/auth/device", "/v1/auth/device/token", "/v1/auth/refresh"})
# Unauthenticated posts that start sign-ins or try codes: limited per client address.
_SIGNIN_POST = re.compile(r"^/(?:v1/auth/device|login/(?!verify$)[^/]+|pair/[^/]+)$")
_SUBMIT = re.compile(r"^/v1/wallets/[^/]+/requests$")

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONG_NUMBER = re.compile(rb"[0-9]{101}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_shape_problem(body: bytes, max_depth: int) -> MMError | None:
    """Why a JSON body must not reach the parser, or None. Linear in the body, no recursion."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidJson("The request body is not valid UTF-8.")
    # Strings hold no structure; what is left is brackets and scalars.
    outside = _STRING.sub(b"", body)
    if _LONG_NUMBER.search(outside):
        # int() of more than 4300 digits raises ValueError inside the JSON parser.
        return InvalidJson("A JSON number has more than 100 digits.",
                           hint="Send big numbers as decimal strings.")
    structure = outside.translate(None, _NOT_BRACKET)
    depth = 0
    for ch in structure:
        if ch in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return InvalidJson(f"JSON nested deeper than {max_depth} levels.",
                                   hint="Send a flatter document.")
        else:
            depth -= 1
    if _SURROGATE_ESCAPE.search(body):
        for m in _STRING.finditer(body):
            token = m.group()
            if not _SURROGATE_ESCAPE.search(token):
                continue
            try:
                json.loads(token).encode("utf-8")  # one flat string: safe to parse
            except UnicodeEncodeError:
                return ValidationError("A string holds a lone UTF-16 surrogate (\\ud800–"
                                       "\\udfff without its pair); it is not text.")
            except ValueError:
                return InvalidJson("The request body is not valid JSON.")
    return None


def _client_host(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class FrontDoor:
    """See the module docstring. ``services``: the app's collaborators (``deps.Services``)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._admit(scope, receive)
        except MMError as err:
            await _send_error(send, err)
            return
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, receive: Receive) -> Receive:
        settings = self.services.settings
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET")
        api = path.startswith("/v1/")
        if api and path not in PUBLIC_API:
            token = _bearer(scope)
            principal = await run_in_threadpool(self._authorize, token, path, method)
            scope.setdefault("state", {})["mm_principal"] = principal
        elif method == "POST" and _SIGNIN_POST.match(path):
            await run_in_threadpool(self._limit, "signin_ip", _client_host(scope),
                                    "Too many sign-in attempts from this address.")
        cap = settings.max_body_bytes if api else settings.max_form_bytes
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 15:
                raise ValidationError("Bad Content-Length header.")
            if int(declared) > cap:
                raise _too_large(cap)
        body = await _read_body(receive, cap)
        if body and api:
            problem = json_shape_problem(body, settings.max_json_depth)
            if problem is not None:
                raise problem
        return _replay(body, receive)

    def _authorize(self, token: str, path: str, method: str) -> Principal:
        principal = authenticate(self.services.store, token)
        if method == "POST" and path == "/v1/wallets":
            self._limit("wallet_create", principal.account_id,
                        "Too many wallets created on this account.")
        elif method == "POST" and _SUBMIT.match(path):
            self._limit("submit", principal.account_id,
                        "Too many requests submitted on this account.")
        return principal

    def _limit(self, scope_name: str, key: str, message: str) -> None:
        limits = self.services.settings.rate_limits
        hit(self.services.store, scope_name, key, limits.get(scope_name), message=message)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


def _bearer(scope: Scope) -> str:
    header = _header(scope, b"authorization") or ""
    kind, _, value = header.partition(" ")
    value = value.strip()
    # Tokens are short url-safe strings; anything else cannot be one (and is not looked up).
    if kind.lower() != "bearer" or not value or len(value) > 200 or not value.isascii():
        raise NotAuthenticated("Missing `Authorization: Bearer <token>` header.")
    return value


def _too_large(cap: int) -> RequestTooLarge:
    return RequestTooLarge(f"The request body is larger than {cap} bytes.",
                           details={"maxBytes": cap})


async def _read_body(receive: Receive, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise _too_large(cap)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls: disconnect notices

    return replay


async def _send_error(send: Send, err: MMError) -> None:
    response = envelope_error(err)
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})
