"""Rule family 7: administrative actions that hand over control of a contract or an account.

Ownership transfers and renunciations, proxy upgrades and admin changes, Safe transactions that
DELEGATECALL (the called code runs as the Safe, with full power over its funds and settings),
and EIP-7702 authorizations (the wallet's own account starts running someone's contract code).
All are Warnings with reason ``other``: legitimate for their owners, disastrous when phished.
"""

from __future__ import annotations

from ._base import ZERO, Feature, ScanInput, as_int, is_addr, iter_calls, low, param, short, sig

__all__ = ["rule_admin_actions"]

_UPGRADES = {  # signature -> index of the new implementation
    "upgradeTo(address)": 0,
    "upgradeToAndCall(address,bytes)": 0,
    "upgrade(address,address)": 1,
    "upgradeAndCall(address,address,bytes)": 1,
}
_ADMIN_CHANGES = {"changeAdmin(address)": 0, "changeProxyAdmin(address,address)": 1}
_SAFE_EXEC = ("execTransaction(", "execTransactionFromModule(")


def _calls(inp: ScanInput) -> list[Feature]:
    out: list[Feature] = []
    for site in iter_calls(inp):
        call, s, where = site.call, sig(site.call), short(site.target) if site.target else "it"
        if s == "transferOwnership(address)":
            new = param(call, 0)
            out.append(Feature(
                "Warning", "OWNERSHIP_TRANSFER",
                f"Hands ownership of contract {where} to {new}. The new owner gets every admin "
                "power of the contract (minting, pausing, withdrawing, upgrading) and you lose it.",
                new if is_addr(new) else None, "other", "ownership_transfer"))
        elif s == "renounceOwnership()":
            out.append(Feature(
                "Warning", "OWNERSHIP_RENOUNCE",
                f"Gives up ownership of contract {where} for ever: nobody, including you, can "
                "use its admin functions again.",
                site.target, "other", "ownership_transfer"))
        elif s in _UPGRADES:
            impl = param(call, _UPGRADES[s])
            out.append(Feature(
                "Warning", "PROXY_UPGRADE",
                f"Replaces the code behind proxy {where} with the implementation {impl}. The new "
                "code controls everything the proxy holds; check that it is the audited one.",
                impl if is_addr(impl) else None, "other", "proxy_upgrade"))
        elif s in _ADMIN_CHANGES:
            admin = param(call, _ADMIN_CHANGES[s])
            out.append(Feature(
                "Warning", "PROXY_ADMIN_CHANGE",
                f"Makes {admin} the admin of proxy {where}: it could then upgrade the proxy to "
                "any code it likes.",
                admin if is_addr(admin) else None, "other", "proxy_upgrade"))
        elif s.startswith(_SAFE_EXEC) and as_int(param(call, 3)) == 1:
            target = param(call, 0)
            out.append(Feature(
                "Warning", "SAFE_DELEGATECALL",
                f"The Safe {where} would DELEGATECALL {target}: that code runs as the Safe itself "
                "and can move all its funds or change its owners. Only do this for a known "
                "library such as Safe's MultiSend.",
                target if is_addr(target) else None, "other", "delegatecall_execution"))
    return out


def _authorizations(inp: ScanInput) -> list[Feature]:
    out: list[Feature] = []
    for auth in (inp.tx or {}).get("authorizationList") or []:
        delegate = auth.get("address") if isinstance(auth, dict) else None
        if is_addr(delegate) and low(delegate) == ZERO:
            out.append(Feature("Info", "EIP7702_DELEGATION_CLEAR",
                               "Clears this account's EIP-7702 delegation (back to a plain "
                               "account).", None))
            continue
        out.append(Feature(
            "Warning", "EIP7702_DELEGATION",
            f"EIP-7702 authorization: this account would run the code of {delegate} from now on. "
            "That code can spend everything the account holds, in any later transaction, until "
            "the delegation is replaced.",
            delegate if is_addr(delegate) else None, "other", "eip7702_delegation"))
    return out


def rule_admin_actions(inp: ScanInput) -> list[Feature]:
    if inp.kind != "transaction":
        return []
    return _calls(inp) + _authorizations(inp)
