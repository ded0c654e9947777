"""Simulation fidelity on a real anvil (issue 9, class 1 and part of 10).

``SimTrap`` (tests/security/contracts) hands the caller's ETH back when the environment looks
like a naive simulation (gas price 0, base fee 0, a huge ``gasleft()``, a stale timestamp) and
gives it to an attacker otherwise. The preview must show the drain, sign exactly the previewed
gas and fees, and its balance changes must equal what the receipt's block did. A transaction
that reverts on chain after a successful preview is ``SIMULATION_MISMATCH``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from sec_helpers import calldata, deltas, make_wallet, send_unlocked, tx_payload

from mm_agent.evm.rpc import RpcClient
from mm_agent.local.state import Home
from mm_agent.security.simulate import BLOCK_SECONDS, next_block_overrides, simulation_request

CHAIN = 31337
ATTACKER = "0x3333333333333333333333333333333333333333"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil account 1 (unlocked)
VALUE = 10**17
ARTIFACT = Path(__file__).parent / "contracts" / "SimTrap.json"


def deploy_trap(chain: Any) -> str:
    art = json.loads(ARTIFACT.read_text())
    data = art["bytecode"] + encode(["address"], [ATTACKER]).hex()
    receipt = send_unlocked(chain, OTHER, None, data)  # type: ignore[arg-type]
    return str(receipt["contractAddress"])


def _latest(chain: Any) -> dict[str, Any]:
    return dict(chain.rpc("eth_getBlockByNumber", ["latest", False]))


@pytest.fixture
def trap(chain: Any) -> str:
    return deploy_trap(chain)


def _approve_all(_preview: dict[str, Any], _reason: str) -> bool:
    return True


def _naive_native_delta(chain: Any, sender: str, to: str, data: str) -> int:
    """What the old simulation (no fees, no block overrides) said the sender loses."""
    method, params = simulation_request({"from": sender, "to": to, "value": VALUE,
                                         "data": data})
    out = RpcClient(chain.url).call(method, params)
    logs = out[0]["calls"][0]["logs"]
    lost = 0
    for entry in logs:
        src, dst = ("0x" + t[-40:] for t in entry["topics"][1:3])
        amount = int(entry["data"], 16)
        lost += amount if src == sender.lower() else 0
        lost -= amount if dst == sender.lower() else 0
    return lost


def _check_execution(chain: Any, wallet: Any, preview: dict[str, Any], req: Any) -> None:
    """Signed gas/fees == the preview's; the preview's deltas == the chain's."""
    assert req.status == "COMPLETED", req.error
    tx = chain.rpc("eth_getTransactionByHash", [req.tx_hash])
    receipt = chain.rpc("eth_getTransactionReceipt", [req.tx_hash])
    fees = preview["fees"]
    assert int(tx["gas"], 16) == int(fees["gasLimit"])
    assert int(tx["maxFeePerGas"], 16) == int(fees["maxFeePerGas"])
    assert int(tx["maxPriorityFeePerGas"], 16) == int(fees["maxPriorityFeePerGas"])
    assert int(receipt["gasUsed"], 16) == int(preview["simulation"]["gasUsed"])
    block = int(receipt["blockNumber"], 16)
    paid = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert paid <= int(fees["worstCaseFeeWei"])
    for (holder, kind, _asset, _tid), delta in deltas(preview).items():
        assert kind == "native"
        before = int(chain.rpc("eth_getBalance", [holder, hex(block - 1)]), 16)
        after = int(chain.rpc("eth_getBalance", [holder, hex(block)]), 16)
        gas = paid if holder == wallet.address.lower() else 0
        assert after - before + gas == delta, holder


@pytest.mark.parametrize("fn", ["claimGasPrice()", "claimBaseFee()", "claimGasLeft()",
                                "claimTimestamp()"])
def test_preview_shows_what_the_chain_does(chain: Any, byok_home: Home, trap: str,
                                           fn: str) -> None:
    wallet = make_wallet(byok_home, hook=_approve_all)
    me = wallet.address
    data = calldata(fn)
    # The trap works: a naive simulation sees nothing leave.
    assert _naive_native_delta(chain, me, trap, data) == 0
    preview = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(trap, data, VALUE),
                                      dry_run=True)
    assert preview["simulation"]["success"], preview["simulation"]
    d = deltas(preview)
    assert d[(me.lower(), "native", None, None)] == -VALUE
    assert d[(ATTACKER.lower(), "native", None, None)] == VALUE
    assert preview["fees"]["source"] == "estimate"
    attacker_before = chain.balance(ATTACKER)
    if fn == "claimTimestamp()":
        # The trap arms one second after deployment, a time the latest block (what a naive
        # simulation uses) has not reached. The devnet's next block comes a block time (1 s
        # here) later, as the preview assumed; anvil's own clock would pick any second.
        latest = int(_latest(chain)["timestamp"], 16)
        chain.rpc("evm_setNextBlockTimestamp", [latest + BLOCK_SECONDS[CHAIN]])
    req = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(trap, data, VALUE))
    assert chain.balance(ATTACKER) - attacker_before == VALUE
    # The executed request's preview is the one that was signed.
    _check_execution(chain, wallet, req.preview, req)


