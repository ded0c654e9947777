"""Issue 9 (classes 2 and 7): a stuck transaction's replacements never exceed the fee ceiling
the preview disclosed (``fees.maxReplacementFeePerGas``), and the guard's outflow counts the
worst case with that ceiling (``worstCaseFeeWei`` = gas limit x ceiling). One rule for both
wallet modes: BYOK end to end on a paused anvil; the server's ceiling is the one stored with
what the human was shown (``approval_guard``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TEST_MNEMONIC, start_anvil
from helpers import wait_until
from sec_helpers import FRESH, make_wallet

from mm_agent.evm.fees import FEE_CAP_MULTIPLIER, TxFees, bump
from mm_agent.evm.rpc import RpcClient
from mm_agent.local.state import Home
from mm_agent.security.pipeline import Engine
from mm_agent.server.services.approval_guard import (
    replacement_ceiling,
    shown_fees,
    shown_snapshot,
    signable_digest,
)

CHAIN = 31337
GWEI = 10**9


@pytest.fixture
def paused_chain() -> Iterator[RpcClient]:
    """A fresh anvil that mines only on ``evm_mine``."""
    url, proc = start_anvil("--no-mining")
    rpc = RpcClient(url)
    yield rpc
    rpc.close()
    proc.terminate()
    proc.wait(timeout=10)


def _int(value: str) -> int:
    return int(value, 16)


def _fast_submitter(monkeypatch: pytest.MonkeyPatch, *, replacements: int = 30) -> None:
    """Replace quickly and often, so the ceiling (not the attempt count) is what binds."""
    original = Engine.submitter

    def submitter(self: Engine, chain_id: int) -> Any:
        sub = original(self, chain_id)
        sub.stuck_after, sub.max_replacements, sub.poll_interval = 0.05, replacements, 0.01
        return sub

    monkeypatch.setattr(Engine, "submitter", submitter)


def _pool(rpc: RpcClient) -> list[dict[str, Any]]:
    content = rpc.call("txpool_content")["pending"]
    return [tx for by_nonce in content.values() for tx in by_nonce.values()]


def test_stuck_transfer_is_replaced_up_to_the_disclosed_ceiling_only(
        paused_chain: RpcClient, mm_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    from mm_agent.security.policy.evaluate import outflow_assets
    from mm_agent.wallets.byok.keyring import ByokKeyring

    mm_home.write_json("devnet.json", {"rpcUrl": paused_chain.url, "chainId": CHAIN,
                                       "tokens": [], "contracts": {}})
    mm_home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    w = make_wallet(mm_home)
    _fast_submitter(monkeypatch)

    # The preview discloses the ceiling, and the guard's outflow counts gas limit x ceiling.
    value = 5 * 10**17
    tx, intent = w.engine.build_transfer(w.address, FRESH, "0.5", "ETH", CHAIN)
    preview = w.engine.preview_transaction(CHAIN, w.address, tx, intent=intent)
    fees = preview.fees
    assert fees is not None
    ceiling = int(fees["maxReplacementFeePerGas"])
    assert ceiling == FEE_CAP_MULTIPLIER * int(fees["maxFeePerGas"])
    assert int(fees["worstCaseFeeWei"]) == int(fees["gasLimit"]) * ceiling
    assert [units for _asset, units in outflow_assets(preview)] == [
        value + int(fees["gasLimit"]) * ceiling]

    out: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: out.update(req=w.transfer(to=FRESH, amount="0.5", chain_id=CHAIN,
                                                 wallet_timeout=30)), daemon=True)
    worker.start()
    wait_until(lambda: len(_pool(paused_chain)) == 1, timeout=10, interval=0.01,
               what="the first broadcast")
    first = _pool(paused_chain)[0]
    # The base fee rises far above the signed max fee: only a replacement can be mined. The
    # submitter bumps until one more bump would pass the ceiling, then stops.
    wait_until(lambda: bump(_int(_pool(paused_chain)[0]["maxFeePerGas"])) > ceiling,
               timeout=15, interval=0.01, what="replacements up to the ceiling")
    last = _pool(paused_chain)[0]
    assert _int(last["maxFeePerGas"]) <= ceiling
    base_fee = _int(last["maxFeePerGas"]) - _int(last["maxPriorityFeePerGas"])
    assert base_fee > _int(first["maxFeePerGas"])
    paused_chain.call("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
    paused_chain.call("evm_mine")
    worker.join(timeout=30)
    req = out["req"]
    assert req.status == "COMPLETED", req.error
    mined = paused_chain.call("eth_getTransactionByHash", [req.tx_hash])
    assert mined["nonce"] == first["nonce"] == "0x0"
    assert _int(mined["maxFeePerGas"]) <= ceiling
    assert req.result["replacements"] >= 5  # 2.0 -> ~5.8 gwei in 12.5 % steps
    assert int(req.preview["fees"]["maxReplacementFeePerGas"]) == ceiling
    # What it actually paid stays within the worst case the guard counted.
    receipt = paused_chain.call("eth_getTransactionReceipt", [req.tx_hash])
    paid = _int(receipt["gasUsed"]) * _int(receipt["effectiveGasPrice"])
    assert paid <= int(fees["worstCaseFeeWei"])


def test_engine_submit_honours_a_lower_disclosed_ceiling(
        paused_chain: RpcClient, mm_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ceiling below the default (e.g. the one stored with what a human was shown) binds."""
    from mm_agent.wallets.byok.keyring import ByokKeyring

    mm_home.write_json("devnet.json", {"rpcUrl": paused_chain.url, "chainId": CHAIN,
                                       "tokens": [], "contracts": {}})
    mm_home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    w = make_wallet(mm_home)
    _fast_submitter(monkeypatch)
    prepared = {"type": 2, "chainId": CHAIN, "to": FRESH, "value": 1, "data": "0x",
                "gas": 21_000, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI}
    ceiling = 23 * GWEI // 10  # one bump (2.25 gwei) fits, two (2.53) do not
    result = w.engine.submit(CHAIN, w.address, prepared,
                             lambda t: w.keyring.sign_transaction(w.address, t),
                             timeout=0.8, fee_ceiling=ceiling)
    assert not result.mined and result.capped
    assert result.replacements == 1
    sent = paused_chain.call("eth_getTransactionByHash", [result.hashes[-1]])
    assert _int(sent["maxFeePerGas"]) == bump(2 * GWEI) <= ceiling


