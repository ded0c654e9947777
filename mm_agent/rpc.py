"""A small Ethereum JSON-RPC client over httpx, sync and async.

Request building and response parsing are shared; only the I/O is written twice (as httpx does
with ``Client``/``AsyncClient``). RPC and transport failures are translated here, at the
boundary, into the ``MMError`` tree. We do not use web3.py on the signing path: it costs ~0.9 s
to import and hides the raw errors (revert data) we need for previews.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import httpx

from .errors import InsufficientFunds, NetworkUnreachable, RpcError

__all__ = ["AsyncRpcClient", "RpcClient", "hex_to_int", "to_hex"]

log = logging.getLogger("mm_agent.rpc")
_ids = itertools.count(1)


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
    """RPC URLs often embed API keys in the path; log only scheme and host."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}"


class _Base:
    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        self.url = url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_redact(self.url)!r})"

    def _unreachable(self, exc: Exception) -> NetworkUnreachable:
        return NetworkUnreachable(f"Cannot reach the RPC endpoint {_redact(self.url)}: {exc}.")


class RpcClient(_Base):
    def __init__(self, url: str, *, timeout: float = 15.0, client: httpx.Client | None = None):
        super().__init__(url, timeout=timeout)
        self._client = client or httpx.Client(timeout=timeout)

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        payload = _payload(method, params or [])
        log.debug("rpc %s %s", _redact(self.url), method)
        try:
            resp = self._client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404, 429):
            raise RpcError(f"{method}: HTTP {resp.status_code} from {_redact(self.url)}.")
        return _result(method, resp.json())

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in order. Raises on the first error."""
        if not calls:
            return []
        payloads = [_payload(m, p) for m, p in calls]
        try:
            resp = self._client.post(self.url, json=payloads)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        body = resp.json()
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
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def call(self, method: str, params: list[Any] | None = None) -> Any:
        payload = _payload(method, params or [])
        try:
            resp = await self._client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404, 429):
            raise RpcError(f"{method}: HTTP {resp.status_code} from {_redact(self.url)}.")
        return _result(method, resp.json())

    async def aclose(self) -> None:
        await self._client.aclose()
