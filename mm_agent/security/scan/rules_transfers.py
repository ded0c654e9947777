"""Rule family 5: transfers that lose funds by mistake or by design.

Tokens sent to the token's own contract or to the zero address are gone for good (Warning, reason
``other``). Native value sent to the zero address is burned. And when the simulation shows the
wallet's assets leaving for a contract the wallet never used with nothing at all coming back, that
is the shape of a fake "claim"/"airdrop"/"mint" drainer (Warning ``transfer_farming``).
"""

from __future__ import annotations

from typing import Any

from ._base import ZERO, Feature, ScanInput, as_int, is_addr, iter_calls, low, param, short, sig

__all__ = [
    "RETURN_DUST",
    "TOKEN_TRANSFERS",
    "intent_assets",
    "rule_outflow_without_return",
    "rule_transfers",
]

# signature -> (standard, index of the recipient parameter)
TOKEN_TRANSFERS: dict[str, tuple[str, int]] = {
    "transfer(address,uint256)": ("ERC-20", 0),
    "transferFrom(address,address,uint256)": ("ERC-20/721", 1),
    "safeTransferFrom(address,address,uint256)": ("ERC-721", 1),
    "safeTransferFrom(address,address,uint256,bytes)": ("ERC-721", 1),
    "safeTransferFrom(address,address,uint256,uint256,bytes)": ("ERC-1155", 1),
    "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)": ("ERC-1155", 1),
}


def _recipient(call: Any) -> str | None:
    entry = TOKEN_TRANSFERS.get(sig(call))
    value = param(call, entry[1]) if entry else None
    return value if is_addr(value) else None


def _asset_name(asset: dict[str, Any]) -> str:
    if asset.get("symbol"):
        return str(asset["symbol"])
    return short(asset["address"]) if is_addr(asset.get("address")) else "native coin"


def rule_transfers(inp: ScanInput) -> list[Feature]:
    if inp.kind != "transaction":
        return []
    features: list[Feature] = []
    for site in iter_calls(inp):
        recipient = _recipient(site.call)
        if recipient is None:
            continue
        standard = TOKEN_TRANSFERS[sig(site.call)][0]
        if site.target and low(recipient) == low(site.target):
            features.append(Feature(
                "Warning", "TRANSFER_TO_TOKEN_CONTRACT",
                f"Sends {standard} tokens to the token contract itself ({site.target}). Token "
                "contracts cannot send them back: the tokens would be lost.",
                recipient, "other", "transfer_to_token_contract",
            ))
        elif low(recipient) == ZERO:
            features.append(Feature(
                "Warning", "TRANSFER_TO_ZERO_ADDRESS",
                f"Sends {standard} tokens to the zero address: they would be burned, nobody "
                "can ever recover them.",
                recipient, "other", "transfer_to_zero_address",
            ))
    if low(inp.tx_to) == ZERO and inp.tx_value > 0:
        features.append(Feature(
            "Warning", "NATIVE_TO_ZERO_ADDRESS",
            f"Sends {inp.tx_value} wei of the native coin to the zero address: it would be "
            "burned, nobody can ever recover it.",
            ZERO, "other", "transfer_to_zero_address",
        ))
    return features + rule_outflow_without_return(inp)


_TOKENISH = ("token", "currency", "asset", "path")
# A "return" of a valued asset this small (base units) is a token gesture, not a return.
RETURN_DUST = 1000


def _addresses(value: Any) -> list[str]:
    if is_addr(value):
        return [value]
    if isinstance(value, list):
        return [a for v in value for a in _addresses(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _addresses(v)]
    return []


def intent_assets(inp: ScanInput) -> set[str]:
    """Tokens the decoded (known) calls name as what is traded: ``token*``/``currency*``/
    ``asset*`` parameters and swap paths (Uniswap V3 packed paths included). Recipients and
    spenders are never in it, so a contract cannot vouch for its own "token" by being paid."""
    found: set[str] = set()
    for site in iter_calls(inp):
        call = site.call
        if getattr(call, "function_name", None) is None:
            continue
        for p in getattr(call, "params", None) or []:
            name = str(getattr(p, "name", "")).lower()
            if not any(w in name for w in _TOKENISH):
                continue
            value = getattr(p, "value", None)
            if name == "path" and isinstance(value, str) and value.startswith("0x"):
                raw = value[2:]  # V3 path: token (20 bytes) | fee (3 bytes) | token | ...
                found.update("0x" + raw[i:i + 40].lower() for i in range(0, len(raw) - 39, 46))
            else:
                found.update(a.lower() for a in _addresses(value))
    return found


def rule_outflow_without_return(inp: ScanInput) -> list[Feature]:
    sim = inp.simulation
    if inp.kind != "transaction" or not isinstance(sim, dict) or sim.get("success") is False:
        return []
    wallet = low(inp.wallet)
    mine = [bc for bc in sim.get("balanceChanges") or [] if low(bc.get("address")) == wallet]
    deltas = [(bc, as_int(bc.get("delta")) or 0) for bc in mine]

    def is_native(bc: dict[str, Any]) -> bool:
        return str((bc.get("asset") or {}).get("type") or "").lower() == "native"

    # A native decrease may be nothing but gas; it only counts when the tx itself sends value.
    out = [bc for bc, d in deltas if d < 0 and (not is_native(bc) or inp.tx_value > 0)]
    if not out:
        return []
    incoming = [(bc, d) for bc, d in deltas if d > 0]
    valued_assets = inp.known_assets | intent_assets(inp)

    def valued(bc: dict[str, Any], d: int) -> bool:
        # Only an asset of known value (or the one the decoded call trades) is a real return;
        # any contract can emit Transfer events of a "token" it made up itself.
        address = low((bc.get("asset") or {}).get("address"))
        return d > RETURN_DUST and (is_native(bc) or address in valued_assets)

    if any(valued(bc, d) for bc, d in incoming):
        return []
    to = inp.tx_to
    if to is None or not inp.has_code(to):
        return []
    eff = getattr(inp.decoded, "effective_recipient", None) if inp.decoded is not None else None
    eff = eff if is_addr(eff) else (_recipient(inp.decoded) if inp.decoded is not None else None)
    if eff is not None and (low(eff) == wallet or not inp.has_code(eff)):
        return []  # paying a person (EOA) is an ordinary transfer, not a drain
    target = eff or to
    if inp.known(target) or inp.protocol(target) or inp.protocol(to):
        return []
    assets = ", ".join(_asset_name(bc.get("asset") or {}) for bc in out)
    if incoming:
        fakes = ", ".join(_asset_name(bc.get("asset") or {}) for bc, _ in incoming)
        return [Feature(
            "Warning", "FAKE_RETURN_TOKEN",
            f"Your {assets} would leave the wallet for contract {target}, which this wallet has "
            f"never used; all that comes back is {fakes}, a token of no known value (any "
            "contract can emit Transfer events of a token it made up). Drainers dress up a "
            "theft as a swap or a mint like this.",
            target, "transfer_farming", "fake_return_token",
        )]
    return [Feature(
        "Warning", "OUTFLOW_WITHOUT_RETURN",
        f"Your {assets} would leave the wallet for contract {target}, which this wallet has never "
        "used, and the simulation shows nothing coming back. Fake claim/mint/airdrop sites "
        "drain wallets exactly like this.",
        target, "transfer_farming", "outflow_without_return",
    )]
