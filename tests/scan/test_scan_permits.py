"""Rule family 2: permits and Seaport orders in typed data
(mm_agent.security.scan.rules_permits)."""

from __future__ import annotations

from typing import Any

from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.security.scan import ScanInput, scan

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
TOKEN = cs("0x" + "7e" * 20)
NFT = cs("0x" + "6f" * 20)
PERMIT2 = cs("0x000000000022D473030F116dDEE9F6B43aC78BA3")
SEAPORT = cs("0x0000000000000068F116a894984e2DB1123eB395")
ROUTER = cs("0x" + "4c" * 20)  # a verified protocol (known_protocols)
NEW = cs("0x" + "5d" * 20)  # contract never used
EOA = cs("0x" + "e0" * 20)
FEE = cs("0x" + "fe" * 20)
CONTRACTS = {a.lower() for a in (TOKEN, NFT, PERMIT2, SEAPORT, ROUTER, NEW)}
NOW = 1_760_000_000
DAY = 86400
MAX = 2**256 - 1


def td_input(typed: dict[str, Any]) -> ScanInput:
    return ScanInput(
        kind="typed-data", chain_id=1, wallet=WALLET, typed_data=typed,
        is_contract=lambda a: a.lower() in CONTRACTS,
        known_counterparties=frozenset({ROUTER.lower()}), now=NOW,
        known_protocols={ROUTER.lower(): "Test Router"},
    )


def permit(spender: str, value: int, deadline: int) -> dict[str, Any]:
    return {
        "types": {"Permit": [{"name": "owner", "type": "address"},
                             {"name": "spender", "type": "address"},
                             {"name": "value", "type": "uint256"},
                             {"name": "nonce", "type": "uint256"},
                             {"name": "deadline", "type": "uint256"}]},
        "primaryType": "Permit",
        "domain": {"name": "Token", "version": "1", "chainId": 1, "verifyingContract": TOKEN},
        "message": {"owner": WALLET, "spender": spender, "value": str(value), "nonce": "0",
                    "deadline": str(deadline)},
    }


def permit2_single(spender: str, amount: int, expiration: int, sig_deadline: int,
                   primary: str = "PermitSingle") -> dict[str, Any]:
    details = {"token": TOKEN, "amount": str(amount), "expiration": expiration, "nonce": 0}
    return {
        "types": {}, "primaryType": primary,
        "domain": {"name": "Permit2", "chainId": 1, "verifyingContract": PERMIT2},
        "message": {"details": details if primary == "PermitSingle" else [details, details],
                    "spender": spender, "sigDeadline": str(sig_deadline)},
    }


def permit2_transfer(spender: str, amount: int, deadline: int,
                     primary: str = "PermitTransferFrom") -> dict[str, Any]:
    msg: dict[str, Any] = {"permitted": {"token": TOKEN, "amount": str(amount)},
                           "spender": spender, "nonce": "1", "deadline": str(deadline)}
    if "Witness" in primary:
        msg["witness"] = {"recipient": ROUTER}
    return {"types": {}, "primaryType": primary,
            "domain": {"name": "Permit2", "chainId": 1, "verifyingContract": PERMIT2},
            "message": msg}


# --- EIP-2612 -----------------------------------------------------------------------------------
def test_permit_to_eoa_is_malicious() -> None:
    r = scan(td_input(permit(EOA, 100, NOW + 600)))
    assert (r.result_type, r.reason, r.classification) == (
        "Malicious", "permit_farming", "permit_to_eoa")
    assert r.features[0].address == EOA


def test_unlimited_permit_to_unknown_contract_warns() -> None:
    r = scan(td_input(permit(NEW, MAX, NOW + 600)))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "permit_farming", "unlimited_permit")


def test_max_deadline_permit_to_unknown_contract_warns() -> None:
    r = scan(td_input(permit(NEW, 100, MAX)))
    assert (r.result_type, r.classification) == ("Warning", "long_lived_permit")
    assert "never expires" in r.description


def test_bounded_short_permit_to_known_contract_is_benign() -> None:
    r = scan(td_input(permit(ROUTER, 100, NOW + 3600)))
    assert r.result_type == "Benign" and r.reason == ""
    assert [f.feature_id for f in r.features] == ["PERMIT"]


def test_bounded_short_permit_to_unknown_contract_and_unlimited_to_known_are_benign() -> None:
    assert scan(td_input(permit(NEW, 100, NOW + 3600))).result_type == "Benign"
    assert scan(td_input(permit(ROUTER, MAX, MAX))).result_type == "Benign"


def test_dai_style_permit() -> None:
    typed = permit(NEW, 0, 0)
    typed["message"] = {"holder": WALLET, "spender": NEW, "nonce": 0, "expiry": 0,
                        "allowed": True}
    assert scan(td_input(typed)).classification == "unlimited_permit"
    typed["message"]["allowed"] = False
    assert scan(td_input(typed)).result_type == "Benign"


# --- Permit2 ------------------------------------------------------------------------------------
def test_permit2_single_to_eoa_is_malicious() -> None:
    r = scan(td_input(permit2_single(EOA, 100, NOW + DAY, NOW + 600)))
    assert (r.result_type, r.reason) == ("Malicious", "permit_farming")


