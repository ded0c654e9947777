"""Rule family 4: address poisoning.

Poisoners create an address whose first and last hex characters match one you used before (or
your own), plant it in your history with zero-value transfers, and wait for you to copy the wrong
one. Matching is on the first 4 and last 4 hex characters after ``0x``, case-insensitively;
wallets and explorers shorten addresses to exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._base import ZERO, Feature, ScanInput, as_int, is_addr, iter_calls, low, param, sig

__all__ = ["FLOOD_MIN", "lookalike_of", "recipients", "rule_address_poisoning"]

FLOOD_MIN = 3  # zero-delta changes to lookalikes in one transaction before we call it a flood
_RECIPIENT_PARAM = {  # signature -> index of the recipient parameter
    "transfer(address,uint256)": 0,
    "transferFrom(address,address,uint256)": 1,
    "safeTransferFrom(address,address,uint256)": 1,
    "safeTransferFrom(address,address,uint256,bytes)": 1,
    "safeTransferFrom(address,address,uint256,uint256,bytes)": 1,
    "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)": 1,
}


def lookalike_of(address: str, references: Iterable[str]) -> str | None:
    """The reference ``address`` imitates (same first/last 4 hex chars, not equal), if any."""
    a = low(address)
    if not is_addr(address) or a == ZERO:
        return None
    for ref in references:
        r = low(ref)
        if r != a and r[2:6] == a[2:6] and r[-4:] == a[-4:]:
            return ref
    return None


def recipients(inp: ScanInput) -> list[str]:
    """Where value goes: the decoded effective recipients / transfer recipients, or the ``to`` of
    a plain transfer without calldata."""
    found: list[str] = []
    for site in iter_calls(inp):
        eff = getattr(site.call, "effective_recipient", None)
        if is_addr(eff):
            found.append(eff)
        index = _RECIPIENT_PARAM.get(sig(site.call))
        if index is not None and is_addr(param(site.call, index)):
            found.append(param(site.call, index))
    data = str((inp.tx or {}).get("data") or "0x")
    if inp.decoded is None and data in ("0x", "") and inp.tx_to:
        found.append(inp.tx_to)
    unique: dict[str, str] = {}
    for r in found:
        unique.setdefault(low(r), r)
    return list(unique.values())


def rule_address_poisoning(inp: ScanInput) -> list[Feature]:
    if inp.kind != "transaction":
        return []
    references = sorted({low(k) for k in inp.known_counterparties} | {low(inp.wallet)})
    features: list[Feature] = []
    for r in recipients(inp):
        if inp.known(r) or low(r) == low(inp.wallet):
            continue
        ref = lookalike_of(r, references)
        if ref is None:
            continue
        whose = "your own address" if ref == low(inp.wallet) else f"{ref}, which you used before"
        features.append(Feature(
            "Malicious", "LOOKALIKE_RECIPIENT",
            f"The recipient {r} is NOT an address you used before, but it starts and ends like "
            f"{whose}. This is address poisoning: check every character of the address.",
            r, "address_poisoning", "lookalike_recipient",
        ))
    sim_nft = any(str((bc.get("asset") or {}).get("type")) in ("erc721", "erc1155")
                  for bc in (inp.simulation or {}).get("balanceChanges") or [])
    for site in iter_calls(inp):
        call = site.call
        if sig(call) != "transferFrom(address,address,uint256)":
            continue
        if getattr(call, "category", None) in ("erc721", "erc1155") or sim_nft:
            continue  # ERC-721 shares the selector, and token id 0 is a real NFT
        src, amount = param(call, 0), as_int(param(call, 2))
        if amount == 0 and is_addr(src) and low(src) != low(inp.wallet):
            features.append(Feature(
                "Warning", "ZERO_VALUE_TRANSFER_FROM",
                f"A zero-value transferFrom out of someone else's account ({src}). It moves "
                "nothing and only plants fake entries in transaction histories: the tool of "
                "address-poisoning campaigns.",
                src, "address_poisoning", "zero_value_transfer",
            ))
    flood = [
        bc["address"] for bc in (inp.simulation or {}).get("balanceChanges") or []
        if is_addr(bc.get("address")) and as_int(bc.get("delta")) == 0
        and not inp.known(bc["address"]) and lookalike_of(bc["address"], references)
    ]
    if len(flood) >= FLOOD_MIN:
        features.append(Feature(
            "Warning", "ZERO_VALUE_TRANSFER_FLOOD",
            f"The simulation shows {len(flood)} zero-value transfers touching lookalikes of "
            "addresses you use: an address-poisoning flood.",
            flood[0], "address_poisoning", "zero_value_transfer_flood",
        ))
    return features
