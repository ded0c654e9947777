"""Rule family 2: off-chain permits and orders in EIP-712 typed data.

EIP-2612 ``Permit`` (and DAI's ``allowed``/``expiry`` variant), Permit2 ``PermitSingle`` /
``PermitBatch`` (allowances) and ``PermitTransferFrom`` / ``PermitBatchTransferFrom`` /
``Permit[Batch]WitnessTransferFrom`` (one-shot transfers), any other typed data whose message names
a ``spender``, and Seaport ``OrderComponents`` / ``BulkOrder`` listings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._base import (
    UNLIMITED_THRESHOLD,
    ZERO,
    Feature,
    ScanInput,
    as_bool,
    as_int,
    is_addr,
    low,
    short,
)

__all__ = ["FAR_EXPIRY_SECONDS", "SEAPORT_DUST", "permit_grants", "rule_permits", "rule_seaport"]

FAR_EXPIRY_SECONDS = 30 * 24 * 3600
# A fungible payment of at most this many base units back to the offerer counts as nothing: the
# classic "list your NFT for 1 wei" phishing order.
SEAPORT_DUST = 1000
_PERMIT2_TRANSFER = {
    "PermitTransferFrom", "PermitBatchTransferFrom",
    "PermitWitnessTransferFrom", "PermitBatchWitnessTransferFrom",
}


@dataclass
class PermitGrant:
    spender: str
    token: str | None
    amount: int | None
    unlimited: bool
    expiry: int | None  # unix time after which the permit is useless; None = never expires
    label: str
    revoke: bool = False


def _as_list(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, dict)]


def _unlimited(amount: int | None) -> bool:
    return (amount or 0) >= UNLIMITED_THRESHOLD or amount == 2**160 - 1


def permit_grants(td: dict[str, Any]) -> list[PermitGrant]:
    """Every (spender, token) grant a typed-data payload would hand out if signed."""
    primary = str(td.get("primaryType") or "")
    msg = td.get("message") if isinstance(td.get("message"), dict) else {}
    domain = td.get("domain") if isinstance(td.get("domain"), dict) else {}
    spender = msg.get("spender")
    if not is_addr(spender):
        return []
    out: list[PermitGrant] = []
    if primary == "Permit" and "allowed" in msg:  # DAI: all-or-nothing, expiry 0 = forever
        allowed, expiry = as_bool(msg.get("allowed")), as_int(msg.get("expiry"))
        out.append(PermitGrant(spender, domain.get("verifyingContract"), None, allowed,
                               expiry or None, "DAI permit", revoke=not allowed))
    elif primary == "PermitSingle" or primary == "PermitBatch":
        sig_deadline = as_int(msg.get("sigDeadline"))
        for d in _as_list(msg.get("details")):
            amount, expiration = as_int(d.get("amount")), as_int(d.get("expiration"))
            # Permit2 expiration 0 means "until the block it is used in": then only the
            # signature deadline bounds how long the signature stays dangerous.
            expiry = expiration if expiration else sig_deadline
            out.append(PermitGrant(spender, d.get("token"), amount, _unlimited(amount), expiry,
                                   f"Permit2 {primary}", revoke=amount == 0))
    elif primary in _PERMIT2_TRANSFER:
        deadline = as_int(msg.get("deadline"))
        for p in _as_list(msg.get("permitted")):
            amount = as_int(p.get("amount"))
            out.append(PermitGrant(spender, p.get("token"), amount, _unlimited(amount), deadline,
                                   f"Permit2 {primary}"))
    else:  # EIP-2612 Permit, or any other "spender" grant shaped like it
        amount = as_int(msg.get("value", msg.get("amount")))
        expiry = as_int(msg.get("deadline", msg.get("expiry", msg.get("expiration"))))
        out.append(PermitGrant(spender, domain.get("verifyingContract"), amount,
                               _unlimited(amount), expiry, primary or "permit",
                               revoke=amount == 0))
    return out


def _judge(inp: ScanInput, g: PermitGrant) -> Feature | None:
    spender = g.spender
    if low(spender) in (ZERO, low(inp.wallet)):
        return None
    what = "an unlimited amount" if g.unlimited else f"{g.amount} base units"
    token = short(g.token) if is_addr(g.token) else "a token"
    if g.revoke:
        return Feature("Info", "PERMIT_REVOKE", f"{g.label}: revokes {spender}'s allowance.",
                       spender)
    if not inp.has_code(spender):
        return Feature(
            "Malicious", "PERMIT_TO_EOA",
            f"{g.label} signature lets the plain account {spender} take {what} of {token} from "
            "this wallet without any further transaction from you. Signing it hands the funds "
            "over: this is how permit phishing works.",
            spender, "permit_farming", "permit_to_eoa",
        )
    now = inp.now_ts()
    far = g.expiry is None or g.expiry > now + FAR_EXPIRY_SECONDS
    if (g.unlimited or far) and not inp.known(spender):
        when = "never expires" if g.expiry is None or g.expiry >= 2**48 - 1 else (
            f"stays valid for {(g.expiry - now) // 86400} days")
        classification = "unlimited_permit" if g.unlimited else "long_lived_permit"
        return Feature(
            "Warning", "PERMIT_UNLIMITED" if g.unlimited else "PERMIT_LONG_EXPIRY",
            f"{g.label} signature lets contract {spender}, which this wallet has never used, "
            f"spend {what} of {token}; it {when}. A signed permit is as good as an approval.",
            spender, "permit_farming", classification,
        )
    return Feature("Info", "PERMIT", f"{g.label}: lets {spender} spend {what} of {token}.", spender)


def rule_permits(inp: ScanInput) -> list[Feature]:
    if inp.kind != "typed-data" or not isinstance(inp.typed_data, dict):
        return []
    features = [_judge(inp, g) for g in permit_grants(inp.typed_data)]
    return [f for f in features if f is not None]


# --- Seaport ----------------------------------------------------------------------------------
def _orders(td: dict[str, Any]) -> list[dict[str, Any]]:
    primary, msg = td.get("primaryType"), td.get("message")
    if primary == "OrderComponents" and isinstance(msg, dict):
        return [msg]
    if primary != "BulkOrder" or not isinstance(msg, dict):
        return []
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:  # the bulk-order tree is nested lists of OrderComponents
        if isinstance(node, dict) and "offer" in node:
            found.append(node)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(msg.get("tree"))
    return found


def _amount(item: dict[str, Any]) -> int:
    return max(as_int(item.get("startAmount")) or 0, as_int(item.get("endAmount")) or 0)


def rule_seaport(inp: ScanInput) -> list[Feature]:
    if inp.kind != "typed-data" or not isinstance(inp.typed_data, dict):
        return []
    features: list[Feature] = []
    for order in _orders(inp.typed_data):
        offerer = order.get("offerer")
        offer = [i for i in _as_list(order.get("offer")) if _amount(i) > 0]
        if not offer or not is_addr(offerer):
            continue
        back = [c for c in _as_list(order.get("consideration"))
                if low(c.get("recipient")) == low(offerer) and _amount(c) > 0]
        # itemType 0 = native, 1 = ERC-20: fungible, so a tiny amount is worth nothing.
        dust = bool(back) and all(
            as_int(c.get("itemType")) in (0, 1) and _amount(c) <= SEAPORT_DUST for c in back)
        if not back or dust:
            features.append(Feature(
                "Malicious", "SEAPORT_UNDERPRICED_LISTING",
                f"Seaport order gives away {len(offer)} item(s) from {offerer} and pays "
                f"{'only dust' if dust else 'nothing'} back to it. Anyone can fill this order "
                "and take the items for free.",
                offerer, "transfer_farming", "seaport_underpriced_listing",
            ))
        else:
            features.append(Feature("Info", "SEAPORT_ORDER",
                                    f"Seaport order: {len(offer)} item(s) offered for "
                                    f"{len(back)} item(s) paid back to {short(offerer)}.", offerer))
    return features
