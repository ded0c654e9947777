"""Native amounts in intents read in token units with the chain's symbol ("0.5 POL"), never
a raw wei count; the symbol and decimals come from mm_agent.evm.chains."""

from __future__ import annotations

from typing import Any

import pytest

from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.chains import get_chain
from mm_agent.security.decode import decode_calldata
from mm_agent.security.intents import intent_for

BOB = to_checksum_address("0x" + "b2" * 20)
TOKEN = to_checksum_address("0x" + "a0" * 20)
DEPOSIT = "0xd0e30db0"  # WETH deposit()


def native_of(chain_id: int) -> tuple[str, int]:
    chain = get_chain(chain_id)
    return chain.native_symbol, chain.native_decimals


@pytest.mark.parametrize(("chain_id", "symbol"), [(1, "ETH"), (137, "POL"), (56, "BNB")])
def test_native_amounts_use_the_chain_symbol(chain_id: int, symbol: str) -> None:
    native = native_of(chain_id)
    send = decode_calldata("0x", to=BOB, value=15 * 10**17)
    assert intent_for(send, native=native) == f"Send 1.5 {symbol} to {BOB}"
    wrap = decode_calldata(DEPOSIT, to=TOKEN, value=5 * 10**17)
    assert intent_for(wrap, native=native) == f"Wrap 0.5 {symbol} into {TOKEN}"
    unknown = decode_calldata("0x12345678", to=TOKEN, value=2 * 10**18)
    text = intent_for(unknown, native=native)
    assert text.endswith(f", sending 2 {symbol}") and "wei" not in text


def test_one_wei_is_exact_and_no_chain_says_native_coin() -> None:
    one_wei = decode_calldata("0x", to=BOB, value=1)
    assert intent_for(one_wei, native=("ETH", 18)) == f"Send 0.000000000000000001 ETH to {BOB}"
    assert intent_for(one_wei) == f"Send 0.000000000000000001 of the native coin to {BOB}"


def test_preview_of_a_call_with_value_names_the_native_symbol(wallet: Any, chain: Any) -> None:
    # A payable call on the devnet: the engine's headline states the value in ETH.
    payload = {"to": wallet.address, "data": "0x12345678", "value": hex(25 * 10**16)}
    preview = wallet.preview(kind="transaction", chain_id=31337, payload=payload)
    assert preview["intent"].endswith(", sending 0.25 ETH"), preview["intent"]
    assert "wei" not in preview["intent"]