def test_permit2_single_unlimited_or_far_to_unknown_warns() -> None:
    r = scan(td_input(permit2_single(NEW, 2**160 - 1, NOW + DAY, NOW + 600)))
    assert (r.result_type, r.classification) == ("Warning", "unlimited_permit")
    r = scan(td_input(permit2_single(NEW, 100, NOW + 60 * DAY, NOW + 600)))
    assert (r.result_type, r.classification) == ("Warning", "long_lived_permit")
    # expiration 0 = "the block it is used in": the far signature deadline is what matters.
    r = scan(td_input(permit2_single(NEW, 100, 0, NOW + 365 * DAY)))
    assert r.classification == "long_lived_permit"


def test_permit2_single_bounded_near_is_benign() -> None:
    assert scan(td_input(permit2_single(NEW, 100, NOW + DAY, NOW + 600))).result_type == "Benign"
    assert scan(td_input(permit2_single(ROUTER, 2**160 - 1, 2**48 - 1, MAX))
                ).result_type == "Benign"


def test_permit2_batch_reports_every_token() -> None:
    r = scan(td_input(permit2_single(EOA, 1, NOW + DAY, NOW + 600, "PermitBatch")))
    assert r.result_type == "Malicious"
    assert [f.feature_id for f in r.features] == ["PERMIT_TO_EOA", "PERMIT_TO_EOA"]


def test_permit2_transfer_from_to_eoa_is_malicious() -> None:
    for primary in ("PermitTransferFrom", "PermitWitnessTransferFrom"):
        r = scan(td_input(permit2_transfer(EOA, 100, NOW + 600, primary)))
        assert (r.result_type, r.reason) == ("Malicious", "permit_farming"), primary


def test_permit2_transfer_from_bounded_to_router_is_benign() -> None:
    r = scan(td_input(permit2_transfer(ROUTER, 100, NOW + 600, "PermitWitnessTransferFrom")))
    assert r.result_type == "Benign"


def test_permit2_batch_transfer_from_unlimited_to_unknown_warns() -> None:
    typed = permit2_transfer(NEW, MAX, NOW + 600, "PermitBatchTransferFrom")
    typed["message"]["permitted"] = [{"token": TOKEN, "amount": str(MAX)}]
    assert scan(td_input(typed)).classification == "unlimited_permit"


def test_typed_data_without_spender_is_benign() -> None:
    typed = {"types": {}, "primaryType": "Mail", "domain": {"name": "Ether Mail", "chainId": 1},
             "message": {"from": WALLET, "contents": "hello"}}
    r = scan(td_input(typed))
    assert r.result_type == "Benign" and r.features == []


# --- Seaport ------------------------------------------------------------------------------------
def order(consideration: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "offerer": WALLET, "zone": "0x" + "0" * 40,
        "offer": [{"itemType": 2, "token": NFT, "identifierOrCriteria": "7",
                   "startAmount": "1", "endAmount": "1"}],
        "consideration": consideration, "orderType": 0, "startTime": NOW, "endTime": NOW + DAY,
        "zoneHash": "0x" + "0" * 64, "salt": "1", "conduitKey": "0x" + "0" * 64, "counter": "0",
    }


def pay(recipient: str, amount: int, item_type: int = 0) -> dict[str, Any]:
    return {"itemType": item_type, "token": "0x" + "0" * 40, "identifierOrCriteria": "0",
            "startAmount": str(amount), "endAmount": str(amount), "recipient": recipient}


def seaport(msg: dict[str, Any], primary: str = "OrderComponents") -> dict[str, Any]:
    return {"types": {}, "primaryType": primary,
            "domain": {"name": "Seaport", "version": "1.6", "chainId": 1,
                       "verifyingContract": SEAPORT},
            "message": msg}


def test_seaport_listing_paying_nothing_back_is_malicious() -> None:
    r = scan(td_input(seaport(order([pay(EOA, 10**18)]))))
    assert (r.result_type, r.reason, r.classification) == (
        "Malicious", "transfer_farming", "seaport_underpriced_listing")
    r = scan(td_input(seaport(order([]))))
    assert r.classification == "seaport_underpriced_listing"


def test_seaport_listing_for_dust_is_malicious() -> None:
    r = scan(td_input(seaport(order([pay(WALLET, 1), pay(EOA, 10**18)]))))
    assert r.classification == "seaport_underpriced_listing" and "dust" in r.description


def test_seaport_normal_listing_is_benign() -> None:
    r = scan(td_input(seaport(order([pay(WALLET, 975 * 10**15), pay(FEE, 25 * 10**15)]))))
    assert r.result_type == "Benign"
    assert [f.feature_id for f in r.features] == ["SEAPORT_ORDER"]


def test_seaport_bulk_order_is_walked() -> None:
    good = order([pay(WALLET, 10**18)])
    bad = order([pay(EOA, 10**18)])
    assert scan(td_input(seaport({"tree": [[good, bad]]}, "BulkOrder"))).result_type == "Malicious"
    assert scan(td_input(seaport({"tree": [[good, good]]}, "BulkOrder"))).result_type == "Benign"
