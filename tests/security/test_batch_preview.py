"""A wallet's queued transactions previewed in ONE ``eth_simulateV1`` call (sequential blocks),
on a real anvil.

The property that matters: batching never changes what a preview says. Preview i of a batch
equals what ``preview_transaction`` says for transaction i once transactions 0..i-1 really
executed (signed with the test key, sent, mined), and the receipts' gasUsed equal the previews'.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT0, ACCOUNT1, TEST_MNEMONIC
from eth_abi import encode
from helpers import wait_until
from sec_helpers import FRESH, FRESH2, RpcProxy, calldata, send_unlocked

from mm_agent.errors import InsufficientFunds, NonceNotAllowed, TxReverted
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.fees import TxFees
from mm_agent.evm.rpc import RpcClient
from mm_agent.evm.signing import sign_transaction
from mm_agent.local.config import Config
from mm_agent.local.state import Home
from mm_agent.security.pipeline import Engine
from mm_agent.security.simulate import BLOCK_SECONDS, sequential_block_overrides
from mm_agent.security.txplan import plan_transactions
from mm_agent.wallets.byok.mnemonic import derive_private_key

CHAIN = 31337
SENDER = ACCOUNT0  # the byok wallet's account 0: holds the demo tokens
KEY = derive_private_key(TEST_MNEMONIC, 0)
ATTACKER = "0x3333333333333333333333333333333333333333"
POOR = "0x4444444444444444444444444444444444444444"
ETH = 10**18
ARTIFACT = Path(__file__).parent / "contracts" / "SimTrap.json"


class CountingRpc(RpcClient):
    """The real client, recording each round trip: ``("batch", [methods])`` or the method."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.trips: list[Any] = []
        self.params: dict[str, list[Any]] = {}

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        self.trips.append(method)
        self.params.setdefault(method, []).append(params)
        return super().call(method, params)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        self.trips.append(("batch", [m for m, _ in calls]))
        return super().batch(calls)


@pytest.fixture
def engine(byok_home: Home) -> Engine:
    return Engine(byok_home, Config(byok_home, env={}))


@pytest.fixture
def trap(chain: Any) -> str:
    art = json.loads(ARTIFACT.read_text())
    data = art["bytecode"] + encode(["address"], [ATTACKER]).hex()
    receipt = send_unlocked(chain, ACCOUNT1, None, data)  # type: ignore[arg-type]
    return to_checksum_address(receipt["contractAddress"])


def counting(engine: Engine, chain: Any) -> CountingRpc:
    """Put a counting client where the engine keeps its client for the devnet URL."""
    rpc = CountingRpc(chain.url)
    engine._rpcs[chain.url] = rpc
    return rpc


def steady_fees(chain: Any) -> int:
    """Make the fee estimate the same before and after each real execution: ten empty blocks
    (tips at the estimate's floor, as our transactions pay) and a fixed next base fee."""
    chain.rpc("anvil_mine", [hex(10)])
    base = int(chain.rpc("eth_feeHistory", ["0x1", "latest", [50]])["baseFeePerGas"][-1], 16)
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
    return base


def execute(chain: Any, tx: dict[str, Any], nonce: int, *, when: int, base: int) -> dict[str, Any]:
    """Sign ``tx`` with the test key and mine it alone in a block at ``when`` whose base fee is
    ``base`` (the block the batch simulated it in); the next block keeps that base fee."""
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
    chain.rpc("evm_setNextBlockTimestamp", [hex(when)])
    raw, tx_hash = sign_transaction(KEY, {**tx, "nonce": nonce})
    chain.rpc("eth_sendRawTransaction", [raw])
    receipt = wait_until(lambda: chain.rpc("eth_getTransactionReceipt", [tx_hash]), timeout=10,
                         interval=0.01, what="a batch transaction to be mined")
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
    return dict(receipt)


def unsigned(tx: dict[str, Any], fees: dict[str, str]) -> dict[str, Any]:
    return {"type": 2, "chainId": CHAIN, "to": tx["to"], "value": int(tx.get("value") or 0),
            "data": tx.get("data") or "0x", **TxFees.from_dict(fees).to_tx()}


