"""The devnet market service: the subset of Polymarket's Gamma and CLOB APIs that `mm predict`
uses, over the devnet's real contracts (``deploy_markets``' record).

- Gamma (under ``/gamma``): ``GET /gamma/markets`` (``slug``, ``clob_token_ids``,
  ``condition_ids`` (comma-separated), ``limit``, ``offset``, ``closed``, ``active``),
  ``GET /gamma/markets/{id|slug|conditionId}``,
  ``GET /gamma/public-search?q=``. Market objects have Gamma's keys (``outcomes``,
  ``outcomePrices`` and ``clobTokenIds`` as JSON strings) plus ``source: "devnet"``.
- CLOB (at the root, paths and JSON shapes of py-clob-client-v2): ``GET /ok``, ``GET /time``,
  ``GET /book?token_id=``, ``GET /midpoint``, ``GET /tick-size``; L1 (a ``ClobAuth`` EIP-712
  signature, recovered and compared with ``POLY_ADDRESS``, timestamp within
  :data:`AUTH_WINDOW`): ``POST /auth/api-key``, ``GET /auth/derive-api-key``; L2 (HMAC of
  ``timestamp ‖ METHOD ‖ path ‖ body`` under the key's secret, passphrase and address
  checked): ``POST /order``, ``DELETE /order``, ``DELETE /orders``, ``DELETE /cancel-all``,
  ``DELETE /cancel-market-orders``, ``GET /data/orders``, ``GET /data/order/{id}``,
  ``GET /data/trades``, ``GET /auth/api-keys``.
- polymarket.com's geoblock check, ``GET /api/geoblock`` → ``{blocked, ip, country, region}``:
  not blocked, unless the service was started blocked from a ``COUNTRY[-REGION]``
  (``--geoblock``, ``mm devnet predict serve --geoblock``, env
  ``MM_PREDICT_SERVICE_GEOBLOCK``; in-process: :attr:`MarketService.geoblock`), so tests of
  the testnet back end exercise the real HTTP path.

Matching is price-time priority (best price first, then the earlier order) between a new order
and the resting orders of the other side on the same outcome token; each match is settled at
once by the operator (the deployer, an unlocked devnet account) with the exchange's
``matchOrders`` and the response carries the transaction hashes. An order must be signed by
the authenticated address (maker = signer = ``POLY_ADDRESS``, EOA signature type) for the
devnet exchange; its signature is checked before it enters the book (the exchange checks it
again on chain). GTC/GTD rest, FOK fills entirely or not at all, FAK fills what it can;
``postOnly`` refuses a crossing order. Cancels are off-chain (only the operator can match, as
on Polymarket). Balances and allowances are checked against the chain when an order arrives.

A market maker (anvil's account 2 by default, unlocked) seeds every open market with real
signed orders backed by real positions: it mints demo mUSD (the token's open ``mint``), splits
it into YES+NO on the Conditional Tokens contract, approves the exchange and signs its orders
with ``eth_signTypedData_v4``. State (book, keys, trades) lives in memory: the service lives
as long as the devnet (``mm devnet start`` starts it, ``mm devnet stop`` stops it; API
credentials are derived from a per-process secret, so clients re-derive them).

Run: ``python -m mm_agent.markets.service --devnet-file MM_HOME/devnet.json --port N`` or
``mm devnet predict serve``. Plain ``http.server`` (threads, one lock): no extra dependency.

Modules: this one (markets, market maker, geoblock, running it), :mod:`.market_book` (the book,
matching, settlement, cancels), :mod:`.market_auth` (L1/L2 keys), :mod:`.market_http`
(routing).
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from mm_agent.errors import PredictNotFound
from mm_agent.local import env

from . import orders
from .chain import Chain, encode_call
from .devnet_deploy import approve_for_trading, split_collateral
from .market_auth import AUTH_WINDOW, ApiKeyAuth
from .market_book import MIN_ORDER_SIZE, TICK_SIZE, MatchingBook, Resting, _dec, _units
from .market_http import make_server

__all__ = ["AUTH_WINDOW", "MARKET_MAKER", "MarketService", "make_server", "parse_location",
           "serve"]

MARKET_MAKER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil account 2
# The market maker's quotes per market: (outcome index, side, price, size).
SEED_QUOTES: tuple[tuple[int, str, str, str], ...] = (
    (0, "SELL", "0.55", "100"), (0, "SELL", "0.60", "200"), (0, "BUY", "0.45", "100"),
    (0, "BUY", "0.40", "200"), (1, "SELL", "0.50", "100"), (1, "BUY", "0.40", "100"),
)
SEED_SPLIT = 1_000 * 10**6  # collateral the maker splits per market
SEED_CASH = 2_000 * 10**6  # collateral it keeps for its bids


class MarketService(ApiKeyAuth, MatchingBook):
    """The markets (Gamma), the keys (:class:`.ApiKeyAuth`), the book and its settlement
    (:class:`.MatchingBook`) and the market maker; the HTTP layer is :func:`make_server`."""

    def __init__(self, rpc_url: str, record: dict[str, Any], *, maker: str | None = MARKET_MAKER,
                 seed: bool = True, geoblock: str | None = None) -> None:
        """``geoblock``: ``COUNTRY[-REGION]`` the geoblock endpoint answers as blocked from
        (None: not blocked); a test may change :attr:`geoblock` while the service runs."""
        if geoblock:
            parse_location(geoblock)
        self.geoblock = geoblock or None
        self.rpc_url = rpc_url
        self.record = record
        self.chain = Chain(rpc_url)
        self.chain_id = int(record["chainId"])
        self.exchange = record["contracts"]["CtfExchange"]
        self.ctf = record["contracts"]["ConditionalTokens"]
        self.collateral = record["collateral"]["address"]
        self.operator = record["operator"]
        self.markets = list(record["markets"])
        self.by_token = {int(t["tokenId"]): m for m in self.markets for t in m["tokens"]}
        self.lock = threading.RLock()
        self._secret = secrets.token_bytes(32)
        self.keys: dict[str, dict[str, str]] = {}  # apiKey → {address, secret, passphrase}
        self.book: dict[str, Resting] = {}  # order id → resting or finished order
        self.trades: list[dict[str, Any]] = []
        self._seq = 0
        self.maker = maker
        if seed and maker:
            self.seed_market_maker(maker)

    def close(self) -> None:
        self.chain.close()

    # --- markets (Gamma) -----------------------------------------------------------------------
    def market_json(self, market: dict[str, Any]) -> dict[str, Any]:
        payouts = self._resolved(market)
        token_ids = [t["tokenId"] for t in market["tokens"]]
        if payouts is not None:
            total = sum(payouts) or 1
            prices = [_dec(Decimal(p) / total) for p in payouts]
        else:
            prices = [self._mid(int(t)) or "0.5" for t in token_ids]
        liquidity = sum(r.tokens_left for r in self.book.values()
                        if r.status == "LIVE" and r.market == market["conditionId"])
        return {
            "id": market["conditionId"], "question": market["question"],
            "conditionId": market["conditionId"], "questionID": market["questionId"],
            "slug": market["slug"], "outcomes": json.dumps(market["outcomes"]),
            "outcomePrices": json.dumps(prices), "clobTokenIds": json.dumps(token_ids),
            "active": payouts is None, "closed": payouts is not None,
            "acceptingOrders": payouts is None, "liquidity": _units(liquidity),
            "volume": _units(sum(t["size"] for t in self.trades
                                 if t["market"] == market["conditionId"])),
            "orderPriceMinTickSize": float(TICK_SIZE), "orderMinSize": MIN_ORDER_SIZE,
            "negRisk": False, "oracle": market["oracle"], "collateral": market["collateral"],
            "exchange": self.exchange, "payouts": payouts, "source": "devnet",
        }

    def find_market(self, key: str) -> dict[str, Any]:
        k = key.lower()
        for m in self.markets:
            if k in (m["slug"].lower(), m["conditionId"].lower()):
                return m
        raise PredictNotFound(f"No devnet market {key!r}.")

    def list_markets(self, query: dict[str, str]) -> list[dict[str, Any]]:
        tokens = {t for t in (query.get("clob_token_ids") or "").split(",") if t}
        conditions = {c.lower() for c in (query.get("condition_ids") or "").split(",") if c}
        out = [self.market_json(m) for m in self.markets
               if (not query.get("slug") or m["slug"] == query["slug"])
               and (not tokens or tokens & {str(t["tokenId"]) for t in m["tokens"]})
               and (not conditions or m["conditionId"].lower() in conditions)]
        if query.get("closed") == "false" or query.get("active") == "true":
            out = [m for m in out if not m["closed"]]
        if query.get("closed") == "true":
            out = [m for m in out if m["closed"]]
        offset = int(query.get("offset") or 0)
        limit = int(query.get("limit") or 100)
        return out[offset: offset + limit]

    def search(self, q: str) -> dict[str, Any]:
        words = q.lower().split()
        hits = [self.market_json(m) for m in self.markets
                if all(w in (m["question"] + " " + m["slug"]).lower() for w in words)]
        return {"markets": hits, "events": [], "tags": []}

    # --- the market maker --------------------------------------------------------------------
    def seed_market_maker(self, maker: str) -> None:
        """Fund, split, approve and post :data:`SEED_QUOTES` on every unresolved market."""
        open_markets = [m for m in self.markets if self._resolved(m) is None]
        if not open_markets:
            return
        self.chain.transact(maker, self.collateral, encode_call(
            "mint(address,uint256)", ["address", "uint256"],
            [maker, SEED_SPLIT * len(open_markets) + SEED_CASH]), label="minting mUSD")
        approve_for_trading(self.chain, maker, self.record)
        api_key = self._creds_for(maker, 0)["apiKey"]
        for market in open_markets:
            split_collateral(self.chain, self.ctf, self.collateral, maker, market["conditionId"],
                             SEED_SPLIT, mint=False)
            for index, side, price, size in SEED_QUOTES:
                token = int(market["tokens"][index]["tokenId"])
                order = orders.build_order(maker=maker, token_id=token, side=side, price=price,
                                           size=size)
                typed = orders.order_typed_data(order, chain_id=self.chain_id,
                                                exchange=self.exchange)
                signature = self.chain.rpc.call("eth_signTypedData_v4",
                                                [maker, json.dumps(typed)])
                self.post_order(maker, api_key, {
                    "order": {**order.message(), "side": side, "signature": signature},
                    "owner": api_key, "orderType": "GTC"})

    # --- geoblock (polymarket.com's endpoint) ------------------------------------------------
    def geoblock_json(self, ip: str) -> dict[str, Any]:
        """``GET /api/geoblock``: blocked from :attr:`geoblock` (``COUNTRY[-REGION]``) when it is
        set, else not blocked (country and region empty: the service does not locate anyone)."""
        where = self.geoblock
        if not where:
            return {"blocked": False, "ip": ip, "country": "", "region": ""}
        country, region = parse_location(where)
        return {"blocked": True, "ip": ip, "country": country, "region": region}


def parse_location(text: str) -> tuple[str, str]:
    """``"US-NY"`` → ``("US", "NY")``, ``"SG"`` → ``("SG", "")``: an ISO 3166-1 alpha-2 country
    and an optional region code."""
    country, _, region = text.strip().upper().partition("-")
    if len(country) != 2 or not country.isalpha() or (region and not region.isalnum()):
        raise ValueError(f"{text!r} is not COUNTRY[-REGION] (e.g. US-NY, SG).")
    return country, region


def serve(rpc_url: str, record: dict[str, Any], *, host: str = "127.0.0.1", port: int = 0,
          on_ready: Any = None, seed: bool = True, geoblock: str | None = None) -> None:
    """Run until interrupted; ``on_ready(url)`` once listening. ``geoblock``: answer the
    geoblock endpoint as blocked from this ``COUNTRY[-REGION]``."""
    service = MarketService(rpc_url, record, seed=seed, geoblock=geoblock)
    server = make_server(service, host, port)
    try:
        if on_ready is not None:
            on_ready(f"http://{host}:{server.server_address[1]}")
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        service.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mm_agent.markets.service")
    parser.add_argument("--devnet-file", required=True, help="MM_HOME/devnet.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--geoblock", default=env.get(env.PREDICT_SERVICE_GEOBLOCK),
                        metavar="COUNTRY[-REGION]",
                        help="answer /api/geoblock as blocked from there (default: "
                             f"${env.PREDICT_SERVICE_GEOBLOCK}, else not blocked)")
    args = parser.parse_args(argv)
    if args.geoblock:
        try:
            parse_location(args.geoblock)
        except ValueError as exc:
            parser.error(str(exc))
    record = json.loads(Path(args.devnet_file).read_text())
    try:
        serve(record["rpcUrl"], record["markets"], host=args.host, port=args.port,
              geoblock=args.geoblock)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    main()
