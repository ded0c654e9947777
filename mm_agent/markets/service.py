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
  ``GET /data/trades``.

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
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mm_agent.errors import MMError, PredictAuthError, PredictError, PredictNotFound

from . import orders
from .chain import Chain, encode_call
from .devnet_deploy import (
    approve_for_trading,
    erc20_balance,
    erc1155_balance,
    match_orders_calldata,
    split_collateral,
)

__all__ = ["AUTH_WINDOW", "MARKET_MAKER", "MarketService", "make_server", "serve"]

AUTH_WINDOW = 600  # seconds an L1/L2 timestamp may differ from the service's clock
MARKET_MAKER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil account 2
TICK_SIZE = "0.01"
MIN_ORDER_SIZE = 1
# The market maker's quotes per market: (outcome index, side, price, size).
SEED_QUOTES: tuple[tuple[int, str, str, str], ...] = (
    (0, "SELL", "0.55", "100"), (0, "SELL", "0.60", "200"), (0, "BUY", "0.45", "100"),
    (0, "BUY", "0.40", "200"), (1, "SELL", "0.50", "100"), (1, "BUY", "0.40", "100"),
)
SEED_SPLIT = 1_000 * 10**6  # collateral the maker splits per market
SEED_CASH = 2_000 * 10**6  # collateral it keeps for its bids


def _now() -> int:
    return int(time.time())


@dataclass
class Resting:
    order: orders.Order
    signature: str
    order_id: str
    owner: str  # the API key
    order_type: str
    expiration: int
    seq: int
    market: str
    remaining: int  # maker-amount units still fillable
    status: str = "LIVE"
    created_at: int = field(default_factory=_now)
    size_matched: int = 0  # outcome tokens

    @property
    def price(self) -> Decimal:
        return self.order.price

    @property
    def tokens_left(self) -> int:
        """Outcome tokens this order can still trade."""
        o = self.order
        if o.side == orders.SELL:
            return min(self.remaining, o.makerAmount - self.size_matched)
        # A BUY filled below its limit keeps collateral: its size bounds it, not the cash.
        return min(self.remaining * o.takerAmount // o.makerAmount,
                   o.takerAmount - self.size_matched)

    def as_json(self) -> dict[str, Any]:
        o = self.order
        size = o.makerAmount if o.side == orders.SELL else o.takerAmount
        return {
            "id": self.order_id, "status": self.status, "owner": self.owner,
            "maker_address": o.maker, "market": self.market, "asset_id": str(o.tokenId),
            "side": "BUY" if o.side == orders.BUY else "SELL",
            "original_size": _units(size), "size_matched": _units(self.size_matched),
            "price": _dec(self.price), "order_type": self.order_type,
            "expiration": str(self.expiration), "created_at": self.created_at,
            "outcome": None,
        }


def _units(amount: int) -> str:
    return _dec(Decimal(amount) / Decimal(10**orders.COLLATERAL_DECIMALS))


def _dec(value: Decimal) -> str:
    """A plain decimal string: ``"100"``, ``"0.55"`` (never ``"1E+2"``)."""
    return format(value.normalize(), "f")


class ClientError(PredictError):
    """A request the service refuses (HTTP 400)."""

    http_status = 400


