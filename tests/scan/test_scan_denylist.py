"""Rule family 3: the denylist (mm_agent.security.scan.rules_denylist) and load_denylist."""

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
from mm_agent.security.scan import BUILTIN_DENYLIST, ScanInput, load_denylist, scan

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
TOKEN = cs("0x" + "7e" * 20)
ROUTER = cs("0x" + "4c" * 20)
EOA = cs("0x" + "e0" * 20)
BAD = cs("0xbad0000000000000000000000000000000000001")
CONTRACTS = {TOKEN.lower(), ROUTER.lower()}


def calldata(signature: str, *args: Any) -> str:
    inner = signature[signature.index("(") + 1 : -1]
    types = inner.split(",") if inner else []
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, list(args))).hex()


def tx_input(to: str, data: str = "0x", value: int = 0) -> ScanInput:
    return ScanInput(
        kind="transaction", chain_id=1, wallet=WALLET,
        tx={"to": to, "value": value, "data": data}, decoded=decode_calldata(data, to=to,
                                                                             value=value),
        is_contract=lambda a: a.lower() in CONTRACTS, denylist=load_denylist(None),
        known_counterparties=frozenset(CONTRACTS),
    )


def test_builtin_list_has_only_synthetic_entries() -> None:
    assert len(BUILTIN_DENYLIST) == 5
    assert all(a.startswith("0xbad") and a == a.lower() for a in BUILTIN_DENYLIST)
    assert "0x000000000000000000000000000000000000dead" not in BUILTIN_DENYLIST


def test_native_transfer_to_denylisted_address_is_malicious() -> None:
    r = scan(tx_input(BAD, value=10**18))
    assert (r.result_type, r.reason, r.classification) == (
        "Malicious", "known_malicious", "known_malicious")
    assert r.features[0].address == BAD


def test_token_transfer_to_denylisted_recipient_is_malicious() -> None:
    r = scan(tx_input(TOKEN, calldata("transfer(address,uint256)", BAD, 5)))
    assert r.reason == "known_malicious" and r.features[0].address == BAD


def test_denylist_wins_over_other_malicious_findings() -> None:
    # Approving a denylisted EOA is also approval farming; the more specific reason wins.
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", BAD, 5)))
    assert r.reason == "known_malicious"
    assert {f.feature_id for f in r.features} >= {"KNOWN_MALICIOUS_ADDRESS", "APPROVAL_TO_EOA"}


def test_operator_and_inner_calls_are_checked() -> None:
    inner = bytes.fromhex(calldata("setApprovalForAll(address,bool)", BAD, True)[2:])
    r = scan(tx_input(ROUTER, calldata("multicall(bytes[])", [inner])))
    assert r.reason == "known_malicious"


def test_typed_data_spender_and_verifying_contract_are_checked() -> None:
    typed = {"types": {}, "primaryType": "Permit",
             "domain": {"name": "T", "chainId": 1, "verifyingContract": TOKEN},
             "message": {"owner": WALLET, "spender": BAD, "value": "1", "nonce": 0,
                         "deadline": 1}}
    inp = ScanInput(kind="typed-data", chain_id=1, wallet=WALLET, typed_data=typed,
                    is_contract=lambda a: True, denylist=BUILTIN_DENYLIST, now=0)
    assert scan(inp).reason == "known_malicious"
    typed["message"]["spender"] = ROUTER
    typed["domain"]["verifyingContract"] = BAD
    assert scan(inp).reason == "known_malicious"


def test_clean_transaction_with_denylist_is_benign() -> None:
    r = scan(tx_input(TOKEN, calldata("transfer(address,uint256)", EOA, 5)))
    assert r.result_type == "Benign"


def test_load_denylist_merges_a_scamsniffer_file(tmp_path: Path) -> None:
    path = tmp_path / "address.json"
    path.write_text(json.dumps(["0x" + "ab" * 20, "0x" + "CD" * 20]))
    merged = load_denylist(str(path))
    assert merged >= BUILTIN_DENYLIST
    assert {"0x" + "ab" * 20, "0x" + "cd" * 20} <= merged


@pytest.mark.parametrize("content", ["not json", '{"a": 1}', '["0x1234"]', "[12]"])
def test_load_denylist_rejects_bad_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "address.json"
    path.write_text(content)
    with pytest.raises(StateCorrupt) as exc:
        load_denylist(str(path))
    assert exc.value.code == "STATE_CORRUPT" and "security.denylist" in (exc.value.hint or "")


def test_load_denylist_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StateCorrupt, match="not found"):
        load_denylist(str(tmp_path / "nope.json"))
