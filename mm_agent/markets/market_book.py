"""The devnet market service's book: resting orders, price-time matching and settlement with
the exchange's ``matchOrders`` by the operator, open orders, cancels and trades.

:class:`MatchingBook` is a part of :class:`mm_agent.markets.service.MarketService` (which sets
the attributes it declares); the HTTP layer is :mod:`.market_http`."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mm_agent.errors import PredictError, PredictNotFound

from . import orders
from .chain import Chain, encode_call
from .devnet_deploy import erc20_balance, erc1155_balance, match_orders_calldata

__all__ = ["MIN_ORDER_SIZE", "TICK_SIZE", "ClientError", "MatchingBook", "Resting"]

TICK_SIZE = "0.01"
MIN_ORDER_SIZE = 1


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



class MatchingBook:
    """The book, its matching and settlement; the state lives on the service."""

    chain: Chain
    chain_id: int
    exchange: str
    ctf: str
    collateral: str
    operator: str
    by_token: dict[int, dict[str, Any]]
    lock: threading.RLock
    book: dict[str, Resting]  # order id → resting or finished order
    trades: list[dict[str, Any]]
    _seq: int

    def _resolved(self, market: dict[str, Any]) -> list[int] | None:
        cid = bytes.fromhex(market["conditionId"][2:])
        denominator = self.chain.call(self.ctf, encode_call("payoutDenominator(bytes32)",
                                                            ["bytes32"], [cid]), ["uint256"])
        if not denominator:
            return None
        return [int(self.chain.call(self.ctf, encode_call(
            "payoutNumerators(bytes32,uint256)", ["bytes32", "uint256"], [cid, i]), ["uint256"]))
            for i in range(len(market["tokens"]))]

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