# --- the server: the ceiling stored with what was shown ---------------------------------------
def _fees(max_fee: int, ceiling: int | None = None) -> dict[str, str]:
    return TxFees(21_000, max_fee, GWEI, GWEI, "estimate", ceiling).to_dict()


def test_shown_snapshot_keeps_the_ceiling_outside_the_digest() -> None:
    tx = {"to": FRESH, "value": 1, "data": "0x"}
    snap = shown_snapshot(CHAIN, {"fees": _fees(2 * GWEI)}, tx)
    assert snap["tx"]["maxReplacementFeePerGas"] == str(FEE_CAP_MULTIPLIER * 2 * GWEI)
    prepared = {"type": 2, "chainId": CHAIN, **tx, "gas": 21_000, "maxFeePerGas": 2 * GWEI,
                "maxPriorityFeePerGas": GWEI}
    assert signable_digest(prepared) == snap["digest"]  # the ceiling is not signed


def test_approved_fees_take_the_shown_ceiling_and_worst_case() -> None:
    shown = shown_snapshot(CHAIN, {"fees": _fees(2 * GWEI)}, {"to": FRESH, "value": 1})["tx"]
    # Fresher, higher fees at approval time: the shown ones (and their ceiling) are signed.
    fees = shown_fees(_fees(5 * GWEI), shown)
    assert fees["maxFeePerGas"] == str(2 * GWEI)
    assert fees["maxReplacementFeePerGas"] == str(6 * GWEI)
    assert fees["worstCaseFeeWei"] == str(21_000 * 6 * GWEI)


def test_replacement_ceiling_is_the_lowest_disclosed() -> None:
    prepared = {"maxFeePerGas": 2 * GWEI}
    assert replacement_ceiling(prepared) == FEE_CAP_MULTIPLIER * 2 * GWEI  # nothing stored
    assert replacement_ceiling(prepared, None, _fees(2 * GWEI)) == 6 * GWEI
    shown_tx = {"maxReplacementFeePerGas": str(4 * GWEI)}
    assert replacement_ceiling(prepared, shown_tx, _fees(2 * GWEI)) == 4 * GWEI
    # Never below what was signed (then a stuck transaction is simply not replaced).
    assert replacement_ceiling(prepared, {"maxReplacementFeePerGas": "1"}) == 2 * GWEI
    # A preview stored before the ceiling was disclosed: the same default rule.
    legacy = {k: v for k, v in _fees(2 * GWEI).items() if k != "maxReplacementFeePerGas"}
    assert TxFees.from_dict(legacy).replacement_ceiling == 6 * GWEI
