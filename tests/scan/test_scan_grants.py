"""Issue 9 class 3: grants judged by amount vs balance, duration and spender class, and the
``scan.grants`` list the policy reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode

from mm_agent.errors import StateCorrupt
from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import decode_calldata
from mm_agent.security.scan import ScanInput, scan
from mm_agent.security.scan.known_protocols import (
    PERMIT2,
    known_protocols_for,
    load_known_protocols,
)

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
TOKEN = cs("0x" + "7e" * 20)
NEW = cs("0x" + "5d" * 20)  # an unverified contract
USED = cs("0x" + "4c" * 20)  # an unverified contract the wallet used before
EOA = cs("0x" + "e0" * 20)
UR = "0x66a9893cC07D91D95644AEDD05D03f95e1dBA8Af"  # Universal Router 2 on chain 1
CONTRACTS = {a.lower() for a in (TOKEN, NEW, USED, PERMIT2, UR)}
NOW = 1_760_000_000
DAY = 86400
BALANCE = 1_000_000


def calldata(signature: str, *args: Any) -> str:
    inner = signature[signature.index("(") + 1 : -1]
    types = inner.split(",") if inner and not inner.startswith("(") else (
        [inner] if inner else [])
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, list(args))).hex()


def raw_call(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, args)).hex()


def tx_input(to: str, data: str, *, chain_id: int = 1, balance: int | None = BALANCE,
             simulation: dict[str, Any] | None = None) -> ScanInput:
    return ScanInput(
        kind="transaction", chain_id=chain_id, wallet=WALLET,
        tx={"to": to, "value": 0, "data": data, "authorizationList": None},
        decoded=decode_calldata(data, to=to), simulation=simulation,
        is_contract=lambda a: a.lower() in CONTRACTS,
        known_counterparties=frozenset({USED.lower()}),
        known_protocols=known_protocols_for(chain_id),
        balance_of=lambda _t, _h: balance, now=NOW,
    )


def ids(result: Any) -> list[str]:
    return [f.feature_id for f in result.features]


# --- amount vs balance --------------------------------------------------------------------------
def test_sixty_percent_of_balance_to_unknown_contract_warns() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 600_000)))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "approval_farming", "large_approval")
    assert "LARGE_APPROVAL_UNKNOWN_CONTRACT" in ids(r)


def test_small_share_to_unknown_contract_is_benign() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 100_000)))
    assert r.result_type == "Benign" and "TOKEN_APPROVAL" in ids(r)


def test_unknown_balance_falls_back_to_the_unlimited_threshold() -> None:
    assert scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 10**20),
                         balance=None)).result_type == "Benign"
    # type(uint96).max is the smallest "infinite" sentinel tokens use (UNI/COMP).
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 2**96 - 1), balance=None))
    assert r.classification == "unlimited_approval"


def test_zero_balance_approval_to_unknown_contract_warns() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 5), balance=0))
    assert r.classification == "large_approval"


def test_wallet_history_does_not_make_a_spender_known() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", USED, 2**256 - 1)))
    assert r.classification == "unlimited_approval"


def test_registry_spender_is_benign_even_unlimited() -> None:
    for spender in (PERMIT2, UR):
        r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", spender, 2**256 - 1)))
        assert r.result_type == "Benign", r.to_dict()
        assert "verified protocol" in r.features[0].description
    # ... but only on the chain it is registered for: UR 2's mainnet address means nothing
    # on Base (and Permit2 is the same everywhere).
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", UR, 2**256 - 1),
                      chain_id=8453))
    assert r.result_type == "Warning"


# --- duration -----------------------------------------------------------------------------------
def test_permit2_onchain_approve_duration() -> None:
    sig = "approve(address,address,uint160,uint48)"
    r = scan(tx_input(PERMIT2, calldata(sig, TOKEN, NEW, 10, NOW + 60 * DAY)))
    assert r.classification == "long_lived_approval"
    assert scan(tx_input(PERMIT2, calldata(sig, TOKEN, NEW, 10, NOW + DAY))).result_type == (
        "Benign")
    assert scan(tx_input(PERMIT2, calldata(sig, TOKEN, NEW, 10, 0))).result_type == "Benign"


# --- ERC-777 ------------------------------------------------------------------------------------
def test_erc777_authorize_operator() -> None:
    r = scan(tx_input(TOKEN, calldata("authorizeOperator(address)", EOA)))
    assert (r.result_type, r.reason, r.classification) == (
        "Malicious", "approval_farming", "operator_to_eoa")
    r = scan(tx_input(TOKEN, calldata("authorizeOperator(address)", NEW)))
    assert "ERC777_OPERATOR_UNKNOWN_CONTRACT" in ids(r) and r.result_type == "Warning"
    r = scan(tx_input(TOKEN, calldata("revokeOperator(address)", EOA)))
    assert r.result_type == "Benign"


# --- Universal Router PERMIT2_PERMIT ------------------------------------------------------------
def ur_permit(spender: str, amount: int, expiration: int) -> str:
    permit = ((TOKEN, amount, expiration, 0), spender, NOW + 600)
    inp = encode(["((address,uint160,uint48,uint48),address,uint256)", "bytes"],
                 [permit, b"\x01" * 65])
    return raw_call("execute(bytes,bytes[],uint256)", ["bytes", "bytes[]", "uint256"],
                    [b"\x0a", [inp], NOW + 600])


def test_universal_router_permit2_permit_to_eoa_is_malicious() -> None:
    r = scan(tx_input(UR, ur_permit(EOA, 10, NOW + DAY)))
    assert (r.result_type, r.classification) == ("Malicious", "approval_to_eoa")
    assert r.features[0].address.lower() == EOA.lower()


def test_universal_router_permit2_permit_judged_like_an_approval() -> None:
    assert scan(tx_input(UR, ur_permit(UR, 2**160 - 1, NOW + 30 * DAY))).result_type == "Benign"
    r = scan(tx_input(UR, ur_permit(NEW, 2**160 - 1, NOW + DAY)))
    assert r.classification == "unlimited_approval"


# --- scan.grants ------------------------------------------------------------------------------
def test_grants_list_for_the_policy() -> None:
    out = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 600_000))).to_dict()
    (g,) = out["grants"]
    assert g["spender"] == NEW and g["asset"]["address"] == TOKEN
    assert g["amount"] == "600000" and g["unlimited"] is False and g["expiration"] is None
    assert g["spenderKnown"] is False and g["spenderIsContract"] is True
    assert g["holderBalance"] == str(BALANCE) and g["source"] == "transaction"
    out = scan(tx_input(TOKEN, calldata("approve(address,uint256)", PERMIT2, 2**256 - 1))
               ).to_dict()
    assert out["grants"][0]["spenderKnown"] is True
    assert out["grants"][0]["spenderName"] == "Uniswap Permit2"
    # Revocations expose nothing and are not listed.
    out = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 0))).to_dict()
    assert out["grants"] == []


def test_balance_is_read_once_per_scan() -> None:
    calls: list[tuple[str, str]] = []

    def balance_of(token: str, holder: str) -> int:
        calls.append((token, holder))
        return BALANCE

    inp = tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 600_000))
    inp.balance_of = balance_of
    scan(inp)
    assert len(calls) == 1


def test_failing_balance_reader_does_not_crash_the_scan() -> None:
    def boom(_t: str, _h: str) -> int:
        raise RuntimeError("node down")

    inp = tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 600_000))
    inp.balance_of = boom
    assert scan(inp).result_type == "Benign"  # unknown balance: only the threshold applies


# --- registry and its config file ----------------------------------------------------------------
def test_known_protocols_registry() -> None:
    mainnet = known_protocols_for(1)
    assert mainnet[PERMIT2.lower()] == "Uniswap Permit2"
    assert "0x00000000000000adc04c56bf30ac9d3c0aaf14dc" in mainnet  # Seaport 1.5
    assert PERMIT2.lower() in known_protocols_for(31337)
    dev = known_protocols_for(31337, devnet_contracts=[(TOKEN, "mUSD")])
    assert dev[TOKEN.lower()] == "mUSD"
    for chain in (1, 10, 137, 8453, 42161):
        assert all(a == a.lower() and len(a) == 42 for a in known_protocols_for(chain))


def test_known_protocols_file(tmp_path: Path) -> None:
    path = tmp_path / "known.json"
    path.write_text(json.dumps({"1": {NEW: "My vault"}, "0x2105": {USED: "Base thing"}}))
    extra = load_known_protocols(path)
    assert extra == {1: {NEW.lower(): "My vault"}, 8453: {USED.lower(): "Base thing"}}
    assert known_protocols_for(1, extra=extra)[NEW.lower()] == "My vault"
    for bad in ("[]", '{"1": {"nope": "x"}}', '{"x": {}}', "{"):
        path.write_text(bad)
        with pytest.raises(StateCorrupt):
            load_known_protocols(path)
    with pytest.raises(StateCorrupt):
        load_known_protocols(tmp_path / "missing.json")
