"""`mm price spot|history` and USD values in `wallet balance`: every price with its source —
the devnet's pools (real reserves), Chainlink feeds (a mock aggregator on anvil), static
operator prices, the devnet defaults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from conftest import ACCOUNT0, Anvil
from test_prices import aggregator_code

from mm_agent import MMError
from mm_agent.local.state import Home
from mm_agent.markets.devnet_deploy import deploy_markets
from mm_agent.markets.price import PriceBook, parse_asset_id, price_history
from mm_agent.security.pipeline import Engine

CHAIN = 31337
ETH_ID = "eip155:31337/slip44:60"


@pytest.fixture
def market_home(byok_home: Home, chain: Anvil) -> Home:
    record = deploy_markets(chain.url, tokens=chain.deployed["tokens"])
    byok_home.write_json("devnet.json", {**byok_home.read_json("devnet.json"),
                                         "markets": record})
    return byok_home


def _book(home: Home, **kw: Any) -> PriceBook:
    from mm_agent.local.config import Config

    return PriceBook(Engine(home, Config(home)), **kw)


def test_asset_ids_are_parsed_strictly() -> None:
    assert parse_asset_id("eip155:1/slip44:60") == (1, None)
    assert parse_asset_id("eip155:137/slip44:966") == (137, None)
    assert parse_asset_id(
        "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48") == (
        1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
    for bad in ("ETH", "eip155:1/slip44:966", "eip155:1/erc20:0x12", "cosmos:1/slip44:60",
                "eip155:1/erc721:0x" + "1" * 40):
        with pytest.raises(MMError) as exc:
            parse_asset_id(bad)
        assert exc.value.code == "INVALID_ASSET_ID"
    with pytest.raises(MMError) as exc:
        parse_asset_id("eip155:999999/slip44:60")
    assert exc.value.code == "UNSUPPORTED_CHAIN"


def test_spot_from_the_devnet_pool_with_its_source(market_home: Home, mm_cli: Any,
                                                    chain: Anvil) -> None:
    musd = chain.token("mUSD")["address"].lower()
    rc, out, _ = mm_cli("price", "spot", "--asset-ids",
                        f"{ETH_ID},eip155:31337/erc20:{musd}")
    assert rc == 0, out
    eth, usd = out["data"]["prices"]
    assert eth["source"] == "devnet-pool" and eth["quoteSymbol"] == "mUSD"
    assert Decimal(eth["price"]) == Decimal(2000)  # 200 000 mUSD / 100 ETH × $1
    assert usd["source"] == "devnet-pool" and Decimal(usd["price"]) == 1
    assert out["data"]["vsCurrency"] == "usd"
    rc, out, _ = mm_cli("price", "spot", "--asset-ids", "ETH")
    assert rc == 2 and out["error"]["code"] == "INVALID_ASSET_ID"
    rc, out, _ = mm_cli("price", "spot", "--asset-ids", ETH_ID, "--vs", "eur")
    assert rc == 2


def test_static_prices_win_and_devnet_defaults_without_pools(byok_home: Home,
                                                            mm_cli: Any) -> None:
    rc, out, _ = mm_cli("price", "spot", "--asset-ids", ETH_ID)
    assert out["data"]["prices"][0]["source"] == "devnet-static"  # no markets deployment
    assert Decimal(out["data"]["prices"][0]["price"]) == 2000
    byok_home.write_json("prices.json", {"prices": {"31337:native": "2500.5"}})
    rc, out, _ = mm_cli("price", "spot", "--asset-ids", ETH_ID)
    assert out["data"]["prices"][0]["source"] == "static"
    assert out["data"]["prices"][0]["price"] == "2500.5"
    rc, out, _ = mm_cli("price", "history", "--chain-id", "eip155:31337",
                        "--asset-type", "slip44:60")
    assert rc == 1 and out["error"]["code"] == "PRICE_UNAVAILABLE"


def test_spot_from_chainlink(byok_home: Home, chain: Anvil) -> None:
    import time

    feed = "0x" + f"{0xFEED1000:040x}"
    now = int(time.time())
    chain.rpc("anvil_setCode", [feed, aggregator_code(7, 1234_50000000, now - 65, now - 60, 7,
                                                      8)])
    book = _book(byok_home, feeds={CHAIN: {"native": feed}})
    spot = book.spot(book.asset(CHAIN, None))
    assert spot is not None and spot.source == "chainlink"
    assert spot.price == Decimal("1234.5") and spot.to_dict()["feed"].lower() == feed


def test_history_from_the_pool(market_home: Home, chain: Anvil, mm_cli: Any) -> None:
    from mm_agent import Wallet
    from mm_agent.markets.swap import SwapService

    swaps = SwapService(Wallet.from_env(home=market_home))
    q = swaps.quote(from_token="ETH", to_token="mUSD", amount="5", from_chain=CHAIN,
                    slippage="2")
    swaps.execute(q["quoteId"])
    rc, out, _ = mm_cli("price", "history", "--chain-id", "31337", "--asset-type", "slip44:60")
    assert rc == 0, out
    data = out["data"]
    assert data["source"] == "devnet-pool" and data["chainId"] == "eip155:31337"
    prices = [Decimal(p) for _, p in data["prices"]]
    assert prices[0] == 2000 and prices[-1] < 2000  # ETH sold into the pool: cheaper
    book = _book(market_home)
    with pytest.raises(MMError) as exc:
        price_history(book, book.asset(CHAIN, None), interval="weekly")
    assert exc.value.code == "INVALID_INTERVAL"
    with pytest.raises(MMError) as exc:
        price_history(book, book.asset(CHAIN, None), start=10, end=5)
    assert exc.value.code == "INVALID_TIMESTAMP"


def test_balance_has_usd_values(market_home: Home, chain: Anvil) -> None:
    from mm_agent import Wallet

    w = Wallet.from_env(home=market_home)
    out = w.balance(chain_ids=[CHAIN])
    tokens = {t["symbol"]: t for t in out["chains"][0]["tokens"]}
    eth = tokens["ETH"]
    assert eth["priceSource"] == "devnet-pool"
    expected = Decimal(chain.balance(ACCOUNT0)).scaleb(-18) * 2000
    assert Decimal(eth["usdValue"]) == expected.quantize(Decimal("0.01"))
    assert out["totalValue"] is not None and Decimal(out["totalValue"]) >= Decimal(
        eth["usdValue"])


def test_balance_usd_null_when_unpriced(byok_home: Home, chain: Anvil) -> None:
    from mm_agent.wallets.balances import read_balances

    class NoPrices:
        def spot(self, _asset: Any) -> None:
            return None

    engine = Engine(byok_home, __import__("mm_agent.local.config",
                                          fromlist=["Config"]).Config(byok_home))
    out = read_balances(engine, ACCOUNT0, [CHAIN], token="ETH", token_contracts=[],
                        prices=NoPrices())
    assert out["chains"][0]["tokens"][0]["usdValue"] is None
    assert out["totalValue"] is None
