"""Prediction-market (CTF Exchange) orders in the guard-mode outflow (contract §6, §10).

An order is typed data: nothing leaves the wallet when it is signed, but the exchange's operator
can fill it at any time afterwards, so the policy counts it **when signed**, like a payment:

- **BUY**: its worst-case cost — ``makerAmount`` of collateral plus, for a V1 order, the fee
  bound ``makerAmount × feeRateBps / 10000`` (the real fee, ``feeRateBps × min(p, 1−p) ×
  tokens``, is charged in outcome tokens on the proceeds and is never more) — as an outflow of
  the exchange's collateral (priced like any token: the devnet's mUSD at $1).
- **SELL**: the outcome tokens given away, valued in collateral at ``size × max(order price,
  reference price)`` when the caller supplied a reference price for the token (the predict
  commands: the book's bid or midpoint), else at ``size × 1`` — an outcome token never pays out
  more than one unit of collateral, so that is its worst case. (Valuing a sale at its own price
  would let a dumped position at 0.01 count as nothing.)
- An order whose exchange has no verified collateral (an unknown exchange, Amoy V1) is unpriced
  and therefore over the limit, like any unpriced outflow.

The entries come from the scan's ``orders`` list (``rules_ctf_orders.order_entry``). If the typed
data is a CTF order but the scan carries no entry (a scanner that did not run the rule), the
order is unpriced: it fails closed.

Cancelling releases the unfilled remainder: :func:`release_on_cancel` gives the part of an
order's counted outflow that a cancel gives back, from the remaining maker amount
:func:`read_unfilled` reads on chain **before** the cancel is sent (afterwards a cancelled
untouched order and a filled one look alike: ``filled = true, remaining = 0``). ``mm predict
cancel`` reads and reports it before cancelling. The server wallet's window is released only
by the service, from the chain (``server/services/order_release.py``: the maker's on-chain
``cancelOrder`` receipt and ``getOrderStatus``), never from this client-side number.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mm_agent.evm.rpc import RpcClient

    from ..pipeline import Preview

__all__ = [
    "UNPRICED",
    "order_entries",
    "order_outflow",
    "read_unfilled",
    "release_on_cancel",
]

# The asset of an order outflow that cannot be priced (no verified collateral).
UNPRICED: dict[str, Any] = {"type": "unpriced", "address": None, "symbol": "unpriced collateral",
                            "decimals": None, "tokenId": None}
_BPS = 10_000


def _dec(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = Decimal(str(value))
    except ArithmeticError:
        return None
    return out if out.is_finite() else None


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def order_entries(preview: Preview) -> list[Mapping[str, Any]]:
    """The CTF orders a typed-data preview signs (the scan's ``orders``); a CTF order the scan
    did not describe comes back as an entry without collateral (unpriced: fails closed)."""
    if getattr(preview, "kind", None) != "typed-data":
        return []
    found = [o for o in (preview.scan or {}).get("orders") or [] if isinstance(o, Mapping)]
    if found:
        return found
    from ..scan.rules_ctf_orders import ctf_order

    typed = getattr(preview, "typed_data", None)
    if ctf_order(typed) is not None:
        return [{"kind": "ctf-order", "side": "BUY", "makerAmount": "0", "collateral": None,
                 "maxCost": None, "size": "0"}]
    return []


def _sell_price(entry: Mapping[str, Any]) -> Decimal:
    price = _dec(entry.get("price")) or Decimal(0)
    ref = _dec(entry.get("referencePrice"))
    return max(price, ref) if ref is not None else Decimal(1)


def order_outflow(entry: Mapping[str, Any], *, unfilled: int | None = None
                  ) -> list[tuple[dict[str, Any], int]]:
    """``[(asset, units)]`` an order counts as outflow: all of it, or the share of ``unfilled``
    maker-amount units (what a cancel gives back)."""
    collateral = entry.get("collateral")
    maker_amount = _int(entry.get("makerAmount"))
    share = (Decimal(1) if unfilled is None or maker_amount <= 0
             else Decimal(max(0, min(unfilled, maker_amount))) / Decimal(maker_amount))
    if entry.get("side") == "BUY":
        cost = _dec(entry.get("maxCost"))
        if cost is None:
            fee = max(_int(entry.get("feeRateBps")), 0)
            cost = Decimal(maker_amount) * (1 + Decimal(fee) / _BPS)
        value = cost * share
    else:
        value = Decimal(_int(entry.get("size"))) * share * _sell_price(entry)
    units = int(value.to_integral_value(rounding=ROUND_CEILING))
    if not isinstance(collateral, Mapping) or not collateral.get("address"):
        return [(dict(UNPRICED), units)]
    asset = dict(collateral)  # priced as the collateral (address, then symbol)
    if entry.get("side") == "SELL":
        asset["valuedAs"] = f"outcome token {entry.get('tokenId')}"
    return [(asset, units)]


def release_on_cancel(entry: Mapping[str, Any], unfilled: int
                      ) -> list[tuple[dict[str, Any], int]]:
    """The outflow a cancel gives back: the order's counted outflow for the ``unfilled`` maker
    amount (from :func:`read_unfilled`, read before the cancel)."""
    return order_outflow(entry, unfilled=unfilled)


def read_unfilled(rpc: RpcClient, exchange: str, order_hash: str, maker_amount: int) -> int:
    """Maker-amount units of an order still fillable, from the exchange's
    ``getOrderStatus(bytes32) → (bool filledOrCancelled, uint remaining)`` (Polymarket V1/V2 and
    DevnetCtfExchange): 0 once filled or cancelled, ``makerAmount`` before the first fill
    (``remaining`` is 0 until then), else ``remaining``. Read it before sending a cancel."""
    from mm_agent.evm.signatures import keccak256

    selector = keccak256(b"getOrderStatus(bytes32)")[:4].hex()
    raw = rpc.call("eth_call", [{"to": exchange, "data": "0x" + selector
                                 + order_hash.removeprefix("0x").rjust(64, "0")}, "latest"])
    data = bytes.fromhex(str(raw).removeprefix("0x"))
    if len(data) < 64:
        raise ValueError(f"getOrderStatus returned {len(data)} bytes")
    filled, remaining = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")
    if filled:
        return 0
    return maker_amount if remaining == 0 else min(remaining, maker_amount)
