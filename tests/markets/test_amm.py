"""Uniswap V2 on the devnet: a real swap receives exactly the quoted amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mm_agent.markets import amm
from mm_agent.markets.chain import Chain, encode_call
from mm_agent.markets.devnet_deploy import erc20_balance, pair_reserves, uniswap_init_code_hash

ACCOUNT1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _pool(markets: dict[str, Any], a: str, b: str) -> str:
    return next(p["pair"] for p in markets["pools"] if p["symbols"] == [a, b])


def test_amount_out_formula() -> None:
    # getAmountOut(1000, 1_000_000, 1_000_000): 997000 * 1e6 / (1e9 + 997000)
    assert amm.amount_out(1000, 10**6, 10**6) == 996
    assert amm.amount_in(996, 10**6, 10**6) <= 1000
    assert amm.min_amount_out(10_000, 50) == 9_950
    with pytest.raises(Exception):  # noqa: B017
        amm.amount_out(0, 1, 1)


def test_router_knows_the_pair_code() -> None:
    # UniswapV2Library.pairFor has the pair's init code hash built in.
    assert uniswap_init_code_hash() == \
        "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"


def test_token_swap_receives_the_quote(chain: Any, markets: dict[str, Any], rpc: Chain) -> None:
    musd, mdai = chain.token("mUSD")["address"], chain.token("mDAI")["address"]
    router = markets["contracts"]["UniswapV2Router02"]
    pair = _pool(markets, "mUSD", "mDAI")
    amount = 2_500 * 10**6
    reserves = pair_reserves(rpc, pair, musd)
    assert reserves == (100_000 * 10**6, 100_000 * 10**18)
    quote = amm.quote_path(amount, [reserves], slippage_bps=100)
    assert Decimal("0.02") < quote.price_impact < Decimal("0.03")  # 2.5 % of the pool + fee
    # The router's own getAmountsOut agrees.
    onchain = rpc.call(router, encode_call("getAmountsOut(uint256,address[])",
                                           ["uint256", "address[]"], [amount, [musd, mdai]]),
                       ["uint256[]"])
    assert list(onchain) == list(quote.amounts)

    rpc.transact(ACCOUNT1, musd, encode_call("mint(address,uint256)", ["address", "uint256"],
                                             [ACCOUNT1, amount]))
    rpc.transact(ACCOUNT1, musd, encode_call("approve(address,uint256)", ["address", "uint256"],
                                             [router, amount]))
    before = erc20_balance(rpc, mdai, ACCOUNT1)
    rpc.transact(ACCOUNT1, router, encode_call(
        "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
        ["uint256", "uint256", "address[]", "address", "uint256"],
        [amount, quote.min_amount_out, [musd, mdai], ACCOUNT1, 2**40]))
    assert erc20_balance(rpc, mdai, ACCOUNT1) - before == quote.amount_out
    assert pair_reserves(rpc, pair, musd) == (reserves[0] + amount,
                                              reserves[1] - quote.amount_out)


def test_eth_swap_receives_the_quote(chain: Any, markets: dict[str, Any], rpc: Chain) -> None:
    musd = chain.token("mUSD")["address"]
    weth = markets["contracts"]["WETH9"]
    router = markets["contracts"]["UniswapV2Router02"]
    reserves = pair_reserves(rpc, _pool(markets, "ETH", "mUSD"), weth)
    assert reserves == (100 * 10**18, 200_000 * 10**6)
    amount = 10**18  # 1 ETH ≈ 2000 mUSD before impact and fee
    quote = amm.quote_path(amount, [reserves])
    before = erc20_balance(rpc, musd, ACCOUNT1)
    rpc.transact(ACCOUNT1, router, encode_call(
        "swapExactETHForTokens(uint256,address[],address,uint256)",
        ["uint256", "address[]", "address", "uint256"],
        [quote.min_amount_out, [weth, musd], ACCOUNT1, 2**40]), value=amount)
    got = erc20_balance(rpc, musd, ACCOUNT1) - before
    assert got == quote.amount_out
    assert 1_900 * 10**6 < got < 2_000 * 10**6
