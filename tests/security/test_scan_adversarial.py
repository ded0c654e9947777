"""Issue 9 (classes 3, 5, 6), scanner side, against real contracts on anvil: a drainer that
"returns" a self-minted token, approvals/permits judged by share of the real balance and by
duration, ERC-777 operators, Universal Router PERMIT2_PERMIT, typed-data shapes, and the
known-protocol registry (built-in devnet entries and the ``security.knownProtocols`` file)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from sec_helpers import (
    FRESH,
    MAX_UINT256,
    calldata,
    check_preview_shape,
    feature_ids,
    make_wallet,
    send_unlocked,
    tx_payload,
)

from mm_agent.errors import ApprovalRequired
from mm_agent.evm.signatures import keccak256

CHAIN = 31337
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil account 1 (unlocked)
CONTRACTS = Path(__file__).parent / "contracts"


def deploy(chain: Any, name: str) -> str:
    art = json.loads((CONTRACTS / f"{name}.json").read_text())
    receipt = send_unlocked(chain, OTHER, None, art["bytecode"])  # type: ignore[arg-type]
    return str(receipt["contractAddress"])


def preview(w: Any, to: str, data: str = "0x", value: int = 0) -> dict[str, Any]:
    p = w.send_transaction(chain_id=CHAIN, payload=tx_payload(to, data, value), dry_run=True)
    check_preview_shape(p)
    return p


def typed(w: Any, payload: dict[str, Any]) -> dict[str, Any]:
    p = w.sign_typed_data(chain_id=CHAIN, payload=payload, dry_run=True)
    check_preview_shape(p, transaction=False)
    return p


def verdict(p: dict[str, Any]) -> tuple[str, str, str]:
    s = p["scan"]
    return s["resultType"], s["reason"], s["classification"]


# --- class 6: fake returns -----------------------------------------------------------------------
def test_drainer_returning_its_own_token_is_flagged(chain: Any, wallet: Any) -> None:
    fake = deploy(chain, "FakeSwap")
    p = preview(wallet, fake, calldata("swap()"), 5 * 10**17)
    # The simulation really shows a token coming back: that used to cancel the warning.
    incoming = [c for c in p["simulation"]["balanceChanges"]
                if c["address"].lower() == wallet.address.lower() and int(c["delta"]) > 0]
    assert incoming and incoming[0]["asset"]["address"].lower() == fake.lower()
    assert verdict(p) == ("Warning", "transfer_farming", "fake_return_token")
    assert p["requiresApproval"] is True
    before = chain.balance(fake)
    with pytest.raises(ApprovalRequired):
        wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(fake, calldata("swap()"),
                                                                   5 * 10**17))
    assert chain.balance(fake) == before


def test_token_drainer_returning_its_own_token_is_flagged(chain: Any, wallet: Any) -> None:
    fake, musd = deploy(chain, "FakeSwap"), chain.token("mUSD")["address"]
    # A small exact approval to a new contract is everyday dapp use: Benign, and it executes.
    req = wallet.send_transaction(chain_id=CHAIN, payload=tx_payload(
        musd, calldata("approve(address,uint256)", fake, 10**6)))
    assert req.status == "COMPLETED", req.error
    p = preview(wallet, fake, calldata("swapToken(address,uint256)", musd, 10**6))
    assert verdict(p)[2] == "fake_return_token", p["scan"]


# --- class 3: approvals and permits ---------------------------------------------------------------
def test_sixty_percent_of_real_balance_to_unknown_contract(chain: Any, wallet: Any) -> None:
    musd, puller = chain.token("mUSD")["address"], chain.contract("Puller")
    have = chain.erc20_balance(musd, wallet.address)
    p = preview(wallet, musd, calldata("approve(address,uint256)", puller, have * 6 // 10))
    assert verdict(p) == ("Warning", "approval_farming", "large_approval")
    (g,) = p["scan"]["grants"]
    assert g["holderBalance"] == str(have) and g["spenderIsContract"] is True
    assert g["spenderKnown"] is False and g["amount"] == str(have * 6 // 10)
    assert p["scan"]["resultType"] == "Warning"
    p = preview(wallet, musd, calldata("approve(address,uint256)", puller, have // 10))
    assert p["scan"]["resultType"] == "Benign"


def eip2612(chain: Any, owner: str, spender: str, value: int, deadline: int,
            *, chain_id: int | None = CHAIN) -> dict[str, Any]:
    domain: dict[str, Any] = {"name": "Mock USD", "version": "1",
                              "verifyingContract": chain.token("mUSD")["address"]}
    if chain_id is not None:
        domain["chainId"] = chain_id
    return {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"},
                                   {"name": "version", "type": "string"},
                                   *([{"name": "chainId", "type": "uint256"}]
                                     if chain_id is not None else []),
                                   {"name": "verifyingContract", "type": "address"}],
                  "Permit": [{"name": "owner", "type": "address"},
                             {"name": "spender", "type": "address"},
                             {"name": "value", "type": "uint256"},
                             {"name": "nonce", "type": "uint256"},
                             {"name": "deadline", "type": "uint256"}]},
        "primaryType": "Permit", "domain": domain,
        "message": {"owner": owner, "spender": spender, "value": str(value), "nonce": "0",
                    "deadline": str(deadline)},
    }


def test_permit_with_31_day_deadline(chain: Any, wallet: Any) -> None:
    puller, now = chain.contract("Puller"), int(time.time())
    p = typed(wallet, eip2612(chain, wallet.address, puller, 10**6, now + 31 * 86400))
    assert verdict(p) == ("Warning", "permit_farming", "long_lived_permit")
    p = typed(wallet, eip2612(chain, wallet.address, puller, 10**6, now + 86400))
    assert p["scan"]["resultType"] == "Benign"
    assert p["scan"]["grants"][0]["expiration"] == now + 86400


def test_erc777_authorize_operator(chain: Any, wallet: Any) -> None:
    token = deploy(chain, "Erc777Lite")
    p = preview(wallet, token, calldata("authorizeOperator(address)", FRESH))
    assert p["simulation"]["success"] is True
    assert verdict(p) == ("Malicious", "approval_farming", "operator_to_eoa")
    p = preview(wallet, token, calldata("authorizeOperator(address)", chain.contract("Puller")))
    assert "ERC777_OPERATOR_UNKNOWN_CONTRACT" in feature_ids(p)
    assert p["scan"]["grants"][0]["asset"]["type"] == "erc777"


def test_universal_router_permit2_permit_naming_an_eoa(chain: Any, wallet: Any) -> None:
    musd = chain.token("mUSD")["address"]
    permit = ((musd, 10**6, int(time.time()) + 3600, 0), FRESH, int(time.time()) + 600)
    inp = encode(["((address,uint160,uint48,uint48),address,uint256)", "bytes"],
                 [permit, b"\x01" * 65])
    data = "0x" + (keccak256(b"execute(bytes,bytes[],uint256)")[:4] + encode(
        ["bytes", "bytes[]", "uint256"], [b"\x0a", [inp], int(time.time()) + 600])).hex()
    # No router on the devnet: the Reverter stands in (the verdict comes from the calldata).
    p = preview(wallet, chain.contract("Reverter"), data)
    assert verdict(p) == ("Malicious", "approval_farming", "approval_to_eoa")
    assert p["scan"]["grants"][0]["spender"].lower() == FRESH


# --- known protocols ------------------------------------------------------------------------------
def test_devnet_registry_and_config_file(chain: Any, byok_home: Any, tmp_path: Path) -> None:
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    puller = chain.contract("Puller")
    w = make_wallet(byok_home)
    # The devnet's own token contracts are registered for chain 31337...
    p = preview(w, musd, calldata("approve(address,uint256)", mdai, MAX_UINT256))
    assert p["scan"]["resultType"] == "Benign" and p["scan"]["grants"][0]["spenderKnown"]
    # ...the Puller (the demo's unknown dapp) is not, until the operator lists it.
    assert preview(w, musd, calldata("approve(address,uint256)", puller, MAX_UINT256)
                   )["scan"]["resultType"] == "Warning"
    path = tmp_path / "known.json"
    path.write_text(json.dumps({"31337": {puller: "Team vault"}}))
    w = make_wallet(byok_home, settings={"security.knownProtocols": str(path)})
    p = preview(w, musd, calldata("approve(address,uint256)", puller, MAX_UINT256))
    assert p["scan"]["resultType"] == "Benign", p["scan"]
    assert p["scan"]["grants"][0]["spenderName"] == "Team vault"
    # A broken trust list fails loudly rather than silently changing verdicts.
    path.write_text("{")
    w = make_wallet(byok_home, settings={"security.knownProtocols": str(path)})
    with pytest.raises(Exception) as info:
        preview(w, musd, calldata("approve(address,uint256)", puller, 1))
    assert getattr(info.value, "code", "") == "STATE_CORRUPT"


# --- class 5: typed-data shapes -------------------------------------------------------------------
def _t(spec: str) -> list[dict[str, str]]:
    """``"address to,uint256 value"`` → EIP-712 field list."""
    return [dict(zip(("type", "name"), f.split(), strict=True)) for f in spec.split(",")]


DOMAIN = _t("string name,uint256 chainId,address verifyingContract")
SAFE_TYPES = {"EIP712Domain": _t("uint256 chainId,address verifyingContract"),
              "SafeTx": _t("address to,uint256 value,bytes data,uint8 operation,"
                           "uint256 safeTxGas,uint256 baseGas,uint256 gasPrice,address gasToken,"
                           "address refundReceiver,uint256 nonce")}
SEAPORT_TYPES = {
    "EIP712Domain": DOMAIN,
    "OrderComponents": _t("address offerer,OfferItem[] offer,ConsiderationItem[] consideration"),
    "OfferItem": _t("uint8 itemType,address token,uint256 identifierOrCriteria,"
                    "uint256 startAmount,uint256 endAmount"),
    "ConsiderationItem": _t("uint8 itemType,address token,uint256 identifierOrCriteria,"
                            "uint256 startAmount,uint256 endAmount,address recipient"),
}
BLUR_TYPES = {
    "EIP712Domain": _t("string name,string version,uint256 chainId,address verifyingContract"),
    "Order": _t("address trader,uint8 side,address matchingPolicy,address collection,"
                "uint256 tokenId,uint256 amount,address paymentToken,uint256 price,"
                "uint256 listingTime,uint256 expirationTime,Fee[] fees,uint256 salt,"
                "bytes extraParams,uint256 nonce"),
    "Fee": _t("uint16 rate,address recipient"),
}


def test_typed_data_without_chain_id(chain: Any, wallet: Any) -> None:
    puller, now = chain.contract("Puller"), int(time.time())
    p = typed(wallet, eip2612(chain, wallet.address, puller, 10, now + 600, chain_id=None))
    assert verdict(p) == ("Warning", "other", "missing_chain_id")


def test_safe_tx_delegatecall_and_marketplace_orders(chain: Any, wallet: Any) -> None:
    safe, zero = chain.contract("Puller"), "0x" + "0" * 40
    safe_tx = {"to": chain.contract("Reverter"), "value": "0", "data": "0x", "operation": 1,
               "safeTxGas": 0, "baseGas": 0, "gasPrice": 0, "gasToken": zero,
               "refundReceiver": zero, "nonce": 0}
    p = typed(wallet, {"types": SAFE_TYPES, "primaryType": "SafeTx",
                       "domain": {"chainId": CHAIN, "verifyingContract": safe},
                       "message": safe_tx})
    assert verdict(p) == ("Warning", "other", "delegatecall_execution")
    nft, me = chain.token("mNFT")["address"], wallet.address
    seaport = {"offerer": me, "offer": [{"itemType": 2, "token": nft, "identifierOrCriteria": 1,
                                         "startAmount": 1, "endAmount": 1}],
               "consideration": [
                   {"itemType": 0, "token": zero, "identifierOrCriteria": 0,
                    "startAmount": 10**15, "endAmount": 10**15, "recipient": me},
                   {"itemType": 0, "token": zero, "identifierOrCriteria": 0,
                    "startAmount": 10**18, "endAmount": 10**18, "recipient": FRESH}]}
    p = typed(wallet, {"types": SEAPORT_TYPES, "primaryType": "OrderComponents",
                       "domain": {"name": "Seaport", "chainId": CHAIN,
                                  "verifyingContract": chain.contract("Reverter")},
                       "message": seaport})
    assert verdict(p) == ("Malicious", "transfer_farming", "seaport_underpriced_listing")
    blur = {"trader": me, "side": 1, "matchingPolicy": zero, "collection": nft, "tokenId": 1,
            "amount": 1, "paymentToken": zero, "price": "0", "listingTime": 0,
            "expirationTime": int(time.time()) + 86400, "fees": [], "salt": 1,
            "extraParams": "0x", "nonce": 0}
    p = typed(wallet, {"types": BLUR_TYPES, "primaryType": "Order",
                       "domain": {"name": "Blur Exchange", "version": "1.0", "chainId": CHAIN,
                                  "verifyingContract": chain.contract("Reverter")},
                       "message": blur})
    assert verdict(p) == ("Malicious", "transfer_farming", "blur_underpriced_listing")