class MarketService:
    """The book, the keys and the settlement; the HTTP layer is :func:`make_server`."""

    def __init__(self, rpc_url: str, record: dict[str, Any], *, maker: str | None = MARKET_MAKER,
                 seed: bool = True) -> None:
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
    def _resolved(self, market: dict[str, Any]) -> list[int] | None:
        cid = bytes.fromhex(market["conditionId"][2:])
        denominator = self.chain.call(self.ctf, encode_call("payoutDenominator(bytes32)",
                                                            ["bytes32"], [cid]), ["uint256"])
        if not denominator:
            return None
        return [int(self.chain.call(self.ctf, encode_call(
            "payoutNumerators(bytes32,uint256)", ["bytes32", "uint256"], [cid, i]), ["uint256"]))
            for i in range(len(market["tokens"]))]

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

    # --- book (CLOB) ---------------------------------------------------------------------------
    def _live(self, token_id: int) -> list[Resting]:
        now = _now()
        out = []
        for r in self.book.values():
            if r.status != "LIVE" or r.order.tokenId != token_id:
                continue
            if r.expiration and r.expiration <= now:
                r.status = "EXPIRED"
                continue
            out.append(r)
        return out

    def levels(self, token_id: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        def agg(side: int, reverse: bool) -> list[dict[str, str]]:
            sizes: dict[Decimal, int] = {}
            for r in self._live(token_id):
                if r.order.side == side:
                    sizes[r.price] = sizes.get(r.price, 0) + r.tokens_left
            return [{"price": _dec(p), "size": _units(s)}
                    for p, s in sorted(sizes.items(), reverse=reverse) if s > 0]

        return agg(orders.BUY, True), agg(orders.SELL, False)

    def book_json(self, token_id: int) -> dict[str, Any]:
        market = self.by_token.get(token_id)
        if market is None:
            raise PredictNotFound(f"No devnet outcome token {token_id}.")
        bids, asks = self.levels(token_id)
        # py-clob-client reads bids ascending and asks descending (best last), like the CLOB.
        return {"market": market["conditionId"], "asset_id": str(token_id),
                "timestamp": str(int(time.time() * 1000)), "bids": bids[::-1], "asks": asks[::-1],
                "tick_size": TICK_SIZE, "min_order_size": str(MIN_ORDER_SIZE), "neg_risk": False,
                "hash": hashlib.sha1(json.dumps([bids, asks]).encode()).hexdigest(),
                "source": "devnet"}

    def _mid(self, token_id: int) -> str | None:
        bids, asks = self.levels(token_id)
        if bids and asks:
            return _dec((Decimal(bids[0]["price"]) + Decimal(asks[0]["price"])) / 2)
        return None

    # --- auth ----------------------------------------------------------------------------------
    def _creds_for(self, address: str, nonce: int) -> dict[str, str]:
        seed = hmac.new(self._secret, f"{address.lower()}:{nonce}".encode(), hashlib.sha256)
        raw = seed.digest()
        api_key = str(uuid.UUID(bytes=raw[:16], version=4))
        secret = base64.urlsafe_b64encode(hashlib.sha256(raw + b"secret").digest()).decode()
        passphrase = hashlib.sha256(raw + b"passphrase").hexdigest()[:32]
        self.keys[api_key] = {"address": address, "secret": secret, "passphrase": passphrase}
        return {"apiKey": api_key, "secret": secret, "passphrase": passphrase}

    def verify_l1(self, headers: dict[str, str]) -> tuple[str, int]:
        from eth_keys import keys
        from eth_utils import to_checksum_address

        from mm_agent.evm.signing import typed_data_digest

        try:
            address = to_checksum_address(headers["poly_address"])
            ts = int(headers["poly_timestamp"])
            nonce = int(headers.get("poly_nonce") or 0)
            sig = bytes.fromhex(headers["poly_signature"].removeprefix("0x"))
        except (KeyError, ValueError) as exc:
            raise PredictAuthError("Missing or malformed L1 headers.") from exc
        if abs(_now() - ts) > AUTH_WINDOW:
            raise PredictAuthError("L1 timestamp outside the allowed window.")
        typed = orders.clob_auth_typed_data(address, chain_id=self.chain_id, timestamp=ts,
                                            nonce=nonce)
        digest = bytes.fromhex(typed_data_digest(typed)[2:])
        if len(sig) != 65:
            raise PredictAuthError("Invalid L1 signature.")
        v = sig[64] - 27 if sig[64] >= 27 else sig[64]
        try:
            signer = keys.Signature(sig[:64] + bytes([v])).recover_public_key_from_msg_hash(
                digest).to_checksum_address()
        except Exception as exc:
            raise PredictAuthError("Invalid L1 signature.") from exc
        if signer != address:
            raise PredictAuthError("The L1 signature is not POLY_ADDRESS's.")
        return address, nonce

    def api_key(self, headers: dict[str, str]) -> dict[str, str]:
        address, nonce = self.verify_l1(headers)
        with self.lock:
            return self._creds_for(address, nonce)

    def verify_l2(self, method: str, path: str, body: str, headers: dict[str, str]
                  ) -> tuple[str, str]:
        """(address, apiKey) of a valid L2 request."""
        key = self.keys.get(headers.get("poly_api_key", ""))
        if key is None:
            raise PredictAuthError("Unknown API key.")
        try:
            ts = int(headers["poly_timestamp"])
        except (KeyError, ValueError) as exc:
            raise PredictAuthError("Missing POLY_TIMESTAMP.") from exc
        if abs(_now() - ts) > AUTH_WINDOW:
            raise PredictAuthError("L2 timestamp outside the allowed window.")
        if not hmac.compare_digest(headers.get("poly_passphrase", ""), key["passphrase"]):
            raise PredictAuthError("Wrong passphrase.")
        if headers.get("poly_address", "").lower() != key["address"].lower():
            raise PredictAuthError("POLY_ADDRESS is not the key's address.")
        expected = orders.hmac_signature(key["secret"], ts, method, path, body or None)
        if not hmac.compare_digest(headers.get("poly_signature", ""), expected):
            raise PredictAuthError("Invalid L2 signature.")
        return key["address"], headers["poly_api_key"]

    # --- orders --------------------------------------------------------------------------------
    def _parse_order(self, raw: dict[str, Any]) -> tuple[orders.Order, str, int]:
        try:
            side = raw["side"]
            order = orders.Order(
                salt=int(raw["salt"]), maker=str(raw["maker"]), signer=str(raw["signer"]),
                tokenId=int(raw["tokenId"]), makerAmount=int(raw["makerAmount"]),
                takerAmount=int(raw["takerAmount"]),
                side=orders.BUY if side in ("BUY", 0, "0") else orders.SELL,
                signatureType=int(raw.get("signatureType", 0)),
                timestamp=int(raw.get("timestamp", 0)),
                metadata=str(raw.get("metadata") or orders.ZERO_BYTES32),
                builder=str(raw.get("builder") or orders.ZERO_BYTES32))
            return order, str(raw["signature"]), int(raw.get("expiration") or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise ClientError(f"Malformed order: {exc}.") from exc

    def _check_signature(self, order: orders.Order, signature: str) -> str:
        from eth_keys import keys

        order_id = orders.order_hash(order, chain_id=self.chain_id, exchange=self.exchange)
        sig = bytes.fromhex(signature.removeprefix("0x"))
        if len(sig) != 65:
            raise ClientError("Invalid order signature.")
        v = sig[64] - 27 if sig[64] >= 27 else sig[64]
        try:
            signer = keys.Signature(sig[:64] + bytes([v])).recover_public_key_from_msg_hash(
                bytes.fromhex(order_id[2:])).to_checksum_address()
        except Exception as exc:
            raise ClientError("Invalid order signature.") from exc
        if signer.lower() != order.signer.lower():
            raise ClientError("The order signature is not the signer's (or not for this "
                              "exchange).")
        return order_id

    def _check_funds(self, order: orders.Order, address: str) -> None:
        if order.side == orders.BUY:
            have = erc20_balance(self.chain, self.collateral, address)
            allowance = int(self.chain.call(self.collateral, encode_call(
                "allowance(address,address)", ["address", "address"],
                [address, self.exchange]), ["uint256"]))
            what = "collateral"
        else:
            have = erc1155_balance(self.chain, self.ctf, address, order.tokenId)
            approved = self.chain.call(self.ctf, encode_call(
                "isApprovedForAll(address,address)", ["address", "address"],
                [address, self.exchange]), ["bool"])
            allowance = 2**256 - 1 if approved else 0
            what = "outcome tokens"
        if allowance < order.makerAmount:
            raise ClientError(f"The exchange is not approved to move this order's {what}.",
                              hint="Run `mm predict setup`.")
        if have < order.makerAmount:
            raise ClientError(f"Not enough {what} for this order ({_units(have)} < "
                              f"{_units(order.makerAmount)}).")

    def post_order(self, address: str, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("order")
        if not isinstance(raw, dict):
            raise ClientError("The body has no order.")
        order, signature, expiration = self._parse_order(raw)
        order_type = str(body.get("orderType") or "GTC").upper()
        post_only = bool(body.get("postOnly"))
        if order_type not in ("GTC", "GTD", "FOK", "FAK"):
            raise ClientError(f"Unknown order type {order_type!r}.")
        if post_only and order_type in ("FOK", "FAK"):
            raise ClientError("postOnly is not allowed with FOK/FAK.")
        if order_type == "GTD" and expiration <= _now():
            raise ClientError("A GTD order needs an expiration in the future.")
        if order_type != "GTD" and expiration:
            raise ClientError("Only GTD orders take an expiration.")
        if body.get("owner") not in (None, api_key):
            raise ClientError("owner is not the authenticated API key.")
        if order.maker.lower() != address.lower() or order.signer.lower() != address.lower():
            raise ClientError("maker and signer must be the authenticated address.")
        if order.signatureType != orders.SIGNATURE_TYPE_EOA:
            raise ClientError("The devnet exchange takes EOA (signature type 0) orders only.")
        market = self.by_token.get(order.tokenId)
        if market is None:
            raise PredictNotFound(f"No devnet outcome token {order.tokenId}.")
        order_id = self._check_signature(order, signature)
        with self.lock:
            if order_id in self.book:
                raise ClientError("This order was already posted.")
            if self._resolved(market) is not None:
                raise ClientError("The market is resolved; it accepts no orders.")
            self._check_funds(order, address)
            self._seq += 1
            taker = Resting(order, signature, order_id, api_key, order_type, expiration,
                            self._seq, market["conditionId"], order.makerAmount)
            makers = self._crossing(taker)
            if post_only and makers:
                raise ClientError("postOnly order would cross the book.")
            plan = self._plan(taker, makers)
            want = taker.tokens_left
            planned = sum(q for _r, q in plan)
            if order_type == "FOK" and planned < want:
                raise ClientError("FOK order cannot be filled entirely.",
                                  details={"fillable": _units(planned)})
            tx_hashes: list[str] = []
            making = 0
            if plan:
                tx_hash, making = self._settle(market, taker, plan)
                tx_hashes.append(tx_hash)
            if plan and planned >= want:
                taker.status = "MATCHED"
            elif order_type in ("FOK", "FAK"):
                taker.status = "MATCHED" if plan else "CANCELED"
            self.book[order_id] = taker
            status = "matched" if plan else ("live" if taker.status == "LIVE" else "unmatched")
            return {"success": True, "errorMsg": "", "orderID": order_id, "status": status,
                    "transactionsHashes": tx_hashes, "makingAmount": _units(making),
                    "takingAmount": _units(planned),
                    "remaining": _units(taker.tokens_left if taker.status == "LIVE" else 0)}

    def _crossing(self, taker: Resting) -> list[Resting]:
        other = orders.SELL if taker.order.side == orders.BUY else orders.BUY
        crossing = [
            r for r in self._live(taker.order.tokenId) if r.order.side == other
            and r.order.maker.lower() != taker.order.maker.lower()
            and (r.price <= taker.price if other == orders.SELL else r.price >= taker.price)]
        # Price-time priority: best price first (lowest ask / highest bid), then the older order.
        crossing.sort(key=lambda r: (r.price if other == orders.SELL else -r.price, r.seq))
        return crossing

    @staticmethod
    def _plan(taker: Resting, makers: list[Resting]) -> list[tuple[Resting, int]]:
        """[(maker, outcome tokens)] filling the taker as far as the book goes."""
        need = taker.tokens_left
        plan = []
        for r in makers:
            if need <= 0:
                break
            q = min(need, r.tokens_left)
            if q > 0:
                plan.append((r, q))
                need -= q
        return plan

    def _settle(self, market: dict[str, Any], taker: Resting,
                plan: list[tuple[Resting, int]]) -> tuple[str, int]:
        """One ``matchOrders`` by the operator; updates the book from what was sent. Returns
        (transaction hash, the taker's fill in its maker-amount units)."""
        maker_fills: list[int] = []
        spent = 0
        for r, q in plan:
            o = r.order
            if o.side == orders.SELL:  # the maker gives q tokens for q × its price
                fill = q
                taking = fill * o.takerAmount // o.makerAmount
            else:  # the maker pays collateral for q tokens
                fill = -(-q * o.makerAmount // o.takerAmount)
                fill = min(fill, r.remaining)
                taking = fill * o.takerAmount // o.makerAmount
            maker_fills.append(fill)
            spent += taking
        t = taker.order
        taker_fill = min(spent, taker.remaining)
        data = match_orders_calldata(market["conditionId"], (t, taker.signature),
                                     [(r.order, r.signature) for r, _q in plan], taker_fill,
                                     maker_fills)
        receipt = self.chain.transact(self.operator, self.exchange, data, label="matchOrders")
        tx_hash = str(receipt["transactionHash"])
        for (r, q), fill in zip(plan, maker_fills, strict=True):
            r.remaining -= fill
            r.size_matched += q
            if r.remaining <= 0 or r.tokens_left <= 0:
                r.status = "MATCHED"
            self.trades.append({
                "id": str(uuid.uuid4()), "taker_order_id": taker.order_id,
                "maker_order_id": r.order_id, "market": market["conditionId"],
                "asset_id": str(t.tokenId), "side": "BUY" if t.side == orders.BUY else "SELL",
                "size": q, "price": _dec(r.price),
                "making": fill * r.order.takerAmount // r.order.makerAmount
                if t.side == orders.BUY else q,
                "maker_address": r.order.maker, "taker_address": t.maker,
                "transaction_hash": tx_hash, "status": "CONFIRMED", "match_time": str(_now()),
                "source": "devnet"})
        taker.remaining -= taker_fill
        taker.size_matched += sum(q for _r, q in plan)
        return tx_hash, taker_fill

    def open_orders(self, address: str, query: dict[str, str]) -> list[dict[str, Any]]:
        with self.lock:
            out = []
            for r in self.book.values():
                if r.order.maker.lower() != address.lower() or r.status != "LIVE":
                    continue
                if r.expiration and r.expiration <= _now():
                    r.status = "EXPIRED"
                    continue
                if query.get("id") and r.order_id != query["id"]:
                    continue
                if query.get("market") and r.market.lower() != query["market"].lower():
                    continue
                if query.get("asset_id") and str(r.order.tokenId) != query["asset_id"]:
                    continue
                out.append(r.as_json())
            return out

    def get_order(self, address: str, order_id: str) -> dict[str, Any]:
        r = self.book.get(order_id)
        if r is None or r.order.maker.lower() != address.lower():
            raise PredictNotFound(f"No order {order_id}.")
        return r.as_json()

    def cancel(self, address: str, ids: list[str] | None = None, market: str | None = None,
               asset: str | None = None) -> dict[str, Any]:
        canceled, not_canceled = [], {}
        with self.lock:
            for oid in ids or []:
                r = self.book.get(oid)
                if r is None or r.order.maker.lower() != address.lower():
                    not_canceled[oid] = "order not found"
                elif r.status != "LIVE":
                    not_canceled[oid] = f"order is {r.status.lower()}"
                else:
                    r.status = "CANCELED"
                    canceled.append(oid)
            if ids is None:
                for r in self.book.values():
                    if r.order.maker.lower() != address.lower() or r.status != "LIVE":
                        continue
                    if market and r.market.lower() != market.lower():
                        continue
                    if asset and str(r.order.tokenId) != str(asset):
                        continue
                    r.status = "CANCELED"
                    canceled.append(r.order_id)
        return {"canceled": canceled, "not_canceled": not_canceled}

    def user_trades(self, address: str) -> list[dict[str, Any]]:
        a = address.lower()
        return [{**t, "size": _units(t["size"])} for t in self.trades
                if a in (t["maker_address"].lower(), t["taker_address"].lower())]

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


# --- HTTP -----------------------------------------------------------------------------------------
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
                self._send(200, _route(service, method, url.path, query, body, headers))
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
           headers: dict[str, str]) -> Any:
    if method == "GET":
        if path == "/ok":
            return "OK"
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


def serve(rpc_url: str, record: dict[str, Any], *, host: str = "127.0.0.1", port: int = 0,
          on_ready: Any = None, seed: bool = True) -> None:
    """Run until interrupted; ``on_ready(url)`` once listening."""
    service = MarketService(rpc_url, record, seed=seed)
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
    args = parser.parse_args(argv)
    record = json.loads(Path(args.devnet_file).read_text())
    try:
        serve(record["rpcUrl"], record["markets"], host=args.host, port=args.port)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    main()
