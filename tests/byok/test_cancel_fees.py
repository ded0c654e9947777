"""A BYOK cancel's preview shows exactly the gas and fees that are signed, on a real anvil with
automine off: the cancel on chain carries the preview's ``gasLimit``, ``maxFeePerGas`` and
``maxPriorityFeePerGas``; the simulation ran with them (``validation: true``); a stuck cancel
is re-bumped up to the preview's ``maxReplacementFeePerGas`` and no further; and a cancel whose
(wallet-chosen) fees exceed ``security.feeCapMultiple`` x the estimate is NOT sent to a human
for that reason (the ``fee_cap`` rule guards fees an agent wrote)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ACCOUNT0, Anvil
from helpers import wait_until

from mm_agent import Wallet
from mm_agent.evm.fees import bump
from mm_agent.evm.rpc import RpcClient
from mm_agent.local.state import Home
from mm_agent.security.pipeline import Engine
from mm_agent.wallets.byok.cancel import cancel_tx

CHAIN = 31337
FRESH = "0x00000000000000000000000000000000000Fee02"


def _int(value: str) -> int:
    return int(value, 16)


def _pool(chain: Anvil) -> list[dict[str, Any]]:
    content = chain.rpc("txpool_content")["pending"]
    return [tx for by_nonce in content.values() for tx in by_nonce.values()]


def _simulations(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every ``eth_simulateV1`` request sent (a pass-through spy: the node still answers)."""
    seen: list[dict[str, Any]] = []
    original = RpcClient.call

    def call(self: RpcClient, method: str, params: list[Any] | None = None) -> Any:
        if method == "eth_simulateV1" and params:
            seen.append(params[0])
        return original(self, method, params)

    monkeypatch.setattr(RpcClient, "call", call)
    return seen


def _stuck_transfer(wallet: Any, chain: Anvil) -> Any:
    chain.rpc("evm_setAutomine", [False])  # the chain fixture turns it back on
    stuck = wallet.transfer(to=FRESH, amount="0.25", chain_id=CHAIN, wallet_timeout=1)
    assert stuck.status == "SUBMITTED" and stuck.nonce is not None
    return stuck


