"""The devnet market service's HTTP layer: plain ``http.server`` (threads; the service holds
one lock), JSON in and out, an :class:`mm_agent.errors.MMError` answered with its HTTP status
and ``{"error", "code", "details"}``."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mm_agent.errors import MMError, PredictNotFound

from .market_book import TICK_SIZE, ClientError, _now

# The service (``service.MarketService``) is typed ``Any`` here: service.py imports this module.
MarketService = Any

__all__ = ["make_server"]


def _handler(service: MarketService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mm-devnet-clob/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                self._send(200, _route(service, method, url.path, query, body, headers,
                                       client=str(self.client_address[0])))
            except MMError as exc:
                status = exc.http_status if 400 <= exc.http_status < 600 else 400
                self._send(status, {"error": exc.message, "code": exc.code,
                                    **({"details": exc.details} if exc.details else {})})
            except Exception as exc:  # the service stays up; the caller sees why
                self._send(500, {"error": f"{type(exc).__name__}: {exc}", "code": "INTERNAL"})

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler


def _json(body: str) -> Any:
    try:
        return json.loads(body) if body else {}
    except ValueError as exc:
        raise ClientError("The body is not JSON.") from exc


def _route(s: MarketService, method: str, path: str, query: dict[str, str], body: str,
           headers: dict[str, str], *, client: str = "") -> Any:
    if method == "GET":
        if path == "/ok":
            return "OK"
        if path == "/api/geoblock":  # polymarket.com's, served here for the testnet back end
            return s.geoblock_json(client)
        if path == "/time":
            return _now()
        if path == "/gamma/markets":
            with s.lock:
                return s.list_markets(query)
        if path.startswith("/gamma/markets/"):
            with s.lock:
                return s.market_json(s.find_market(path.rsplit("/", 1)[1]))
        if path == "/gamma/public-search":
            with s.lock:
                return s.search(query.get("q", ""))
        if path == "/book":
            with s.lock:
                return s.book_json(_token(query))
        if path == "/midpoint":
            with s.lock:
                return {"mid": s._mid(_token(query))}
        if path == "/tick-size":
            return {"minimum_tick_size": float(TICK_SIZE)}
        if path == "/auth/derive-api-key":
            return s.api_key(headers)
    if method == "POST" and path == "/auth/api-key":
        return s.api_key(headers)
    address, api_key = s.verify_l2(method, path, body, headers)
    if method == "POST" and path == "/order":
        return s.post_order(address, api_key, _json(body))
    if method == "GET" and path == "/data/orders":
        return {"data": s.open_orders(address, query), "next_cursor": "LTE=", "limit": 500,
                "count": len(s.open_orders(address, query))}
    if method == "GET" and path.startswith("/data/order/"):
        return s.get_order(address, path.rsplit("/", 1)[1])
    if method == "GET" and path == "/auth/api-keys":
        return {"apiKeys": s.api_keys_of(address)}
    if method == "GET" and path == "/data/trades":
        return {"data": s.user_trades(address), "next_cursor": "LTE="}
    if method == "DELETE" and path == "/order":
        return s.cancel(address, ids=[str(_json(body).get("orderID", ""))])
    if method == "DELETE" and path == "/orders":
        ids = _json(body)
        if not isinstance(ids, list):
            raise ClientError("The body must be a list of order ids.")
        return s.cancel(address, ids=[str(i) for i in ids])
    if method == "DELETE" and path == "/cancel-all":
        return s.cancel(address)
    if method == "DELETE" and path == "/cancel-market-orders":
        b = _json(body)
        return s.cancel(address, market=b.get("market") or None, asset=b.get("asset_id") or None)
    raise PredictNotFound(f"No route {method} {path}.")


def _token(query: dict[str, str]) -> int:
    try:
        return int(query["token_id"])
    except (KeyError, ValueError) as exc:
        raise ClientError("token_id is required (a decimal outcome token id).") from exc


def make_server(service: MarketService, host: str = "127.0.0.1", port: int = 0
                ) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), _handler(service))
    server.daemon_threads = True
    return server

