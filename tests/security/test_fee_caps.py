"""Fees are an outflow the agent must not set freely (issue 9, class 2), on a real anvil:
agent fees or gas above the configured multiple of the estimate need approval (``fee_cap``),
the worst-case fee counts as outflow in guard mode, and a payload ``nonce``/``chainId``/
``from`` that disagrees with the request is refused with its own code."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from sec_helpers import FRESH, calldata, make_wallet, nonce, tx_payload

from mm_agent.errors import (
    ApprovalRequired,
    ChainIdMismatch,
    InvalidConfigValue,
    InvalidTransactionPayload,
    NonceNotAllowed,
    PayloadFromMismatch,
)
from mm_agent.evm.fees import FEE_CAP_MULTIPLIER
from mm_agent.local.config import Config
from mm_agent.local.state import Home

CHAIN = 31337


def _estimate(wallet: Any) -> dict[str, str]:
    """The fees the wallet would pick itself for a plain payment, right now."""
    preview = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(FRESH, value=1),
                                      dry_run=True)
    assert preview["fees"]["source"] == "estimate"
    return dict(preview["fees"])


def _rules(preview: dict[str, Any]) -> list[str]:
    return [v["rule"] for v in preview["policy"]["violations"]]


def test_agent_fee_ten_times_the_estimate_needs_approval(chain: Any, wallet: Any) -> None:
    est = int(_estimate(wallet)["maxFeePerGas"])
    payload = {**tx_payload(FRESH, value=1), "maxFeePerGas": hex(10 * est),
               "maxPriorityFeePerGas": hex(10**9)}
    preview = wallet.send_transaction(chain_id=CHAIN, payload=payload, dry_run=True)
    assert preview["fees"]["source"] == "payload"
    assert preview["fees"]["maxFeePerGas"] == str(10 * est)
    assert _rules(preview) == ["fee_cap"] and preview["requiresApproval"] is True
    block = chain.rpc("eth_blockNumber")
    with pytest.raises(ApprovalRequired) as exc:
        wallet.send_transaction(chain_id=CHAIN, payload=payload)
    assert exc.value.code == "APPROVAL_REQUIRED"
    assert "fee_cap" in {v["rule"] for v in
                         exc.value.details["preview"]["policy"]["violations"]}
    assert chain.rpc("eth_blockNumber") == block  # nothing signed


def test_a_human_can_approve_the_high_fee_and_it_is_signed_as_previewed(
        chain: Any, byok_home: Home) -> None:
    seen: list[dict[str, Any]] = []

    def approve(preview: dict[str, Any], _reason: str) -> bool:
        seen.append(preview)
        return True

    wallet = make_wallet(byok_home, hook=approve)
    est = int(_estimate(wallet)["maxFeePerGas"])
    payload = {**tx_payload(FRESH, value=1), "maxFeePerGas": hex(10 * est)}
    req = wallet.send_transaction(chain_id=CHAIN, payload=payload)
    assert req.status == "COMPLETED", req.error
    assert _rules(seen[0]) == ["fee_cap"]
    tx = chain.rpc("eth_getTransactionByHash", [req.tx_hash])
    assert int(tx["maxFeePerGas"], 16) == 10 * est == int(seen[0]["fees"]["maxFeePerGas"])
    assert int(tx["gas"], 16) == int(seen[0]["fees"]["gasLimit"]) == 21_000


def test_fee_within_the_configured_multiple_passes(chain: Any, byok_home: Home) -> None:
    wallet = make_wallet(byok_home, settings={"security.feeCapMultiple": "20"})
    est = int(_estimate(wallet)["maxFeePerGas"])
    payload = {**tx_payload(FRESH, value=1), "maxFeePerGas": hex(10 * est)}
    req = wallet.send_transaction(chain_id=CHAIN, payload=payload)
    assert req.status == "COMPLETED", req.error
    with pytest.raises(InvalidConfigValue):
        Config(byok_home).set("security.feeCapMultiple", "1")
    with pytest.raises(InvalidConfigValue):
        Config(byok_home).set("security.feeCapMultiple", "abc")


def test_legacy_gas_price_is_both_fee_fields(chain: Any, wallet: Any) -> None:
    price = int(_estimate(wallet)["maxFeePerGas"])
    req = wallet.send_transaction(chain_id=CHAIN, payload={
        **tx_payload(FRESH, value=1), "gasPrice": hex(price)})
    assert req.status == "COMPLETED", req.error
    tx = chain.rpc("eth_getTransactionByHash", [req.tx_hash])
    assert tx["type"] == "0x2"
    assert int(tx["maxFeePerGas"], 16) == int(tx["maxPriorityFeePerGas"], 16) == price
    with pytest.raises(InvalidTransactionPayload):
        wallet.send_transaction(chain_id=CHAIN, payload={
            **tx_payload(FRESH, value=1), "gasPrice": hex(price), "maxFeePerGas": hex(price)})


def test_agent_gas_far_above_the_need_needs_approval(chain: Any, wallet: Any) -> None:
    musd = chain.token("mUSD")["address"]
    data = calldata("transfer(address,uint256)", FRESH, 1)
    ok = wallet.send_transaction(chain_id=CHAIN, payload={
        **tx_payload(musd, data), "gas": hex(100_000)}, dry_run=True)
    assert ok["fees"]["gasLimit"] == "100000" and _rules(ok) == []
    high = wallet.send_transaction(chain_id=CHAIN, payload={
        **tx_payload(musd, data), "gas": hex(5_000_000)}, dry_run=True)
    assert _rules(high) == ["fee_cap"]
    assert int(high["fees"]["worstCaseFeeWei"]) == 5_000_000 * int(
        high["fees"]["maxReplacementFeePerGas"])


def test_payload_nonce_only_the_next_one(chain: Any, wallet: Any) -> None:
    me = wallet.address
    n = nonce(chain.rpc, me)
    for bad in (n + 1, n + 5, max(n - 1, 0) if n else n + 2):
        with pytest.raises(NonceNotAllowed) as exc:
            wallet.send_transaction(chain_id=CHAIN, payload={
                **tx_payload(FRESH, value=1), "nonce": hex(bad)}, dry_run=True)
        assert exc.value.code == "NONCE_NOT_ALLOWED"
    with pytest.raises(NonceNotAllowed):
        wallet.send_transaction(chain_id=CHAIN, payload={
            **tx_payload(FRESH, value=1), "nonce": hex(n + 1)})
    assert nonce(chain.rpc, me) == n  # nothing sent
    req = wallet.send_transaction(chain_id=CHAIN, payload={
        **tx_payload(FRESH, value=1), "nonce": hex(n)})
    assert req.status == "COMPLETED", req.error
    assert req.nonce == n


def test_payload_chain_and_from_must_match(chain: Any, wallet: Any) -> None:
    me = wallet.address
    with pytest.raises(ChainIdMismatch) as exc:
        wallet.send_transaction(chain_id=CHAIN, payload={
            **tx_payload(FRESH, value=1), "chainId": "0x1"})
    assert exc.value.code == "CHAIN_ID_MISMATCH"
    with pytest.raises(PayloadFromMismatch) as exc2:
        wallet.send_transaction(chain_id=CHAIN, payload={
            **tx_payload(FRESH, value=1), "from": FRESH})
    assert exc2.value.code == "PAYLOAD_FROM_MISMATCH"
    with pytest.raises(ChainIdMismatch):
        wallet.preview(chain_id=CHAIN, payload={**tx_payload(FRESH, value=1), "chainId": 1})
    # Agreeing values (any case, hex or decimal) are fine.
    for chain_field in (hex(CHAIN), CHAIN, str(CHAIN)):
        req = wallet.send_transaction(chain_id=CHAIN, payload={
            **tx_payload(FRESH, value=1), "chainId": chain_field, "from": me.lower()})
        assert req.status == "COMPLETED", req.error


def test_worst_case_fee_is_guard_outflow(devnet_home: Home, chain: Any) -> None:
    """A transfer just under the limit whose worst-case fee pushes it over needs approval."""
    from mm_agent.security.pipeline import Engine
    from mm_agent.security.policy.document import default_policy
    from mm_agent.security.policy.evaluate import evaluate, outflow_assets, price_outflow
    from mm_agent.security.policy.prices import StaticPrices

    sender = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    engine = Engine(devnet_home, Config(devnet_home, env={}))
    tx, intent = engine.build_transfer(sender, FRESH, "0.5", "ETH", CHAIN)
    preview = engine.preview_transaction(CHAIN, sender, tx, intent=intent)
    fee = int(preview.fees["worstCaseFeeWei"])
    # Gas limit x the replacement ceiling the preview discloses (stuck-tx bumps included).
    assert fee == 21_000 * int(preview.fees["maxReplacementFeePerGas"]) > 0
    assert int(preview.fees["maxReplacementFeePerGas"]) == (
        FEE_CAP_MULTIPLIER * int(preview.fees["maxFeePerGas"]))
    native = outflow_assets(preview)
    assert [units for _a, units in native] == [5 * 10**17 + fee]
    prices = StaticPrices({"ETH": "2000"})
    usd = price_outflow(prices, preview)
    assert usd == Decimal(1000) + Decimal(fee) * 2000 / Decimal(10**18)
    doc = dataclasses.replace(default_policy(sender), allowlist=(FRESH,),
                              token_recipients=(FRESH,), rolling_24h_usd=Decimal(1000))
    # $1000.00 of value exactly fits the limit; the fee does not.
    result = evaluate(doc, "guard", preview, outflow_usd=usd, window_used_usd=Decimal(0), tx=tx)
    assert [v["rule"] for v in result.violations] == ["outflow_limit"]
    assert result.decision == "approval_required"
