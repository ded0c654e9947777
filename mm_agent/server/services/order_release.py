"""``POST /v1/requests/{pollingId}/release``: give back the unfilled share of a cancelled order.

A prediction-market order (a CTF Exchange ``Order``, typed data) counts toward the guard-mode
rolling-24h window **when signed** (``security/policy/orders.py``): its worst-case cost is
reserved on the signing job. A cancel gives the unfilled part back — but only a cancel the
service can verify itself. The client's numbers are never used; the service:

1. takes the order from **its own** job: a ``COMPLETED`` ``typed-data`` job whose payload is a
   CTF order, signed for an exchange the service's scan verified when it signed it
   (``scan.orders[0].exchangeKnown`` with a collateral: the reservation was priced from it);
2. recomputes the order hash from the typed data it signed (the EIP-712 digest, which is the
   exchange's ``hashOrder``);
3. reads the cancel's receipt from the chain: status 1 and an ``OrderCancelled(orderHash)`` log
   emitted by that exchange (``cancelOrder``/``cancelOrders`` by the maker, the only caller
   the exchange accepts). The receipt — not the exchange's state — proves "cancelled": on
   Polymarket V1 a cancelled order and a fully filled one read alike
   (``isFilledOrCancelled = true, remaining = 0``);
4. reads ``getOrderStatus(orderHash) → (filledOrCancelled, remaining)``: a cancel never touches
   ``remaining`` and nothing fills after it, so the filled maker amount is
   ``makerAmount − remaining`` once a fill happened, else 0 (an order fully filled cannot be
   cancelled: ``cancelOrder`` reverts);
5. in one transaction (the wallet's window locked), scales the job's reservation to the filled
   share, ``ceil(cents × filled / makerAmount)``, and marks it ``settled`` (still counted,
   final). Only a ``reserved``/``committed`` reservation moves: a second call changes nothing.

Errors: ``ORDER_NOT_CANCELLED`` (409) when the receipt does not prove the cancel of this order
on this exchange; ``INVALID_ARGUMENT`` for a job that is not a signed CTF order of a verified
exchange; ``REQUEST_NOT_FOUND`` for another account's job.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mm_agent.errors import OrderNotCancelled, ValidationError

from . import outflows

if TYPE_CHECKING:
    from .jobs.runner import JobRunner

__all__ = ["CANCELLED_TOPIC", "release_order"]


def _keccak_hex(text: str) -> str:
    from mm_agent.evm.signatures import keccak256

    return "0x" + keccak256(text.encode()).hex()


CANCELLED_TOPIC = _keccak_hex("OrderCancelled(bytes32)")


def _order_of(row: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(exchange, message, scan entry) of a signed CTF order job, else INVALID_ARGUMENT."""
    from mm_agent.security.scan.rules_ctf_orders import ctf_order

    if row.kind != "typed-data" or row.status != "COMPLETED":
        raise ValidationError(f"Request {row.polling_id} is not a signed typed-data request "
                              f"({row.kind}, {row.status}): there is no order to release.")
    typed = (row.body or {}).get("payload")
    found = ctf_order(typed)
    if found is None:
        raise ValidationError(f"Request {row.polling_id} did not sign a CTF Exchange order.")
    _version, domain, message = found
    entries = [e for e in ((row.preview or {}).get("scan") or {}).get("orders") or []
               if isinstance(e, dict)]
    entry = entries[0] if entries else {}
    exchange = str(domain.get("verifyingContract") or "")
    if (not entry.get("exchangeKnown") or not entry.get("collateral")
            or str(entry.get("exchange") or "").lower() != exchange.lower()):
        raise ValidationError(f"Request {row.polling_id} signed an order for an exchange the "
                              "service did not verify: it cannot read its state from the chain.")
    return exchange, dict(message), entry


def _proves_cancel(receipt: Any, exchange: str, order_hash: str) -> bool:
    if not isinstance(receipt, dict) or int(str(receipt.get("status") or "0x0"), 16) != 1:
        return False
    for log in receipt.get("logs") or []:
        topics = [str(t).lower() for t in log.get("topics") or []]
        if (str(log.get("address") or "").lower() == exchange.lower() and len(topics) >= 2
                and topics[0] == CANCELLED_TOPIC and topics[1] == order_hash.lower()):
            return True
    return False


def _order_status(rpc: Any, exchange: str, order_hash: str) -> tuple[bool, int]:
    from mm_agent.evm.signatures import keccak256

    selector = keccak256(b"getOrderStatus(bytes32)")[:4].hex()
    raw = rpc.call("eth_call", [{"to": exchange, "data": "0x" + selector
                                 + order_hash.removeprefix("0x").rjust(64, "0")}, "latest"])
    data = bytes.fromhex(str(raw).removeprefix("0x"))
    if len(data) < 64:
        raise OrderNotCancelled(f"getOrderStatus returned {len(data)} bytes.")
    return bool(int.from_bytes(data[:32], "big")), int.from_bytes(data[32:64], "big")


def release_order(runner: JobRunner, account_id: str, polling_id: str,
                  cancel_tx_hash: str) -> dict[str, Any]:
    """Verify the order's cancel on chain and scale its reservation to the filled share."""
    from mm_agent.errors import InvalidHash
    from mm_agent.evm.signing import typed_data_digest

    row, address = runner.get(account_id, polling_id)  # REQUEST_NOT_FOUND for others' jobs
    tx = str(cancel_tx_hash or "")
    if len(tx) != 66 or not tx.startswith("0x") or any(
            c not in "0123456789abcdefABCDEF" for c in tx[2:]):
        raise InvalidHash("cancelTxHash must be a 0x-prefixed 32-byte transaction hash.")
    exchange, message, _entry = _order_of(row)
    order_hash = typed_data_digest(row.body["payload"])
    maker_amount = int(str(message.get("makerAmount") or 0))
    rpc = runner.engine.rpc(int(row.chain_id))
    receipt = rpc.call("eth_getTransactionReceipt", [tx])
    if not _proves_cancel(receipt, exchange, order_hash):
        raise OrderNotCancelled(
            f"Transaction {tx} does not cancel order {order_hash} on {exchange}: the "
            "reservation stays.",
            hint="Send the maker's cancelOrder(order) to the exchange, wait for its receipt, "
                 "then release with that transaction's hash.")
    done, remaining = _order_status(rpc, exchange, order_hash)
    if not done:  # a reorg, or a receipt from another chain state: trust neither
        raise OrderNotCancelled(f"The exchange does not report order {order_hash} as "
                                "cancelled.")
    filled = max(0, maker_amount - remaining) if remaining else 0
    moved = outflows.settle_filled(runner.store, polling_id, filled, maker_amount)
    out: dict[str, Any] = {
        "pollingId": polling_id, "address": address, "orderHash": order_hash,
        "exchange": exchange, "cancelTxHash": tx, "makerAmount": str(maker_amount),
        "filledMakerAmount": str(filled), "unfilledMakerAmount": str(maker_amount - filled),
        "released": moved is not None,
    }
    if moved is not None:
        before, after = moved
        out.update(reservedUsd=_usd(before), remainingUsd=_usd(after),
                   releasedUsd=_usd(before - after))
    else:
        out.update(outflows.reservation(runner.store, polling_id))
    return out


def _usd(cents: int) -> str:
    return format((Decimal(cents) / 100).quantize(Decimal("0.01")), "f")
