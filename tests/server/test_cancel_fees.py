"""A server-wallet cancel's ``cancelPreview`` shows exactly the gas and fees that are signed, on
the real anvil with automine off: the cancel on chain carries the preview's ``gasLimit``,
``maxFeePerGas`` and ``maxPriorityFeePerGas``; the simulation ran with them (``validation:
true``); nothing re-bumps the cancel (the original job's own replacements are underpriced
against it), so its disclosed ``maxReplacementFeePerGas`` is never reached; a stuck cancel is
cancelled again above it; and fees above ``security.feeCapMultiple`` x the estimate (the
wallet's, not an agent's) do not make it wait for a human."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import wait_until

from mm_agent.errors import RpcError
from mm_agent.evm.fees import bump, estimate_fees
from mm_agent.evm.rpc import RpcClient

from .test_cancel import _wait_status
from .test_jobs import BOB, Api, funded  # noqa: F401  (fixture)


def _int(value: str) -> int:
    return int(value, 16)


def _spy(monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict[str, Any]], list[str]]:
    """A pass-through spy (the node still answers): every ``eth_simulateV1`` request, and the
    outcome of every ``eth_sendRawTransaction`` ("ok" or the node's refusal)."""
    sims: list[dict[str, Any]] = []
    sends: list[str] = []
    original = RpcClient.call

    def call(self: RpcClient, method: str, params: list[Any] | None = None) -> Any:
        if method == "eth_simulateV1" and params:
            sims.append(params[0])
        if method != "eth_sendRawTransaction":
            return original(self, method, params)
        try:
            out = original(self, method, params)
        except RpcError as exc:
            sends.append(exc.message)
            raise
        sends.append("ok")
        return out

    monkeypatch.setattr(RpcClient, "call", call)
    return sims, sends


def _stuck_transfer(api: Api, address: str, chain: Any) -> dict[str, Any]:
    chain.rpc("evm_setAutomine", [False])  # the chain fixture turns it back on
    req = api.submit(address, {"kind": "transfer", "chainId": 31337, "to": BOB,
                               "amount": "0.5"})
    return _wait_status(api, req["pollingId"], "SUBMITTED")


def _cancel(api: Api, polling_id: str) -> dict[str, Any]:
    status, out = api.call("POST", f"/v1/requests/{polling_id}/cancel", json={})
    assert status == 200, out
    return dict(out["data"])


def _assert_signed_as_previewed(tx: dict[str, Any], fees: dict[str, str]) -> None:
    assert _int(tx["gas"]) == int(fees["gasLimit"])
    assert _int(tx["maxFeePerGas"]) == int(fees["maxFeePerGas"])
    assert _int(tx["maxPriorityFeePerGas"]) == int(fees["maxPriorityFeePerGas"])


def _assert_simulated_with(sims: list[dict[str, Any]], address: str,
                           fees: dict[str, str]) -> None:
    own = [s for s in sims
           if s["blockStateCalls"][0]["calls"][0].get("to", "").lower() == address.lower()]
    assert own, "the cancel was not simulated"
    call = own[-1]["blockStateCalls"][0]["calls"][0]
    assert own[-1]["validation"] is True
    assert _int(call["gas"]) == int(fees["gasLimit"])
    assert _int(call["maxFeePerGas"]) == int(fees["maxFeePerGas"])
    assert _int(call["maxPriorityFeePerGas"]) == int(fees["maxPriorityFeePerGas"])


def test_cancel_preview_is_what_is_signed_after_the_base_fee_rose(
        funded: tuple[Api, str, Any],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    api, address, chain = funded
    sub = _stuck_transfer(api, address, chain)
    original = chain.rpc("eth_getTransactionByHash", [sub["txHash"]])
    # The next block's base fee jumps above the original's max fee (no block mined: anvil
    # would drop the original); the fee history shows it, so the cancel follows the estimate.
    raised = 10 * _int(original["maxFeePerGas"])
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(raised)])
    sims, sends = _spy(monkeypatch)
    data = _cancel(api, sub["pollingId"])
    preview, cancel_hash = data["result"]["cancelPreview"], data["result"]["cancelTxHash"]
    fees = preview["fees"]
    assert preview["simulation"]["success"] is True and preview["requiresApproval"] is False
    _assert_simulated_with(sims, address, fees)
    assert int(fees["baseFee"]) == raised and int(fees["maxFeePerGas"]) > 2 * raised
    assert int(fees["maxPriorityFeePerGas"]) >= bump(_int(original["maxPriorityFeePerGas"]))
    assert int(fees["worstCaseFeeWei"]) == (int(fees["gasLimit"])
                                            * int(fees["maxReplacementFeePerGas"]))
    _assert_signed_as_previewed(chain.rpc("eth_getTransactionByHash", [cancel_hash]), fees)
    assert sends == ["ok"]  # the cancel, broadcast once
    chain.rpc("evm_mine")
    done = _wait_status(api, sub["pollingId"], "DENIED")
    assert done["error"]["code"] == "TX_CANCELLED" and cancel_hash in done["error"]["message"]
    mined = chain.rpc("eth_getTransactionByHash", [cancel_hash])
    assert mined["blockNumber"] is not None and _int(mined["nonce"]) == sub["nonce"]
    assert mined["to"].lower() == address.lower() and _int(mined["value"]) == 0
    _assert_signed_as_previewed(mined, fees)
    assert _int(mined["maxFeePerGas"]) <= int(fees["maxReplacementFeePerGas"])
    block = chain.rpc("eth_getBlockByNumber", [mined["blockNumber"], False])
    assert _int(block["baseFeePerGas"]) == raised
    assert chain.rpc("eth_getTransactionReceipt", [sub["txHash"]]) is None


