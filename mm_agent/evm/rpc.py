"""A small Ethereum JSON-RPC client over httpx, sync and async.

Request building and response parsing are shared; only the I/O is written twice (as httpx does
with ``Client``/``AsyncClient``). RPC and transport failures are translated here, at the
boundary, into the ``MMError`` tree. We do not use web3.py on the signing path: it costs ~0.9 s
to import and hides the raw errors (revert data) we need for previews.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import re
import threading
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


class _PlainHttp:
    """POSTs to one plain-HTTP URL over ``http.client``, one kept-alive connection per thread.

    httpx spends ~0.26 ms of CPU per request (its request/response models, the pool, the
    logging); this ~0.06. Only for what it can do exactly as httpx would: ``http://`` without
    user info and no proxy in the environment (see :func:`_fast_transport_for`). Like httpx it
    does not follow redirects, and like httpcore it drops a kept-alive connection the server
    has closed (readable while idle) before reusing it, so a request is never sent twice."""

    def __init__(self, url: str, timeout: float) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.url, self.timeout = url, timeout
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        elif conn.sock is not None and _readable(conn.sock):
            conn.close()  # closed by the server while idle (or it sent junk): reconnect
        return conn

    def post(self, body: bytes) -> tuple[int, bytes]:
        conn = self._conn()
        try:
            conn.request("POST", self.target, body, _HEADERS)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            conn.close()
            raise
        if _HTTP_LOG.isEnabledFor(logging.INFO):  # the line httpx logs, redacted
            _HTTP_LOG.info('HTTP Request: POST %s "HTTP/1.1 %d %s"', redact_url(self.url),
                           resp.status, resp.reason)
        return resp.status, data

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


_HEADERS = {"Content-Type": "application/json", "Accept": "*/*", "User-Agent": "mm-agent"}
_HTTP_LOG = logging.getLogger("httpx")
# What httpx raises as httpx.HTTPError (connect/read/write failures, timeouts, a protocol error)
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


def _readable(sock: Any) -> bool:
    try:
        import select

        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _fast_transport_for(url: str) -> bool:
    import os
    from urllib.parse import urlsplit

    if not url.lower().startswith("http://") or any(
            k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port, as httpx would
    except ValueError:
        return False
    return bool(parts.hostname) and parts.username is None and parts.password is None \
        and not parts.fragment


def _body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def _json_bytes(status: int, data: bytes, method: str, url: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise RpcError(f"{method}: HTTP {status} from {_redact(url)} is not JSON.") from None


class RpcClient(_Base):
    def __init__(self, url: str, *, timeout: float = 15.0, client: httpx.Client | None = None):
        super().__init__(url, timeout=timeout)
        self._plain: _PlainHttp | None = None
        self._http: httpx.Client | None = client
        if client is None and _fast_transport_for(url):
            self._plain = _PlainHttp(url, timeout)

    @property
    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, **_tls_options(self.url))
        return self._http

    def _post(self, payload: Any, method: str, *, check_status: bool = True) -> Any:
        """The decoded JSON body."""
        if self._plain is not None:
            try:
                status, data = self._plain.post(_body(payload))
            except _TRANSPORT_ERRORS as exc:
                raise self._unreachable(exc) from exc
            if check_status and (status >= 500 or status in (401, 403, 404, 429)):
                raise RpcError(f"{method}: HTTP {status} from {_redact(self.url)}.")
            return _json_bytes(status, data, method, self.url)
        try:
            resp = self._client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if check_status and (resp.status_code >= 500
                                  or resp.status_code in (401, 403, 404, 429)):
            raise RpcError(f"{method}: HTTP {resp.status_code} from {_redact(self.url)}.")
        return _json(resp, method, self.url)

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        payload = _payload(method, params or [])
        log.debug("rpc %s %s", _redact(self.url), method)
        return _result(method, self._post(payload, method))

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in order. Raises on the first error."""
        if not calls:
            return []
        payloads = [_payload(m, p) for m, p in calls]
        body = self._post(payloads, "batch", check_status=False)
        if not isinstance(body, list):
            # Batch not supported: fall back to one request per call.
            return [self.call(m, p) for m, p in calls]
        by_id = {item.get("id"): item for item in body}
        return [_result(p["method"], by_id.get(p["id"])) for p in payloads]

    def close(self) -> None:
        if self._plain is not None:
            self._plain.close()
        if self._http is not None:
            self._http.close()


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
