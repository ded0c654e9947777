"""Rule family 1: on-chain approvals (mm_agent.security.scan.rules_approvals)."""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import decode_calldata
from mm_agent.security.scan import ScanInput, scan

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
TOKEN = cs("0x" + "7e" * 20)
NFT = cs("0x" + "6f" * 20)
ROUTER = cs("0x" + "4c" * 20)  # a verified protocol (and used before)
NEW = cs("0x" + "5d" * 20)  # a contract the wallet never used
EOA = cs("0x" + "e0" * 20)
CONTRACTS = {a.lower() for a in (TOKEN, NFT, ROUTER, NEW)}
MAX = 2**256 - 1


def calldata(signature: str, *args: Any) -> str:
    inner = signature[signature.index("(") + 1 : -1]
    types = inner.split(",") if inner else []
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, list(args))).hex()


def tx_input(to: str, data: str, simulation: dict[str, Any] | None = None) -> ScanInput:
    return ScanInput(
        kind="transaction", chain_id=1, wallet=WALLET,
        tx={"to": to, "value": 0, "data": data, "authorizationList": None},
        decoded=decode_calldata(data, to=to), simulation=simulation,
        is_contract=lambda a: a.lower() in CONTRACTS,
        known_counterparties=frozenset({ROUTER.lower(), TOKEN.lower(), NFT.lower()}),
        known_protocols={ROUTER.lower(): "Test Router"},
    )


def ids(result: Any) -> list[str]:
    return [f.feature_id for f in result.features]


def test_approve_to_eoa_is_malicious() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", EOA, 100)))
    assert r.result_type == "Malicious"
    assert r.reason == "approval_farming"
    assert r.features[0].address == EOA and "APPROVAL_TO_EOA" in ids(r)


def test_increase_allowance_to_eoa_is_malicious() -> None:
    r = scan(tx_input(TOKEN, calldata("increaseAllowance(address,uint256)", EOA, 5)))
    assert (r.result_type, r.reason) == ("Malicious", "approval_farming")


def test_unlimited_approval_to_unknown_contract_warns() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, MAX)))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "approval_farming", "unlimited_approval")


def test_unlimited_approval_to_known_contract_is_benign() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", ROUTER, MAX)))
    assert r.result_type == "Benign" and r.reason == ""


def test_exact_approval_to_unknown_contract_is_benign() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", NEW, 10**6)))
    assert r.result_type == "Benign"
    assert ids(r) == ["TOKEN_APPROVAL"] and r.features[0].type == "Info"


def test_revoking_an_eoa_approval_is_benign() -> None:
    r = scan(tx_input(TOKEN, calldata("approve(address,uint256)", EOA, 0)))
    assert r.result_type == "Benign" and ids(r) == ["APPROVAL_REVOKE"]


def test_approve_inside_multicall_is_found() -> None:
    inner = bytes.fromhex(calldata("approve(address,uint256)", EOA, 1)[2:])
    r = scan(tx_input(ROUTER, calldata("multicall(bytes[])", [inner])))
    assert (r.result_type, r.reason) == ("Malicious", "approval_farming")


def test_plain_multicall_without_approval_is_benign() -> None:
    inner = bytes.fromhex(calldata("approve(address,uint256)", ROUTER, 1)[2:])
    assert scan(tx_input(ROUTER, calldata("multicall(bytes[])", [inner]))).result_type == "Benign"


def test_permit2_onchain_approve_to_eoa_is_malicious() -> None:
    data = calldata("approve(address,address,uint160,uint48)", TOKEN, EOA, 10, 0)
    r = scan(tx_input(ROUTER, data))
    assert (r.result_type, r.reason) == ("Malicious", "approval_farming")


def test_set_approval_for_all_to_eoa_is_malicious() -> None:
    r = scan(tx_input(NFT, calldata("setApprovalForAll(address,bool)", EOA, True)))
    assert (r.result_type, r.reason) == ("Malicious", "set_approval_for_all")


def test_set_approval_for_all_to_unknown_contract_warns() -> None:
    r = scan(tx_input(NFT, calldata("setApprovalForAll(address,bool)", NEW, True)))
    assert (r.result_type, r.reason) == ("Warning", "set_approval_for_all")


def test_set_approval_for_all_to_known_contract_and_revoke_are_benign() -> None:
    assert scan(tx_input(NFT, calldata("setApprovalForAll(address,bool)", ROUTER, True))
                ).result_type == "Benign"
    r = scan(tx_input(NFT, calldata("setApprovalForAll(address,bool)", EOA, False)))
    assert r.result_type == "Benign" and ids(r) == ["APPROVAL_REVOKE"]


# --- from simulation exposures ------------------------------------------------------------------
def _exposure(spender: str, amount: int | None, unlimited: bool, atype: str = "erc20",
              token_id: str | None = None) -> dict[str, Any]:
    asset = {"type": atype, "address": TOKEN if atype == "erc20" else NFT, "symbol": "TKN",
             "decimals": 18, "tokenId": token_id}
    return {"spender": spender, "asset": asset,
            "amount": None if amount is None else str(amount), "unlimited": unlimited,
            "expiration": None}


def _sim(*exposures: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "revertReason": None, "gasUsed": 50000, "balanceChanges": [],
            "exposures": list(exposures)}


def test_exposure_to_eoa_from_an_opaque_call_is_malicious() -> None:
    # An unknown function whose simulation shows an Approval to a plain account.
    data = calldata("doSomething(uint256)", 1)
    r = scan(tx_input(NEW, data, _sim(_exposure(EOA, MAX, True))))
    assert (r.result_type, r.reason) == ("Malicious", "approval_farming")
    assert r.features[0].address == EOA


def test_exposure_unlimited_to_unknown_contract_warns_exact_is_benign() -> None:
    data = calldata("doSomething(uint256)", 1)
    assert scan(tx_input(NEW, data, _sim(_exposure(NEW, MAX, True)))).result_type == "Warning"
    assert scan(tx_input(NEW, data, _sim(_exposure(NEW, 500, False)))).result_type == "Benign"


def test_operator_exposure_to_eoa_is_set_approval_for_all() -> None:
    data = calldata("doSomething(uint256)", 1)
    r = scan(tx_input(NEW, data, _sim(_exposure(EOA, None, True, "erc721"))))
    assert (r.result_type, r.reason) == ("Malicious", "set_approval_for_all")


def test_single_nft_exposure_to_eoa_is_malicious() -> None:
    data = calldata("doSomething(uint256)", 1)
    r = scan(tx_input(NEW, data, _sim(_exposure(EOA, 1, False, "erc721", "7"))))
    assert (r.result_type, r.reason) == ("Malicious", "approval_farming")


def test_exposure_and_calldata_are_not_double_counted() -> None:
    data = calldata("approve(address,uint256)", EOA, MAX)
    r = scan(tx_input(TOKEN, data, _sim(_exposure(EOA, MAX, True))))
    assert ids(r).count("APPROVAL_TO_EOA") == 1
