"""Issue 9 classes 3, 5, 6: typed-data grants and shapes (chainId, value-moving, Seaport far
below, Blur, SafeTx) and fake returns."""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from mm_agent.evm.addresses import to_checksum_address as cs
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import decode_calldata
from mm_agent.security.scan import ScanInput, scan
from mm_agent.security.scan.known_protocols import known_protocols_for

WALLET = cs("0x" + "a1b2c3d4e5" * 4)
TOKEN = cs("0x" + "7e" * 20)
NFT = cs("0x" + "6f" * 20)
NEW = cs("0x" + "5d" * 20)
SAFE = cs("0x" + "5a" * 20)
EOA = cs("0x" + "e0" * 20)
ATTACKER = cs("0x" + "ee" * 20)
COW = "0x9008D19f58AAbD9eD0D60971565AA8510560ab41"
UR = "0x66a9893cC07D91D95644AEDD05D03f95e1dBA8Af"  # Universal Router 2 on chain 1
CONTRACTS = {a.lower() for a in (TOKEN, NFT, NEW, SAFE, COW, UR)}
NOW = 1_760_000_000
DAY = 86400


def td_input(primary: str, message: dict[str, Any], *, domain: dict[str, Any] | None = None,
             balance: int | None = 1_000_000) -> ScanInput:
    dom = {"name": "App", "chainId": 1, "verifyingContract": TOKEN} if domain is None else domain
    return ScanInput(
        kind="typed-data", chain_id=1, wallet=WALLET,
        typed_data={"types": {}, "primaryType": primary, "domain": dom, "message": message},
        is_contract=lambda a: a.lower() in CONTRACTS,
        known_protocols=known_protocols_for(1), balance_of=lambda _t, _h: balance, now=NOW,
    )


def ids(result: Any) -> list[str]:
    return [f.feature_id for f in result.features]


def permit(spender: str, value: int, deadline: int) -> dict[str, Any]:
    return {"owner": WALLET, "spender": spender, "value": str(value), "nonce": "0",
            "deadline": str(deadline)}


# --- permits: duration, share of balance, generic grant fields ---------------------------------
def test_permit_with_31_day_deadline_warns_29_does_not() -> None:
    r = scan(td_input("Permit", permit(NEW, 10, NOW + 31 * DAY)))
    assert (r.result_type, r.classification) == ("Warning", "long_lived_permit")
    assert scan(td_input("Permit", permit(NEW, 10, NOW + 29 * DAY))).result_type == "Benign"


def test_permit_for_most_of_the_balance_warns() -> None:
    r = scan(td_input("Permit", permit(NEW, 700_000, NOW + DAY)))
    assert (r.result_type, r.classification) == ("Warning", "large_permit")
    assert r.to_dict()["grants"][0]["holderBalance"] == "1000000"


def test_dai_permit_forever_warns() -> None:
    msg = {"holder": WALLET, "spender": NEW, "nonce": 0, "expiry": 0, "allowed": True}
    r = scan(td_input("Permit", msg))
    assert r.classification == "unlimited_permit"


def test_any_struct_with_operator_or_delegate_is_a_grant() -> None:
    r = scan(td_input("Delegation", {"delegate": EOA, "delegator": WALLET, "salt": 1}))
    assert (r.result_type, r.classification) == ("Malicious", "permit_to_eoa")
    r = scan(td_input("Approval", {"grant": {"operator": NEW, "token": TOKEN}}))
    assert (r.result_type, r.classification) == ("Warning", "unlimited_permit")
    (g,) = r.to_dict()["grants"]
    assert g["spender"] == NEW and g["unlimited"] is True and g["source"] == "typed-data"


def test_permit2_single_to_known_spender_is_benign() -> None:
    msg = {"details": {"token": TOKEN, "amount": str(2**160 - 1), "expiration": str(NOW + DAY),
                       "nonce": "0"}, "spender": UR, "sigDeadline": str(NOW + 600)}
    r = scan(td_input("PermitSingle", msg, domain={"name": "Permit2", "chainId": 1,
                                                    "verifyingContract": TOKEN}))
    assert r.result_type == "Benign", r.to_dict()
    assert r.to_dict()["grants"][0]["spenderKnown"] is True


