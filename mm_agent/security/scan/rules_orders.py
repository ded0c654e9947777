"""Rule family 3: marketplace orders in typed data (Seaport, Blur) that give items away.

An order is signed once and filled by anyone: if what comes back to the signer is nothing, dust,
or far below what the order hands out, whoever fills it takes the difference. Without a price
oracle for NFTs the rules judge what the order itself shows: the consideration paid *to the
signer* versus the whole consideration (the rest goes to fee/royalty/other recipients, and the
filler can name themselves), and, for fungible offers, versus the offered amount of the same
token. An NFT listed at a low but real price, paid in full to the signer, cannot be told apart
from a bargain here.
"""

from __future__ import annotations

from typing import Any

from ._base import Feature, ScanInput, as_int, is_addr, low, short

__all__ = ["FAR_BELOW_SHARE", "SEAPORT_DUST", "rule_blur", "rule_orders", "rule_seaport"]

# A fungible payment of at most this many base units back to the offerer counts as nothing: the
# classic "list your NFT for 1 wei" phishing order.
SEAPORT_DUST = 1000
# Less than this share of the price reaching the signer is "far below": marketplace fees and
# royalties together stay well under 15 %.
FAR_BELOW_SHARE = 0.5
_FUNGIBLE = (0, 1)  # Seaport itemType: 0 native, 1 ERC-20


def _as_list(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, dict)]


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


def _key(item: dict[str, Any]) -> tuple[int | None, str]:
    return as_int(item.get("itemType")), low(item.get("token"))


def _seaport_problem(order: dict[str, Any], offerer: str, offer: list[dict[str, Any]]
                     ) -> str | None:
    consideration = [c for c in _as_list(order.get("consideration")) if _amount(c) > 0]
    back = [c for c in consideration if low(c.get("recipient")) == low(offerer)]
    if not back:
        return "pays nothing back to it"
    if all(as_int(c.get("itemType")) in _FUNGIBLE and _amount(c) <= SEAPORT_DUST for c in back):
        return "pays only dust back to it"
    totals: dict[tuple[int | None, str], int] = {}
    mine: dict[tuple[int | None, str], int] = {}
    for c in consideration:
        if as_int(c.get("itemType")) in _FUNGIBLE:
            totals[_key(c)] = totals.get(_key(c), 0) + _amount(c)
            if low(c.get("recipient")) == low(offerer):
                mine[_key(c)] = mine.get(_key(c), 0) + _amount(c)
    for key, total in totals.items():
        if mine.get(key, 0) < total * FAR_BELOW_SHARE:
            return (f"sends most of the price ({total - mine.get(key, 0)} of {total} base units) "
                    "to other recipients")
    for item in offer:
        if as_int(item.get("itemType")) in _FUNGIBLE and _key(item) in mine and (
                mine[_key(item)] < _amount(item) * FAR_BELOW_SHARE):
            return (f"offers {_amount(item)} base units and takes back only {mine[_key(item)]}"
                    " of the same token")
    return None


def rule_seaport(inp: ScanInput) -> list[Feature]:
    if inp.kind != "typed-data" or not isinstance(inp.typed_data, dict):
        return []
    features: list[Feature] = []
    for order in _orders(inp.typed_data):
        offerer = order.get("offerer")
        offer = [i for i in _as_list(order.get("offer")) if _amount(i) > 0]
        if not offer or not is_addr(offerer):
            continue
        problem = _seaport_problem(order, offerer, offer)
        if problem:
            features.append(Feature(
                "Malicious", "SEAPORT_UNDERPRICED_LISTING",
                f"Seaport order gives away {len(offer)} item(s) from {offerer} and {problem}. "
                "Anyone can fill this order and take the items for (almost) nothing.",
                offerer, "transfer_farming", "seaport_underpriced_listing",
            ))
        else:
            n_back = sum(1 for c in _as_list(order.get("consideration"))
                         if low(c.get("recipient")) == low(offerer))
            features.append(Feature("Info", "SEAPORT_ORDER",
                                    f"Seaport order: {len(offer)} item(s) offered for "
                                    f"{n_back} item(s) paid back to {short(offerer)}.", offerer))
    return features


# --- Blur -------------------------------------------------------------------------------------
_BLUR_KEYS = {"trader", "side", "collection", "price"}


def rule_blur(inp: ScanInput) -> list[Feature]:
    """Blur Exchange ``Order`` (sell side judged by price and fees) and bulk ``Root`` orders."""
    td = inp.typed_data
    if inp.kind != "typed-data" or not isinstance(td, dict):
        return []
    primary, msg = td.get("primaryType"), td.get("message")
    domain = td.get("domain") if isinstance(td.get("domain"), dict) else {}
    if not isinstance(msg, dict):
        return []
    if primary == "Root" and "root" in msg and "blur" in str(domain.get("name", "")).lower():
        return [Feature(
            "Warning", "BLUR_BULK_ORDER",
            "Blur bulk listing: you sign a Merkle root of many orders whose prices are not "
            "shown. Check every listing on the marketplace before signing.",
            domain.get("verifyingContract"), "transfer_farming", "blind_bulk_order",
        )]
    if primary != "Order" or not _BLUR_KEYS <= set(msg):
        return []
    trader, price = msg.get("trader"), as_int(msg.get("price")) or 0
    collection = short(msg.get("collection"))
    if as_int(msg.get("side")) != 1:  # 0 = buy (a bid): the trader pays, nothing is given away
        return [Feature("Info", "BLUR_ORDER", f"Blur bid on {collection} for {price} base units.",
                        trader if is_addr(trader) else None)]
    fees = sum(as_int(f.get("rate")) or 0 for f in _as_list(msg.get("fees")))
    problem = None
    if price == 0:
        problem = "for nothing"
    elif price <= SEAPORT_DUST:
        problem = f"for dust ({price} base units)"
    elif fees >= 10_000 * FAR_BELOW_SHARE:
        problem = f"while {fees / 100:g} % of the price goes to fee recipients"
    if problem:
        return [Feature(
            "Malicious", "BLUR_UNDERPRICED_LISTING",
            f"Blur order sells token #{msg.get('tokenId')} of {collection} {problem}. Anyone can "
            "fill it and take the item for (almost) nothing.",
            trader if is_addr(trader) else None, "transfer_farming", "blur_underpriced_listing",
        )]
    return [Feature("Info", "BLUR_ORDER",
                    f"Blur listing of token #{msg.get('tokenId')} of {collection} for {price} "
                    "base units.", trader if is_addr(trader) else None)]


def rule_orders(inp: ScanInput) -> list[Feature]:
    return rule_seaport(inp) + rule_blur(inp)
