"""CTF Exchange (Polymarket) orders in typed data: recognised by their EIP-712 struct, judged by
exchange, maker/signer, price against a reference, V1 fee and taker (rules_ctf_orders)."""

from __future__ import annotations

from typing import Any

import pytest

from mm_agent.markets import orders
from mm_agent.security.scan import ScanInput, reference_prices, scan
from mm_agent.security.scan.known_protocols import (
    CTF_EXCHANGES,
    ctf_exchanges_for,
    devnet_contracts,
    devnet_ctf_exchanges,
    known_protocols_for,
    market_contracts,
)
from mm_agent.security.scan.rules_ctf_orders import (
    V1_FIELDS,
    V2_FIELDS,
    ctf_order,
    current_reference_prices,
)

WALLET = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
V1_EXCHANGE = "0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E"
V1_NEG_RISK = "0xC5d563A36AE78145C45a50134d48A1215220f80a"
V2_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
V3_EXCHANGE = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
FAKE_EXCHANGE = "0x1111111111111111111111111111111111111111"
TOKEN_ID = 71321045679252212594626385532706912750332728571942532289631379312455583992563
DEVNET_EXCHANGE = "0x" + "ab" * 20
MUSD = "0x" + "cd" * 20
OPERATOR = "0x" + "ef" * 20
DEVNET = {
    "tokens": [{"symbol": "mUSD", "address": MUSD, "decimals": 6}],
    "markets": {
        "operator": OPERATOR,
        "collateral": {"symbol": "mUSD", "address": MUSD, "decimals": 6},
        "contracts": {"ConditionalTokens": "0x" + "01" * 20, "CtfExchange": DEVNET_EXCHANGE,
                      "WETH9": "0x" + "02" * 20, "UniswapV2Factory": "0x" + "03" * 20,
                      "UniswapV2Router02": "0x" + "04" * 20},
        "markets": [],
    },
}


def v2(*, side: str = "BUY", price: str = "0.55", size: str = "10", maker: str = WALLET,
       exchange: str = V2_EXCHANGE, chain_id: int = 137, version: str = "2") -> dict[str, Any]:
    order = orders.build_order(maker=maker, token_id=TOKEN_ID, side=side, price=price, size=size,
                               salt=7, timestamp_ms=1)
    td = orders.order_typed_data(order, chain_id=chain_id, exchange=exchange)
    td["domain"]["version"] = version
    return td