# --- class 5: chainId and value-moving typed data ----------------------------------------------
def test_domain_without_chain_id_warns() -> None:
    r = scan(td_input("Mail", {"contents": "hi"}, domain={"name": "Ether Mail"}))
    assert (r.result_type, r.classification) == ("Warning", "missing_chain_id")
    r = scan(td_input("Mail", {"contents": "hi"}, domain={"name": "Ether Mail", "chainId": 5}))
    assert r.classification == "chain_mismatch"
    assert scan(td_input("Mail", {"contents": "hi"})).result_type == "Benign"


def test_unknown_value_moving_typed_data_warns_with_fields() -> None:
    r = scan(td_input("Withdrawal", {"amount": "5000", "to": ATTACKER, "nonce": 1}))
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "transfer_farming", "typed_data_moves_value")
    assert "amount=5000" in r.description and "to=" in r.description
    # An order-like type name with an amount is enough even without a foreign recipient.
    r = scan(td_input("LimitOrder", {"makerAmount": "1", "maker": WALLET}))
    assert r.classification == "typed_data_moves_value"
    # No amount: nothing moves.
    assert scan(td_input("Vote", {"proposal": 1, "to": ATTACKER})).result_type == "Benign"


def test_cow_order_to_known_protocol() -> None:
    order = {"sellToken": TOKEN, "buyToken": NFT, "receiver": "0x" + "0" * 40,
             "sellAmount": "100", "buyAmount": "99", "validTo": NOW + 600, "kind": "sell"}
    dom = {"name": "Gnosis Protocol", "chainId": 1, "verifyingContract": COW}
    r = scan(td_input("Order", order, domain=dom))
    assert r.result_type == "Benign" and "TYPED_DATA_ORDER" in ids(r)
    r = scan(td_input("Order", {**order, "receiver": ATTACKER}, domain=dom))
    assert r.classification == "typed_data_moves_value"


# --- Seaport far below, Blur --------------------------------------------------------------------
def seaport(consideration: list[dict[str, Any]]) -> dict[str, Any]:
    return {"offerer": WALLET, "offer": [{"itemType": 2, "token": NFT, "identifierOrCriteria": 7,
                                          "startAmount": 1, "endAmount": 1}],
            "consideration": consideration, "startTime": NOW, "endTime": NOW + DAY}


def pay(amount: int, to: str) -> dict[str, Any]:
    return {"itemType": 0, "token": "0x" + "0" * 40, "identifierOrCriteria": 0,
            "startAmount": amount, "endAmount": amount, "recipient": to}


def test_seaport_price_mostly_to_someone_else_is_malicious() -> None:
    r = scan(td_input("OrderComponents", seaport([pay(10**16, WALLET), pay(10**18, ATTACKER)])))
    assert (r.result_type, r.classification) == ("Malicious", "seaport_underpriced_listing")
    assert "other recipients" in r.description
    ok = seaport([pay(975 * 10**15, WALLET), pay(25 * 10**15, ATTACKER)])  # 2.5 % fee
    assert scan(td_input("OrderComponents", ok)).result_type == "Benign"


def blur(price: int, side: int = 1, fees: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"trader": WALLET, "side": side, "matchingPolicy": NEW, "collection": NFT,
            "tokenId": 7, "amount": 1, "paymentToken": "0x" + "0" * 40, "price": str(price),
            "listingTime": NOW, "expirationTime": NOW + DAY, "fees": fees or [], "salt": 1,
            "extraParams": "0x", "nonce": 0}


def test_blur_orders() -> None:
    dom = {"name": "Blur Exchange", "version": "1.0", "chainId": 1, "verifyingContract": NEW}
    r = scan(td_input("Order", blur(0), domain=dom))
    assert (r.result_type, r.classification) == ("Malicious", "blur_underpriced_listing")
    r = scan(td_input("Order", blur(10**18, fees=[{"rate": 6000, "recipient": ATTACKER}]),
                      domain=dom))
    assert r.classification == "blur_underpriced_listing"
    assert scan(td_input("Order", blur(10**18, fees=[{"rate": 50, "recipient": ATTACKER}]),
                         domain=dom)).result_type == "Benign"
    assert scan(td_input("Order", blur(0, side=0), domain=dom)).result_type == "Benign"
    r = scan(td_input("Root", {"root": "0x" + "ab" * 32}, domain=dom))
    assert r.classification == "blind_bulk_order"


