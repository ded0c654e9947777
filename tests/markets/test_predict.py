"""`mm predict` on the devnet through the Python API: setup (L1 through the wallet, approvals
through the pipeline), a filled buy equal to the on-chain balance, a resting order shown and
cancelled, malicious orders bounced, resolve and redeem."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mm_agent.errors import MMError, PredictSetupRequired, ValidationError
from mm_agent.markets import orders
from mm_agent.markets.chain import Chain
from mm_agent.markets.devnet_deploy import erc20_balance, erc1155_balance
from mm_agent.markets.predict import Predict, resolve_devnet_market

ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture
def predict(predict_home: Any) -> Any:
    from mm_agent import Wallet
    from mm_agent.security.scan import reference_prices

    wallet = Wallet.from_env(home=predict_home)
    with Predict(wallet, home=predict_home, reference_prices=reference_prices) as p:
        yield p


def test_setup_required_then_setup(predict: Predict) -> None:
    assert predict.status()["account"]["setupComplete"] is False
    with pytest.raises(PredictSetupRequired):
        predict.place("1", "buy", "1", "0.5")  # validation passes, setup gate first
    out = predict.setup()
    assert out["setupComplete"] is True
    assert [t["step"] for t in out["transactions"]] == ["approveCollateral",
                                                        "approveOutcomeTokens"]
    status = predict.status()
    assert status["clob"] == "ok" and status["gamma"] == "ok"
    assert status["account"]["setupComplete"] is True
    # Idempotent: nothing left to approve.
    assert predict.setup()["transactions"] == []


def test_buy_fills_against_the_book_and_matches_the_chain(predict: Predict, rpc: Chain,
                                                          markets: dict[str, Any]) -> None:
    predict.setup()
    market = predict.markets_get(markets["markets"][0]["slug"])
    assert market["source"] == "devnet"
    yes = market["tokens"][0]["tokenId"]
    book = predict.book(yes)
    assert book["asks"] and book["bids"]
    quote = predict.quote(yes, "buy", "150")
    # 100 at 0.55 then 50 at 0.60 (price-time priority over the maker's asks).
    assert quote["estimatedCost"] == "85" and quote["fullyFillable"]
    usd_before = erc20_balance(rpc, markets["collateral"]["address"], ACCOUNT0)

    placed = predict.place(yes, "buy", "150", "0.60")
    assert placed["status"] == "FILLED"
    assert placed["filledSize"] == "150" and placed["cost"] == "85"
    assert placed["txHashes"] and placed["receipts"][0]["tokens"] == 150_000_000
    onchain = erc1155_balance(rpc, markets["contracts"]["ConditionalTokens"], ACCOUNT0, yes)
    assert onchain == 150_000_000
    pos = predict.positions()["positions"]
    assert [(p["tokenId"], p["size"]) for p in pos] == [(yes, "150")]
    assert usd_before - erc20_balance(rpc, markets["collateral"]["address"], ACCOUNT0) \
        == 85_000_000
    # The book moved: the 0.55 level is gone.
    assert [a["price"] for a in predict.book(yes)["asks"]] == ["0.6"]


def test_resting_order_shown_and_cancelled(predict: Predict, markets: dict[str, Any]) -> None:
    predict.setup()
    yes = markets["markets"][0]["tokens"][0]["tokenId"]
    placed = predict.place(yes, "buy", "10", "0.30")
    assert placed["status"] == "OPEN" and placed["txHashes"] == []
    listed = predict.orders()["orders"]
    assert [o["orderId"] for o in listed] == [placed["orderId"]]
    assert {"price": "0.3", "size": "10"}.items() <= listed[0].items()
    assert Decimal(predict.book(yes)["bids"][0]["price"]) == Decimal("0.3")  # worst bid first
    out = predict.cancel(order_id=placed["orderId"])
    assert out["canceled"] == [placed["orderId"]]
    assert predict.orders()["orders"] == []
    assert predict.watch(placed["orderId"])["status"] == "CANCELLED"


@pytest.mark.parametrize("kwargs", [
    {"price": "0"}, {"price": "1.2"}, {"order_type": "FOK", "post_only": True},
    {"expiration": 2_000_000_000}, {"order_type": "GTD"},
])
def test_validation(predict: Predict, kwargs: dict[str, Any]) -> None:
    args = {"token_id": "1", "side": "buy", "size": "1", "price": "0.5", **kwargs}
    with pytest.raises(ValidationError) as err:
        predict.place(**args)
    assert err.value.exit_code == 2


def test_cancel_needs_exactly_one_target(predict: Predict) -> None:
    with pytest.raises(ValidationError):
        predict.cancel()
    with pytest.raises(ValidationError):
        predict.cancel(order_id="0x1", all=True)


def test_malicious_orders_are_bounced(predict: Predict, markets: dict[str, Any]) -> None:
    predict.setup()
    yes = markets["markets"][0]["tokens"][0]["tokenId"]
    # An order for an exchange nobody knows: the scanner refuses to sign it.
    order = predict.build_order(yes, "buy", "10", "0.5")
    with pytest.raises(MMError) as err:
        predict.sign_order(order, exchange="0x000000000000000000000000000000000000dEaD")
    assert err.value.code == "APPROVAL_REQUIRED"
    assert "not a known CTF exchange" in err.value.message
    # An order over someone else's funds (a foreign maker): refused as well.
    foreign = orders.build_order(maker="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                                 token_id=yes, side="BUY", price="0.5", size="10")
    with pytest.raises(MMError) as err:
        predict.sign_order(foreign)
    assert "not this wallet" in err.value.message
    # Far above the book's ask (0.55): held by the off-book check fed with the book's prices.
    with pytest.raises(MMError) as err:
        predict.place(yes, "buy", "10", "0.95")
    assert "above the best ask" in err.value.message
    # The service refuses an order whose maker is not the authenticated address.
    from mm_agent.evm.signing import sign_typed_data

    from .conftest import KEY1

    sig = sign_typed_data(bytes.fromhex(KEY1[2:]), orders.order_typed_data(
        foreign, chain_id=31337, exchange=markets["contracts"]["CtfExchange"]))
    with pytest.raises(MMError) as err:
        predict.client.post_order(foreign, sig)
    assert "authenticated address" in err.value.message


def test_resolve_then_redeem_credits_the_shares(predict: Predict, predict_home: Any,
                                                rpc: Chain, markets: dict[str, Any]) -> None:
    predict.setup()
    market = markets["markets"][0]
    yes = market["tokens"][0]["tokenId"]
    predict.place(yes, "buy", "20", "0.55")
    assert predict.redeem_list()["redeemable"] == []
    out = resolve_devnet_market(predict_home, market["slug"], "yes")
    assert out["payouts"] == [1, 0] and out["payoutPerShare"] == {"Yes": "1", "No": "0"}
    assert predict.markets_get(market["conditionId"])["closed"] is True
    listed = predict.redeem_list()["redeemable"]
    assert listed[0]["payout"] == "20"
    before = erc20_balance(rpc, markets["collateral"]["address"], ACCOUNT0)
    red = predict.redeem(market["conditionId"])["redemptions"][0]
    assert red["credited"] == "20"
    assert erc20_balance(rpc, markets["collateral"]["address"], ACCOUNT0) - before == 20_000_000
    assert erc1155_balance(rpc, markets["contracts"]["ConditionalTokens"], ACCOUNT0, yes) == 0
    kinds = [h["kind"] for h in predict.history()["history"]]
    assert kinds[:2] == ["redeem", "order"]
