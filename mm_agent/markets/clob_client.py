"""A CLOB + Gamma client that signs with a wallet, never with a raw key.

L1 (``ClobAuth`` typed data) goes through ``wallet.sign_typed_data`` — so through the security
pipeline, like every signature — and yields the API credentials (``/auth/derive-api-key``,
else ``/auth/api-key``). They stay in memory only: each process re-derives them with one L1
signature (nothing secret is written to ``predict.json``). L2 requests carry the HMAC headers
of :func:`mm_agent.markets.orders.l2_headers` over the exact body sent.

``wallet`` is any object with ``address`` and ``sign_typed_data(chain_id=…, payload=…,
intent=…)`` returning a request with ``status`` / ``signature`` / ``error`` (the Wallet API).
"""

from __future__ import annotations

import json
import time
from typing import Any

from mm_agent.errors import (
    MMError,
    NetworkUnreachable,
    PredictAuthError,
    PredictError,
    PredictNotFound,
)

from . import orders

__all__ = ["ClobClient", "signed"]


def signed(request: Any, what: str) -> str:
    """The signature of a completed wallet request, else the request's error."""
    if getattr(request, "status", None) == "COMPLETED" and getattr(request, "signature", None):
        return str(request.signature)
    error = getattr(request, "error", None) or {}
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if code:
        cls = MMError.from_payload({"code": code, "message": message or f"{what} refused."})
        raise cls
    raise PredictError(f"The wallet did not sign the {what} (status "
                       f"{getattr(request, 'status', None)}).",
                       details={"pollingId": getattr(request, "polling_id", None)})


