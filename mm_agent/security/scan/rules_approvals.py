"""Rule family 1: allowance grants, judged by what they expose.

One judge for every grant (grants.py), on-chain or signed: who gets it (an account without code,
a verified protocol, or an unknown contract), how much (unlimited, or at least half of what the
holder has now) and for how long (past 30 days, or never expiring for signed permits). The
``rule_approvals`` entry point covers transactions (``APPROVAL_*`` feature ids);
``rule_permits`` (rules_permits.py) covers typed data (``PERMIT_*``) with the same judge.

On-chain ERC-20/721 allowances have no expiry at all, so duration is only judged where the grant
carries one (Permit2 allowances, permits): otherwise every exact-amount approval to a new dapp
would need a human, and people stop reading warnings they see every time.
"""

from __future__ import annotations

from ._base import (
    FAR_EXPIRY_SECONDS,
    LARGE_SHARE,
    ZERO,
    Feature,
    ScanInput,
    low,
    short,
)
from .grants import Grant, grants_from_decoded, grants_from_exposures, transaction_grants

__all__ = [
    "grants_from_decoded",
    "grants_from_exposures",
    "judge_grant",
    "risks",
    "rule_approvals",
]


def _what(g: Grant) -> str:
    token = g.symbol or (short(g.token) if g.token else "a token")
    if g.kind == "nft":
        return f"NFT #{g.amount} of {token}"
    if g.kind == "operator":
        return f"ALL your {token} tokens"
    if g.unlimited:
        return f"an unlimited amount of {token}"
    if g.amount is None:
        return f"an unstated amount of {token}"
    return f"{g.amount} base units of {token}"


def risks(inp: ScanInput, g: Grant) -> list[str]:
    """Why a grant to an unknown contract is risky: "unlimited", "large", "long" (in order)."""
    found: list[str] = []
    if g.kind == "operator" or g.unlimited:
        found.append("unlimited")
    elif g.kind == "allowance" and g.amount is not None and g.amount > 0:
        balance = inp.balance(g.token, g.holder or inp.wallet)
        # balance 0: the grant covers everything that arrives later, so it counts as large.
        if balance is not None and g.amount >= balance * LARGE_SHARE:
            found.append("large")
    now = inp.now_ts()
    if g.source == "typed-data" or g.expiration is not None:
        if g.expiration is None or g.expiration > now + FAR_EXPIRY_SECONDS:
            found.append("long")
    return found


def _when(inp: ScanInput, g: Grant) -> str:
    if g.expiration is None or g.expiration >= 2**48 - 1:
        return "never expires"
    return f"stays valid for {max(g.expiration - inp.now_ts(), 0) // 86400} days"


def _explain(inp: ScanInput, g: Grant, found: list[str]) -> str:
    parts = []
    if "large" in found:
        balance = inp.balance(g.token, g.holder or inp.wallet)
        parts.append(f"at least half of the {balance} base units held")
    if "long" in found:
        parts.append(f"it {_when(inp, g)}")
    return f" ({'; '.join(parts)})" if parts else ""


def judge_grant(inp: ScanInput, g: Grant) -> Feature | None:
    """One feature per grant; ``g.source`` picks the APPROVAL_* or PERMIT_* feature ids."""
    spender = g.spender
    if low(spender) in (ZERO, low(inp.wallet), low(g.holder)) and not (
            g.kind == "nft" and low(spender) == ZERO):
        return None
    signed = g.source == "typed-data"
    holder = "" if g.holder is None or low(g.holder) == low(inp.wallet) else (
        f" of {short(g.holder)}")
    if g.revoke:
        fid = "PERMIT_REVOKE" if signed else "APPROVAL_REVOKE"
        return Feature("Info", fid, f"{g.label}: revokes the approval of {spender}.", spender)
    if not inp.has_code(spender):
        return _to_eoa(g, spender, signed, holder)
    name = inp.protocol(spender)
    if name is not None:
        fid = "PERMIT" if signed else (
            "SET_APPROVAL_FOR_ALL" if g.kind == "operator" else "TOKEN_APPROVAL")
        return Feature("Info", fid, f"{g.label}: lets {name} ({spender}), a verified protocol, "
                                    f"spend {_what(g)}{holder}.", spender)
    found = risks(inp, g)
    if not found or g.kind == "nft":
        fid = "PERMIT" if signed else "TOKEN_APPROVAL"
        return Feature("Info", fid, f"{g.label}: lets contract {spender} spend {_what(g)}{holder}"
                                    f"{_explain(inp, g, found)}.", spender)
    return _unknown_contract(inp, g, spender, signed, holder, found)


