"""CTF orders through the BYOK pipeline against the exchange deployed on the session anvil: the
devnet record's ``markets`` deployment makes its exchange known, so a well-formed own order
signs headless; an impostor exchange, a foreign maker, an off-book price and an out-of-range fee
are held for a human."""

from __future__ import annotations

from typing import Any

import pytest

from mm_agent.errors import ApprovalRequired
from mm_agent.markets import orders
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.security.policy.orders import read_unfilled
from mm_agent.security.scan import reference_prices
from mm_agent.security.scan.rules_ctf_orders import V1_FIELDS

ACCOUNT1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TUPLE = orders.ORDER_ABI_TUPLE


@pytest.fixture
def known(byok_home: Any, markets: dict[str, Any]) -> Any:
    """The BYOK wallet whose devnet record carries the markets deployment (as the lead's
    ``mm devnet start`` stores it: under ``markets``)."""
    from mm_agent import Wallet

    record = byok_home.read_json("devnet.json")
    byok_home.write_json("devnet.json", {**record, "markets": markets})
    return Wallet.from_env(home=byok_home)


def _order(wallet: Any, markets: dict[str, Any], **kw: Any) -> tuple[orders.Order, dict]:
    yes = int(markets["markets"][0]["tokens"][0]["tokenId"])
    args = {"maker": wallet.address, "token_id": yes, "side": "BUY", "price": "0.55",
            "size": "10", **kw}
    order = orders.build_order(**args)
    exchange = markets["contracts"]["CtfExchange"]
    return order, orders.order_typed_data(order, chain_id=31337, exchange=exchange)


def _held(wallet: Any, typed: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApprovalRequired) as held:
        wallet.sign_typed_data(chain_id=31337, payload=typed)
    return held.value.details["preview"]["scan"]


def test_own_order_to_the_devnet_exchange_signs_headless(known: Any, markets: dict[str, Any],
                                                         rpc: Chain) -> None:
    order, typed = _order(known, markets)
    preview = known.sign_typed_data(chain_id=31337, payload=typed, dry_run=True)
    assert preview["scan"]["resultType"] == "Benign", preview["scan"]
    assert [f["featureId"] for f in preview["scan"]["features"]] == ["CTF_ORDER"]
    (entry,) = preview["scan"]["orders"]
    assert entry["exchangeName"] == "Devnet CTF Exchange"
    assert entry["collateral"]["symbol"] == "mUSD" and entry["maxCost"] == "5500000"
    assert preview["requiresApproval"] is False

    req = known.sign_typed_data(chain_id=31337, payload=typed)  # headless: no approval needed
    assert req.status == "COMPLETED", req.error
    # The exchange accepts the signature (validateOrder reverts otherwise).
    exchange = markets["contracts"]["CtfExchange"]
    rpc.call(exchange, encode_call(f"validateOrder({TUPLE})", [TUPLE],
                                   [order.as_tuple(str(req.signature))]))
    # Nothing filled yet: the whole maker amount is what a cancel would release.
    order_hash = orders.order_hash(order, chain_id=31337, exchange=exchange)
    assert read_unfilled(rpc.rpc, exchange, order_hash, order.makerAmount) == order.makerAmount
    rpc.transact(known.address, exchange, encode_call(
        f"cancelOrder({TUPLE})", [TUPLE], [order.as_tuple(str(req.signature))]))
    assert read_unfilled(rpc.rpc, exchange, order_hash, order.makerAmount) == 0


def test_impostor_exchange_is_malicious(known: Any, markets: dict[str, Any],
                                        rpc: Chain) -> None:
    # The same contract deployed again, not the one the devnet record names.
    impostor = rpc.deploy(markets["deployer"], "DevnetCtfExchange", ["address", "address"],
                          [markets["collateral"]["address"],
                           markets["contracts"]["ConditionalTokens"]])
    order, _ = _order(known, markets)
    typed = orders.order_typed_data(order, chain_id=31337, exchange=impostor)
    scan = _held(known, typed)
    assert scan["resultType"] == "Malicious"
    assert scan["classification"] == "ctf_order_unknown_exchange"


def test_foreign_maker_is_malicious(known: Any, markets: dict[str, Any]) -> None:
    _, typed = _order(known, markets, maker=ACCOUNT1)
    scan = _held(known, typed)
    assert scan["resultType"] == "Malicious"
    assert scan["classification"] == "ctf_order_foreign_maker"


def test_off_book_price_is_a_warning(known: Any, markets: dict[str, Any]) -> None:
    order, typed = _order(known, markets, price="0.80")
    book = {str(order.tokenId): {"bid": "0.48", "ask": "0.52", "source": "devnet book"}}
    with reference_prices(book):
        scan = _held(known, typed)
    assert scan["resultType"] == "Warning"
    assert scan["classification"] == "ctf_order_price_off_book"
    assert "devnet book" in scan["description"]
    # Near the book it signs.
    _, near = _order(known, markets, price="0.53")
    with reference_prices(book):
        assert known.sign_typed_data(chain_id=31337, payload=near).status == "COMPLETED"
    # The engine takes them directly too.
    preview = known.engine.preview_typed_data(31337, known.address, typed,
                                              reference_prices=book)
    assert preview.scan["resultType"] == "Warning"


def test_out_of_range_fee_is_a_warning(known: Any, markets: dict[str, Any]) -> None:
    order, typed = _order(known, markets)
    typed["types"]["Order"] = [{"name": n, "type": t} for n, t in V1_FIELDS]
    typed["domain"]["version"] = "1"
    typed["message"] = {
        "salt": str(order.salt), "maker": known.address, "signer": known.address,
        "taker": "0x" + "0" * 40, "tokenId": str(order.tokenId),
        "makerAmount": str(order.makerAmount), "takerAmount": str(order.takerAmount),
        "expiration": "0", "nonce": "0", "feeRateBps": "2500", "side": 0, "signatureType": 0,
    }
    scan = _held(known, typed)
    assert scan["resultType"] == "Warning"
    assert scan["classification"] == "ctf_order_fee_out_of_range"
    # The worst-case cost carries the fee bound (+25 %).
    assert scan["orders"][0]["maxCost"] == str(order.makerAmount * 125 // 100)
