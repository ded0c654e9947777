"""Every threat-scanner rule against real contracts on anvil, through ``Wallet`` previews, and
what each verdict does: headless approval refusal, an approval hook that denies or approves,
and the `mm` CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT1
from helpers import run_mm
from sec_helpers import (
    FRESH,
    FRESH2,
    MAX_UINT256,
    ZERO,
    calldata,
    check_preview_shape,
    feature_ids,
    make_wallet,
    nonce,
    send_unlocked,
    tx_payload,
)

from mm_agent.errors import ApprovalRequired

CHAIN = 31337
PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3"
BUILTIN_BAD = "0xbad0000000000000000000000000000000000001"
SCAM = "0x5ca1ab1e00000000000000000000000000c0ffee"
# A counterparty and a lookalike sharing its first and last 4 hex characters.
FRIEND = "0x1234555555555555555555555555555555559abc"
LOOKALIKE = "0x1234666666666666666666666666666666669abc"


def verdict(p: dict[str, Any]) -> tuple[str, str, str]:
    s = p["scan"]
    return s["resultType"], s["reason"], s["classification"]


def send(w: Any, to: str, data: str = "0x", value: int = 0, **kw: Any) -> Any:
    return w.send_transaction(chain_id=CHAIN, payload=tx_payload(to, data, value), **kw)


def preview(w: Any, to: str, data: str = "0x", value: int = 0) -> dict[str, Any]:
    p = send(w, to, data, value, dry_run=True)
    check_preview_shape(p)
    return p


def assert_benign(p: dict[str, Any]) -> None:
    assert p["scan"]["resultType"] == "Benign", p["scan"]
    assert p["scan"]["reason"] == ""
    assert p["requiresApproval"] is False
    assert p["policy"]["decision"] == "allow"


def assert_flagged(p: dict[str, Any], result_type: str, reason: str, feature: str) -> None:
    assert p["scan"]["resultType"] == result_type, p["scan"]
    assert p["scan"]["reason"] == reason
    assert feature in feature_ids(p), p["scan"]["features"]
    assert p["requiresApproval"] is True
    assert p["policy"]["decision"] == "approval_required"


# --- approvals -----------------------------------------------------------------------------------
def test_approval_to_eoa_is_malicious(chain: Any, wallet: Any) -> None:
    musd = chain.token("mUSD")["address"]
    for amount in (1_000_000, MAX_UINT256):
        p = preview(wallet, musd, calldata("approve(address,uint256)", FRESH, amount))
        assert_flagged(p, "Malicious", "approval_farming", "APPROVAL_TO_EOA")
        assert p["scan"]["classification"] == "approval_to_eoa"
        feat = next(f for f in p["scan"]["features"] if f["featureId"] == "APPROVAL_TO_EOA")
        assert feat["address"].lower() == FRESH


def test_unlimited_approval_to_unused_contract_is_warning(chain: Any, wallet: Any) -> None:
    musd, puller = chain.token("mUSD")["address"], chain.contract("Puller")
    p = preview(wallet, musd, calldata("approve(address,uint256)", puller, MAX_UINT256))
    assert_flagged(p, "Warning", "approval_farming", "UNLIMITED_APPROVAL_UNKNOWN_CONTRACT")
    assert p["scan"]["classification"] == "unlimited_approval"


def test_exact_approval_to_contract_is_benign(chain: Any, wallet: Any) -> None:
    musd, puller = chain.token("mUSD")["address"], chain.contract("Puller")
    p = preview(wallet, musd, calldata("approve(address,uint256)", puller, 5_000_000))
    assert_benign(p)
    assert "TOKEN_APPROVAL" in feature_ids(p)  # shown as Info
    # ... and the Puller really can take exactly that much once it is approved: the risk the
    # exposure describes is real.
    req = send(wallet, musd, calldata("approve(address,uint256)", puller, 5_000_000))
    assert req.status == "COMPLETED", req.error
    send_unlocked(chain, ACCOUNT1, puller, calldata(
        "pull(address,address,uint256)", musd, wallet.address, 5_000_000))
    assert chain.erc20_balance(musd, puller) == 5_000_000


def test_set_approval_for_all(chain: Any, wallet: Any) -> None:
    nft, puller = chain.token("mNFT")["address"], chain.contract("Puller")
    p = preview(wallet, nft, calldata("setApprovalForAll(address,bool)", FRESH, True))
    assert_flagged(p, "Malicious", "set_approval_for_all", "SET_APPROVAL_FOR_ALL_TO_EOA")
    p = preview(wallet, nft, calldata("setApprovalForAll(address,bool)", puller, True))
    assert_flagged(p, "Warning", "set_approval_for_all", "SET_APPROVAL_FOR_ALL_UNKNOWN_CONTRACT")
    items = chain.token("mITEM")["address"]
    p = preview(wallet, items, calldata("setApprovalForAll(address,bool)", FRESH, True))
    assert_flagged(p, "Malicious", "set_approval_for_all", "SET_APPROVAL_FOR_ALL_TO_EOA")
    # Revoking is harmless.
    assert_benign(preview(wallet, nft, calldata("setApprovalForAll(address,bool)", FRESH, False)))


# --- typed data: EIP-2612 and Permit2 ------------------------------------------------------------
def eip2612(chain: Any, owner: str, spender: str, value: int, deadline: int) -> dict[str, Any]:
    musd = chain.token("mUSD")["address"]
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "Permit": [{"name": "owner", "type": "address"},
                       {"name": "spender", "type": "address"},
                       {"name": "value", "type": "uint256"},
                       {"name": "nonce", "type": "uint256"},
                       {"name": "deadline", "type": "uint256"}],
        },
        "primaryType": "Permit",
        "domain": {"name": "Mock USD", "version": "1", "chainId": CHAIN,
                   "verifyingContract": musd},
        "message": {"owner": owner, "spender": spender, "value": str(value), "nonce": "0",
                    "deadline": str(deadline)},
    }


def permit2_single(token: str, spender: str, amount: int, expiration: int) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "PermitSingle": [{"name": "details", "type": "PermitDetails"},
                             {"name": "spender", "type": "address"},
                             {"name": "sigDeadline", "type": "uint256"}],
            "PermitDetails": [{"name": "token", "type": "address"},
                              {"name": "amount", "type": "uint160"},
                              {"name": "expiration", "type": "uint48"},
                              {"name": "nonce", "type": "uint48"}],
        },
        "primaryType": "PermitSingle",
        "domain": {"name": "Permit2", "chainId": CHAIN, "verifyingContract": PERMIT2},
        "message": {"details": {"token": token, "amount": str(amount),
                                "expiration": str(expiration), "nonce": "0"},
                    "spender": spender, "sigDeadline": str(int(time.time()) + 1800)},
    }


def typed_preview(w: Any, payload: dict[str, Any]) -> dict[str, Any]:
    p = w.sign_typed_data(chain_id=CHAIN, payload=payload, dry_run=True)
    check_preview_shape(p, transaction=False)
    return p


def test_eip2612_permit(chain: Any, wallet: Any) -> None:
    me, puller = wallet.address, chain.contract("Puller")
    soon = int(time.time()) + 600
    p = typed_preview(wallet, eip2612(chain, me, FRESH, 1_000_000, soon))
    assert_flagged(p, "Malicious", "permit_farming", "PERMIT_TO_EOA")
    assert p["scan"]["classification"] == "permit_to_eoa"
    p = typed_preview(wallet, eip2612(chain, me, puller, MAX_UINT256, MAX_UINT256))
    assert_flagged(p, "Warning", "permit_farming", "PERMIT_UNLIMITED")
    p = typed_preview(wallet, eip2612(chain, me, puller, 1_000_000, soon))
    assert_benign(p)
    assert "PERMIT" in feature_ids(p)


def test_eip2612_permit_signature_works_on_chain(chain: Any, wallet: Any) -> None:
    """The Benign permit the wallet signs is a real, valid EIP-2612 signature."""
    musd, puller, me = chain.token("mUSD")["address"], chain.contract("Puller"), wallet.address
    deadline = int(time.time()) + 600
    req = wallet.sign_typed_data(chain_id=CHAIN, payload=eip2612(chain, me, puller, 777,
                                                                  deadline))
    assert req.status == "COMPLETED" and req.signature
    sig = bytes.fromhex(req.signature[2:])
    r, s, v = sig[:32], sig[32:64], sig[64]
    data = calldata("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
                    me, puller, 777, deadline, v, r, s)
    send_unlocked(chain, ACCOUNT1, musd, data)
    allowance = chain.rpc("eth_call", [{"to": musd, "data": calldata(
        "allowance(address,address)", me, puller)}, "latest"])
    assert int(allowance, 16) == 777


def test_permit2_typed_data(chain: Any, wallet: Any) -> None:
    musd, puller = chain.token("mUSD")["address"], chain.contract("Puller")
    soon = int(time.time()) + 600
    p = typed_preview(wallet, permit2_single(musd, FRESH, 100, soon))
    assert_flagged(p, "Malicious", "permit_farming", "PERMIT_TO_EOA")
    p = typed_preview(wallet, permit2_single(musd, puller, 2**160 - 1, 2**48 - 1))
    assert_flagged(p, "Warning", "permit_farming", "PERMIT_UNLIMITED")
    p = typed_preview(wallet, permit2_single(musd, puller, 100, soon))
    assert_benign(p)


# --- denylist ------------------------------------------------------------------------------------
@pytest.fixture
def denylist_file(tmp_path: Path) -> str:
    path = tmp_path / "address.json"
    path.write_text(json.dumps([SCAM.lower(), "0x" + "ab" * 20]))
    return str(path)


def test_denylisted_recipient_via_config(chain: Any, byok_home: Any, denylist_file: str) -> None:
    w = make_wallet(byok_home, settings={"security.denylist": denylist_file})
    for p in (
        preview(w, SCAM, value=10**15),
        w.transfer(to=SCAM, amount="1", token="mUSD", chain_id=CHAIN, dry_run=True),
        preview(w, chain.token("mUSD")["address"],
                calldata("approve(address,uint256)", SCAM, 1)),
    ):
        check_preview_shape(p)
        assert_flagged(p, "Malicious", "known_malicious", "KNOWN_MALICIOUS_ADDRESS")
    # The built-in synthetic entries are merged with the file.
    assert verdict(preview(w, BUILTIN_BAD, value=1))[1] == "known_malicious"


def test_denylist_via_env(chain: Any, byok_home: Any, denylist_file: str) -> None:
    w = make_wallet(byok_home, env={"MM_DENYLIST": denylist_file})
    assert_flagged(preview(w, SCAM, value=10**15), "Malicious", "known_malicious",
                   "KNOWN_MALICIOUS_ADDRESS")
    # Without the list the same transfer is an ordinary payment.
    assert_benign(preview(make_wallet(byok_home), SCAM, value=10**15))


# --- address poisoning ---------------------------------------------------------------------------
def test_address_poisoning_after_real_transfer(chain: Any, wallet: Any) -> None:
    done = wallet.transfer(to=FRIEND, amount="0.01", chain_id=CHAIN)
    assert done.status == "COMPLETED", done.error
    # The counterparty itself is fine; its lookalike is not.
    assert_benign(wallet.transfer(to=FRIEND, amount="0.01", chain_id=CHAIN, dry_run=True))
    p = wallet.transfer(to=LOOKALIKE, amount="0.01", chain_id=CHAIN, dry_run=True)
    assert_flagged(p, "Malicious", "address_poisoning", "LOOKALIKE_RECIPIENT")
    assert p["scan"]["classification"] == "lookalike_recipient"
    p = wallet.transfer(to=LOOKALIKE, amount="1", token="mUSD", chain_id=CHAIN, dry_run=True)
    assert_flagged(p, "Malicious", "address_poisoning", "LOOKALIKE_RECIPIENT")


def test_lookalike_of_own_address(chain: Any, wallet: Any) -> None:
    me = wallet.address.lower()
    fake = me[:6] + "0" * 32 + me[-4:]
    p = wallet.transfer(to=fake, amount="0.01", chain_id=CHAIN, dry_run=True)
    assert_flagged(p, "Malicious", "address_poisoning", "LOOKALIKE_RECIPIENT")


# --- lost transfers ------------------------------------------------------------------------------
def test_tokens_to_token_contract_or_zero_address(chain: Any, wallet: Any) -> None:
    musd = chain.token("mUSD")["address"]
    p = wallet.transfer(to=musd, amount="1", token="mUSD", chain_id=CHAIN, dry_run=True)
    assert_flagged(p, "Warning", "other", "TRANSFER_TO_TOKEN_CONTRACT")
    assert p["simulation"]["success"] is True  # the demo token accepts it: the loss is real
    p = preview(wallet, musd, calldata("transfer(address,uint256)", ZERO, 1))
    assert_flagged(p, "Warning", "other", "TRANSFER_TO_ZERO_ADDRESS")
    p = preview(wallet, ZERO, value=10**15)
    assert_flagged(p, "Warning", "other", "NATIVE_TO_ZERO_ADDRESS")
    assert p["scan"]["classification"] == "transfer_to_zero_address"


# --- raw signatures and admin calls --------------------------------------------------------------
def test_raw_hash_message_is_malicious(wallet: Any) -> None:
    p = wallet.sign_message(message="0x" + "ab" * 32, chain_id=CHAIN, dry_run=True)
    check_preview_shape(p, transaction=False)
    assert_flagged(p, "Malicious", "raw_signature_farming", "RAW_HASH_SIGNATURE")
    assert p["decoded"] is None and p["simulation"] is None


def test_admin_calls_are_warnings(chain: Any, wallet: Any) -> None:
    puller = chain.contract("Puller")
    p = preview(wallet, puller, calldata("transferOwnership(address)", FRESH))
    assert_flagged(p, "Warning", "other", "OWNERSHIP_TRANSFER")
    p = preview(wallet, puller, calldata("upgradeTo(address)", chain.contract("Reverter")))
    assert_flagged(p, "Warning", "other", "PROXY_UPGRADE")


# --- everyday actions stay Benign ----------------------------------------------------------------
def test_everyday_actions_are_benign(chain: Any, wallet: Any) -> None:
    musd, puller = chain.token("mUSD")["address"], chain.contract("Puller")
    assert_benign(wallet.transfer(to=FRESH2, amount="0.3", chain_id=CHAIN, dry_run=True))
    assert_benign(wallet.transfer(to=ACCOUNT1, amount="10", token="mUSD", chain_id=CHAIN,
                                  dry_run=True))
    assert_benign(preview(wallet, musd, calldata("approve(address,uint256)", puller, 42)))
    p = wallet.sign_message(message="Sign in to example.org\nNonce: 1234", chain_id=CHAIN,
                            dry_run=True)
    assert_benign(p)
    assert p["intent"].startswith('Sign message "Sign in to example.org')


# --- verdict → action ----------------------------------------------------------------------------
def test_headless_flagged_request_raises_approval_required(chain: Any, wallet: Any) -> None:
    me = wallet.address
    n = nonce(chain.rpc, me)
    with pytest.raises(ApprovalRequired) as info:
        wallet.transfer(to=BUILTIN_BAD, amount="0.1", chain_id=CHAIN)
    err = info.value
    assert err.code == "APPROVAL_REQUIRED"
    pv = err.details["preview"]
    check_preview_shape(pv)
    assert pv["scan"]["reason"] == "known_malicious" and pv["requiresApproval"] is True
    assert "Nothing was signed" in err.message
    # A Warning is bounced just the same (fail closed to a human).
    with pytest.raises(ApprovalRequired):
        send(wallet, chain.token("mUSD")["address"],
             calldata("approve(address,uint256)", chain.contract("Puller"), MAX_UINT256))
    with pytest.raises(ApprovalRequired):
        wallet.sign_message(message="0x" + "cd" * 32, chain_id=CHAIN)
    assert nonce(chain.rpc, me) == n
    assert chain.balance(BUILTIN_BAD) == 0
    assert all(r.tx_hash is None and r.signature is None for r in wallet.requests.list())


def test_approval_hook_denies(chain: Any, byok_home: Any) -> None:
    calls: list[tuple[dict[str, Any], str]] = []

    def hook(pv: dict[str, Any], reason: str) -> bool:
        calls.append((pv, reason))
        return False

    w = make_wallet(byok_home, hook=hook)
    n = nonce(chain.rpc, w.address)
    req = w.transfer(to=BUILTIN_BAD, amount="0.1", chain_id=CHAIN)
    assert req.status == "DENIED"
    assert req.error["code"] == "TX_DENIED"
    assert req.tx_hash is None
    assert nonce(chain.rpc, w.address) == n
    assert chain.balance(BUILTIN_BAD) == 0
    [(pv, reason)] = calls
    assert pv["scan"]["resultType"] == "Malicious" and "Malicious" in reason
    typed = eip2612(chain, w.address, FRESH, 10, int(time.time()) + 600)
    req = w.sign_typed_data(chain_id=CHAIN, payload=typed)
    assert req.status == "DENIED" and req.signature is None
    assert w.requests.get(req.polling_id).status == "DENIED"


def test_approval_hook_approves(chain: Any, byok_home: Any) -> None:
    calls: list[str] = []

    def hook(pv: dict[str, Any], reason: str) -> bool:
        calls.append(pv["scan"]["resultType"])
        return True

    w = make_wallet(byok_home, hook=hook)
    req = w.transfer(to=BUILTIN_BAD, amount="0.1", chain_id=CHAIN)
    assert req.status == "COMPLETED", req.error
    assert chain.balance(BUILTIN_BAD) == 10**17
    receipt = chain.rpc("eth_getTransactionReceipt", [req.tx_hash])
    assert int(receipt["status"], 16) == 1
    # Benign requests never reach the hook.
    assert w.transfer(to=FRESH, amount="0.1", chain_id=CHAIN).status == "COMPLETED"
    assert calls == ["Malicious"]


def test_cli_headless_flagged_transfer_exits_non_zero(chain: Any, byok_home: Any) -> None:
    n = nonce(chain.rpc, chain.deployed["deployer"])
    code, out, _ = run_mm("transfer", "--token", "ETH",
                          "--to", BUILTIN_BAD, "--amount", "0.1", "--chain-id",
                          str(CHAIN), "--json")
    assert code != 0
    assert out["ok"] is False and out["error"]["code"] == "APPROVAL_REQUIRED"
    code, out, _ = run_mm("wallet", "sign-message", "--message", "0x" + "ee" * 32,
                          "--chain-id", str(CHAIN), "--json")
    assert code != 0 and out["error"]["code"] == "APPROVAL_REQUIRED"
    assert nonce(chain.rpc, chain.deployed["deployer"]) == n
    assert chain.balance(BUILTIN_BAD) == 0
    # The dry run shows the verdict without failing.
    code, out, _ = run_mm("transfer", "--token", "ETH",
                          "--to", BUILTIN_BAD, "--amount", "0.1", "--chain-id",
                          str(CHAIN), "--dry-run", "--json")
    assert code == 0, out
    assert out["data"]["scan"]["reason"] == "known_malicious"