class ClobClient:
    def __init__(self, clob_url: str, gamma_url: str, *, wallet: Any, chain_id: int,
                 timeout: float = 30.0) -> None:
        import httpx

        self.clob_url = clob_url.rstrip("/")
        self.gamma_url = gamma_url.rstrip("/")
        self.wallet = wallet
        self.chain_id = chain_id
        self.http = httpx.Client(timeout=timeout, trust_env=False)
        self._creds: dict[str, str] | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ClobClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport -----------------------------------------------------------------------------
    def _request(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, body: str | None = None) -> Any:
        import httpx

        try:
            resp = self.http.request(method, url, params=params, headers=headers,
                                     content=body.encode() if body is not None else None)
        except httpx.HTTPError as exc:
            raise NetworkUnreachable(f"The market service at {self.clob_url} did not answer "
                                     f"({type(exc).__name__}).",
                                     hint="Is the devnet running? `mm devnet status`.") from exc
        try:
            payload = resp.json()
        except ValueError:
            payload = {"error": resp.text[:200]}
        if resp.status_code >= 400:
            message = payload.get("error") if isinstance(payload, dict) else str(payload)
            code = payload.get("code") if isinstance(payload, dict) else None
            cls = {401: PredictAuthError, 404: PredictNotFound}.get(resp.status_code,
                                                                    PredictError)
            details = payload.get("details") if isinstance(payload, dict) else None
            raise cls(f"Market service: {message}",
                      details={"status": resp.status_code, "code": code, **(details or {})})
        return payload

    # --- auth ------------------------------------------------------------------------------------
    def l1_headers(self, nonce: int = 0) -> dict[str, str]:
        ts = int(time.time())
        typed = orders.clob_auth_typed_data(self.wallet.address, chain_id=self.chain_id,
                                            timestamp=ts, nonce=nonce)
        req = self.wallet.sign_typed_data(chain_id=self.chain_id, payload=typed,
                                          intent="Prove control of this address to the "
                                                 "prediction-market API (ClobAuth)")
        return orders.l1_headers(self.wallet.address, signed(req, "ClobAuth message"),
                                 timestamp=ts, nonce=nonce)

    def derive_api_key(self, nonce: int = 0, *, create: bool = False) -> dict[str, str]:
        """One L1 signature → the credentials, kept in memory; returns only the key id (the
        secret and passphrase never leave this object). Derive the existing key
        (``GET /auth/derive-api-key``), else create one (``POST /auth/api-key``); ``create``
        tries the creation first (py-clob-client's ``create_or_derive_api_creds``)."""
        headers = self.l1_headers(nonce)
        first, second = (("POST", "/auth/api-key"), ("GET", "/auth/derive-api-key"))
        if not create:
            first, second = second, first
        try:
            creds = self._request(first[0], self.clob_url + first[1], headers=headers)
        except PredictError:
            creds = self._request(second[0], self.clob_url + second[1], headers=headers)
        self._creds = {"apiKey": creds["apiKey"], "secret": creds["secret"],
                       "passphrase": creds["passphrase"]}
        return {"apiKey": creds["apiKey"]}

    def api_keys(self) -> list[str]:
        """The API keys of this address (``GET /auth/api-keys``, L2): the check that the
        derived credentials authenticate."""
        payload = self._l2("GET", "/auth/api-keys")
        keys = payload.get("apiKeys") if isinstance(payload, dict) else payload
        return [str(k.get("apiKey") if isinstance(k, dict) else k) for k in keys or []]

    @property
    def creds(self) -> dict[str, str]:
        if self._creds is None:
            self.derive_api_key()
        assert self._creds is not None
        return self._creds

    def _l2(self, method: str, path: str, *, params: dict[str, Any] | None = None,
            payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload, separators=(",", ":"))
        creds = self.creds
        headers = orders.l2_headers(self.wallet.address, api_key=creds["apiKey"],
                                    secret=creds["secret"], passphrase=creds["passphrase"],
                                    timestamp=int(time.time()), method=method,
                                    request_path=path, body=body)
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self._request(method, self.clob_url + path, params=params, headers=headers,
                             body=body)

    # --- public ----------------------------------------------------------------------------------
    def ok(self) -> bool:
        try:
            return self._request("GET", f"{self.clob_url}/ok") == "OK"
        except MMError:
            return False

    def gamma_ok(self) -> bool:
        try:
            self._request("GET", f"{self.gamma_url}/markets", params={"limit": 1})
            return True
        except MMError:
            return False

    def markets(self, **params: Any) -> list[dict[str, Any]]:
        clean = {k: v for k, v in params.items() if v is not None}
        return list(self._request("GET", f"{self.gamma_url}/markets", params=clean))

    def market(self, key: str) -> dict[str, Any]:
        return dict(self._request("GET", f"{self.gamma_url}/markets/{key}"))

    def search(self, query: str) -> dict[str, Any]:
        return dict(self._request("GET", f"{self.gamma_url}/public-search", params={"q": query}))

    def book(self, token_id: str | int) -> dict[str, Any]:
        return dict(self._request("GET", f"{self.clob_url}/book",
                                  params={"token_id": str(token_id)}))

    # --- trading (L2) --------------------------------------------------------------------------
    def post_order(self, order: orders.Order, signature: str, *, order_type: str = "GTC",
                   post_only: bool = False, expiration: int = 0) -> dict[str, Any]:
        msg = order.message()
        payload = {
            "order": {**msg, "salt": order.salt, "side": "BUY" if order.side == orders.BUY
                      else "SELL", "expiration": str(expiration), "signature": signature},
            "owner": self.creds["apiKey"], "orderType": order_type, "deferExec": False,
            "postOnly": post_only,
        }
        return dict(self._l2("POST", "/order", payload=payload))

    def orders(self, market: str | None = None, asset_id: str | None = None
               ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("market", market), ("asset_id", asset_id)) if v}
        return list(self._l2("GET", "/data/orders", params=params or None)["data"])

    def trades(self) -> list[dict[str, Any]]:
        return list(self._l2("GET", "/data/trades")["data"])

    def cancel(self, order_id: str) -> dict[str, Any]:
        return dict(self._l2("DELETE", "/order", payload={"orderID": order_id}))

    def cancel_all(self) -> dict[str, Any]:
        return dict(self._l2("DELETE", "/cancel-all"))

    def cancel_market_orders(self, market: str | None = None, asset_id: str | None = None
                             ) -> dict[str, Any]:
        return dict(self._l2("DELETE", "/cancel-market-orders",
                             payload={"market": market or "", "asset_id": asset_id or ""}))
