"""Grants and recipients the guard policy sees without a simulation: decoded calldata (inner
multicall calls, ERC-777 operators), typed-data permits (EIP-2612, DAI, Permit2), and the
field-by-field application of an approved policy diff."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from mm_agent.security.pipeline import PolicyResult, Preview
from mm_agent.security.policy.document import (
    apply_broadening,
    broadening_changes,
    broadening_diff,
    default_policy,
    field_changes,
    tighten_only,
)
from mm_agent.security.policy.evaluate import evaluate
from mm_agent.security.policy.grants import grants_of, price_grants
from mm_agent.security.policy.prices import StaticPrices

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ROUTER = "0xE592427A0AEce92De3Edee1F18E0157C05861564"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
BENIGN = {"resultType": "Benign", "reason": "", "description": ""}


def call(sig: str, *values: Any) -> str:
    inner = sig[sig.index("(") + 1: -1]
    types = [inner] if inner.startswith("(") else [t for t in inner.split(",") if t]
    return "0x" + (function_signature_to_4byte_selector(sig) + encode(types, list(values))).hex()


def doc(**kw: Any) -> Any:
    base = default_policy(WALLET)
    from dataclasses import replace

    values = {"allowlist": (TOKEN, ROUTER, MULTICALL3), "token_recipients": (BOB,), **kw}
    return replace(base, **values)


def tx_preview(tx: dict[str, Any]) -> Preview:
    return Preview("transaction", 31337, WALLET, "x", {"functionName": None, "params": [],
                                                       "effectiveRecipient": None},
                   {"success": True, "balanceChanges": [], "exposures": []}, BENIGN,
                   PolicyResult(), tx=tx)


def rules(result: PolicyResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in result.violations:
        out.setdefault(v["rule"], []).append(v["message"])
    return out


def test_every_decoded_recipient_of_a_multicall_is_checked() -> None:
    inner = [(TOKEN, False, bytes.fromhex(call("transfer(address,uint256)", r, 5)[2:]))
             for r in (BOB, CAROL)]
    data = call("aggregate3((address,bool,bytes)[])", inner)
    result = evaluate(doc(), "guard", tx_preview({"to": MULTICALL3, "value": 0, "data": data}),
                      outflow_usd=Decimal(0), window_used_usd=Decimal(0))
    named = rules(result)["token_recipient"]
    assert any(CAROL in m for m in named) and not any(BOB in m for m in named)


def test_grant_hidden_in_a_multicall_and_erc777_operator_are_seen() -> None:
    inner = [(TOKEN, False, bytes.fromhex(call("approve(address,uint256)", CAROL, 5)[2:]))]
    data = call("aggregate3((address,bool,bytes)[])", inner)
    preview = tx_preview({"to": MULTICALL3, "value": 0, "data": data})
    assert [g.spender for g in grants_of(preview, tx=preview.tx)] == [CAROL]
    result = evaluate(doc(), "guard", preview, outflow_usd=Decimal(0),
                      window_used_usd=Decimal(0))
    assert any(CAROL in m for m in rules(result)["address_allowlist"])

    op = tx_preview({"to": TOKEN, "value": 0, "data": call("authorizeOperator(address)", CAROL)})
    (grant,) = grants_of(op, tx=op.tx)
    assert grant.kind == "operator" and grant.spender.lower() == CAROL.lower()
    result = evaluate(doc(), "guard", op, outflow_usd=Decimal(0), window_used_usd=Decimal(0),
                      grant_values=price_grants(StaticPrices({}), op, [grant]))
    assert set(rules(result)) == {"address_allowlist", "outflow_limit"}


def typed(primary: str, message: dict[str, Any]) -> Preview:
    return Preview("typed-data", 31337, WALLET, "x", None, None, BENIGN, PolicyResult(),
                   typed_data={"types": {}, "primaryType": primary, "message": message,
                               "domain": {"chainId": 31337, "verifyingContract": TOKEN}})


def test_typed_permits_are_grants_valued_against_the_window() -> None:
    prices = StaticPrices({"31337:mUSD": "1"})
    lookup = {TOKEN: {"type": "erc20", "address": TOKEN, "symbol": "mUSD", "decimals": 6}}
    cases = [
        (typed("Permit", {"owner": WALLET, "spender": ROUTER, "value": str(50 * 10**6)}), "50"),
        (typed("PermitSingle", {"details": {"token": TOKEN, "amount": str(5 * 10**9),
                                            "expiration": 1}, "spender": ROUTER}), "5000"),
        (typed("PermitBatchTransferFrom", {"permitted": [
            {"token": TOKEN, "amount": str(10**6)}, {"token": TOKEN, "amount": str(2 * 10**6)}],
            "spender": ROUTER}), "1"),
    ]
    for preview, first_usd in cases:
        grants = grants_of(preview, typed_data=preview.typed_data)
        values = price_grants(prices, preview, grants, lookup=lambda a: lookup[a])
        assert values[0][1] == Decimal(first_usd), values
        result = evaluate(doc(), "guard", preview, outflow_usd=None,
                          window_used_usd=Decimal(990), grant_values=values,
                          typed_data=preview.typed_data)
        fits = all(v is not None and v <= 10 for _, v in values)
        assert ("outflow_limit" in rules(result)) != fits, (first_usd, rules(result))
    dai = typed("Permit", {"holder": WALLET, "spender": ROUTER, "allowed": True})
    (grant,) = grants_of(dai, typed_data=dai.typed_data)
    assert grant.unlimited and price_grants(prices, dai, [grant])[0][1] is None


def test_approved_diff_is_applied_to_the_current_document() -> None:
    old = doc()
    new = doc(allowlist=(TOKEN, ROUTER, MULTICALL3, CAROL), blocklist=(),
              rolling_24h_usd=Decimal(5000))
    mixed = doc(allowlist=(TOKEN,), blocklist=(CAROL,), rolling_24h_usd=Decimal(5000))
    now = tighten_only(old, mixed)  # the tightening half of a mixed change, at once
    assert now.allowlist == (TOKEN,) and now.blocklist == (CAROL,)
    assert now.rolling_24h_usd == old.rolling_24h_usd
    diff = broadening_diff(old, new)
    approved = broadening_changes(old, new)
    result, skipped = apply_broadening(now, diff)
    assert CAROL in result.allowlist and CAROL in result.blocklist  # blocklist still wins
    assert ROUTER not in result.allowlist  # removed since: the approval does not re-add it
    assert result.rolling_24h_usd == Decimal(5000) and not skipped
    assert set(broadening_changes(now, result)) <= set(approved)
    lowered = tighten_only(old, doc(rolling_24h_usd=Decimal(10)))
    result, skipped = apply_broadening(lowered, diff)
    assert result.rolling_24h_usd == Decimal(10) and skipped
    assert field_changes(old, new)[0].startswith("addresses.allowlist: [")
