"""A small Ethereum JSON-RPC client over httpx, sync and async.

Request building and response parsing are shared; only the I/O is written twice (as httpx does
with ``Client``/``AsyncClient``). RPC and transport failures are translated here, at the
boundary, into the ``MMError`` tree. We do not use web3.py on the signing path: it costs ~0.9 s
to import and hides the raw errors (revert data) we need for previews.
"""

from __future__ import annotations

import itertools
import logging
import re
from typing import Any

import httpx

from mm_agent.errors import InsufficientFunds, NetworkUnreachable, RpcError

__all__ = ["AsyncRpcClient", "RpcClient", "hex_to_int", "redact_text", "redact_url", "to_hex"]

log = logging.getLogger("mm_agent.evm.rpc")
_ids = itertools.count(1)

# A path segment that looks like a credential: long, or mixing letters and digits (Infura's
# /v3/<32 hex>, Alchemy's /v2/<key>, QuickNode's /<token>/); short words (/v3, /rpc) stay.
_KEYLIKE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{12,}$|^.{24,}$")
_URL_IN_TEXT = re.compile(r"(?:https?|wss?)://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """``scheme://host[:port]/path`` with user info and query dropped and key-like path
    segments replaced by ``***``: safe for logs, errors and ``doctor`` output."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(url).strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if not parts.scheme or not host:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"  # IPv6
    segments = ["***" if _KEYLIKE.match(seg) else seg for seg in parts.path.split("/")]
    path = "/".join(segments).rstrip("/")
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{path}{query}"


def redact_text(text: str) -> str:
    """Every URL inside ``text`` redacted (for messages of library exceptions)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)


class _RedactUrls(logging.Filter):
    """httpx logs ``HTTP Request: POST <full url>`` at INFO: the URL may carry an API key."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: let logging report it as it would
            return True
        record.msg, record.args = redact_text(message), ()
        return True


def _guard_http_loggers() -> None:
    # Library code does not configure logging, except this: an operator who turns on INFO
    # logs must not get RPC keys in them. Quiet by default, redacted whatever the level.
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
        if not any(isinstance(f, _RedactUrls) for f in logger.filters):
            logger.addFilter(_RedactUrls())


_guard_http_loggers()


def to_hex(value: int) -> str:
    return hex(int(value))


def hex_to_int(value: str | int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(value, 16)


def _payload(method: str, params: list[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}


def _error_from(method: str, err: dict[str, Any]) -> RpcError:
    message = str(err.get("message", "RPC error"))
    details = {"rpcCode": err.get("code"), "method": method}
    data = err.get("data")
    if isinstance(data, dict):  # some nodes nest {data: "0x…"}
        data = data.get("data", data)
    if isinstance(data, str) and data.startswith("0x"):
        details["data"] = data
    low = message.lower()
    if "insufficient funds" in low:
        return InsufficientFunds(message, details=details)
    return RpcError(f"{method}: {message}", details=details)


def _result(method: str, body: Any) -> Any:
    if not isinstance(body, dict):
        raise RpcError(f"{method}: malformed JSON-RPC response.")
    if body.get("error"):
        raise _error_from(method, body["error"])
    return body.get("result")


def _redact(url: str) -> str:
    return redact_url(url)


def _json(resp: httpx.Response, method: str, url: str) -> Any:
    try:
        return resp.json()
    except ValueError:  # an HTML error page, a proxy's banner: not JSON-RPC
        raise RpcError(f"{method}: HTTP {resp.status_code} from {_redact(url)} is not "
                       "JSON.") from None


class _Base:
    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        self.url = url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_redact(self.url)!r})"

    def _unreachable(self, exc: Exception) -> NetworkUnreachable:
        # httpx messages can quote the URL (with its key): redact whatever they say.
        detail = redact_text(str(exc).replace(self.url, _redact(self.url)))
        return NetworkUnreachable(f"Cannot reach the RPC endpoint {_redact(self.url)}: "
                                  f"{detail[:300]}.")


def _tls_options(url: str) -> dict[str, Any]:
    """A plain-HTTP endpoint (the devnet) never negotiates TLS, and these clients only ever post
    to their own URL without following redirects: skip loading the CA bundle (~15 ms of every
    CLI command). The context given instead trusts nothing, so it could verify no server. With
    a proxy configured (its own URL may be https) the default applies."""
    import os

    if not url.lower().startswith("http://") or any(
            k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ):
        return {}
    import ssl

    return {"verify": ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)}


class RpcClient(_Base):
    def __init__(self, url: str, *, timeout: float = 15.0, client: httpx.Client | None = None):
        super().__init__(url, timeout=timeout)
        self._client = client or httpx.Client(timeout=timeout, **_tls_options(url))

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        payload = _payload(method, params or [])
        log.debug("rpc %s %s", _redact(self.url), method)
        try:
            resp = self._client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404, 429):
            raise RpcError(f"{method}: HTTP {resp.status_code} from {_redact(self.url)}.")
        return _result(method, _json(resp, method, self.url))

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in order. Raises on the first error."""
        if not calls:
            return []
        payloads = [_payload(m, p) for m, p in calls]
        try:
            resp = self._client.post(self.url, json=payloads)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        body = _json(resp, "batch", self.url)
        if not isinstance(body, list):
            # Batch not supported: fall back to one request per call.
            return [self.call(m, p) for m, p in calls]
        by_id = {item.get("id"): item for item in body}
        return [_result(p["method"], by_id.get(p["id"])) for p in payloads]

    def close(self) -> None:
        self._client.close()


class AsyncRpcClient(_Base):
    def __init__(
        self, url: str, *, timeout: float = 15.0, client: httpx.AsyncClient | None = None
    ):
        super().__init__(url, timeout=timeout)
        self._client = client or httpx.AsyncClient(timeout=timeout, **_tls_options(url))

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        payload = _payload(method, params or [])
        try:
            resp = await self._client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404, 429):
            raise RpcError(f"{method}: HTTP {resp.status_code} from {_redact(self.url)}.")
        return _result(method, _json(resp, method, self.url))

    async def aclose(self) -> None:
        await self._client.aclose()