def mixed_batch(chain: Any, trap: str) -> list[tuple[dict[str, Any], str | None]]:
    musd = chain.token("mUSD")["address"]
    held = chain.erc20_balance(musd, SENDER)
    left = 400 * 10**6
    pull = 250 * 10**6

    def erc20(data: str) -> dict[str, Any]:
        return {"to": musd, "value": 0, "data": data}

    return [
        ({"to": FRESH, "value": ETH, "data": "0x"}, None),
        (erc20(calldata("transfer(address,uint256)", FRESH2, held - left)), None),
        # "Large" only against the 400 mUSD the transfer above leaves: the scan must judge
        # it on the batch's state, not on latest.
        (erc20(calldata("approve(address,uint256)", trap, pull)), None),
        # Succeeds only because of the approval above.
        ({"to": trap, "value": 0, "data": calldata("pullIfPriced(address,uint256)", musd, pull)},
         None),
        # No gas given: round 1 learns it with all the gas there is, round 2 runs with the
        # signed limit (the friendly branch above 1M gas would hide the drain).
        ({"to": trap, "value": ETH // 10, "data": calldata("claimGasLeft()")}, None),
        ({"to": FRESH2, "value": ETH // 2, "data": "0x"}, "Pay FRESH2"),
        (erc20(calldata("transfer(address,uint256)", FRESH, left - pull)), None),  # drains
        (erc20(calldata("transfer(address,uint256)", FRESH2, 1)), None),  # reverts: drained
    ]


def test_batch_previews_equal_previews_after_real_execution(chain: Any, engine: Engine,
                                                            trap: str) -> None:
    items = mixed_batch(chain, trap)
    # The dependencies are real: alone, on today's state, the pull reverts (no allowance)
    # and the last transfer succeeds (the wallet still holds ~1M mUSD).
    assert not engine.preview_transaction(CHAIN, SENDER, items[3][0]).simulation["success"]
    assert engine.preview_transaction(CHAIN, SENDER, items[7][0]).simulation["success"]
    base = steady_fees(chain)
    rpc = counting(engine, chain)
    batch = engine.preview_transactions(CHAIN, SENDER, items)
    sims = rpc.trips.count("eth_simulateV1")
    assert sims == 2, rpc.trips  # round 1 + round 2 (the gasLeft call's limit changed)
    assert len(batch) == len(items)
    assert [p.simulation["success"] for p in batch] == [True] * 7 + [False]
    # Judged against the 400 mUSD left, not the ~1M held now (which would make it "Info").
    assert "LARGE_APPROVAL_UNKNOWN_CONTRACT" in {f["featureId"] for f in batch[2].scan["features"]}
    now = engine.preview_transaction(CHAIN, SENDER, items[2][0])
    assert "LARGE_APPROVAL_UNKNOWN_CONTRACT" not in {f["featureId"] for f in now.scan["features"]}
    prepared = engine.prepare_transactions(CHAIN, SENDER, [(tx, p) for (tx, _), p in
                                                           zip(items, batch, strict=True)])
    assert all(isinstance(p, dict) for p in prepared[:7])
    assert isinstance(prepared[7], TxReverted)

    latest = chain.rpc("eth_getBlockByNumber", ["latest", False])
    first_time = int(latest["timestamp"], 16) + BLOCK_SECONDS[CHAIN]
    nonce = int(chain.rpc("eth_getTransactionCount", [SENDER, "latest"]), 16)
    for k, ((tx, intent), preview) in enumerate(zip(items, batch, strict=True)):
        alone = engine.preview_transaction(CHAIN, SENDER, tx, intent=intent)
        assert alone.to_dict() == preview.to_dict(), k
        assert alone.executable == preview.executable, k
        signed = prepared[k] if isinstance(prepared[k], dict) else unsigned(tx, preview.fees or {})
        receipt = execute(chain, signed, nonce + k, when=first_time + k, base=base)
        assert int(receipt["blockNumber"], 16) == int(latest["number"], 16) + 1 + k
        assert int(receipt["status"], 16) == (1 if k < 7 else 0), k
        assert int(receipt["gasUsed"], 16) == int(preview.simulation["gasUsed"]), k
    assert chain.erc20_balance(chain.token("mUSD")["address"], ATTACKER) == 250 * 10**6


def test_one_context_trip_and_one_simulation_per_round(chain: Any, engine: Engine,
                                                       trap: str) -> None:
    items = mixed_batch(chain, trap)
    rpc = CountingRpc(chain.url)
    plans = plan_transactions(rpc, CHAIN, SENDER, [tx for tx, _ in items],
                              **engine.plan_options(CHAIN))
    assert len(plans) == len(items)
    context, *rest = rpc.trips
    # fee history, latest block, balance, and the code of each distinct unknown `to`
    assert context == ("batch", ["eth_feeHistory", "eth_getBlockByNumber", "eth_getBalance",
                                 "eth_getCode", "eth_getCode", "eth_getCode", "eth_getCode"])
    assert rest == ["eth_simulateV1", "eth_simulateV1"]
    # Sequential blocks: one transaction per block, numbers and times one block apart.
    latest = chain.rpc("eth_getBlockByNumber", ["latest", False])
    for params in rpc.params["eth_simulateV1"]:
        states = params[0]["blockStateCalls"]
        assert params[0]["validation"] is True
        assert [len(s["calls"]) for s in states] == [1] * len(items)
        numbers = [int(s["blockOverrides"]["number"], 16) for s in states]
        times = [int(s["blockOverrides"]["time"], 16) for s in states]
        assert numbers == [int(latest["number"], 16) + 1 + k for k in range(len(items))]
        assert times == [int(latest["timestamp"], 16) + 1 + k for k in range(len(items))]
        assert len({s["blockOverrides"]["baseFeePerGas"] for s in states}) == 1
        assert all("nonce" not in s["calls"][0] for s in states)  # the node's state nonce
    # Plain payments only: no round 2, and the codes are cached after the first time.
    plain = [{"to": FRESH, "value": k + 1, "data": "0x"} for k in range(32)]
    rpc.trips.clear()
    assert len(plan_transactions(rpc, CHAIN, SENDER, plain, **engine.plan_options(CHAIN))) == 32
    assert rpc.trips == [("batch", ["eth_feeHistory", "eth_getBlockByNumber",
                                    "eth_getBalance"]), "eth_simulateV1"]


def test_sequential_block_overrides() -> None:
    latest = {"number": "0x10", "timestamp": hex(1_000), "miner": "0x" + "ab" * 20}
    blocks = sequential_block_overrides(8453, latest, 7, 3, now=0)
    assert [b["number"] for b in blocks] == ["0x11", "0x12", "0x13"]
    assert [int(b["time"], 16) for b in blocks] == [1_002, 1_004, 1_006]
    assert {b["baseFeePerGas"] for b in blocks} == {"0x7"}
    assert {b["feeRecipient"] for b in blocks} == {"0x" + "ab" * 20}
    # Block 0 is exactly next_block_overrides (an idle chain: the wall clock).
    assert int(sequential_block_overrides(1, latest, 7, 2, now=5_000)[1]["time"], 16) == 5_012


def test_one_item_equals_preview_transaction(chain: Any, engine: Engine, trap: str) -> None:
    steady_fees(chain)
    musd = chain.token("mUSD")["address"]
    for tx in ({"to": FRESH, "value": ETH, "data": "0x"},
               {"to": musd, "value": 0, "data": calldata("transfer(address,uint256)", FRESH, 5)},
               {"to": trap, "value": ETH // 10, "data": calldata("claimGasLeft()")},
               {"to": trap, "value": 0, "data": calldata("claimGasPrice()"), "gas": 30_000}):
        [batched] = engine.preview_transactions(CHAIN, SENDER, [(tx, None)])
        assert batched.to_dict() == engine.preview_transaction(CHAIN, SENDER, tx).to_dict()


def test_payload_nonces_follow_the_batch(chain: Any, engine: Engine) -> None:
    first = engine.next_nonce(CHAIN, SENDER)
    txs = [{"to": FRESH, "value": k + 1, "data": "0x"} for k in range(4)]
    ok = [({**tx, "nonce": first + k}, None) for k, tx in enumerate(txs)]
    assert len(engine.preview_transactions(CHAIN, SENDER, ok)) == 4
    # A wrong nonce in the middle: the batch stops before it (previewed alone, it errs).
    bad = [ok[0], ok[1], ({**txs[2], "nonce": first}, None), ok[3]]
    assert len(engine.preview_transactions(CHAIN, SENDER, bad)) == 2
    with pytest.raises(NonceNotAllowed):
        engine.preview_transactions(CHAIN, SENDER, [({**txs[0], "nonce": first + 1}, None)])


def test_a_call_the_node_refuses_ends_the_batch(chain: Any, engine: Engine) -> None:
    """Gas below 21 000: a validating node refuses the whole request, so the batch stops
    before it; first in line, it is previewed as preview_transaction previews it."""
    pays = [({"to": FRESH, "value": k + 1, "data": "0x"}, None) for k in range(3)]
    low = ({"to": FRESH2, "value": 1, "data": "0x", "gas": 20_000}, None)
    assert len(engine.preview_transactions(CHAIN, SENDER, [pays[0], pays[1], low, pays[2]])) == 2
    [alone] = engine.preview_transactions(CHAIN, SENDER, [low, *pays])
    assert alone.simulation["success"] is False
    assert alone.to_dict() == engine.preview_transaction(CHAIN, SENDER, low[0]).to_dict()


def test_a_reverting_call_ends_the_batch_after_it(chain: Any, engine: Engine) -> None:
    """A revert in the first round (its gas limit known up front, so no second round): the
    list stops WITH the reverting one (it once crashed on the unfunded-list length)."""
    reverter = chain.contract("Reverter")
    pay = ({"to": FRESH, "value": 1, "data": "0x"}, None)
    revert = ({"to": reverter, "value": 0, "data": "0xa9cc4718", "gas": 100_000}, None)
    out = engine.preview_transactions(CHAIN, SENDER, [pay, revert, pay, pay])
    assert len(out) == 2
    assert out[0].simulation["success"] is True and out[1].simulation["success"] is False


def test_funds_are_shared_along_the_batch(chain: Any, engine: Engine) -> None:
    chain.rpc("anvil_setBalance", [POOR, hex(10 * ETH)])
    pays = [({"to": FRESH, "value": ETH, "data": "0x"}, None) for _ in range(3)]
    rpc = counting(engine, chain)
    previews = engine.preview_transactions(CHAIN, POOR, pays)
    assert len(previews) == 3 and all(p.executable for p in previews)
    # Funds fell meanwhile: the third no longer fits after what the first two may spend.
    fee = TxFees.from_dict(previews[0].fees or {}).signed_fee
    chain.rpc("anvil_setBalance", [POOR, hex(2 * (ETH + fee) + ETH // 2)])
    rpc.trips.clear()
    out = engine.prepare_transactions(CHAIN, POOR, [(tx, p) for (tx, _), p in
                                                    zip(pays, previews, strict=True)])
    assert rpc.trips == ["eth_getBalance"]
    assert isinstance(out[0], dict) and isinstance(out[1], dict)
    assert isinstance(out[2], InsufficientFunds)
    # A reverting item gets TX_REVERTED in its slot and spends nothing.
    reverted = dataclasses.replace(previews[0], simulation={**(previews[0].simulation or {}),
                                                            "success": False})
    out = engine.prepare_transactions(CHAIN, POOR, [(pays[0][0], reverted),
                                                    (pays[1][0], previews[1]),
                                                    (pays[2][0], previews[2])])
    assert isinstance(out[0], TxReverted) and isinstance(out[1], dict)
    assert isinstance(out[2], dict)
    # Planning shares the balance too: with 2.5 ETH the third payment is not planned, and a
    # wallet that cannot pay for the first gets it alone, not executable (as one preview).
    chain.rpc("anvil_setBalance", [POOR, hex(2 * ETH + ETH // 2)])
    assert len(engine.preview_transactions(CHAIN, POOR, pays)) == 2
    chain.rpc("anvil_setBalance", [POOR, hex(ETH + fee // 2)])  # the value, not the gas
    [alone] = engine.preview_transactions(CHAIN, POOR, pays)
    assert alone.executable is False
    assert alone.to_dict() == engine.preview_transaction(CHAIN, POOR, pays[0][0]).to_dict()


def test_node_without_simulate_v1_plans_the_first_alone(chain: Any, engine: Engine) -> None:
    proxy = RpcProxy(chain.url, refuse={"eth_simulateV1"})
    try:
        txs = [{"to": FRESH, "value": k + 1, "data": "0x"} for k in range(3)]
        plans = plan_transactions(RpcClient(proxy.url), CHAIN, SENDER, txs,
                                  **engine.plan_options(CHAIN))
        assert len(plans) == 1
        assert plans[0].simulation["method"] == "fallback" and plans[0].simulation["success"]
        assert proxy.count("eth_simulateV1") == 1  # asked once, then the fallback
    finally:
        proxy.stop()
