"""Rule family 1: on-chain approvals (ERC-20/721 ``approve``, ``increaseAllowance``, Permit2
``approve``, ``setApprovalForAll``), from the simulation's exposures when it has any, else from the
decoded calldata (inner multicall/Safe calls included)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._base import (
    UNLIMITED_THRESHOLD,
    ZERO,
    Feature,
    ScanInput,
    as_bool,
    as_int,
    iter_calls,
    low,
    param,
    short,
    sig,
)

__all__ = ["grants_from_decoded", "grants_from_exposures", "rule_approvals"]

GrantKind = Literal["allowance", "nft", "operator"]


@dataclass
class Grant:
    kind: GrantKind  # allowance = fungible amount; nft = one token id; operator = all tokens
    spender: str
    token: str | None
    amount: int | None = None  # allowance amount, or the token id for kind "nft"
    unlimited: bool = False
    revoke: bool = False
    symbol: str | None = None


def grants_from_exposures(inp: ScanInput) -> list[Grant]:
    grants: list[Grant] = []
    for exp in (inp.simulation or {}).get("exposures") or []:
        spender = exp.get("spender")
        if not isinstance(spender, str):
            continue
        asset = exp.get("asset") or {}
        atype = str(asset.get("type") or "erc20").lower()
        amount = as_int(exp.get("amount"))
        unlimited = bool(exp.get("unlimited")) or (amount or 0) >= UNLIMITED_THRESHOLD
        token, symbol = asset.get("address"), asset.get("symbol")
        if atype in ("erc721", "erc1155") and asset.get("tokenId") is None:
            # Collection-wide exposure: that is what setApprovalForAll leaves behind.
            revoke = not unlimited and not amount
            grants.append(Grant("operator", spender, token, None, True, revoke, symbol))
        elif atype == "erc721":
            tid = as_int(asset.get("tokenId"))
            grants.append(Grant("nft", spender, token, tid, False, low(spender) == ZERO, symbol))
        else:
            revoke = amount == 0 and not unlimited
            grants.append(Grant("allowance", spender, token, amount, unlimited, revoke, symbol))
    return grants


def grants_from_decoded(inp: ScanInput) -> list[Grant]:
    grants: list[Grant] = []
    for site in iter_calls(inp):
        call, s = site.call, sig(site.call)
        if s in ("approve(address,uint256)", "increaseAllowance(address,uint256)"):
            spender, amount = param(call, 0), as_int(param(call, 1))
            if not isinstance(spender, str):
                continue
            if getattr(call, "category", None) == "erc721":
                # Same selector as ERC-20 approve; the decoder knows the target is an NFT.
                clear = low(spender) == ZERO
                grants.append(Grant("nft", spender, site.target, amount, False, clear))
                continue
            unlimited = (amount or 0) >= UNLIMITED_THRESHOLD
            revoke = amount == 0 and s.startswith("approve(")
            grants.append(Grant("allowance", spender, site.target, amount, unlimited, revoke))
        elif s == "approve(address,address,uint160,uint48)":  # Permit2 on-chain allowance
            token, spender, amount = param(call, 0), param(call, 1), as_int(param(call, 2))
            if isinstance(spender, str):
                unlimited = (amount or 0) >= 2**160 - 1 or (amount or 0) >= UNLIMITED_THRESHOLD
                grants.append(Grant("allowance", spender, token, amount, unlimited, amount == 0))
        elif s == "setApprovalForAll(address,bool)":
            operator = param(call, 0)
            if isinstance(operator, str):
                revoke = not as_bool(param(call, 1))
                grants.append(Grant("operator", operator, site.target, None, True, revoke))
    return grants


def _grants(inp: ScanInput) -> list[Grant]:
    from_sim = grants_from_exposures(inp)
    # The simulation is the truth when it traced approvals; decoded calls only fill its gaps
    # (e.g. a node without tracing, or an approval the tracer did not attribute).
    seen = {(g.kind == "operator", low(g.spender)) for g in from_sim}
    extra = [g for g in grants_from_decoded(inp)
             if (g.kind == "operator", low(g.spender)) not in seen]
    return from_sim + extra


def _what(g: Grant) -> str:
    token = g.symbol or (short(g.token) if g.token else "a token")
    if g.kind == "nft":
        return f"NFT #{g.amount} of {token}"
    if g.unlimited:
        return f"an unlimited amount of {token}"
    return f"{g.amount} base units of {token}"


def _judge(inp: ScanInput, g: Grant) -> Feature | None:
    spender = g.spender
    if low(spender) == low(inp.wallet):
        return None
    if g.revoke:
        return Feature("Info", "APPROVAL_REVOKE", f"Revokes the approval of {spender}.", spender)
    if g.kind == "operator":
        if not inp.has_code(spender):
            return Feature(
                "Malicious", "SET_APPROVAL_FOR_ALL_TO_EOA",
                f"Gives the plain account {spender} control of ALL your tokens in collection "
                f"{short(g.token)}; it can take every one of them at any time. This is how NFT "
                "drainers work.",
                spender, "set_approval_for_all", "set_approval_for_all_to_eoa",
            )
        if not inp.known(spender):
            return Feature(
                "Warning", "SET_APPROVAL_FOR_ALL_UNKNOWN_CONTRACT",
                f"Gives contract {spender}, which this wallet has never used, control of ALL "
                f"your tokens in collection {short(g.token)}. Only do this for a marketplace "
                "you trust.",
                spender, "set_approval_for_all", "set_approval_for_all_unknown_contract",
            )
        return Feature("Info", "SET_APPROVAL_FOR_ALL",
                       f"Lets known contract {spender} move all your tokens in "
                       f"collection {short(g.token)}.", spender)
    if not inp.has_code(spender):
        return Feature(
            "Malicious", "APPROVAL_TO_EOA",
            f"Approves the plain account {spender} to spend {_what(g)}. Legitimate apps approve "
            "contracts, not personal accounts; whoever holds that account can take these funds.",
            spender, "approval_farming", "approval_to_eoa",
        )
    if g.unlimited and not inp.known(spender):
        return Feature(
            "Warning", "UNLIMITED_APPROVAL_UNKNOWN_CONTRACT",
            f"Approves contract {spender}, which this wallet has never used, to spend "
            f"{_what(g)}, with no limit and no expiry. Prefer an exact amount.",
            spender, "approval_farming", "unlimited_approval",
        )
    return Feature("Info", "TOKEN_APPROVAL", f"Approves contract {spender} to spend {_what(g)}.",
                   spender)


def rule_approvals(inp: ScanInput) -> list[Feature]:
    if inp.kind != "transaction":
        return []
    features = [_judge(inp, g) for g in _grants(inp)]
    return [f for f in features if f is not None]

