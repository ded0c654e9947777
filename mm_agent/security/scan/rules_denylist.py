"""Rule family 3: known-malicious addresses (ScamSniffer ``address.json`` denylist).

Every address the action touches is checked: the transaction's ``to``, every address parameter of
the decoded call and its inner calls (recipient, spender, operator, ...), the simulation's spenders
and balance-change accounts, the EIP-7702 delegates, and for typed data the domain's
``verifyingContract`` and every address anywhere in the message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ._base import Feature, ScanInput, is_addr, iter_calls, low

__all__ = ["BUILTIN_DENYLIST", "load_denylist", "rule_denylist", "touched_addresses"]

# Synthetic test entries (not real scammers): lets tests and devnet demos trigger the rule
# without shipping a third-party list. Real deployments point `security.denylist` at
# ScamSniffer's address.json, which is merged with these.
BUILTIN_DENYLIST: frozenset[str] = frozenset(
    f"0xbad{'0' * 36}{i}" for i in range(1, 6)
)
_HEX40_ANYWHERE = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")


def load_denylist(path: str | None) -> frozenset[str]:
    """The built-in list merged with the JSON array of addresses at ``path`` (if given)."""
    from mm_agent.errors import StateCorrupt

    if not path:
        return BUILTIN_DENYLIST
    path = os.path.expanduser(path)
    hint = ("The denylist is a JSON array of 0x addresses (ScamSniffer address.json format); "
            "fix the file or change `mm config set security.denylist <path>`.")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise StateCorrupt(f"Denylist file not found: {path}.", hint=hint) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateCorrupt(f"Denylist file {path} is unreadable: {type(exc).__name__}.",
                           hint=hint) from None
    if not isinstance(data, list):
        raise StateCorrupt(f"Denylist file {path} is not a JSON array.", hint=hint)
    entries: set[str] = set()
    for i, item in enumerate(data):
        if not is_addr(item):
            raise StateCorrupt(f"Denylist file {path}: entry {i} is not an address.", hint=hint)
        entries.add(item.lower())
    return BUILTIN_DENYLIST | frozenset(entries)


def _addresses_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _HEX40_ANYWHERE.findall(value) if len(value) <= 4096 else ()
    elif isinstance(value, dict):
        for v in value.values():
            yield from _addresses_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _addresses_in(v)


def _labelled(inp: ScanInput) -> Iterator[tuple[str, str]]:
    """(address, role) pairs for everything the action touches."""
    if inp.tx_to:
        yield inp.tx_to, "transaction target"
    for auth in (inp.tx or {}).get("authorizationList") or []:
        if isinstance(auth, dict) and is_addr(auth.get("address")):
            yield auth["address"], "EIP-7702 delegate"
    for site in iter_calls(inp):
        call = site.call
        if site.target:
            yield site.target, "called contract"
        for role in ("effective_recipient", "spender"):
            if is_addr(getattr(call, role, None)):
                yield getattr(call, role), role.replace("_", " ")
        for p in getattr(call, "params", None) or []:
            if "address" in str(getattr(p, "type", "")):
                for a in _addresses_in(getattr(p, "value", None)):
                    yield a, f"parameter {getattr(p, 'name', '') or 'address'}"
    sim = inp.simulation or {}
    for exp in sim.get("exposures") or []:
        if is_addr(exp.get("spender")):
            yield exp["spender"], "spender"
    for bc in sim.get("balanceChanges") or []:
        if is_addr(bc.get("address")):
            yield bc["address"], "account whose balance changes"
    td = inp.typed_data
    if isinstance(td, dict):
        domain = td.get("domain") if isinstance(td.get("domain"), dict) else {}
        if is_addr(domain.get("verifyingContract")):
            yield domain["verifyingContract"], "verifying contract"
        msg = td.get("message") if isinstance(td.get("message"), dict) else {}
        for key in ("spender", "operator", "to", "recipient"):
            if is_addr(msg.get(key)):
                yield msg[key], key
        for a in _addresses_in(msg):
            yield a, "address in the signed message"


def touched_addresses(inp: ScanInput) -> Iterable[tuple[str, str]]:
    return list(_labelled(inp))


def rule_denylist(inp: ScanInput) -> list[Feature]:
    if not inp.denylist:
        return []
    seen: set[str] = set()
    features: list[Feature] = []
    for address, role in _labelled(inp):
        key = low(address)
        if key in seen or key not in inp.denylist:
            continue
        seen.add(key)
        features.append(Feature(
            "Malicious", "KNOWN_MALICIOUS_ADDRESS",
            f"The {role} {address} is on the denylist of known scam and drainer addresses. "
            "Do not sign.",
            address, "known_malicious", "known_malicious",
        ))
    return features