def _cancel_in_background(wallet: Any, polling_id: str) -> tuple[threading.Thread,
                                                                  dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["req"] = wallet.requests.cancel(polling_id)
        except BaseException as exc:  # reported by the caller's assertion
            out["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, out


def _first_cancel(chain: Anvil, stuck_hash: str) -> dict[str, Any]:
    """The cancel as first broadcast (it takes the original's place in the pool)."""
    def found() -> dict[str, Any] | None:
        txs = [tx for tx in _pool(chain) if tx["hash"] != stuck_hash]
        return txs[0] if txs else None

    return wait_until(found, timeout=15, interval=0.01, what="the cancelling replacement")


def _assert_signed_as_previewed(tx: dict[str, Any], fees: dict[str, str]) -> None:
    assert _int(tx["gas"]) == int(fees["gasLimit"])
    assert _int(tx["maxFeePerGas"]) == int(fees["maxFeePerGas"])
    assert _int(tx["maxPriorityFeePerGas"]) == int(fees["maxPriorityFeePerGas"])


def _assert_simulated_with(sims: list[dict[str, Any]], fees: dict[str, str]) -> None:
    """The cancel's final simulation (the self-transfer's) validated with exactly ``fees``."""
    own = [s for s in sims
           if s["blockStateCalls"][0]["calls"][0].get("to", "").lower() == ACCOUNT0.lower()]
    assert own, "the cancel was not simulated"
    last = own[-1]
    call = last["blockStateCalls"][0]["calls"][0]
    assert last["validation"] is True
    assert _int(call["gas"]) == int(fees["gasLimit"])
    assert _int(call["maxFeePerGas"]) == int(fees["maxFeePerGas"])
    assert _int(call["maxPriorityFeePerGas"]) == int(fees["maxPriorityFeePerGas"])


def test_cancel_signs_the_previewed_fees_after_the_base_fee_rose(
        wallet: Any, chain: Anvil, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = _stuck_transfer(wallet, chain)
    original = chain.rpc("eth_getTransactionByHash", [stuck.tx_hash])
    # The next block's base fee jumps far above the original's max fee (without mining an
    # empty block: anvil would drop the original from its pool). The fee history shows it, so
    # the cancel's fees follow the new estimate and its simulation runs at that base fee.
    raised = 10 * _int(original["maxFeePerGas"])
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(raised)])
    sims = _simulations(monkeypatch)
    worker, out = _cancel_in_background(wallet, stuck.polling_id)
    first = _first_cancel(chain, stuck.tx_hash)
    chain.rpc("evm_mine")
    worker.join(timeout=30)
    assert "error" not in out, out.get("error")
    req = out["req"]
    assert req.status == "DENIED" and req.error["code"] == "TX_CANCELLED"
    preview = req.result["cancelPreview"]
    fees = preview["fees"]
    cancel_hash = req.result["cancelTxHash"]
    assert cancel_hash == first["hash"]
    mined = chain.rpc("eth_getTransactionByHash", [cancel_hash])
    assert mined["blockNumber"] is not None and _int(mined["nonce"]) == stuck.nonce
    assert mined["to"].lower() == ACCOUNT0.lower() and _int(mined["value"]) == 0
    _assert_signed_as_previewed(mined, fees)
    _assert_simulated_with(sims, fees)
    assert preview["simulation"]["success"] is True
    # Above the original (replaceable) and at the raised estimate, not the stale one.
    assert int(fees["baseFee"]) == raised
    assert int(fees["maxFeePerGas"]) > 2 * raised
    assert _int(chain.rpc("eth_getBlockByNumber", [mined["blockNumber"], False])[
        "baseFeePerGas"]) == raised
    assert int(fees["maxPriorityFeePerGas"]) >= bump(_int(original["maxPriorityFeePerGas"]))
    assert int(fees["maxReplacementFeePerGas"]) >= int(fees["maxFeePerGas"])
    assert int(fees["worstCaseFeeWei"]) == (int(fees["gasLimit"])
                                            * int(fees["maxReplacementFeePerGas"]))
    assert chain.rpc("eth_getTransactionReceipt", [stuck.tx_hash]) is None
    assert chain.balance(FRESH) == 0


def test_a_stuck_cancel_is_rebumped_up_to_the_disclosed_ceiling_only(
        wallet: Any, chain: Anvil, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = _stuck_transfer(wallet, chain)
    # From here on replacements come quickly and often: the ceiling, not the attempt count,
    # is what must stop the cancel's re-bumps.
    made = Engine.submitter

    def submitter(self: Engine, chain_id: int) -> Any:
        sub = made(self, chain_id)
        sub.stuck_after, sub.max_replacements, sub.poll_interval = 0.05, 30, 0.01
        return sub

    monkeypatch.setattr(Engine, "submitter", submitter)
    worker, out = _cancel_in_background(wallet, stuck.polling_id)
    # Nothing is mined (automine off): the cancel is stuck and the submitter re-bumps it.
    first = _first_cancel(chain, stuck.tx_hash)

    # The ceiling is 3x the first cancel's max fee: the re-bumps stop below it.
    ceiling = 3 * _int(first["maxFeePerGas"])

    def capped() -> dict[str, Any] | None:
        pool = _pool(chain)
        if len(pool) != 1 or pool[0]["hash"] == first["hash"]:
            return None
        return pool[0] if bump(_int(pool[0]["maxFeePerGas"])) > ceiling else None

    last = wait_until(capped, timeout=15, interval=0.01, what="re-bumps up to the ceiling")
    assert _int(last["maxFeePerGas"]) <= ceiling
    # Mined at a base fee only the last re-bump can pay.
    base_fee = _int(last["maxFeePerGas"]) - _int(last["maxPriorityFeePerGas"])
    assert base_fee > _int(first["maxFeePerGas"])
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
    chain.rpc("evm_mine")
    worker.join(timeout=30)
    assert "error" not in out, out.get("error")
    req = out["req"]
    assert req.status == "DENIED" and req.error["code"] == "TX_CANCELLED"
    fees = req.result["cancelPreview"]["fees"]
    _assert_signed_as_previewed(first, fees)  # the first broadcast: exactly the preview
    assert int(fees["maxReplacementFeePerGas"]) == ceiling
    mined = chain.rpc("eth_getTransactionByHash", [req.result["cancelTxHash"]])
    assert mined["hash"] == last["hash"] and _int(mined["maxFeePerGas"]) <= ceiling
    receipt = chain.rpc("eth_getTransactionReceipt", [mined["hash"]])
    assert _int(receipt["gasUsed"]) * _int(receipt["effectiveGasPrice"]) <= int(
        fees["worstCaseFeeWei"])


@pytest.mark.parametrize("headless", [False, True], ids=["terminal", "headless"])
def test_cancel_above_the_fee_cap_multiple_needs_no_human(
        byok_home: Home, chain: Anvil, monkeypatch: pytest.MonkeyPatch, headless: bool) -> None:
    # Tight cap: the cancel's 1.125^4 bump (~1.6x) is above 1.2x the estimate.
    monkeypatch.setenv("MM_FEE_CAP_MULTIPLE", "1.2")
    asked: list[str] = []
    hook: Callable[[dict[str, Any], str], bool] | None = None
    if not headless:
        def hook(preview: dict[str, Any], reason: str) -> bool:
            asked.append(reason)
            return False  # a prompt would deny the cancel

    w = Wallet.from_env(home=byok_home, approval_hook=hook)
    stuck = _stuck_transfer(w, chain)
    original = chain.rpc("eth_getTransactionByHash", [stuck.tx_hash])
    # What the engine alone says of these fees: fee_cap (as for an agent's payload).
    engine = w.engine
    rpc = engine.rpc(CHAIN)
    tx = cancel_tx(rpc, ACCOUNT0, _int(original["maxFeePerGas"]),
                   _int(original["maxPriorityFeePerGas"]))
    bare = engine.preview_transaction(CHAIN, ACCOUNT0, tx, intent="cancel")
    assert [v["rule"] for v in bare.policy.violations] == ["fee_cap"]
    worker, out = _cancel_in_background(w, stuck.polling_id)
    first = _first_cancel(chain, stuck.tx_hash)
    chain.rpc("evm_mine")
    worker.join(timeout=30)
    assert "error" not in out, out.get("error")  # no APPROVAL_REQUIRED, no TX_DENIED
    assert asked == []
    req = out["req"]
    assert req.status == "DENIED" and req.error["code"] == "TX_CANCELLED"
    preview = req.result["cancelPreview"]
    assert preview["policy"] == {"decision": "allow", "violations": []}
    assert preview["requiresApproval"] is False
    fees = preview["fees"]
    assert int(fees["maxFeePerGas"]) == int(tx["maxFeePerGas"])  # the same wallet rule
    _assert_signed_as_previewed(first, fees)
    mined = chain.rpc("eth_getTransactionByHash", [req.result["cancelTxHash"]])
    _assert_signed_as_previewed(mined, fees)