# --- SafeTx -------------------------------------------------------------------------------------
def safe_tx(to: str, data: str = "0x", operation: int = 0, value: int = 0) -> dict[str, Any]:
    return {"to": to, "value": str(value), "data": data, "operation": operation,
            "safeTxGas": 0, "baseGas": 0, "gasPrice": 0, "gasToken": "0x" + "0" * 40,
            "refundReceiver": "0x" + "0" * 40, "nonce": 3}


SAFE_DOMAIN = {"chainId": 1, "verifyingContract": SAFE}


def call(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, args)).hex()


def test_safe_tx_delegatecall_warns_and_call_is_described() -> None:
    r = scan(td_input("SafeTx", safe_tx(NEW, operation=1), domain=SAFE_DOMAIN))
    assert (r.result_type, r.classification) == ("Warning", "delegatecall_execution")
    data = call("transfer(address,uint256)", ["address", "uint256"], [EOA, 5])
    r = scan(td_input("SafeTx", safe_tx(TOKEN, data), domain=SAFE_DOMAIN))
    assert r.result_type == "Benign"
    assert "Transfer" in r.features[0].description and EOA in r.features[0].description


def test_safe_tx_approval_to_eoa_is_malicious_and_self_call_warns() -> None:
    data = call("approve(address,uint256)", ["address", "uint256"], [EOA, 2**256 - 1])
    r = scan(td_input("SafeTx", safe_tx(TOKEN, data), domain=SAFE_DOMAIN))
    assert (r.result_type, r.classification) == ("Malicious", "permit_to_eoa")
    assert r.to_dict()["grants"][0]["holder"] == SAFE
    data = call("enableModule(address)", ["address"], [ATTACKER])
    r = scan(td_input("SafeTx", safe_tx(SAFE, data), domain=SAFE_DOMAIN))
    assert r.classification == "safe_settings_change"


# --- class 6: fake returns ----------------------------------------------------------------------
def tx_with_sim(to: str, changes: list[tuple[str, str | None, int]], *, value: int = 0,
                data: str = "0x12345678", known_assets: frozenset[str] = frozenset()
                ) -> ScanInput:
    sim = {"success": True, "exposures": [], "balanceChanges": [
        {"address": WALLET, "delta": str(d),
         "asset": {"type": t, "address": a, "symbol": None, "decimals": None, "tokenId": None}}
        for t, a, d in changes]}
    return ScanInput(
        kind="transaction", chain_id=1, wallet=WALLET,
        tx={"to": to, "value": value, "data": data, "authorizationList": None},
        decoded=decode_calldata(data, to=to, value=value), simulation=sim,
        is_contract=lambda a: a.lower() in CONTRACTS, known_assets=known_assets,
        known_protocols=known_protocols_for(1),
    )


def test_self_minted_return_token_is_a_fake_return() -> None:
    inp = tx_with_sim(NEW, [("native", None, -10**18), ("erc20", NEW, 10**24)], value=10**18)
    r = scan(inp)
    assert (r.result_type, r.reason, r.classification) == (
        "Warning", "transfer_farming", "fake_return_token")


def test_known_asset_or_intent_asset_counts_as_return() -> None:
    inp = tx_with_sim(NEW, [("native", None, -10**18), ("erc20", TOKEN, 10**9)], value=10**18,
                      known_assets=frozenset({TOKEN.lower()}))
    assert scan(inp).result_type == "Benign"
    # dust of a valued token is no return
    inp = tx_with_sim(NEW, [("native", None, -10**18), ("erc20", TOKEN, 5)], value=10**18,
                      known_assets=frozenset({TOKEN.lower()}))
    assert scan(inp).classification == "fake_return_token"
    # the token a decoded swap names (path) counts even when it is not on the list
    data = "0x" + (keccak256(b"swapExactETHForTokens(uint256,address[],address,uint256)")[:4]
                   + encode(["uint256", "address[]", "address", "uint256"],
                            [1, [TOKEN, NFT], WALLET, NOW])).hex()
    inp = tx_with_sim(NEW, [("native", None, -10**18), ("erc20", NFT, 10**20)], value=10**18,
                      data=data)
    assert scan(inp).result_type == "Benign", scan(inp).to_dict()


def test_fake_return_to_known_protocol_is_not_flagged() -> None:
    inp = tx_with_sim(COW, [("native", None, -10**18), ("erc20", NEW, 10**24)], value=10**18)
    assert scan(inp).result_type == "Benign"
