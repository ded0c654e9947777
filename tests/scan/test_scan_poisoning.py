"""Rule family 4: address poisoning (mm_agent.security.scan.rules_poisoning)."""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import decode_calldata
from mm_agent.security.scan import ScanInput, scan
from mm_agent.security.scan.rules_poisoning import lookalike_of

WALLET = cs("0xa1b2" + "c3" * 16 + "e5f6")
TOKEN = cs("0x" + "7e" * 20)
FRIEND = cs("0x1234" + "00" * 16 + "5678")  # a recipient used before
FAKE_FRIEND = cs("0x1234" + "9f" * 16 + "5678")  # same first/last 4 hex characters
FAKE_SELF = cs("0xA1B2" + "77" * 16 + "E5F6")
STRANGER = cs("0x" + "e0" * 20)
OTHER = cs("0x" + "0b" * 20)


def calldata(signature: str, *args: Any) -> str:
    inner = signature[signature.index("(") + 1 : -1]
    return "0x" + (keccak256(signature.encode())[:4] + encode(inner.split(","), list(args))).hex()


def tx_input(to: str, data: str = "0x", value: int = 0,
             simulation: dict[str, Any] | None = None) -> ScanInput:
    return ScanInput(
        kind="transaction", chain_id=1, wallet=WALLET,
        tx={"to": to, "value": value, "data": data},
        decoded=decode_calldata(data, to=to, value=value), simulation=simulation,
        is_contract=lambda a: a.lower() == TOKEN.lower(),
        known_counterparties=frozenset({FRIEND.lower(), TOKEN.lower()}),
    )


def test_lookalike_matching() -> None:
    assert lookalike_of(FAKE_FRIEND, [FRIEND.lower()]) == FRIEND.lower()
    assert lookalike_of(FRIEND, [FRIEND.lower()]) is None  # the real one
    assert lookalike_of(STRANGER, [FRIEND.lower()]) is None


def test_native_send_to_lookalike_is_malicious() -> None:
    r = scan(tx_input(FAKE_FRIEND, value=10**18))
    assert (r.result_type, r.reason, r.classification) == (
        "Malicious", "address_poisoning", "lookalike_recipient")
    assert r.features[0].address == FAKE_FRIEND


def test_token_transfer_to_lookalike_of_own_address_is_malicious() -> None:
    r = scan(tx_input(TOKEN, calldata("transfer(address,uint256)", FAKE_SELF, 5)))
    assert r.reason == "address_poisoning" and "your own address" in r.description


def test_real_friend_and_stranger_are_benign() -> None:
    assert scan(tx_input(FRIEND, value=10**18)).result_type == "Benign"
    assert scan(tx_input(STRANGER, value=10**18)).result_type == "Benign"
    assert scan(tx_input(TOKEN, calldata("transfer(address,uint256)", FRIEND, 5))
                ).result_type == "Benign"


def test_zero_value_transfer_from_someone_else_warns() -> None:
    data = calldata("transferFrom(address,address,uint256)", OTHER, FAKE_FRIEND, 0)
    r = scan(tx_input(TOKEN, data))
    assert "ZERO_VALUE_TRANSFER_FROM" in [f.feature_id for f in r.features]
    data = calldata("transferFrom(address,address,uint256)", OTHER, STRANGER, 0)
    r = scan(tx_input(TOKEN, data))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "address_poisoning", "zero_value_transfer")


def test_non_zero_or_own_transfer_from_is_benign() -> None:
    data = calldata("transferFrom(address,address,uint256)", OTHER, STRANGER, 5)
    assert scan(tx_input(TOKEN, data)).result_type == "Benign"
    data = calldata("transferFrom(address,address,uint256)", WALLET, STRANGER, 0)
    assert scan(tx_input(TOKEN, data)).result_type == "Benign"


def _zero_change(address: str) -> dict[str, Any]:
    return {"address": address, "delta": "0",
            "asset": {"type": "erc20", "address": TOKEN, "symbol": "TKN", "decimals": 18,
                      "tokenId": None}}


def test_zero_value_flood_in_simulation_warns() -> None:
    fakes = [cs("0x1234" + f"{i:02x}" * 16 + "5678") for i in (0xA1, 0xA2, 0xA3)]
    sim = {"success": True, "balanceChanges": [_zero_change(a) for a in fakes], "exposures": []}
    r = scan(tx_input(TOKEN, calldata("doSomething(uint256)", 1), simulation=sim))
    assert (r.result_type, r.classification) == ("Warning", "zero_value_transfer_flood")
    sim["balanceChanges"] = sim["balanceChanges"][:2]
    assert scan(tx_input(TOKEN, calldata("doSomething(uint256)", 1), simulation=sim)
                ).result_type == "Benign"