def test_gasleft_branch_seen_with_an_agent_gas_limit(chain: Any, byok_home: Home,
                                                     trap: str) -> None:
    wallet = make_wallet(byok_home, hook=_approve_all)
    payload = {**tx_payload(trap, calldata("claimGasLeft()"), VALUE), "gas": hex(90_000)}
    preview = wallet.send_transaction(chain_id=CHAIN, payload=payload, dry_run=True)
    assert preview["fees"]["gasLimit"] == "90000"
    assert deltas(preview)[(ATTACKER.lower(), "native", None, None)] == VALUE
    req = wallet.send_transaction(chain_id=CHAIN, payload=payload)
    _check_execution(chain, wallet, req.preview, req)


def test_agent_gas_too_low_previews_the_out_of_gas_revert(chain: Any, byok_home: Home,
                                                          trap: str) -> None:
    wallet = make_wallet(byok_home, hook=_approve_all)
    payload = {**tx_payload(trap, calldata("claimGasPrice()"), VALUE), "gas": hex(30_000)}
    preview = wallet.send_transaction(chain_id=CHAIN, payload=payload, dry_run=True)
    assert preview["simulation"]["success"] is False
    block = chain.rpc("eth_blockNumber")
    req = wallet.send_transaction(chain_id=CHAIN, payload=payload)
    assert req.status == "FAILED" and req.error["code"] == "TX_REVERTED"
    assert chain.rpc("eth_blockNumber") == block


def test_token_pull_only_when_priced_is_previewed(chain: Any, byok_home: Home,
                                                  trap: str) -> None:
    wallet = make_wallet(byok_home, hook=_approve_all)
    me = wallet.address
    musd = chain.token("mUSD")["address"]
    amount = 250 * 10**6
    send_unlocked(chain, me, musd, calldata("approve(address,uint256)", trap, amount))
    data = calldata("pullIfPriced(address,uint256)", musd, amount)
    preview = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(trap, data),
                                      dry_run=True)
    d = deltas(preview)
    assert d[(me.lower(), "erc20", musd.lower(), None)] == -amount
    assert d[(ATTACKER.lower(), "erc20", musd.lower(), None)] == amount
    before = chain.erc20_balance(musd, ATTACKER)
    req = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(trap, data))
    assert req.status == "COMPLETED", req.error
    assert chain.erc20_balance(musd, ATTACKER) - before == amount
    assert int(chain.rpc("eth_getTransactionReceipt", [req.tx_hash])["gasUsed"], 16) == int(
        req.preview["simulation"]["gasUsed"])


def test_revert_after_successful_preview_is_simulation_mismatch(chain: Any, byok_home: Home,
                                                                trap: str) -> None:
    """Another account arms the trap between the preview and the broadcast (here: while the
    human looks at the preview): the chain reverts what the preview showed succeeding."""
    def arm_then_approve(_preview: dict[str, Any], _reason: str) -> bool:
        send_unlocked(chain, OTHER, trap, calldata("arm()"))
        return True

    wallet = make_wallet(byok_home, hook=arm_then_approve)
    payload = tx_payload(trap, calldata("claimUnlessArmed()"), VALUE)
    req = wallet.send_transaction(chain_id=CHAIN, payload=payload)
    assert req.preview["simulation"]["success"] is True
    assert req.status == "FAILED"
    assert req.error["code"] == "SIMULATION_MISMATCH", req.error
    receipt = chain.rpc("eth_getTransactionReceipt", [req.tx_hash])
    assert int(receipt["status"], 16) == 0


def test_block_overrides_describe_the_next_block() -> None:
    latest = {"number": "0x10", "timestamp": hex(1_000), "miner": "0x" + "ab" * 20}
    ov = next_block_overrides(1, latest, 7, now=500)
    assert ov == {"number": "0x11", "time": hex(1_000 + BLOCK_SECONDS[1]),
                  "baseFeePerGas": "0x7", "feeRecipient": "0x" + "ab" * 20}
    # An idle chain: the next block comes at the wall clock, not 12 s after an old one.
    assert next_block_overrides(1, latest, 7, now=5_000)["time"] == hex(5_000)
    assert next_block_overrides(8453, latest, 7, now=0)["time"] == hex(1_002)
    # The devnet keeps its own clock: one second after the latest block.
    assert next_block_overrides(31337, latest, 7, now=5_000)["time"] == hex(1_001)
