"""Trading commands of :class:`mm_agent.markets.predict.Predict`: build, sign (through the
wallet) and post orders, follow one that waits for the human, read fills from receipts, list
and cancel open orders (a server wallet's cancelled orders are also cancelled on chain and
released)."""

from __future__ import annotations

from contextlib import nullcontext
from decimal import Decimal
from typing import Any

from mm_agent.errors import PredictError, ValidationError

from . import orders
from .clob_client import signed
from .predict_account import PredictAccount
from .predict_state import (
    FILLED_TOPIC,
    ONE,
    _decimal,
    _now,
    _public,
    _units,
    read_state,
    validate_place,
)

__all__ = ["PredictTrading"]


class PredictTrading(PredictAccount):
    def build_order(self, token_id: str, side: str, size: str, price: str) -> orders.Order:
        return orders.build_order(maker=self.address, token_id=int(token_id), side=side.upper(),
                                  price=price, size=size, tick_size="0.01")

    def sign_order(self, order: orders.Order, *, exchange: str | None = None,
                   intent: str | None = None, wallet_timeout: int | None = None,
                   record: dict[str, Any] | None = None) -> str:
        """The wallet's signature (pipeline: rule 5b, the off-book check against this book).
        A server wallet's signing request id goes into ``record["signingPollingId"]``: a
        cancel releases the order's outflow reservation through it."""
        typed = orders.order_typed_data(order, chain_id=self.chain_id,
                                        exchange=exchange or self.exchange)
        refs: dict[str, Any] = {}
        try:
            book = self.client.book(order.tokenId)
            bids = [Decimal(b["price"]) for b in book["bids"]]
            asks = [Decimal(a["price"]) for a in book["asks"]]
            ref: dict[str, Any] = {"source": self.mode}
            if bids:
                ref["bid"] = str(max(bids))
            if asks:
                ref["ask"] = str(min(asks))
            if len(ref) > 1:
                refs[str(order.tokenId)] = ref
        except PredictError:
            pass
        ctx = self._reference_prices(refs) if self._reference_prices else nullcontext()
        with ctx:
            req = self.wallet.sign_typed_data(chain_id=self.chain_id, payload=typed,
                                              intent=intent, wallet_timeout=wallet_timeout)
        if record is not None and self._server_wallet and getattr(req, "polling_id", None):
            record["signingPollingId"] = req.polling_id
        return signed(req, "order")

    @property
    def _server_wallet(self) -> bool:
        return callable(getattr(getattr(self.wallet, "requests", None), "release_order", None))

    def place(self, token_id: str, side: str, size: str, price: str, *,
              order_type: str = "GTC", post_only: bool = False,
              expiration: int | None = None, wallet_timeout: int | None = None
              ) -> dict[str, Any]:
        """Sign (through the wallet) and post one order. A server wallet's signature may wait
        for the human (guard mode: over the outflow limit, …): when the wait ends first, the
        order is kept as ``AWAITING_MFA`` with the signing request's ``signingPollingId`` and
        ``mm predict watch --id <orderId> --wait`` posts it once approved."""
        from mm_agent.errors import JobTimeout

        validate_place(side=side, size=size, price=price, order_type=order_type,
                       post_only=post_only, expiration=expiration)
        # Close-only jurisdictions may still sell what the wallet holds (closing a position).
        self.check_geoblock("place", closing=lambda: side.lower() == "sell" and (
            self._token_balance(token_id) >= int(_decimal(size, "Size") * ONE)))
        self.require_setup()
        market = self._market_of_token(token_id)
        order = self.build_order(token_id, side, size, price)
        order_id = orders.order_hash(order, chain_id=self.chain_id, exchange=self.exchange)
        intent = (f"{side.upper()} {size} '{market['outcome']}' shares at {price} "
                  f"({order_type.upper()}) on: {market['question']}")
        record = {
            "orderId": order_id, "mode": self.mode, "address": self.address,
            "tokenId": str(token_id), "conditionId": market["conditionId"],
            "outcome": market["outcome"], "question": market["question"],
            "side": side.lower(), "price": price, "size": size,
            "orderType": order_type.upper(), "postOnly": post_only, "expiration": expiration,
            "status": "SIGNING", "filledSize": "0", "txHashes": [], "receipts": [],
            "createdAt": _now(), "source": self.mode,
            "order": order.to_dict(), "exchange": self.exchange, "chainId": self.chain_id,
        }
        try:
            signature = self.sign_order(order, intent=intent, wallet_timeout=wallet_timeout,
                                        record=record)
        except JobTimeout as exc:
            request = (exc.details or {}).get("request") or {}
            record.update(status="AWAITING_MFA", signingPollingId=request.get("pollingId"))
            self._update(lambda s: s["orders"].append(record))
            self._log("order", id=order_id, status="AWAITING_MFA",
                      signingPollingId=record["signingPollingId"])
            return {**_public(record), "pollingId": order_id,
                    "next": f"mm predict watch --id {order_id} --wait"}
        return self._post_signed(record, signature)

    def _post_signed(self, record: dict[str, Any], signature: str) -> dict[str, Any]:
        """Post a signed order, read its fills from the chain, store the outcome."""
        order = orders.Order(**record["order"])
        order_id = record["orderId"]
        resp = self.client.post_order(order, signature, order_type=record["orderType"],
                                      post_only=bool(record["postOnly"]),
                                      expiration=record["expiration"] or 0)
        if resp.get("orderID") != order_id:
            raise PredictError("The market service answered for another order.",
                               details={"orderID": resp.get("orderID")})
        fills = self._fills(order_id, resp.get("transactionsHashes") or [])
        tokens = sum(f["tokens"] for f in fills)
        total = order.takerAmount if order.side == orders.BUY else order.makerAmount
        if tokens >= total:
            status = "FILLED"
        elif tokens:
            status = "PARTIALLY_FILLED" if resp.get("remaining") not in (None, "0") \
                and record["orderType"] in ("GTC", "GTD") else "FILLED_PARTIAL_CANCELLED"
        else:
            status = "OPEN" if resp.get("status") == "live" else "UNMATCHED"
        done = {"status": status, "filledSize": _units(tokens),
                "txHashes": [f["txHash"] for f in fills], "receipts": fills,
                "postedAt": _now()}
        record.update(done)

        def save(state: dict[str, Any]) -> None:
            for rec in state["orders"]:
                if rec["orderId"] == order_id:
                    rec.update(done)
                    return
            state["orders"].append(record)

        self._update(save)
        self._log("order", id=order_id, status=status, txHashes=record["txHashes"])
        return {**_public(record), "pollingId": order_id,
                "cost" if order.side == orders.BUY else "proceeds":
                    _units(sum(f["collateral"] for f in fills))}

    def _resume(self, record: dict[str, Any], wait: bool, timeout: float | None
                ) -> dict[str, Any]:
        """An order whose signature waited for the human: post it once the signing request
        completed; a denied, failed or expired request ends it ``REJECTED``."""
        from mm_agent.errors import JobTimeout

        polling_id = record.get("signingPollingId")
        if not polling_id:
            raise PredictError("This order has no signing request to follow.")
        try:
            req = (self.wallet.requests.wait(polling_id, timeout) if wait
                   else self.wallet.requests.get(polling_id))
        except JobTimeout:
            return {"id": record["orderId"], "kind": "order", **_public(record)}
        status = getattr(req, "status", None)
        if status == "COMPLETED" and getattr(req, "signature", None):
            # Posting is placing: asked again here, the place may have changed since signing.
            self.check_geoblock("place", closing=lambda: record["side"] == "sell" and (
                self._token_balance(record["tokenId"])
                >= int(_decimal(record["size"], "Size") * ONE)))
            return {"id": record["orderId"], "kind": "order",
                    **self._post_signed(record, str(req.signature))}
        if status in ("DENIED", "FAILED", "EXPIRED"):
            error = getattr(req, "error", None)

            def reject(state: dict[str, Any]) -> None:
                for rec in state["orders"]:
                    if rec["orderId"] == record["orderId"]:
                        rec.update(status="REJECTED", signingStatus=status, error=error)

            self._update(reject)
            record.update(status="REJECTED", signingStatus=status, error=error)
            self._log("order", id=record["orderId"], status="REJECTED", signingStatus=status)
        return {"id": record["orderId"], "kind": "order", **_public(record)}

    def _fills(self, order_id: str, tx_hashes: list[str]) -> list[dict[str, Any]]:
        """This order's fills, from receipts read here (status 1 and an ``OrderFilled`` log for
        ``order_id`` emitted by the exchange)."""
        from eth_abi import decode

        out = []
        for tx in tx_hashes:
            receipt = self.chain.rpc.call("eth_getTransactionReceipt", [tx])
            if not receipt or int(receipt["status"], 16) != 1:
                continue
            for log in receipt["logs"]:
                if (log["address"].lower() == self.exchange.lower()
                        and log["topics"][0] == FILLED_TOPIC
                        and log["topics"][1].lower() == order_id.lower()):
                    side, _token, making, taking, *_rest = decode(
                        ["uint8", "uint256", "uint256", "uint256", "uint256", "bytes32",
                         "bytes32"], bytes.fromhex(log["data"][2:]))
                    tokens, collateral = (taking, making) if side == orders.BUY \
                        else (making, taking)
                    out.append({"txHash": tx, "blockNumber": int(receipt["blockNumber"], 16),
                                "tokens": tokens, "collateral": collateral,
                                "size": _units(tokens), "amount": _units(collateral)})
        return out

    def open_records(self, *, order_id: str | None = None, market: str | None = None,
                     asset: str | None = None) -> list[dict[str, Any]]:
        """This account's local orders a cancel may reach (posted, not finished), with their
        signed struct: what ``cancel`` reads the unfilled remainders of beforehand."""
        cid = self._resolve_market(market)["conditionId"].lower() if market else None
        return [o for o in read_state(self.home)["orders"]
                if o.get("mode") == self.mode and o.get("order")
                and str(o.get("address", "")).lower() == self.address.lower()
                and o.get("status") in ("OPEN", "PARTIALLY_FILLED")
                and (order_id is None or o["orderId"] == order_id)
                and (cid is None or str(o.get("conditionId", "")).lower() == cid)
                and (asset is None or str(o.get("tokenId")) == str(asset))]

    def cancel(self, *, order_id: str | None = None, all: bool = False,
               market: str | None = None, asset: str | None = None) -> dict[str, Any]:
        targets = sum(bool(x) for x in (order_id, all, market or asset))
        if targets != 1:
            raise ValidationError("Give exactly one cancel target: --order-id, --all, or "
                                  "--market/--asset.")
        self.require_setup()
        if order_id:
            resp = self.client.cancel(order_id)
        elif all:
            resp = self.client.cancel_all()
        else:
            cid = self._resolve_market(market)["conditionId"] if market else None
            resp = self.client.cancel_market_orders(cid, asset)
        canceled = list(resp.get("canceled") or [])
        released = self._release_cancelled(canceled)

        def mark(state: dict[str, Any]) -> None:
            for rec in state["orders"]:
                if rec["orderId"] in canceled:
                    rec["status"] = "CANCELLED"
                    rec["cancelledAt"] = _now()
                    if rec["orderId"] in released:
                        rec["release"] = released[rec["orderId"]]

        self._update(mark)
        self._log("cancel", orderIds=canceled)
        out: dict[str, Any] = {"canceled": canceled,
                               "notCanceled": resp.get("not_canceled") or {}}
        if released:
            out["released"] = [{"orderId": k, **v} for k, v in released.items()]
        return out

    def _release_cancelled(self, canceled: list[str]) -> dict[str, dict[str, Any]]:
        """Server wallets: each cancelled order signed through the service is also cancelled
        **on chain** (the maker's ``cancelOrder(order)``, a wallet transaction through the
        pipeline) and then released: the service verifies that cancel and the order's fills on
        chain itself and scales the signing request's outflow reservation to the filled share
        (``POST /v1/requests/{pollingId}/release``). BYOK wallets have no window: nothing to
        do. A failure is reported per order (``error``); the off-chain cancel stands.

        Devnet only: DevnetCtfExchange (like Polymarket's V1 exchange) has the maker's
        ``cancelOrder(Order)`` emitting ``OrderCancelled(orderHash)``; the V2 exchange that
        testnet/mainnet orders are signed for has no maker cancel on chain (off-chain cancels
        and a user pause only), so there the reservation stays until the window rolls."""
        from mm_agent.errors import MMError

        from .chain import encode_call

        if not self._server_wallet or not canceled or self.mode != "devnet":
            return {}
        out: dict[str, dict[str, Any]] = {}
        for rec in read_state(self.home)["orders"]:
            if (rec.get("orderId") not in canceled or not rec.get("signingPollingId")
                    or not rec.get("order") or rec.get("mode") != self.mode
                    or str(rec.get("address", "")).lower() != self.address.lower()):
                continue
            order = orders.Order(**rec["order"])
            exchange = rec.get("exchange") or self.exchange
            try:
                data = encode_call(f"cancelOrder({orders.ORDER_ABI_TUPLE})",
                                   [orders.ORDER_ABI_TUPLE], [order.as_tuple(b"")])
                sent = self._send(exchange, data, f"Cancel order {rec['orderId']} on chain")
                if sent["status"] != "confirmed":
                    out[rec["orderId"]] = {"cancelTxHash": sent["txHash"], "released": False,
                                           "error": {"code": "TX_REVERTED",
                                                     "message": "The on-chain cancel reverted."}}
                    continue
                res = self.wallet.requests.release_order(rec["signingPollingId"],
                                                         str(sent["txHash"]))
                out[rec["orderId"]] = {k: res.get(k) for k in (
                    "cancelTxHash", "released", "filledMakerAmount", "unfilledMakerAmount",
                    "reservedUsd", "releasedUsd", "remainingUsd") if k in res}
            except MMError as exc:
                out[rec["orderId"]] = {"released": False,
                                       "error": {"code": exc.code, "message": exc.message}}
        return out

    def orders(self, market: str | None = None) -> dict[str, Any]:
        self.require_setup()
        cid = self._resolve_market(market)["conditionId"] if market else None
        live = self.client.orders(market=cid)
        return {"orders": [{
            "orderId": o["id"], "tokenId": o["asset_id"], "conditionId": o["market"],
            "side": o["side"].lower(), "price": o["price"], "size": o["original_size"],
            "sizeMatched": o["size_matched"], "orderType": o["order_type"],
            "status": o["status"], "expiration": o["expiration"]} for o in live],
            "cursor": None, "source": self.mode}
