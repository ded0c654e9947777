"""DevnetCtfExchange end to end: a maker signs through the BYOK wallet (security pipeline), a
taker signs an opposite order, the operator matches them on chain; balances equal the fill."""

from __future__ import annotations

from typing import Any

import pytest

from mm_agent.errors import DevnetError
from mm_agent.evm.signatures import keccak256
from mm_agent.evm.signing import sign_typed_data
from mm_agent.markets import orders
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.devnet_deploy import (
    approve_for_trading,
    erc20_balance,
    erc1155_balance,
    match_orders_calldata,
    split_collateral,
)

from .conftest import KEY1

ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ACCOUNT1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TUPLE = orders.ORDER_ABI_TUPLE
FILLED = keccak256(b"OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,"
                   b"bytes32,bytes32)")
MATCHED = keccak256(b"OrdersMatched(bytes32,address,uint8,uint256,uint256,uint256)")
CANCELLED = keccak256(b"OrderCancelled(bytes32)")


def _wallet_sign(wallet: Any, typed: dict[str, Any]) -> str:
    """Sign through the BYOK pipeline. The scanner does not know the Order type yet and holds
    it for approval (value-moving typed data); a human approving the preview's digest lets it
    through — exactly what ``mm wallet sign-typed-data`` does after a held request."""
    from mm_agent.errors import ApprovalRequired

    with pytest.raises(ApprovalRequired) as held:
        wallet.sign_typed_data(chain_id=31337, payload=typed)
    assert "makerAmount" in held.value.message
    req = wallet.bound(confirm=held.value.details["digest"]).sign_typed_data(
        chain_id=31337, payload=typed)
    assert req.status == "COMPLETED", req.error
    return str(req.signature)


def _setup(rpc: Chain, markets: dict[str, Any]) -> tuple[dict[str, Any], int, str, str]:
    market = markets["markets"][0]
    ctf_address = markets["contracts"]["ConditionalTokens"]
    collateral = markets["collateral"]["address"]
    # The maker (account 0) holds 100 YES + 100 NO; the taker (account 1) 100 mUSD.
    split_collateral(rpc, ctf_address, collateral, ACCOUNT0, market["conditionId"], 100_000_000)
    rpc.transact(ACCOUNT1, collateral, encode_call("mint(address,uint256)",
                                                   ["address", "uint256"],
                                                   [ACCOUNT1, 100_000_000]))
    for holder in (ACCOUNT0, ACCOUNT1):
        approve_for_trading(rpc, holder, markets)
    return market, int(market["tokens"][0]["tokenId"]), ctf_address, collateral


def test_hash_and_typehash_match_the_contract(markets: dict[str, Any], rpc: Chain) -> None:
    exchange = markets["contracts"]["CtfExchange"]
    assert "0x" + rpc.call(exchange, encode_call("ORDER_TYPEHASH()", [], []),
                           ["bytes32"]).hex() == orders.ORDER_TYPEHASH
    order = orders.build_order(maker=ACCOUNT0, token_id=123, side="SELL", price="0.42",
                               size="10", salt=5, timestamp_ms=1)
    onchain = rpc.call(exchange, encode_call(f"hashOrder({TUPLE})", [TUPLE],
                                             [order.as_tuple()]), ["bytes32"])
    assert "0x" + onchain.hex() == orders.order_hash(order, chain_id=31337, exchange=exchange)


def test_match_orders_moves_exactly_the_fill(wallet: Any, markets: dict[str, Any],
                                             rpc: Chain) -> None:
    market, yes, ctf_address, collateral = _setup(rpc, markets)
    exchange = markets["contracts"]["CtfExchange"]

    # Maker: SELL 50 YES at 0.60, signed by the BYOK wallet through the pipeline.
    ask = orders.build_order(maker=ACCOUNT0, token_id=yes, side="SELL", price="0.60", size="50")
    ask_sig = _wallet_sign(wallet, orders.order_typed_data(ask, chain_id=31337,
                                                           exchange=exchange))
    # Taker: BUY 50 YES at up to 0.65 (pays 32.5 mUSD at most).
    bid = orders.build_order(maker=ACCOUNT1, token_id=yes, side="BUY", price="0.65", size="50")
    bid_sig = sign_typed_data(bytes.fromhex(KEY1[2:]),
                              orders.order_typed_data(bid, chain_id=31337, exchange=exchange))
    assert (ask.makerAmount, ask.takerAmount) == (50_000_000, 30_000_000)
    assert (bid.makerAmount, bid.takerAmount) == (32_500_000, 50_000_000)

    data = match_orders_calldata(market["conditionId"], (bid, bid_sig), [(ask, ask_sig)],
                                 bid.makerAmount, [ask.makerAmount])
    # Only the operator may match.
    with pytest.raises(DevnetError):
        rpc.transact(ACCOUNT1, exchange, data)
    receipt = rpc.transact(markets["operator"], exchange, data, label="matchOrders")

    # The taker paid the maker's price (30 mUSD, price improvement kept) for 50 YES.
    assert erc1155_balance(rpc, ctf_address, ACCOUNT1, yes) == 50_000_000
    assert erc1155_balance(rpc, ctf_address, ACCOUNT0, yes) == 50_000_000
    assert erc20_balance(rpc, collateral, ACCOUNT1) == 70_000_000
    assert erc20_balance(rpc, collateral, ACCOUNT0) >= 30_000_000

    topics = [log["topics"][0] for log in receipt["logs"]
              if log["address"].lower() == exchange.lower()]
    assert topics.count("0x" + FILLED.hex()) == 2
    assert topics.count("0x" + MATCHED.hex()) == 1
    ask_hash = orders.order_hash(ask, chain_id=31337, exchange=exchange)
    maker_fill = next(log for log in receipt["logs"] if log["topics"][0] == "0x" + FILLED.hex()
                      and log["topics"][1] == ask_hash)
    from eth_abi import decode

    side, token, making, taking, fee, _b, _m = decode(
        ["uint8", "uint256", "uint256", "uint256", "uint256", "bytes32", "bytes32"],
        bytes.fromhex(maker_fill["data"][2:]))
    assert (side, token, making, taking, fee) == (1, yes, 50_000_000, 30_000_000, 0)

    # Both orders are used up: matching again reverts.
    filled, remaining = rpc.call(exchange, encode_call("orderStatus(bytes32)", ["bytes32"],
                                                       [bytes.fromhex(ask_hash[2:])]),
                                 ["bool", "uint248"])
    assert (filled, remaining) == (True, 0)
    with pytest.raises(DevnetError):
        rpc.transact(markets["operator"], exchange, data)


