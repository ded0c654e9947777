"""Rule family 4: the shape of typed data beyond permits and marketplace orders.

- ``TYPED_DATA_NO_CHAIN_ID`` / ``TYPED_DATA_CHAIN_MISMATCH``: a signature whose domain names no
  chain is valid on every chain (and one naming another chain is meant for somewhere else).
- ``TYPED_DATA_MOVES_VALUE``: typed data this scanner does not know, whose message carries an
  amount and either a recipient other than the wallet or an order/withdrawal/transfer-like type
  name: it probably moves value, and nothing here can say how much or to whom it is safe.
- Safe ``SafeTx``: described (``to``/``value``/``data`` decoded), ``operation == 1``
  (delegatecall) and calls from the Safe to itself (owners, threshold, modules, guard) flagged.
  Grants inside the call are judged by the permit rule (grants.py ``safe_tx_grants``).
"""

from __future__ import annotations

import re
from typing import Any

from ._base import ZERO, Feature, ScanInput, as_int, is_addr, low, short
from .grants import decode_safe_tx, typed_grants
from .rules_ctf_orders import ctf_order

__all__ = ["AMOUNT_FIELDS", "RECIPIENT_FIELDS", "rule_typed_data"]

AMOUNT_FIELDS = frozenset({
    "amount", "value", "price", "wad", "quantity", "sellamount", "buyamount", "makeramount",
    "takeramount", "startamount", "endamount", "amountin", "amountout", "inputamount",
    "outputamount", "fee", "feeamount", "payment",
})
RECIPIENT_FIELDS = frozenset({
    "to", "recipient", "receiver", "beneficiary", "destination", "taker", "payee",
})
_VALUE_WORDS = re.compile(r"order|withdraw|transfer|trade|swap|payment|sell|bid|listing|claim"
                          r"|redeem|bridge|send", re.IGNORECASE)
# primaryTypes other rules own (permits/orders) or that carry no value by design
_OWNED = {
    "Permit", "PermitSingle", "PermitBatch", "PermitTransferFrom", "PermitBatchTransferFrom",
    "PermitWitnessTransferFrom", "PermitBatchWitnessTransferFrom", "OrderComponents",
    "BulkOrder", "SafeTx", "Root",
}


def _walk(node: Any, path: str, depth: int, out: list[tuple[str, str, Any]]) -> None:
    if depth > 6:
        return
    if isinstance(node, dict):
        for key, child in node.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(child, (dict, list)):
                _walk(child, where, depth + 1, out)
            else:
                out.append((str(key).lower(), where, child))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            _walk(child, f"{path}[{i}]", depth + 1, out)


def _chain(inp: ScanInput, domain: dict[str, Any]) -> list[Feature]:
    where = domain.get("verifyingContract") if is_addr(domain.get("verifyingContract")) else None
    if "chainId" not in domain or domain.get("chainId") in (None, ""):
        return [Feature(
            "Warning", "TYPED_DATA_NO_CHAIN_ID",
            "The typed data's domain names no chainId: the signature is valid on every chain, "
            "so it can be replayed wherever the same contract or app exists.",
            where, "other", "missing_chain_id",
        )]
    chain = as_int(domain.get("chainId"))
    if chain is not None and chain != inp.chain_id:
        return [Feature(
            "Warning", "TYPED_DATA_CHAIN_MISMATCH",
            f"The typed data is for chain {chain}, not chain {inp.chain_id} this request names.",
            where, "other", "chain_mismatch",
        )]
    return []


def _moves_value(inp: ScanInput, primary: str, msg: dict[str, Any],
                 domain: dict[str, Any]) -> list[Feature]:
    fields: list[tuple[str, str, Any]] = []
    _walk(msg, "", 0, fields)
    amounts = [(w, v) for k, w, v in fields if k in AMOUNT_FIELDS and (as_int(v) or 0) > 0]
    others = [(w, v) for k, w, v in fields
              if k in RECIPIENT_FIELDS and is_addr(v) and low(v) not in (ZERO, low(inp.wallet))]
    if not amounts or not (others or _VALUE_WORDS.search(primary)):
        return []
    verifier = domain.get("verifyingContract")
    name = inp.protocol(verifier) if is_addr(verifier) else None
    shown = ", ".join(f"{w}={short(v) if is_addr(v) else v}" for w, v in (amounts + others)[:8])
    if name is not None and not others:
        return [Feature("Info", "TYPED_DATA_ORDER",
                        f"{primary} for {name}, paying back to this wallet: {shown}.", verifier)]
    return [Feature(
        "Warning", "TYPED_DATA_MOVES_VALUE",
        f"Unrecognised typed data {primary!r} that appears to move value ({shown}). Signing it "
        "may let someone move your assets; check every field with the app before signing.",
        others[0][1] if others else (verifier if is_addr(verifier) else None),
        "transfer_farming", "typed_data_moves_value",
    )]


def _safe_tx(inp: ScanInput, msg: dict[str, Any], domain: dict[str, Any]) -> list[Feature]:
    safe, to = domain.get("verifyingContract"), msg.get("to")
    value = as_int(msg.get("value")) or 0
    decoded = decode_safe_tx(msg)
    data = str(msg.get("data") or "0x")
    if decoded is not None:
        what = getattr(decoded, "intent", "") or "an undecoded call"
    elif len(data) > 2:
        what = f"call {data[:10]} (undecoded)"
    else:
        what = "no call data"
    features = [Feature("Info", "SAFE_TX",
                        f"Safe transaction from {safe}: to {to}, value {value} wei, {what}.",
                        to if is_addr(to) else None)]
    if as_int(msg.get("operation")) == 1:
        features.append(Feature(
            "Warning", "SAFE_TX_DELEGATECALL",
            f"The Safe transaction uses DELEGATECALL (operation 1) into {to}: that code runs as "
            "the Safe itself and can change its owners or move everything it holds.",
            to if is_addr(to) else None, "other", "delegatecall_execution",
        ))
    if is_addr(to) and is_addr(safe) and low(to) == low(safe) and len(data) > 2:
        features.append(Feature(
            "Warning", "SAFE_TX_SETTINGS_CHANGE",
            f"The Safe transaction calls the Safe itself ({what}): owners, threshold, modules, "
            "guard or fallback handler change, which decides who controls the Safe.",
            safe, "other", "safe_settings_change",
        ))
    return features


def rule_typed_data(inp: ScanInput) -> list[Feature]:
    td = inp.typed_data
    if inp.kind != "typed-data" or not isinstance(td, dict):
        return []
    domain = td.get("domain") if isinstance(td.get("domain"), dict) else {}
    msg = td.get("message") if isinstance(td.get("message"), dict) else {}
    primary = str(td.get("primaryType") or "")
    features = _chain(inp, domain)
    if primary == "SafeTx":
        return features + _safe_tx(inp, msg, domain)
    blur = primary == "Order" and {"trader", "side", "collection", "price"} <= set(msg)
    if primary in _OWNED or blur or ctf_order(td) is not None or typed_grants(inp):
        return features  # judged by the permit/order rules
    return features + _moves_value(inp, primary, msg, domain)