def v1(*, side: int = 0, maker_amount: int = 5_500_000, taker_amount: int = 10_000_000,
       fee: int = 0, taker: str = "0x" + "0" * 40, maker: str = WALLET,
       exchange: str = V1_EXCHANGE) -> dict[str, Any]:
    """A V1 order exactly as py-clob-client-v2's ExchangeOrderBuilderV1 lays it out."""
    return {
        "primaryType": "Order",
        "types": {"EIP712Domain": [{"name": "name", "type": "string"},
                                   {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Order": [{"name": n, "type": t} for n, t in V1_FIELDS]},
        "domain": {"name": "Polymarket CTF Exchange", "version": "1", "chainId": 137,
                   "verifyingContract": exchange},
        "message": {"salt": "1", "maker": maker, "signer": maker, "taker": taker,
                    "tokenId": str(TOKEN_ID), "makerAmount": str(maker_amount),
                    "takerAmount": str(taker_amount), "expiration": "0", "nonce": "0",
                    "feeRateBps": str(fee), "side": side, "signatureType": 0},
    }


def run(td: dict[str, Any], *, chain_id: int = 137, **kw: Any) -> Any:
    return scan(ScanInput(kind="typed-data", chain_id=chain_id, wallet=WALLET, typed_data=td,
                          **kw))


def ids(result: Any) -> list[str]:
    return [f.feature_id for f in result.features]


# --- recognition ------------------------------------------------------------------------------
def test_struct_strings_match_the_exchanges() -> None:
    v1_string = "Order(" + ",".join(f"{t} {n}" for n, t in V1_FIELDS) + ")"
    assert v1_string == (  # Polymarket/ctf-exchange src/exchange/libraries/OrderStructs.sol
        "Order(uint256 salt,address maker,address signer,address taker,uint256 tokenId,"
        "uint256 makerAmount,uint256 takerAmount,uint256 expiration,uint256 nonce,"
        "uint256 feeRateBps,uint8 side,uint8 signatureType)")
    assert "Order(" + ",".join(f"{t} {n}" for n, t in V2_FIELDS) + ")" == \
        orders.ORDER_TYPE_STRING
    clob = pytest.importorskip("py_clob_client_v2.order_utils.model")
    assert tuple((f["name"], f["type"]) for f in clob.CTF_EXCHANGE_V1_ORDER_STRUCT) == V1_FIELDS
    assert tuple((f["name"], f["type"]) for f in clob.CTF_EXCHANGE_V2_ORDER_STRUCT) == V2_FIELDS


def test_registry_matches_the_official_client() -> None:
    config = pytest.importorskip("py_clob_client_v2.config")
    for chain_id in (137, 80002):
        cfg = config.get_contract_config(chain_id)
        table = ctf_exchanges_for(chain_id)
        for address, version in ((cfg.exchange, "1"), (cfg.neg_risk_exchange, "1"),
                                 (cfg.exchange_v2, "2"), (cfg.neg_risk_exchange_v2, "2"),
                                 (cfg.exchange_v3, "3")):
            assert table[address.lower()]["version"] == version
        assert cfg.neg_risk_adapter.lower() in known_protocols_for(chain_id)
        assert cfg.conditional_tokens.lower() in known_protocols_for(chain_id)
        assert table[cfg.exchange_v2.lower()]["collateral"]["address"] == cfg.collateral


def test_recognised_by_struct_or_by_keys_only() -> None:
    assert ctf_order(v2())[0] == "2"
    assert ctf_order(v1())[0] == "1"
    no_types = {k: v for k, v in v2().items() if k != "types"}
    assert ctf_order(no_types)[0] == "2"
    blur = {"primaryType": "Order", "domain": {}, "message": {"trader": WALLET, "side": 1,
                                                              "collection": OTHER, "price": 1}}
    assert ctf_order(blur) is None
    extra_field = v2()
    extra_field["types"]["Order"].append({"name": "taker", "type": "address"})
    assert ctf_order(extra_field) is None


# --- verdicts ---------------------------------------------------------------------------------
def test_own_v2_order_to_a_known_exchange_is_benign_and_described() -> None:
    r = run(v2())
    assert r.result_type == "Benign", r.to_dict()
    assert ids(r) == ["CTF_ORDER"]
    text = r.features[0].description
    assert "BUY 10 of outcome token" in text and "at 0.55 pUSD" in text
    assert "Polymarket CTF Exchange V2" in text and "costs at most 5.5 pUSD" in text
    (entry,) = r.to_dict()["orders"]
    assert entry["side"] == "BUY" and entry["price"] == "0.55" and entry["size"] == "10000000"
    assert entry["maxCost"] == "5500000" and entry["exchangeKnown"] is True
    assert entry["collateral"]["symbol"] == "pUSD"
    # The generic "unrecognised value-moving typed data" rule no longer holds it.
    assert "TYPED_DATA_MOVES_VALUE" not in ids(r)


def test_sell_and_v3_and_neg_risk_are_known() -> None:
    r = run(v2(side="SELL", price="0.42", exchange=V3_EXCHANGE, version="3"))
    assert r.result_type == "Benign" and "SELL 10" in r.features[0].description
    assert r.to_dict()["orders"][0]["maxCost"] is None
    assert run(v1(exchange=V1_NEG_RISK)).result_type == "Benign"


def test_unknown_exchange_is_malicious() -> None:
    r = run(v2(exchange=FAKE_EXCHANGE))
    assert r.result_type == "Malicious" and r.reason == "transfer_farming"
    assert r.classification == "ctf_order_unknown_exchange"
    assert "makerAmount=5500000" in r.description
    # A Polygon exchange is unknown on another chain.
    assert run(v2(chain_id=8453), chain_id=8453).result_type == "Malicious"
    assert run(v2(exchange=FAKE_EXCHANGE)).to_dict()["orders"][0]["collateral"] is None


def test_foreign_maker_is_malicious() -> None:
    r = run(v2(maker=OTHER))
    assert r.result_type == "Malicious"
    assert "CTF_ORDER_FOREIGN_MAKER" in ids(r)
    foreign_signer = v2()
    foreign_signer["message"]["signer"] = OTHER
    assert "CTF_ORDER_FOREIGN_MAKER" in ids(run(foreign_signer))


@pytest.mark.parametrize(("side", "price", "ref", "flagged"), [
    ("BUY", "0.55", {"ask": "0.35", "bid": "0.30"}, True),   # 0.20 above the ask
    ("BUY", "0.55", {"ask": "0.50", "bid": "0.48"}, False),  # within 0.10
    ("BUY", "0.20", {"ask": "0.50"}, False),                 # a resting bid below the book
    ("SELL", "0.30", {"bid": "0.60", "ask": "0.62"}, True),  # dumps 0.30 below the bid
    ("SELL", "0.90", {"bid": "0.60"}, False),                # a resting ask above the book
    ("BUY", "0.09", {"ask": "0.05"}, True),                  # cheap token: 1.8× the ask
    ("BUY", "0.05", "0.02", True),                           # a bare number is the midpoint
    ("BUY", "0.55", None, False),                            # no reference: no check
])
def test_price_off_book(side: str, price: str, ref: Any, flagged: bool) -> None:
    refs = {} if ref is None else {str(TOKEN_ID): ref}
    r = run(v2(side=side, price=price), reference_prices=refs)
    assert ("CTF_ORDER_PRICE_OFF_BOOK" in ids(r)) is flagged, r.to_dict()
    assert r.result_type == ("Warning" if flagged else "Benign")
    if flagged:
        assert r.reason == "other" and r.classification == "ctf_order_price_off_book"


def test_reference_prices_context() -> None:
    assert current_reference_prices() == {}
    with reference_prices({TOKEN_ID: {"ask": "0.30", "source": "devnet book"}}):
        assert current_reference_prices() == {str(TOKEN_ID): {"ask": "0.30",
                                                              "source": "devnet book"}}
    assert current_reference_prices() == {}


def test_v1_fee_and_taker() -> None:
    ok = run(v1(fee=1000))
    assert ok.result_type == "Benign", ok.to_dict()
    # The BUY's worst case includes the fee bound: 5.5 + 10 %.
    assert ok.to_dict()["orders"][0]["maxCost"] == "6050000"
    high = run(v1(fee=1500))
    assert high.result_type == "Warning" and "CTF_ORDER_FEE_OUT_OF_RANGE" in ids(high)
    private = run(v1(taker=OTHER))
    assert private.result_type == "Warning" and "CTF_ORDER_PRIVATE_TAKER" in ids(private)
    # On the devnet the exchange's operator may be the taker.
    devnet = v1(taker=OPERATOR, exchange=DEVNET_EXCHANGE)
    devnet["domain"]["chainId"] = 31337
    r = run(devnet, chain_id=31337, ctf_exchanges=devnet_ctf_exchanges(DEVNET))
    assert "CTF_ORDER_PRIVATE_TAKER" not in ids(r)


def test_unreadable_order_is_a_warning() -> None:
    td = v2()
    td["message"]["side"] = 7
    r = run(td)
    assert r.result_type == "Warning" and ids(r) == ["CTF_ORDER_UNREADABLE"]
    assert "orders" not in r.to_dict()


# --- the devnet record ------------------------------------------------------------------------
def test_devnet_markets_record_feeds_the_registry() -> None:
    named = dict(devnet_contracts(DEVNET))
    assert named[DEVNET_EXCHANGE] == "Devnet CTF Exchange"
    assert named["0x" + "04" * 20] == "Devnet Uniswap V2 Router02"
    assert "0x" + "03" * 20 not in named  # the factory is neither spender nor exchange
    assert named[MUSD] == "mUSD"
    table = devnet_ctf_exchanges(DEVNET)
    assert table[DEVNET_EXCHANGE]["collateral"]["address"] == MUSD
    assert table[DEVNET_EXCHANGE]["operators"] == [OPERATOR]
    assert devnet_ctf_exchanges({"tokens": []}) == {} and devnet_contracts(None) == []
    # A devnet order: unknown until the record's exchange is passed in.
    td = v2(exchange=DEVNET_EXCHANGE, chain_id=31337)
    assert run(td, chain_id=31337).result_type == "Malicious"
    r = run(td, chain_id=31337, ctf_exchanges=table)
    assert r.result_type == "Benign" and "mUSD" in r.features[0].description
    suggested = dict(market_contracts(31337, DEVNET))
    assert set(suggested) == {DEVNET_EXCHANGE, "0x" + "04" * 20}
    assert set(CTF_EXCHANGES[137]) <= set(dict(market_contracts(137)))
