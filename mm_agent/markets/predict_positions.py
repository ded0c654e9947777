"""Positions commands of :class:`mm_agent.markets.predict.Predict` (outcome-token balances read
on chain, portfolio, redemptions, history, watch) and the operator's devnet resolution."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from mm_agent.errors import (
    PredictBackendUnavailable,
    PredictError,
    PredictNotFound,
    ValidationError,
)
from mm_agent.local.state import Home

from . import ctf
from .chain import Chain, encode_call
from .predict_state import _public, _units, read_state
from .predict_trading import PredictTrading

__all__ = ["PredictPositions", "resolve_devnet_market"]


class PredictPositions(PredictTrading):
    def positions(self, market: str | None = None) -> dict[str, Any]:
        """Outcome-token balances read from the Conditional Tokens contract."""
        markets = [self._resolve_market(market)] if market else self._markets()
        out = []
        for m in markets:
            payouts = self._payouts(m["conditionId"])
            for i, t in enumerate(m["tokens"]):
                bal = self._token_balance(t["tokenId"])
                if not bal:
                    continue
                value = None
                if payouts is not None:
                    value = _units(bal * payouts[i] // (sum(payouts) or 1))
                out.append({"conditionId": m["conditionId"], "question": m["question"],
                            "slug": m["slug"], "outcome": t["outcome"],
                            "tokenId": str(t["tokenId"]), "size": _units(bal),
                            "resolved": payouts is not None, "redeemableValue": value,
                            "source": self.mode})
        return {"positions": out, "source": self.mode}

    def portfolio(self) -> dict[str, Any]:
        positions = self.positions()["positions"]
        return {"balance": _units(self._collateral_balance()), "positions": positions,
                "redeemable": [p for p in positions if p["resolved"]
                               and Decimal(p["redeemableValue"] or 0) > 0],
                "source": self.mode}

    def redeem_list(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for p in self.positions()["positions"]:
            if not p["resolved"]:
                continue
            entry = out.setdefault(p["conditionId"], {
                "conditionId": p["conditionId"], "question": p["question"], "payout": "0",
                "positions": []})
            entry["positions"].append({"outcome": p["outcome"], "size": p["size"]})
            entry["payout"] = format((Decimal(entry["payout"])
                                      + Decimal(p["redeemableValue"] or 0)).normalize(), "f")
        return {"redeemable": list(out.values()), "source": self.mode}

    def redeem(self, condition_id: str | None = None, *, all: bool = False) -> dict[str, Any]:
        if bool(condition_id) == bool(all):
            raise ValidationError("Give one condition id, or --all.")
        self.require_setup()
        redeemable = self.redeem_list()["redeemable"]
        if condition_id:
            market = self._resolve_market(condition_id)
            if self._payouts(market["conditionId"]) is None:
                raise PredictError("This market is not resolved yet; nothing to redeem.")
            targets = [market["conditionId"]]
        else:
            targets = [r["conditionId"] for r in redeemable]
        results = []
        for cid in targets:
            before = self._collateral_balance()
            tx = self._send(self.ctf, ctf.redeem_positions_calldata(self.collateral, cid),
                            "Redeem resolved prediction-market positions for mUSD")
            credited = self._collateral_balance() - before
            entry = self._log("redeem", conditionId=cid, txHash=tx["txHash"],
                              credited=_units(credited))
            results.append({"conditionId": cid, "txHash": tx["txHash"],
                            "credited": _units(credited), "pollingId": entry["id"],
                            "status": "COMPLETED"})
        return {"redemptions": results, "source": self.mode}

    def history(self, limit: int = 50) -> dict[str, Any]:
        state = read_state(self.home)
        items = [h for h in state["history"] if h.get("address", "").lower()
                 == self.address.lower() and h.get("mode") == self.mode]
        return {"history": list(reversed(items))[:limit], "source": self.mode}

    def watch(self, job_id: str, wait: bool = False, timeout: float = 60.0) -> dict[str, Any]:
        """An order (its id), a history entry (setup/deposit/redeem id) or a transaction."""
        state = read_state(self.home)
        order = next((o for o in state["orders"] if o["orderId"] == job_id), None)
        if order is not None:
            if order["status"] == "AWAITING_MFA":
                return self._resume(order, wait, timeout)
            live = {o["orderId"]: o for o in self.orders()["orders"]} \
                if order["status"] in ("OPEN", "PARTIALLY_FILLED") else {}
            return {"id": job_id, "kind": "order", **_public(order),
                    "open": job_id in live, "live": live.get(job_id)}
        entry = next((h for h in state["history"] if h["id"] == job_id), None)
        if entry is not None:
            return {**entry, "status": "COMPLETED"}
        if job_id.startswith("0x") and len(job_id) == 66:
            deadline = time.monotonic() + timeout
            while True:
                receipt = self.chain.rpc.call("eth_getTransactionReceipt", [job_id])
                if receipt or not wait or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            if receipt is None:
                return {"id": job_id, "kind": "transaction", "status": "PENDING"}
            return {"id": job_id, "kind": "transaction", "txHash": job_id,
                    "status": "CONFIRMED" if int(receipt["status"], 16) == 1 else "FAILED",
                    "blockNumber": int(receipt["blockNumber"], 16)}
        raise PredictNotFound(f"No predict job, order or transaction {job_id!r}.",
                              hint="`mm predict history` lists them.")


def resolve_devnet_market(home: Home, market: str, outcome: str) -> dict[str, Any]:
    """``mm devnet predict resolve``: the oracle (the devnet deployer, unlocked) reports the
    payouts; returns them with what each side's holders get per share."""
    from .devnet_deploy import resolve_market

    record = home.read_json("devnet.json", None)
    if not isinstance(record, dict) or not isinstance(record.get("markets"), dict):
        raise PredictBackendUnavailable("No devnet markets record.",
                                        hint="Start the devnet: `mm devnet start --detach`.")
    markets = record["markets"]
    k = market.lower()
    m = next((x for x in markets["markets"] if k in (x["slug"].lower(),
                                                     x["conditionId"].lower())), None)
    if m is None:
        raise PredictNotFound(f"No devnet market {market!r}.")
    payouts = {"yes": [1, 0], "no": [0, 1], "invalid": [1, 1]}.get(outcome.lower())
    if payouts is None:
        raise ValidationError(f"Unknown outcome {outcome!r}.", hint="yes, no or invalid.")
    with Chain(record["rpcUrl"]) as chain:
        cid = bytes.fromhex(m["conditionId"][2:])
        if chain.call(markets["contracts"]["ConditionalTokens"], encode_call(
                "payoutDenominator(bytes32)", ["bytes32"], [cid]), ["uint256"]):
            raise PredictError("This market is already resolved.")
        receipt = resolve_market(chain, markets["contracts"]["ConditionalTokens"], m, payouts)
    total = sum(payouts)
    return {"conditionId": m["conditionId"], "question": m["question"], "outcome": outcome,
            "payouts": payouts, "payoutPerShare": {
                t["outcome"]: format((Decimal(p) / total).normalize(), "f")
                for t, p in zip(m["tokens"], payouts, strict=True)},
            "txHash": receipt["transactionHash"], "source": "devnet"}
