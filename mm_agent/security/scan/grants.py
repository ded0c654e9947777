"""Every allowance an action would hand out, in one shape, for the rules and for the policy.

A :class:`Grant` is "``spender`` may take (some of) ``holder``'s ``token``": an ERC-20 allowance
(``approve``/``increaseAllowance``, EIP-2612 and DAI permits, Permit2 allowances, signature
transfers and Universal Router ``PERMIT2_PERMIT[_BATCH]`` commands), one ERC-721 token, or an
operator over everything (``setApprovalForAll``, ERC-777 ``authorizeOperator``, a typed-data
``operator``/``delegate`` with no amount).

Sources: for transactions the simulation's ``exposures`` (the truth when the node traced them)
and the decoded calldata, inner multicall/Safe/Universal Router calls included; for typed data
the message (known permit shapes, Safe ``SafeTx`` calls, and any struct with a
spender/operator/delegate field). ``grant_dict`` is what ``scan.grants`` carries (H3's policy
reads it); revocations are not listed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ._base import (
    UNLIMITED_THRESHOLD,
    ZERO,
    ScanInput,
    as_bool,
    as_int,
    is_addr,
    iter_calls,
    low,
    param,
    sig,
)

__all__ = [
    "GRANT_FIELDS",
    "Grant",
    "call_grants",
    "grant_dict",
    "grants_from_decoded",
    "grants_from_exposures",
    "transaction_grants",
    "typed_grants",
]

GrantKind = Literal["allowance", "nft", "operator"]
MAX_UINT160 = 2**160 - 1
# Typed-data fields that name who is being empowered. ("taker" is deliberately absent: a private
# order names its counterparty there; orders are judged by the value-moving rule instead.)
GRANT_FIELDS = ("spender", "operator", "delegate")
_AMOUNT_FIELDS = ("value", "amount", "allowance", "wad", "limit")
_EXPIRY_FIELDS = ("deadline", "expiry", "expiration", "validUntil", "validBefore", "endTime",
                  "expirationTime")
_TOKEN_FIELDS = ("token", "asset", "currency")
_PERMIT2_TRANSFER = {
    "PermitTransferFrom", "PermitBatchTransferFrom",
    "PermitWitnessTransferFrom", "PermitBatchWitnessTransferFrom",
}


@dataclass
class Grant:
    kind: GrantKind  # allowance = fungible amount; nft = one token id; operator = all tokens
    spender: str
    token: str | None
    amount: int | None = None  # allowance amount, or the token id for kind "nft"
    unlimited: bool = False
    revoke: bool = False
    expiration: int | None = None  # unix time it stops being usable; None = never
    label: str = "approval"
    symbol: str | None = None
    standard: str = "erc20"  # erc20 | erc721 | erc1155 | erc777
    holder: str | None = None  # whose assets; None = the wallet
    source: Literal["transaction", "typed-data"] = "transaction"


def _unlimited(amount: int | None) -> bool:
    return amount is not None and amount >= UNLIMITED_THRESHOLD


def _as_list(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, dict)]


# --- transactions -------------------------------------------------------------------------------
def grants_from_exposures(inp: ScanInput) -> list[Grant]:
    grants: list[Grant] = []
    for exp in (inp.simulation or {}).get("exposures") or []:
        spender = exp.get("spender")
        if not isinstance(spender, str):
            continue
        asset = exp.get("asset") or {}
        atype = str(asset.get("type") or "erc20").lower()
        amount = as_int(exp.get("amount"))
        unlimited = bool(exp.get("unlimited")) or _unlimited(amount)
        token, symbol = asset.get("address"), asset.get("symbol")
        expiration = as_int(exp.get("expiration"))
        if atype in ("erc721", "erc1155") and asset.get("tokenId") is None:
            # Collection-wide exposure: that is what setApprovalForAll leaves behind.
            revoke = not unlimited and not amount
            grants.append(Grant("operator", spender, token, None, True, revoke, None,
                                "operator approval", symbol, atype))
        elif atype == "erc721":
            tid = as_int(asset.get("tokenId"))
            grants.append(Grant("nft", spender, token, tid, False, low(spender) == ZERO, None,
                                "NFT approval", symbol, "erc721"))
        else:
            revoke = amount == 0 and not unlimited
            grants.append(Grant("allowance", spender, token, amount, unlimited, revoke,
                                expiration, "approval", symbol))
    return grants


def _permit2_details(inp: ScanInput, call: Any, permit: dict[str, Any], label: str,
                     *, signed: bool) -> list[Grant]:
    """PermitSingle/PermitBatch ``details`` → allowances. ``signed``: typed data the wallet is
    asked to sign (the signature stays usable until ``sigDeadline``); otherwise a permit that is
    consumed by this very transaction (only the allowance's ``expiration`` matters)."""
    spender = permit.get("spender")
    if not is_addr(spender):
        return []
    sig_deadline = as_int(permit.get("sigDeadline"))
    out = []
    for d in _as_list(permit.get("details")):
        amount, expiration = as_int(d.get("amount")), as_int(d.get("expiration"))
        if expiration == 0:
            # Permit2: expiration 0 means "until the end of the block it is used in"; a signed
            # but unused permit stays dangerous until its signature deadline.
            expiration = sig_deadline if signed else inp.now_ts()
        out.append(Grant("allowance", spender, d.get("token"), amount,
                         _unlimited(amount) or amount == MAX_UINT160, amount == 0, expiration,
                         label, source="typed-data" if signed else "transaction"))
    return out


def call_grants(inp: ScanInput, call: Any, target: str | None, *,
                holder: str | None = None) -> list[Grant]:
    """The grants of one decoded call sent to ``target`` (not its inner calls)."""
    s, name = sig(call), getattr(call, "function_name", None) or ""
    me = low(holder or inp.wallet)
    out: list[Grant] = []
    if s in ("approve(address,uint256)", "increaseAllowance(address,uint256)"):
        spender, amount = param(call, 0), as_int(param(call, 1))
        if not isinstance(spender, str):
            return []
        if getattr(call, "category", None) == "erc721":
            # Same selector as ERC-20 approve; the decoder knows the target is an NFT.
            out.append(Grant("nft", spender, target, amount, False, low(spender) == ZERO, None,
                             "NFT approval", None, "erc721"))
        else:
            revoke = amount == 0 and s.startswith("approve(")
            label = "approve" if s.startswith("approve(") else "increaseAllowance"
            out.append(Grant("allowance", spender, target, amount, _unlimited(amount), revoke,
                             None, f"ERC-20 {label}"))
    elif s == "approve(address,address,uint160,uint48)":  # Permit2 on-chain allowance
        token, spender, amount = param(call, 0), param(call, 1), as_int(param(call, 2))
        expiration = as_int(param(call, 3))
        if isinstance(spender, str):
            out.append(Grant("allowance", spender, token, amount,
                             _unlimited(amount) or amount == MAX_UINT160, amount == 0,
                             inp.now_ts() if expiration == 0 else expiration, "Permit2 approve"))
    elif s == "setApprovalForAll(address,bool)":
        operator = param(call, 0)
        if isinstance(operator, str):
            out.append(Grant("operator", operator, target, None, True,
                             not as_bool(param(call, 1)), None, "setApprovalForAll",
                             None, str(getattr(call, "category", None) or "erc721")))
    elif s in ("authorizeOperator(address)", "revokeOperator(address)"):  # ERC-777
        operator = param(call, 0)
        if isinstance(operator, str):
            out.append(Grant("operator", operator, target, None, True,
                             s.startswith("revoke"), None, "ERC-777 authorizeOperator",
                             None, "erc777"))
    elif getattr(call, "category", None) == "permit2" and name in (
            "permit", "PERMIT2_PERMIT", "PERMIT2_PERMIT_BATCH"):
        owner = call.arg("owner") if hasattr(call, "arg") else None
        if is_addr(owner) and low(owner) != me:
            return []  # relaying someone else's permit exposes their tokens, not ours
        for p in getattr(call, "params", None) or []:
            if isinstance(p.value, dict) and "details" in p.value:
                label = f"Permit2 {name}" if name != "permit" else "Permit2 permit"
                out.extend(_permit2_details(inp, call, p.value, label, signed=False))
    elif getattr(call, "category", None) == "permit" and name == "permit":
        owner = param(call, 0)
        spender = param(call, 1)
        if not (is_addr(owner) and low(owner) == me and isinstance(spender, str)):
            return []
        if call.arg("allowed") is not None:  # DAI: all or nothing
            allowed = as_bool(call.arg("allowed"))
            out.append(Grant("allowance", spender, target, None, allowed, not allowed,
                             as_int(call.arg("expiry")) or None, "DAI permit"))
        else:
            amount = as_int(call.arg("value"))
            out.append(Grant("allowance", spender, target, amount, _unlimited(amount),
                             amount == 0, None, "EIP-2612 permit"))
    for g in out:
        g.holder = holder
    return out


def grants_from_decoded(inp: ScanInput) -> list[Grant]:
    grants: list[Grant] = []
    for site in iter_calls(inp):
        grants.extend(call_grants(inp, site.call, site.target))
    return grants


def transaction_grants(inp: ScanInput) -> list[Grant]:
    from_sim = grants_from_exposures(inp)
    # The simulation is the truth when it traced approvals; decoded calls only fill its gaps
    # (a node without tracing, an approval the tracer did not attribute, an ERC-777 operator).
    seen = {(g.kind == "operator", low(g.spender), low(g.token)) for g in from_sim}
    seen_any = {(op, sp) for op, sp, _ in seen}
    extra = []
    for g in grants_from_decoded(inp):
        key = (g.kind == "operator", low(g.spender), low(g.token))
        if key in seen or (g.token is None and key[:2] in seen_any):
            continue
        extra.append(g)
    return from_sim + extra


# --- typed data ---------------------------------------------------------------------------------
def _first(d: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((d[n] for n in names if n in d), None)


def _generic(inp: ScanInput, node: Any, domain: dict[str, Any], label: str, depth: int,
             out: list[Grant]) -> None:
    """Any struct with a spender/operator/delegate address: a grant shaped like a permit."""
    if depth > 6:
        return
    if isinstance(node, list):
        for item in node:
            _generic(inp, item, domain, label, depth + 1, out)
        return
    if not isinstance(node, dict):
        return
    for field_name in GRANT_FIELDS:
        who = node.get(field_name)
        if not is_addr(who):
            continue
        raw_amount = _first(node, _AMOUNT_FIELDS)
        amount = as_int(raw_amount)
        token = _first(node, _TOKEN_FIELDS)
        token = token if is_addr(token) else domain.get("verifyingContract")
        expiry = as_int(_first(node, _EXPIRY_FIELDS))
        if raw_amount is None and field_name != "spender":
            # An operator/delegate with no amount is empowered over everything.
            out.append(Grant("operator", who, token, None, True, False, expiry or None,
                             f"{label} ({field_name})", source="typed-data"))
        else:
            out.append(Grant("allowance", who, token, amount, _unlimited(amount), amount == 0,
                             expiry or None, label, source="typed-data"))
    for key, child in node.items():
        if key not in GRANT_FIELDS and isinstance(child, (dict, list)):
            _generic(inp, child, domain, label, depth + 1, out)


def typed_grants(inp: ScanInput) -> list[Grant]:
    """Every grant a typed-data payload would hand out if signed."""
    td = inp.typed_data if isinstance(inp.typed_data, dict) else {}
    primary = str(td.get("primaryType") or "")
    msg = td.get("message") if isinstance(td.get("message"), dict) else {}
    domain = td.get("domain") if isinstance(td.get("domain"), dict) else {}
    out: list[Grant] = []
    if primary == "Permit" and "allowed" in msg and is_addr(msg.get("spender")):
        allowed, expiry = as_bool(msg.get("allowed")), as_int(msg.get("expiry"))
        out.append(Grant("allowance", msg["spender"], domain.get("verifyingContract"), None,
                         allowed, not allowed, expiry or None, "DAI permit",
                         source="typed-data"))
    elif primary in ("PermitSingle", "PermitBatch"):
        out.extend(_permit2_details(inp, None, msg, f"Permit2 {primary}", signed=True))
    elif primary in _PERMIT2_TRANSFER and is_addr(msg.get("spender")):
        deadline = as_int(msg.get("deadline"))
        for p in _as_list(msg.get("permitted")):
            amount = as_int(p.get("amount"))
            out.append(Grant("allowance", msg["spender"], p.get("token"), amount,
                             _unlimited(amount), False, deadline, f"Permit2 {primary}",
                             source="typed-data"))
    elif primary == "SafeTx":
        out.extend(safe_tx_grants(inp, msg, domain))
    else:  # EIP-2612 Permit, or any other struct shaped like a grant
        _generic(inp, msg, domain, primary or "permit", 0, out)
    return out


def safe_tx_grants(inp: ScanInput, msg: dict[str, Any], domain: dict[str, Any]) -> list[Grant]:
    """A Safe transaction's calldata, decoded: the grants it makes are the Safe's."""
    decoded = decode_safe_tx(msg)
    safe = domain.get("verifyingContract")
    if decoded is None or not is_addr(safe):
        return []
    out: list[Grant] = []

    def walk(call: Any, target: str | None, depth: int) -> None:
        out.extend(call_grants(inp, call, target, holder=safe))
        if depth < 4:
            for inner in getattr(call, "inner", None) or []:
                walk(inner, getattr(inner, "to", None) or target, depth + 1)

    walk(decoded, msg.get("to"), 0)
    for g in out:
        g.source = "typed-data"
        g.label = f"Safe transaction {g.label}"
    return out


def decode_safe_tx(msg: dict[str, Any]) -> Any:
    """The SafeTx ``data`` decoded against ``to``; None when there is none or it is not hex."""
    to, data = msg.get("to"), msg.get("data")
    if not is_addr(to) or not isinstance(data, str) or len(data) < 10:
        return None
    try:
        from ..decode import decode_calldata

        return decode_calldata(data, to=to, value=max(as_int(msg.get("value")) or 0, 0))
    except Exception:  # undecodable data is described by the SafeTx rule, not a crash here
        return None


# --- the policy's view --------------------------------------------------------------------------
def grant_dict(inp: ScanInput, g: Grant) -> dict[str, Any]:
    """``{spender, asset, amount, unlimited, expiration, spenderKnown, spenderIsContract, …}``."""
    atype = {"nft": "erc721", "operator": g.standard if g.standard != "erc20" else "erc721"}.get(
        g.kind, g.standard)
    holder = g.holder or inp.wallet
    balance = inp.balance(g.token, holder) if g.kind == "allowance" else None
    return {
        "kind": g.kind,
        "spender": g.spender,
        "asset": {"type": atype, "address": g.token, "symbol": g.symbol, "decimals": None,
                  "tokenId": str(g.amount) if g.kind == "nft" and g.amount is not None
                  else None},
        "amount": str(g.amount) if g.kind == "allowance" and g.amount is not None else None,
        "unlimited": bool(g.unlimited or g.kind == "operator"),
        "expiration": g.expiration,
        "spenderKnown": inp.protocol(g.spender) is not None,
        "spenderName": inp.protocol(g.spender),
        "spenderIsContract": inp.has_code(g.spender),
        "holder": holder,
        "holderBalance": str(balance) if balance is not None else None,
        "source": g.source,
        "label": g.label,
    }