def _to_eoa(g: Grant, spender: str, signed: bool, holder: str) -> Feature:
    if signed:
        return Feature(
            "Malicious", "PERMIT_TO_EOA",
            f"{g.label} signature lets the plain account {spender} take {_what(g)}{holder} "
            "without any further transaction from you. Signing it hands the funds over: this "
            "is how permit phishing works.",
            spender, "permit_farming", "permit_to_eoa",
        )
    if g.kind == "operator" and g.standard == "erc777":
        return Feature(
            "Malicious", "ERC777_OPERATOR_TO_EOA",
            f"Makes the plain account {spender} an ERC-777 operator of {_what(g)}{holder}: it can "
            "send every one of them anywhere, at any time.",
            spender, "approval_farming", "operator_to_eoa",
        )
    if g.kind == "operator":
        return Feature(
            "Malicious", "SET_APPROVAL_FOR_ALL_TO_EOA",
            f"Gives the plain account {spender} control of ALL your tokens in collection "
            f"{short(g.token)}{holder}; it can take every one of them at any time. This is how "
            "NFT drainers work.",
            spender, "set_approval_for_all", "set_approval_for_all_to_eoa",
        )
    return Feature(
        "Malicious", "APPROVAL_TO_EOA",
        f"Approves the plain account {spender} to spend {_what(g)}{holder}. Legitimate apps "
        "approve contracts, not personal accounts; whoever holds that account can take these "
        "funds.",
        spender, "approval_farming", "approval_to_eoa",
    )


def _unknown_contract(inp: ScanInput, g: Grant, spender: str, signed: bool, holder: str,
                      found: list[str]) -> Feature:
    why = _explain(inp, g, found)
    if signed:
        fid, cls = {"unlimited": ("PERMIT_UNLIMITED", "unlimited_permit"),
                    "large": ("PERMIT_LARGE", "large_permit"),
                    "long": ("PERMIT_LONG_EXPIRY", "long_lived_permit")}[found[0]]
        return Feature(
            "Warning", fid,
            f"{g.label} signature lets contract {spender}, which is not a verified protocol, "
            f"spend {_what(g)}{holder}{why}. A signed permit is as good as an approval.",
            spender, "permit_farming", cls,
        )
    if g.kind == "operator" and g.standard == "erc777":
        return Feature(
            "Warning", "ERC777_OPERATOR_UNKNOWN_CONTRACT",
            f"Makes contract {spender}, which is not a verified protocol, an ERC-777 operator of "
            f"{_what(g)}{holder}.",
            spender, "approval_farming", "operator_unknown_contract",
        )
    if g.kind == "operator":
        return Feature(
            "Warning", "SET_APPROVAL_FOR_ALL_UNKNOWN_CONTRACT",
            f"Gives contract {spender}, which is not a verified protocol, control of ALL your "
            f"tokens in collection {short(g.token)}{holder}. Only do this for a marketplace you "
            "trust.",
            spender, "set_approval_for_all", "set_approval_for_all_unknown_contract",
        )
    fid, cls = {"unlimited": ("UNLIMITED_APPROVAL_UNKNOWN_CONTRACT", "unlimited_approval"),
                "large": ("LARGE_APPROVAL_UNKNOWN_CONTRACT", "large_approval"),
                "long": ("LONG_APPROVAL_UNKNOWN_CONTRACT", "long_lived_approval")}[found[0]]
    return Feature(
        "Warning", fid,
        f"Approves contract {spender}, which is not a verified protocol, to spend {_what(g)}"
        f"{holder}{why}. Prefer an exact, small amount.",
        spender, "approval_farming", cls,
    )


def rule_approvals(inp: ScanInput) -> list[Feature]:
    if inp.kind != "transaction":
        return []
    features = [judge_grant(inp, g) for g in transaction_grants(inp)]
    return [f for f in features if f is not None]
