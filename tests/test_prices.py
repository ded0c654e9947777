"""USD price sources: static config prices and Chainlink feeds read from a real node."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mm_agent.errors import InvalidConfigValue
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.rpc import RpcClient
from mm_agent.security.policy.prices import (
    CHAINLINK_FEEDS,
    ChainedPrices,
    ChainlinkPrices,
    PriceSource,
    StaticPrices,
    usd_value,
)

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NATIVE = {"type": "native", "address": None, "symbol": None, "decimals": 18, "tokenId": None}
MUSD = {"type": "erc20", "address": TOKEN, "symbol": "mUSD", "decimals": 6, "tokenId": None}
NOW = 1_700_000_000


# --- static -----------------------------------------------------------------------------------
def test_static_prices_by_key_and_symbol() -> None:
    prices = StaticPrices({"ETH": "2000", "mUSD": 1, f"31337:{TOKEN.lower()}": "1.01",
                           "1:NATIVE": "3000.5", "8453:musd": "0.99"})
    assert isinstance(prices, PriceSource)
    assert prices.usd_price(1, NATIVE) == Decimal("3000.5")  # chain:native beats the symbol
    assert prices.usd_price(31337, NATIVE) == Decimal(2000)  # native symbol of the chain
    assert prices.usd_price(31337, MUSD) == Decimal("1.01")  # address beats the symbol
    assert prices.usd_price(8453, {**MUSD, "address": "0x" + "1" * 40}) == Decimal("0.99")
    assert prices.usd_price(10, {**MUSD, "address": "0x" + "1" * 40}) == Decimal(1)
    assert prices.usd_price(31337, {**MUSD, "symbol": "NOPE", "address": "0x" + "2" * 40}) is None
    assert prices.usd_price(56, NATIVE) is None  # BNB chain's native is not ETH


def test_static_prices_from_config_and_validation() -> None:
    prices = StaticPrices.from_config({"prices": {"ETH": "2000", "mUSD": "1"}, "other": 1})
    assert prices.usd_price(31337, MUSD) == Decimal(1)
    assert StaticPrices.from_config({}).usd_price(31337, NATIVE) is None
    for bad in ({"ETH": "-1"}, {"ETH": "abc"}, {"ETH": True}, {"ETH": None}, {"ETH": "NaN"}):
        with pytest.raises(InvalidConfigValue):
            StaticPrices(bad)
    with pytest.raises(InvalidConfigValue):
        StaticPrices.from_config({"prices": ["ETH"]})


def test_usd_value_is_exact() -> None:
    prices = StaticPrices({"ETH": "2000.123", "mUSD": "1"})
    assert usd_value(prices, 31337, NATIVE, 5 * 10**17) == Decimal("1000.0615")
    huge = 10**30 + 1  # far beyond float and the default 28-digit Decimal context
    exact = Decimal("2000123000000000.000000000000002000123")
    assert usd_value(prices, 31337, NATIVE, huge) == exact
    assert usd_value(prices, 31337, MUSD, 1) == Decimal("0.000001")
    assert usd_value(prices, 31337, {**MUSD, "decimals": None}, 1) is None
    assert usd_value(prices, 31337, {**MUSD, "symbol": "X"}, 1) is None
    nft = {"type": "erc721", "address": TOKEN, "symbol": "NFT", "decimals": None, "tokenId": "1"}
    assert usd_value(StaticPrices({"NFT": "50"}), 31337, nft, 2) == Decimal(100)


def test_chained_prices_first_known_wins() -> None:
    a = StaticPrices({"mUSD": "1"})
    b = StaticPrices({"mUSD": "2", "ETH": "2000"})
    chained = ChainedPrices(a, b)
    assert chained.usd_price(31337, MUSD) == Decimal(1)
    assert chained.usd_price(31337, NATIVE) == Decimal(2000)
    assert ChainedPrices().usd_price(31337, NATIVE) is None


def test_builtin_feed_registry_is_checksummed() -> None:
    for table in CHAINLINK_FEEDS.values():
        assert "native" in table
        for key, feed in table.items():
            assert validate_address(feed) == feed
            if key != "native":
                assert validate_address(key) == key
    assert CHAINLINK_FEEDS[1]["native"] == "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"


# --- Chainlink against a mock aggregator on anvil ---------------------------------------------
def _push(n: int, width: int) -> bytes:
    return bytes([0x5F + width]) + n.to_bytes(width, "big")


def aggregator_code(round_id: int, answer: int, started: int, updated: int, answered_in: int,
                    decimals: int) -> str:
    """Runtime bytecode: ``decimals()`` → ``decimals``; any other call → the round tuple."""
    words = [round_id, answer % 2**256, started, updated, answered_in]
    round_block = b"".join(_push(w, 32) + _push(32 * i, 1) + b"\x52" for i, w in enumerate(words))
    round_block += _push(160, 1) + _push(0, 1) + b"\xf3"  # RETURN(0, 160)
    head_len = 2 + 1 + 2 + 1 + 5 + 1 + 3 + 1  # selector, EQ, PUSH2 dest, JUMPI
    dest = head_len + len(round_block)
    head = (_push(0, 1) + b"\x35" + _push(0xE0, 1) + b"\x1c"  # calldataload(0) >> 224
            + _push(0x313CE567, 4) + b"\x14" + _push(dest, 2) + b"\x57")
    assert len(head) == head_len
    dec_block = (b"\x5b" + _push(decimals, 1) + _push(0, 1) + b"\x52"
                 + _push(32, 1) + _push(0, 1) + b"\xf3")
    return "0x" + (head + round_block + dec_block).hex()


@pytest.fixture
def feeds(chain: Any) -> Any:
    """Install mock aggregators; returns a factory: (answer, updated, ...) → feed address."""
    count = iter(range(1, 1000))

    def make(answer: int, *, updated: int = NOW - 60, decimals: int = 8, round_id: int = 7,
             answered_in: int | None = None) -> str:
        address = "0x" + f"{0xFEED0000 + next(count):040x}"
        code = aggregator_code(round_id, answer, max(updated - 5, 0), updated,
                               round_id if answered_in is None else answered_in, decimals)
        chain.rpc("anvil_setCode", [address, code])
        return address

    return make


def chainlink(chain: Any, table: dict[str, str], **kw: Any) -> ChainlinkPrices:
    client = RpcClient(chain.url)
    return ChainlinkPrices(lambda _cid: client, {31337: table}, now=lambda: NOW, **kw)


def test_mock_aggregator_answers_like_chainlink(chain: Any, feeds: Any) -> None:
    feed = feeds(-5, decimals=18)
    raw = chain.rpc("eth_call", [{"to": feed, "data": "0xfeaf968c"}, "latest"])
    assert len(raw) == 2 + 320 and int(raw[2 + 64: 2 + 128], 16) == 2**256 - 5
    assert int(chain.rpc("eth_call", [{"to": feed, "data": "0x313ce567"}, "latest"]), 16) == 18


def test_chainlink_fresh_answer(chain: Any, feeds: Any) -> None:
    eth = feeds(2000_12345678)
    usd = feeds(10**18, decimals=18)  # decimals scale the answer, whatever they are
    prices = chainlink(chain, {"native": eth, TOKEN: usd})
    assert prices.usd_price(31337, NATIVE) == Decimal("2000.12345678")
    assert prices.usd_price(31337, MUSD) == Decimal(1)
    assert prices.usd_price(31337, NATIVE) == Decimal("2000.12345678")  # decimals cached
    assert usd_value(prices, 31337, NATIVE, 10**18 // 4) == Decimal("500.030864195")
    assert usd_value(prices, 31337, MUSD, 2_500_000) == Decimal("2.5")


def test_chainlink_lookup_by_symbol_and_unknown_assets(chain: Any, feeds: Any) -> None:
    prices = chainlink(chain, {"musd": feeds(99_000_000)})
    assert prices.usd_price(31337, {**MUSD, "address": "0x" + "3" * 40}) == Decimal("0.99")
    assert prices.usd_price(31337, NATIVE) is None
    assert prices.usd_price(1, NATIVE) is None  # no table for chain 1 here


@pytest.mark.parametrize(("kw", "why"), [
    ({"answer": 2000 * 10**8, "updated": NOW - 3601}, "stale"),
    ({"answer": -1}, "negative"),
    ({"answer": 0}, "zero"),
    ({"answer": 2000 * 10**8, "updated": 0}, "round never updated"),
    ({"answer": 2000 * 10**8, "round_id": 9, "answered_in": 8}, "answered in an older round"),
])
def test_chainlink_refuses_untrustworthy_answers(chain: Any, feeds: Any, kw: dict[str, Any],
                                                 why: str) -> None:
    answer = kw.pop("answer")
    prices = chainlink(chain, {"native": feeds(answer, **kw)})
    assert prices.usd_price(31337, NATIVE) is None, why


def test_chainlink_max_age_is_configurable(chain: Any, feeds: Any) -> None:
    feed = feeds(3000 * 10**8, updated=NOW - 7200)
    assert chainlink(chain, {"native": feed}).usd_price(31337, NATIVE) is None
    assert chainlink(chain, {"native": feed}, max_age_seconds=86_400).usd_price(
        31337, NATIVE) == Decimal(3000)


def test_chainlink_unreadable_feed_or_node_is_unpriced(chain: Any) -> None:
    empty = "0x" + "ab" * 20  # no code: eth_call returns 0x
    assert chainlink(chain, {"native": empty}).usd_price(31337, NATIVE) is None
    down = ChainlinkPrices(lambda _cid: RpcClient("http://127.0.0.1:9", timeout=1),
                           {31337: {"native": empty}}, now=lambda: NOW)
    assert down.usd_price(31337, NATIVE) is None


def test_chainlink_falls_back_to_static_when_chained(chain: Any, feeds: Any) -> None:
    stale = chainlink(chain, {"native": feeds(1, updated=1)})
    prices = ChainedPrices(stale, StaticPrices({"ETH": "1234"}))
    assert prices.usd_price(31337, NATIVE) == Decimal(1234)
