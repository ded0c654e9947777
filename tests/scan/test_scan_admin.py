"""Rule family 7: admin actions (mm_agent.security.scan.rules_admin)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode

from mm_agent.evm.addresses import ZERO_ADDRESS
from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import decode_calldata
from mm_agent.security.scan import ScanInput, scan

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
PROXY = cs("0x" + "4c" * 20)
SAFE = cs("0x" + "5a" * 20)
IMPL = cs("0x" + "1e" * 20)
NEW_OWNER = cs("0x" + "e0" * 20)
DELEGATE = cs("0x" + "de" * 20)
CONTRACTS = {a.lower() for a in (PROXY, SAFE, IMPL, DELEGATE)}
EXEC = ("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,"
        "bytes)")


def calldata(signature: str, *args: Any) -> str:
    inner = signature[signature.index("(") + 1 : -1]
    types = inner.split(",") if inner else []
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, list(args))).hex()


def tx_input(to: str, data: str = "0x", auth: list[dict[str, Any]] | None = None) -> ScanInput:
    return ScanInput(
        kind="transaction", chain_id=1, wallet=WALLET,
        tx={"to": to, "value": 0, "data": data, "authorizationList": auth},
        decoded=decode_calldata(data, to=to),
        is_contract=lambda a: a.lower() in CONTRACTS,
        known_counterparties=frozenset(CONTRACTS),
    )


@pytest.mark.parametrize(("data", "feature_id", "classification"), [
    (calldata("transferOwnership(address)", NEW_OWNER), "OWNERSHIP_TRANSFER",
     "ownership_transfer"),
    (calldata("renounceOwnership()"), "OWNERSHIP_RENOUNCE", "ownership_transfer"),
    (calldata("upgradeTo(address)", IMPL), "PROXY_UPGRADE", "proxy_upgrade"),
    (calldata("upgradeToAndCall(address,bytes)", IMPL, b""), "PROXY_UPGRADE", "proxy_upgrade"),
    (calldata("upgrade(address,address)", PROXY, IMPL), "PROXY_UPGRADE", "proxy_upgrade"),
    (calldata("changeAdmin(address)", NEW_OWNER), "PROXY_ADMIN_CHANGE", "proxy_upgrade"),
])
def test_admin_calls_warn(data: str, feature_id: str, classification: str) -> None:
    r = scan(tx_input(PROXY, data))
    assert (r.result_type, r.reason, r.classification) == ("Warning", "other", classification)
    assert r.features[0].feature_id == feature_id
    assert len(r.description) > 40  # tells a human what happens


def safe_exec(operation: int) -> str:
    inner = bytes.fromhex(calldata("doSomething(uint256)", 1)[2:])
    return calldata(EXEC, IMPL, 0, inner, operation, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, b"")


def test_safe_delegatecall_warns_call_does_not() -> None:
    r = scan(tx_input(SAFE, safe_exec(1)))
    assert (r.result_type, r.classification) == ("Warning", "delegatecall_execution")
    assert r.features[0].address == IMPL
    assert scan(tx_input(SAFE, safe_exec(0))).result_type == "Benign"


def test_eip7702_authorization_warns() -> None:
    auth = [{"chainId": 1, "address": DELEGATE, "nonce": 0}]
    r = scan(tx_input(WALLET, auth=auth))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "other", "eip7702_delegation")
    assert r.features[0].address == DELEGATE


def test_no_or_clearing_authorization_is_benign() -> None:
    assert scan(tx_input(WALLET, auth=[])).result_type == "Benign"
    r = scan(tx_input(WALLET, auth=[{"chainId": 1, "address": ZERO_ADDRESS, "nonce": 0}]))
    assert r.result_type == "Benign" and r.features[0].feature_id == "EIP7702_DELEGATION_CLEAR"


def test_ordinary_call_is_benign() -> None:
    assert scan(tx_input(PROXY, calldata("acceptOwnership()"))).result_type == "Benign"