def test_partial_fill_cancel_and_bad_signature(wallet: Any, markets: dict[str, Any],
                                               rpc: Chain) -> None:
    market, yes, ctf_address, _collateral = _setup(rpc, markets)
    exchange = markets["contracts"]["CtfExchange"]
    ask = orders.build_order(maker=ACCOUNT0, token_id=yes, side="SELL", price="0.50", size="40")
    ask_sig = _wallet_sign(wallet, orders.order_typed_data(ask, chain_id=31337,
                                                           exchange=exchange))
    bid = orders.build_order(maker=ACCOUNT1, token_id=yes, side="BUY", price="0.50", size="10")
    bid_sig = sign_typed_data(bytes.fromhex(KEY1[2:]),
                              orders.order_typed_data(bid, chain_id=31337, exchange=exchange))
    # A forged signature (the taker signing the maker's order) is refused.
    forged = sign_typed_data(bytes.fromhex(KEY1[2:]),
                             orders.order_typed_data(ask, chain_id=31337, exchange=exchange))
    bad = match_orders_calldata(market["conditionId"], (bid, bid_sig), [(ask, forged)],
                                bid.makerAmount, [10_000_000])
    with pytest.raises(DevnetError):
        rpc.transact(markets["operator"], exchange, bad)
    # A partial fill: 10 of the maker's 40.
    rpc.transact(markets["operator"], exchange, match_orders_calldata(
        market["conditionId"], (bid, bid_sig), [(ask, ask_sig)], bid.makerAmount, [10_000_000]))
    assert erc1155_balance(rpc, ctf_address, ACCOUNT1, yes) == 10_000_000
    ask_hash = bytes.fromhex(orders.order_hash(ask, chain_id=31337, exchange=exchange)[2:])
    assert rpc.call(exchange, encode_call("orderStatus(bytes32)", ["bytes32"], [ask_hash]),
                    ["bool", "uint248"]) == (False, 30_000_000)
    # Only the maker cancels; afterwards the rest cannot be filled.
    cancel = encode_call(f"cancelOrder({TUPLE})", [TUPLE], [ask.as_tuple(ask_sig)])
    with pytest.raises(DevnetError):
        rpc.transact(ACCOUNT1, exchange, cancel)
    receipt = rpc.transact(ACCOUNT0, exchange, cancel)
    assert receipt["logs"][0]["topics"] == ["0x" + CANCELLED.hex(), "0x" + ask_hash.hex()]
    bid2 = orders.build_order(maker=ACCOUNT1, token_id=yes, side="BUY", price="0.50", size="10")
    bid2_sig = sign_typed_data(bytes.fromhex(KEY1[2:]),
                               orders.order_typed_data(bid2, chain_id=31337, exchange=exchange))
    with pytest.raises(DevnetError):
        rpc.transact(markets["operator"], exchange, match_orders_calldata(
            market["conditionId"], (bid2, bid2_sig), [(ask, ask_sig)], bid2.makerAmount,
            [10_000_000]))


def test_deploy_is_idempotent(chain: Any, markets: dict[str, Any]) -> None:
    from mm_agent.markets.devnet_deploy import deploy_markets

    block = chain.rpc("eth_blockNumber")
    again = deploy_markets(chain.url, tokens=chain.deployed["tokens"], existing=markets)
    assert again == markets
    assert chain.rpc("eth_blockNumber") == block
