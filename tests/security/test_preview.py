"""The section-5 preview on a real anvil with the demo contracts: its exact shape, that a dry run
never signs or broadcasts, balance changes for every asset kind, exposures of approvals,
`mm decode`, and the simulation fallback for nodes without ``eth_simulateV1``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ACCOUNT1
from helpers import run_mm
from sec_helpers import (
    FRESH,
    MAX_UINT256,
    RpcProxy,
    calldata,
    check_preview_shape,
    deltas,
    make_wallet,
    nonce,
    send_unlocked,
    tx_payload,
)

CHAIN = 31337
ETH = 10**18


def _state(chain: Any, address: str) -> tuple[int, int, int]:
    """(latest nonce, pending nonce, block number): what a broadcast would change."""
    return (nonce(chain.rpc, address, "latest"), nonce(chain.rpc, address, "pending"),
            int(chain.rpc("eth_blockNumber"), 16))


# --- shape and dry run ---------------------------------------------------------------------------
def test_native_transfer_preview_shape_and_no_broadcast(chain: Any, wallet: Any) -> None:
    me = wallet.address
    before = _state(chain, me)
    p = wallet.transfer(to=FRESH, amount="0.25", chain_id=CHAIN, dry_run=True)
    check_preview_shape(p)
    assert _state(chain, me) == before  # nothing signed, nothing broadcast, no block
    assert chain.rpc("txpool_content")["pending"] == {}
    assert wallet.requests.list() == []  # a dry run is not a request

    assert p["intent"] == f"Transfer 0.25 ETH to {FRESH}"
    assert p["decoded"] == {"functionName": None, "params": [], "effectiveRecipient": FRESH}
    sim = p["simulation"]
    assert sim["success"] is True and sim["revertReason"] is None
    assert sim["gasUsed"] == "21000"
    assert sim["method"] == "eth_simulateV1"
    d = deltas(p)
    assert d == {(me.lower(), "native", None, None): -ETH // 4,
                 (FRESH, "native", None, None): ETH // 4}
    native = sim["balanceChanges"][0]["asset"]
    assert native == {"type": "native", "address": None, "symbol": "ETH", "decimals": 18,
                      "tokenId": None}
    assert sim["exposures"] == []
    assert p["scan"]["resultType"] == "Benign"
    assert p["policy"] == {"decision": "allow", "violations": []}
    assert p["requiresApproval"] is False


def test_erc20_transfer_preview(chain: Any, wallet: Any) -> None:
    musd = chain.token("mUSD")["address"]
    before = _state(chain, wallet.address)
    p = wallet.transfer(to=ACCOUNT1, amount="12.5", token="mUSD", chain_id=CHAIN, dry_run=True)
    check_preview_shape(p)
    assert _state(chain, wallet.address) == before
    assert p["intent"] == f"Transfer 12.5 mUSD to {ACCOUNT1}"
    assert p["decoded"]["functionName"] == "transfer"
    assert p["decoded"]["effectiveRecipient"] == ACCOUNT1
    assert [(q["name"], q["type"], q["value"]) for q in p["decoded"]["params"]] == [
        ("to", "address", ACCOUNT1), ("amount", "uint256", "12500000")]
    assert deltas(p) == {(wallet.address.lower(), "erc20", musd.lower(), None): -12_500_000,
                         (ACCOUNT1.lower(), "erc20", musd.lower(), None): 12_500_000}
    asset = p["simulation"]["balanceChanges"][0]["asset"]
    assert asset == {"type": "erc20", "address": musd, "symbol": "mUSD", "decimals": 6,
                     "tokenId": None}
    assert int(p["simulation"]["gasUsed"]) > 21_000
    # The balance on chain did not move.
    assert chain.erc20_balance(musd, ACCOUNT1) == 0


def test_send_transaction_dry_run_native_to_contract(chain: Any, wallet: Any) -> None:
    reverter = chain.contract("Reverter")
    before = _state(chain, wallet.address)
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        reverter, calldata("sink()"), value=3 * 10**15))
    check_preview_shape(p)
    assert _state(chain, wallet.address) == before
    assert p["decoded"]["functionName"] is None  # sink() is not in the signature table
    assert deltas(p) == {(wallet.address.lower(), "native", None, None): -3 * 10**15,
                         (reverter.lower(), "native", None, None): 3 * 10**15}


def test_erc721_transfer_balance_changes(chain: Any, wallet: Any) -> None:
    nft = chain.token("mNFT")["address"]
    me = wallet.address
    send_unlocked(chain, me, nft, calldata("mint(address)", me))  # token id 1
    before = _state(chain, me)
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        nft, calldata("transferFrom(address,address,uint256)", me, ACCOUNT1, 1)))
    check_preview_shape(p)
    assert _state(chain, me) == before
    assert p["simulation"]["success"] is True
    assert deltas(p) == {(me.lower(), "erc721", nft.lower(), "1"): -1,
                         (ACCOUNT1.lower(), "erc721", nft.lower(), "1"): 1}
    asset = p["simulation"]["balanceChanges"][0]["asset"]
    assert asset["type"] == "erc721" and asset["address"] == nft and asset["tokenId"] == "1"
    assert p["decoded"]["effectiveRecipient"] == ACCOUNT1


def test_erc1155_transfer_balance_changes(chain: Any, wallet: Any) -> None:
    items = chain.token("mITEM")["address"]
    me = wallet.address
    send_unlocked(chain, me, items, calldata("mint(address,uint256,uint256)", me, 7, 10))
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        items, calldata("safeTransferFrom(address,address,uint256,uint256,bytes)",
                        me, ACCOUNT1, 7, 3, b"")))
    check_preview_shape(p)
    assert deltas(p) == {(me.lower(), "erc1155", items.lower(), "7"): -3,
                         (ACCOUNT1.lower(), "erc1155", items.lower(), "7"): 3}
    # Batch transfers are traced too.
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        items, calldata("safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
                        me, ACCOUNT1, [7], [2], b"")))
    check_preview_shape(p)
    assert deltas(p) == {(me.lower(), "erc1155", items.lower(), "7"): -2,
                         (ACCOUNT1.lower(), "erc1155", items.lower(), "7"): 2}


def test_reverting_call_preview(chain: Any, wallet: Any) -> None:
    reverter = chain.contract("Reverter")
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True,
                                payload=tx_payload(reverter, calldata("fail()")))
    check_preview_shape(p)
    sim = p["simulation"]
    assert sim["success"] is False
    assert "always fails" in sim["revertReason"]
    assert sim["balanceChanges"] == [] and sim["exposures"] == []
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True,
                                payload=tx_payload(reverter, calldata("custom()")))
    assert p["simulation"]["success"] is False
    assert "0x63a2a81f" in p["simulation"]["revertReason"]  # Nope(uint256): not in the table


# --- exposures -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("amount", "unlimited"), [(250_000, False), (MAX_UINT256, True)])
def test_erc20_approve_exposure(chain: Any, wallet: Any, amount: int, unlimited: bool) -> None:
    musd, puller = chain.token("mUSD")["address"], chain.contract("Puller")
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        musd, calldata("approve(address,uint256)", puller, amount)))
    check_preview_shape(p)
    assert p["simulation"]["balanceChanges"] == []  # an approval moves nothing
    assert p["simulation"]["exposures"] == [{
        "spender": puller,
        "asset": {"type": "erc20", "address": musd, "symbol": "mUSD", "decimals": 6,
                  "tokenId": None},
        "amount": str(amount), "unlimited": unlimited, "expiration": None,
    }]
    assert p["decoded"]["functionName"] == "approve"


def test_set_approval_for_all_exposure(chain: Any, wallet: Any) -> None:
    nft, puller = chain.token("mNFT")["address"], chain.contract("Puller")
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        nft, calldata("setApprovalForAll(address,bool)", puller, True)))
    check_preview_shape(p)
    [exp] = p["simulation"]["exposures"]
    assert exp["spender"] == puller and exp["unlimited"] is True and exp["amount"] is None
    assert exp["asset"]["type"] == "erc721" and exp["asset"]["address"] == nft
    assert exp["asset"]["tokenId"] is None
    # Revoking leaves no exposure.
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        nft, calldata("setApprovalForAll(address,bool)", puller, False)))
    assert p["simulation"]["exposures"] == []


def test_erc1155_set_approval_for_all_exposure(chain: Any, wallet: Any) -> None:
    items, puller = chain.token("mITEM")["address"], chain.contract("Puller")
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        items, calldata("setApprovalForAll(address,bool)", puller, True)))
    check_preview_shape(p)
    [exp] = p["simulation"]["exposures"]
    assert exp["spender"] == puller and exp["unlimited"] is True
    assert exp["asset"]["type"] == "erc1155" and exp["asset"]["address"] == items


def test_erc721_single_token_approve_exposure(chain: Any, wallet: Any) -> None:
    nft, puller, me = chain.token("mNFT")["address"], chain.contract("Puller"), wallet.address
    send_unlocked(chain, me, nft, calldata("mint(address)", me))
    p = wallet.send_transaction(chain_id=CHAIN, dry_run=True, payload=tx_payload(
        nft, calldata("approve(address,uint256)", puller, 1)))
    check_preview_shape(p)
    [exp] = p["simulation"]["exposures"]
    assert exp["spender"] == puller and exp["unlimited"] is False
    assert exp["asset"]["type"] == "erc721" and exp["asset"]["tokenId"] == "1"


# --- mm decode -----------------------------------------------------------------------------------
def test_mm_decode_cli() -> None:
    code, out, _ = run_mm("decode", "--payload", "0x12345678", "--json")
    assert code == 0 and out["ok"] is True
    data = out["data"]
    assert {"functionName", "signature", "params", "intent"} <= set(data)
    assert data["functionName"] is None
    assert data["intent"] == "Call unknown function 0x12345678"

    payload = calldata("approve(address,uint256)", ACCOUNT1, MAX_UINT256)
    code, out, _ = run_mm("decode", "--payload", payload, "--json")
    assert code == 0
    data = out["data"]
    assert data["functionName"] == "approve"
    assert data["signature"] == "approve(address,uint256)"
    assert [p["type"] for p in data["params"]] == ["address", "uint256"]
    assert data["params"][0]["value"] == ACCOUNT1
    assert data["params"][1]["value"] == str(MAX_UINT256)
    assert "unlimited" in data["intent"].lower()

    code, out, _ = run_mm("decode", "--payload", "0xzz", "--json")
    assert code == 2 and out["ok"] is False


# --- the eth_simulateV1 fallback -----------------------------------------------------------------
@pytest.fixture
def no_simulate(chain: Any) -> Iterator[RpcProxy]:
    proxy = RpcProxy(chain.url, refuse={"eth_simulateV1"})
    yield proxy
    proxy.stop()


def test_fallback_simulation(chain: Any, byok_home: Any, no_simulate: RpcProxy) -> None:
    w = make_wallet(byok_home, env={"MM_RPC_31337": no_simulate.url})
    me = w.address.lower()
    before = _state(chain, w.address)

    p = w.transfer(to=FRESH, amount="0.5", chain_id=CHAIN, dry_run=True)
    check_preview_shape(p)
    sim = p["simulation"]
    assert sim["method"] == "fallback"
    assert sim["success"] is True and sim["revertReason"] is None
    assert sim["gasUsed"] == "21000"
    assert deltas(p) == {(me, "native", None, None): -ETH // 2,
                         (FRESH, "native", None, None): ETH // 2}
    assert sim["balanceChanges"][0]["asset"]["symbol"] == "ETH"

    musd = chain.token("mUSD")["address"]
    p = w.transfer(to=ACCOUNT1, amount="3", token="mUSD", chain_id=CHAIN, dry_run=True)
    check_preview_shape(p)
    assert p["simulation"]["method"] == "fallback"
    assert deltas(p) == {(me, "erc20", musd.lower(), None): -3_000_000,
                         (ACCOUNT1.lower(), "erc20", musd.lower(), None): 3_000_000}
    assert p["simulation"]["balanceChanges"][0]["asset"]["symbol"] == "mUSD"
    gas = int(p["simulation"]["gasUsed"])
    assert 21_000 < gas < 100_000

    p = w.send_transaction(chain_id=CHAIN, dry_run=True,
                           payload=tx_payload(chain.contract("Reverter"), calldata("fail()")))
    check_preview_shape(p)
    assert p["simulation"]["method"] == "fallback"
    assert p["simulation"]["success"] is False
    assert "always fails" in p["simulation"]["revertReason"]
    assert p["simulation"]["balanceChanges"] == []

    assert no_simulate.count("eth_simulateV1") == 3  # tried each time, refused
    assert no_simulate.count("eth_call") >= 3 and no_simulate.count("eth_estimateGas") >= 2
    assert _state(chain, w.address) == before


def test_fallback_and_primary_agree_on_gas(chain: Any, byok_home: Any,
                                           no_simulate: RpcProxy, wallet: Any) -> None:
    fb = make_wallet(byok_home, env={"MM_RPC_31337": no_simulate.url})
    primary = wallet.transfer(to=ACCOUNT1, amount="1", token="mDAI", chain_id=CHAIN,
                              dry_run=True)
    fallback = fb.transfer(to=ACCOUNT1, amount="1", token="mDAI", chain_id=CHAIN, dry_run=True)
    assert primary["simulation"]["method"] == "eth_simulateV1"
    assert deltas(primary) == deltas(fallback)
    # estimateGas may pad a little over the traced gas, never below it.
    assert int(fallback["simulation"]["gasUsed"]) >= int(primary["simulation"]["gasUsed"])