def test_a_stuck_cancel_is_cancelled_again_above_it(
        funded: tuple[Api, str, Any]) -> None:  # noqa: F811
    api, address, chain = funded
    sub = _stuck_transfer(api, address, chain)
    first = _cancel(api, sub["pollingId"])["result"]
    sent = chain.rpc("eth_getTransactionByHash", [first["cancelTxHash"]])
    _assert_signed_as_previewed(sent, first["cancelPreview"]["fees"])
    # The base fee overtakes the first cancel too: a second cancel must replace it.
    chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(3 * _int(sent["maxFeePerGas"]))])
    second = _cancel(api, sub["pollingId"])["result"]
    assert second["cancelTxHash"] != first["cancelTxHash"]
    fees = second["cancelPreview"]["fees"]
    assert int(fees["maxFeePerGas"]) >= bump(_int(sent["maxFeePerGas"]))
    assert int(fees["maxPriorityFeePerGas"]) >= bump(_int(sent["maxPriorityFeePerGas"]))
    chain.rpc("evm_mine")
    done = _wait_status(api, sub["pollingId"], "DENIED")
    assert done["error"]["code"] == "TX_CANCELLED"
    assert second["cancelTxHash"] in done["error"]["message"]
    _assert_signed_as_previewed(
        chain.rpc("eth_getTransactionByHash", [second["cancelTxHash"]]), fees)
    assert chain.rpc("eth_getTransactionReceipt", [first["cancelTxHash"]]) is None


def test_cancel_above_the_fee_cap_is_not_held_for_a_human_nor_displaced(
        service: Any, funded: tuple[Api, str, Any],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    api, address, chain = funded
    # Tight cap: the cancel's 1.125^4 bump (~1.6x the first fees) is above 1.2x the estimate.
    service.state.config.set("security.feeCapMultiple", "1.2")
    # The original job's own stuck-transaction replacements come every second once the
    # confirmer hands it back (after 5 s): they must not displace the cancel.
    service.state.config.set("smartTransactions.stuckAfterSeconds", "1")
    sub = _stuck_transfer(api, address, chain)
    original = chain.rpc("eth_getTransactionByHash", [sub["txHash"]])
    _sims, sends = _spy(monkeypatch)
    data = _cancel(api, sub["pollingId"])
    assert data["status"] == "SUBMITTED"  # not AWAITING_MFA: nobody is asked
    preview = data["result"]["cancelPreview"]
    fees = preview["fees"]
    assert preview["policy"] == {"decision": "allow", "violations": []}
    assert preview["requiresApproval"] is False
    bumped = _int(original["maxFeePerGas"])
    for _ in range(4):
        bumped = bump(bumped)
    assert int(fees["maxFeePerGas"]) == bumped
    rpc = RpcClient(chain.url)
    try:
        estimate = estimate_fees(rpc).max_fee_per_gas
    finally:
        rpc.close()
    assert int(fees["maxFeePerGas"]) * 10 > 12 * estimate  # above the 1.2x fee cap
    cancel_hash = data["result"]["cancelTxHash"]
    # Nothing re-bumps the cancel; the original's replacements (1.125 x its first fees) are
    # refused as underpriced against it.
    wait_until(lambda: len(sends) >= 3, timeout=15, interval=0.05,
               what="the original job's replacement attempts")
    assert sends[0] == "ok" and all("underpriced" in out for out in sends[1:]), sends
    pool = chain.rpc("txpool_content")["pending"]
    assert [tx["hash"] for txs in pool.values() for tx in txs.values()] == [cancel_hash]
    chain.rpc("evm_mine")
    done = _wait_status(api, sub["pollingId"], "DENIED")
    assert done["error"]["code"] == "TX_CANCELLED"
    _assert_signed_as_previewed(chain.rpc("eth_getTransactionByHash", [cancel_hash]), fees)
