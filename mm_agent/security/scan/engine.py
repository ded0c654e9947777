"""Runs the local rules and any remote scanners, and folds their features into one verdict."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ._base import ZERO, Feature, ScanInput, Scanner, ScanResult
from .rules_admin import rule_admin_actions
from .rules_approvals import rule_approvals
from .rules_ctf_orders import rule_ctf_orders
from .rules_denylist import rule_denylist
from .rules_orders import rule_orders
from .rules_permits import rule_permits
from .rules_poisoning import rule_address_poisoning
from .rules_signatures import rule_raw_signatures
from .rules_transfers import rule_transfers
from .rules_typed import rule_typed_data

__all__ = ["LOCAL_RULES", "RANK", "aggregate", "scan"]

Rule = Callable[[ScanInput], list[Feature]]

# Order matters only for ties: the first feature of the worst level names the verdict, so the
# most specific evidence (a denylist hit) comes first.
LOCAL_RULES: tuple[tuple[str, Rule], ...] = (
    ("denylist", rule_denylist),
    ("raw_signatures", rule_raw_signatures),
    ("approvals", rule_approvals),
    ("permits", rule_permits),
    ("orders", rule_orders),
    ("ctf_orders", rule_ctf_orders),
    ("typed_data", rule_typed_data),
    ("address_poisoning", rule_address_poisoning),
    ("transfers", rule_transfers),
    ("admin_actions", rule_admin_actions),
)

# Error outranks Warning: an unverified action must never look safer than a flagged one.
RANK = {"Malicious": 4, "Error": 3, "Warning": 2, "Benign": 1, "Info": 0}
BENIGN_DESCRIPTION = "No known threat pattern found by the local rules."


def _error(feature_id: str, what: str, exc: BaseException) -> Feature:
    # Only the exception class: messages of HTTP/RPC errors may carry URLs with API keys.
    return Feature(
        "Error", feature_id,
        f"{what} failed ({type(exc).__name__}); the action could not be fully checked, so it is "
        "treated as risky.",
        None, "other", "scanner_error",
    )


def _prepare(inp: ScanInput) -> tuple[ScanInput, list[Feature]]:
    """Memoise ``is_contract``/``balance_of`` for this scan and decode the calldata if the
    caller did not."""
    notes: list[Feature] = []
    cache: dict[str, bool] = {}
    balances: dict[tuple[str, str], int | None] = {}
    ask, ask_balance = inp.is_contract, inp.balance_of

    def is_contract(address: str) -> bool:
        key = address.lower()
        if key not in cache:
            cache[key] = bool(ask(address))
        return cache[key]

    def balance_of(token: str, holder: str) -> int | None:
        key = (token.lower(), holder.lower())
        if key not in balances:
            got = ask_balance(token, holder)
            balances[key] = got if isinstance(got, int) and not isinstance(got, bool) else None
        return balances[key]

    decoded = inp.decoded
    data = str((inp.tx or {}).get("data") or "0x")
    if decoded is None and inp.kind == "transaction" and len(data) > 2:
        try:
            from ..decode import decode_calldata

            decoded = decode_calldata(data, to=inp.tx_to, value=inp.tx_value)
        except Exception as exc:  # undecodable calldata is itself a finding, not a crash
            notes.append(Feature("Info", "UNDECODED_CALLDATA",
                                 f"The calldata could not be decoded ({type(exc).__name__}).",
                                 inp.tx_to))
    return dataclasses.replace(inp, is_contract=is_contract, balance_of=balance_of,
                               decoded=decoded), notes


def _grants(inp: ScanInput) -> list[dict[str, object]]:
    """``scan.grants``: what the action would let others take (revocations left out)."""
    from .grants import grant_dict, transaction_grants, typed_grants

    if inp.kind == "transaction":
        found = transaction_grants(inp)
    elif inp.kind == "typed-data" and isinstance(inp.typed_data, dict):
        found = typed_grants(inp)
    else:
        return []
    return [grant_dict(inp, g) for g in found
            if not g.revoke and g.spender.lower() not in (inp.wallet.lower(), ZERO)]


def aggregate(features: Sequence[Feature]) -> ScanResult:
    """The worst feature wins (Malicious > Error > Warning > Benign/Info)."""
    ordered = sorted(features, key=lambda f: -RANK.get(f.type, 0))  # stable: rule order kept
    worst = ordered[0] if ordered else None
    if worst is None or RANK.get(worst.type, 0) <= RANK["Benign"]:
        return ScanResult("Benign", "", "", BENIGN_DESCRIPTION, list(ordered))
    return ScanResult(
        worst.type,  # type: ignore[arg-type]  # Malicious | Error | Warning here
        worst.reason or "other",
        worst.classification or worst.feature_id.lower(),
        worst.description,
        list(ordered),
    )


def scan(inp: ScanInput, *, remote: Sequence[Scanner] = ()) -> ScanResult:
    """Run every local rule, then each remote scanner; any failure fails closed (``Error``)."""
    prepared, features = _prepare(inp)
    for name, rule in LOCAL_RULES:
        try:
            features.extend(rule(prepared))
        except Exception as exc:
            features.append(_error("LOCAL_RULE_ERROR", f"Local rule {name!r}", exc))
    for scanner in remote:
        label = f"Remote scanner {type(scanner).__name__}"
        try:
            got = scanner.scan(prepared)
            if not isinstance(got, list) or not all(isinstance(f, Feature) for f in got):
                raise TypeError("scan() must return a list of Feature")
        except Exception as exc:
            features.append(_error("REMOTE_SCANNER_ERROR", label, exc))
            continue
        features.extend(got)
    result = aggregate(features)
    try:
        result.grants = _grants(prepared)
    except Exception as exc:  # the policy must not see "no grants" when they could not be read
        result = aggregate([*features, _error("LOCAL_RULE_ERROR", "Grant extraction", exc)])
    try:
        from .rules_ctf_orders import scan_orders

        orders = scan_orders(prepared)
    except Exception as exc:  # nor "no order" (no outflow) when one could not be read
        grants = result.grants
        result = aggregate([*result.features,
                            _error("LOCAL_RULE_ERROR", "Order extraction", exc)])
        result.grants, orders = grants, []
    result.orders = orders
    return result
