"""Rule family 6: raw-hash message signing (mm_agent.security.scan.rules_signatures)."""

from __future__ import annotations

import pytest

from mm_agent.security.scan import ScanInput, scan

WALLET = "0x" + "A1" * 20


def msg_input(message: str) -> ScanInput:
    return ScanInput(kind="message", chain_id=1, wallet=WALLET, message=message)


@pytest.mark.parametrize("message", ["0x" + "ab" * 32, "0X" + "AB" * 32, "cd" * 32])
def test_bare_hash_is_malicious(message: str) -> None:
    r = scan(msg_input(message))
    assert (r.result_type, r.reason, r.classification) == (
        "Malicious", "raw_signature_farming", "blind_hash_signing")


@pytest.mark.parametrize("message", [
    "Sign in to example.org\nNonce: 8f2a",
    "0x" + b"Hello from a dapp, please sign".hex(),
    "a" * 32,  # 32 readable characters are text, not a hash
    "0x" + b"Please sign this 32-byte phrase!".hex(),  # ... even hex-encoded
])
def test_readable_messages_are_benign(message: str) -> None:
    r = scan(msg_input(message))
    assert r.result_type == "Benign" and r.features == []


def test_eip712_preimage_as_hex_is_only_info() -> None:
    r = scan(msg_input("0x1901" + "11" * 32 + "22" * 32))
    assert r.result_type == "Benign"
    assert [(f.type, f.feature_id) for f in r.features] == [("Info", "EIP712_PREIMAGE_AS_MESSAGE")]


def test_other_binary_is_only_info() -> None:
    r = scan(msg_input("0x" + "ff00" * 20))
    assert r.result_type == "Benign" and r.features[0].feature_id == "BINARY_MESSAGE"


def test_rule_only_applies_to_messages() -> None:
    inp = ScanInput(kind="typed-data", chain_id=1, wallet=WALLET, message="0x" + "ab" * 32,
                    typed_data={"types": {}, "primaryType": "X", "domain": {"chainId": 1},
                                    "message": {}})
    assert scan(inp).result_type == "Benign"
