"""Order hashes, ClobAuth and HMAC headers match py-clob-client-v2 (the reference client).

py-clob-client-v2 is used here only as an oracle: it wants a raw key, ours stay in the wallet.
The key is the test mnemonic's first account (anvil's well-known account 0).
"""

from __future__ import annotations

import base64

import pytest

from mm_agent.evm.signing import sign_typed_data, typed_data_digest, validate_typed_data
from mm_agent.markets import orders

clob = pytest.importorskip("py_clob_client_v2")

from py_clob_client_v2.clob_types import ApiCreds, RequestArgs  # noqa: E402
from py_clob_client_v2.headers import create_level_1_headers, create_level_2_headers  # noqa: E402
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder  # noqa: E402
from py_clob_client_v2.order_utils.exchange_order_builder_v2 import (  # noqa: E402
    ORDER_TYPE_HASH,
    ExchangeOrderBuilderV2,
)
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderV2  # noqa: E402
from py_clob_client_v2.signer import Signer  # noqa: E402
from py_clob_client_v2.signing.eip712 import get_clob_auth_domain  # noqa: E402
from py_clob_client_v2.signing.hmac import build_hmac_signature  # noqa: E402
from py_clob_client_v2.signing.model import ClobAuth  # noqa: E402

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
EXCHANGE_POLYGON = "0xE111180000d2663C0091e4f400237545B87B996B"
EXCHANGE_DEVNET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TOKEN_ID = 71321045679252212594626385532706912750332728571942532289631379312455583992563


def _theirs(order: orders.Order, chain_id: int, exchange: str) -> tuple[dict, str]:
    builder = ExchangeOrderBuilderV2(exchange, chain_id, Signer(KEY0, chain_id))
    typed = builder.build_order_typed_data(OrderV2(
        salt=str(order.salt), maker=order.maker, signer=order.signer, tokenId=str(order.tokenId),
        makerAmount=str(order.makerAmount), takerAmount=str(order.takerAmount),
        side=order.side, signatureType=order.signatureType, timestamp=str(order.timestamp),
        metadata=order.metadata, builder=order.builder))
    return typed, builder.build_order_hash(typed)


def test_type_string_and_typehash() -> None:
    assert orders.ORDER_TYPEHASH == "0x" + ORDER_TYPE_HASH.hex()
    # The constant in the V2 exchange's Structs.sol.
    assert orders.ORDER_TYPEHASH == \
        "0xbb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589"


@pytest.mark.parametrize(("chain_id", "exchange"), [(137, EXCHANGE_POLYGON),
                                                    (31337, EXCHANGE_DEVNET)])
@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_order_hash_and_signature_parity(chain_id: int, exchange: str, side: str) -> None:
    order = orders.build_order(maker=ACCOUNT0, token_id=TOKEN_ID, side=side, price="0.57",
                               size="123.45", salt=987654321, timestamp_ms=1_760_000_000_123,
                               builder="0x" + "ab" * 32, metadata="0x" + "01" * 32)
    typed_theirs, hash_theirs = _theirs(order, chain_id, exchange)
    ours = orders.order_typed_data(order, chain_id=chain_id, exchange=exchange)
    assert orders.order_hash(order, chain_id=chain_id, exchange=exchange) == hash_theirs
    # The JSON-safe typed data the wallet signs passes its strict check and hashes the same.
    assert typed_data_digest(validate_typed_data(ours, chain_id)) == hash_theirs
    builder = ExchangeOrderBuilderV2(exchange, chain_id, Signer(KEY0, chain_id))
    assert sign_typed_data(bytes.fromhex(KEY0[2:]), ours) == \
        builder.build_order_signature(typed_theirs)


@pytest.mark.parametrize(("price", "size", "tick"), [
    ("0.57", "123.45", "0.01"), ("0.5", "10", "0.1"), ("0.123", "7.777", "0.001"),
    ("0.0567", "1000", "0.0001"), ("0.995", "3.33", "0.005"), ("0.01", "0.5", "0.01"),
])
@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_order_amounts_parity(price: str, size: str, tick: str, side: str) -> None:
    builder = OrderBuilder(Signer(KEY0, 137))
    _side, maker, taker = builder.get_order_amounts(side, float(size), float(price),
                                                    ROUNDING_CONFIG[tick])
    assert orders.order_amounts(side, price, size, tick) == (maker, taker)


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.1", "nan"])
def test_price_outside_range(bad: str) -> None:
    from mm_agent.errors import InvalidAmount

    with pytest.raises(InvalidAmount):
        orders.order_amounts("BUY", bad, "10")


def test_clob_auth_parity() -> None:
    ts, nonce = 1_760_000_000, 7
    typed = orders.clob_auth_typed_data(ACCOUNT0, chain_id=137, timestamp=ts, nonce=nonce)
    from eth_utils import keccak

    theirs = ClobAuth(address=ACCOUNT0, timestamp=str(ts), nonce=nonce,
                      message=orders.CLOB_AUTH_MESSAGE)
    digest = "0x" + keccak(theirs.signable_bytes(get_clob_auth_domain(137))).hex()
    assert typed_data_digest(validate_typed_data(typed, 137)) == digest
    sig = sign_typed_data(bytes.fromhex(KEY0[2:]), typed)
    expected = create_level_1_headers(Signer(KEY0, 137), nonce=nonce, timestamp=ts)
    assert orders.l1_headers(ACCOUNT0, sig, timestamp=ts, nonce=nonce) == expected


@pytest.mark.parametrize("body", [None, '{"order":{"salt":1,"side":"BUY"},"orderType":"GTC"}'])
def test_hmac_l2_parity(body: str | None) -> None:
    secret = base64.urlsafe_b64encode(bytes(range(32))).decode()
    creds = ApiCreds(api_key="key-1", api_secret=secret, api_passphrase="pass")
    args = RequestArgs(method="POST", request_path="/order", body=body, serialized_body=body)
    expected = create_level_2_headers(Signer(KEY0, 137), creds, args, timestamp=1_760_000_000)
    ours = orders.l2_headers(ACCOUNT0, api_key="key-1", secret=secret, passphrase="pass",
                             timestamp=1_760_000_000, method="POST", request_path="/order",
                             body=body)
    assert ours == expected
    assert orders.hmac_signature(secret, 1, "GET", "/x") == \
        build_hmac_signature(secret, 1, "GET", "/x")
