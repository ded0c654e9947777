"""The signature table: pinned selectors/topics, fragment parsing and the bounded ABI decoder."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eth_abi import encode

from mm_agent.errors import InvalidCalldata
from mm_agent.evm.signatures import (
    ERRORS,
    EVENTS,
    FUNCTIONS,
    PANIC_CODES,
    SIGNATURES_VERSION,
    UNIVERSAL_ROUTER_COMMANDS,
    decode_abi,
    event_for,
    function_for,
    keccak256,
    parse_fragment,
)

# Well-known selectors (4byte.directory / verified sources).
PINNED = {
    "transfer(address,uint256)": "0xa9059cbb",
    "approve(address,uint256)": "0x095ea7b3",
    "transferFrom(address,address,uint256)": "0x23b872dd",
    "setApprovalForAll(address,bool)": "0xa22cb465",
    "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)": "0xd505accf",
    "safeTransferFrom(address,address,uint256)": "0x42842e0e",
    "safeTransferFrom(address,address,uint256,bytes)": "0xb88d4fde",
    "safeTransferFrom(address,address,uint256,uint256,bytes)": "0xf242432a",
    "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)": "0x2eb2c2d6",
    "aggregate3((address,bool,bytes)[])": "0x82ad56cb",
    "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)":
        "0x6a761202",
    "upgradeTo(address)": "0x3659cfe6",
    "upgradeToAndCall(address,bytes)": "0x4f1ef286",
    "transferOwnership(address)": "0xf2fde38b",
    "renounceOwnership()": "0x715018a6",
    "deposit()": "0xd0e30db0",
    "withdraw(uint256)": "0x2e1a7d4d",
    "increaseAllowance(address,uint256)": "0x39509351",
    "approve(address,address,uint160,uint48)": "0x87517c45",
    "permit(address,((address,uint160,uint48,uint48),address,uint256),bytes)": "0x2b67b570",
    "permit(address,((address,uint160,uint48,uint48)[],address,uint256),bytes)": "0x2a2d80d1",
    "transferFrom(address,address,uint160,address)": "0x36c78516",
    "permitTransferFrom(((address,uint256),uint256,uint256),(address,uint256),address,bytes)":
        "0x30f28b7a",
    "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)": "0x38ed1739",
    "swapExactETHForTokens(uint256,address[],address,uint256)": "0x7ff36ab5",
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))":
        "0x414bf389",
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))": "0x04e45aaf",
    "execute(bytes,bytes[],uint256)": "0x3593564c",
    "execute(bytes,bytes[])": "0x24856bc3",
    "multicall(bytes[])": "0xac9650d8",
    "multicall(uint256,bytes[])": "0x5ae401dc",
    "aggregate((address,bytes)[])": "0x252dba42",
    "tryAggregate(bool,(address,bytes)[])": "0xbce38bd7",
    "multiSend(bytes)": "0x8d80ff0a",
}


def test_version() -> None:
    assert SIGNATURES_VERSION == "2026.11.1"


@pytest.mark.parametrize(("signature", "selector"), sorted(PINNED.items()))
def test_pinned_selectors(signature: str, selector: str) -> None:
    spec = function_for(selector)
    assert spec is not None, signature
    assert spec.signature == signature
    assert "0x" + keccak256(signature.encode())[:4].hex() == selector


def test_param_names_and_roles() -> None:
    transfer = FUNCTIONS["0xa9059cbb"]
    assert transfer.param_names == ("to", "amount")
    assert transfer.param_types == ("address", "uint256")
    assert (transfer.category, transfer.recipient, transfer.token) == ("erc20", "to", "@to")
    assert FUNCTIONS["0x095ea7b3"].spender == "spender"
    assert FUNCTIONS["0x6a761202"].nested == "safe_exec"
    assert FUNCTIONS["0x2b67b570"].spender == "permitSingle.spender"


def test_categories_are_known() -> None:
    known = {"erc20", "erc721", "erc777", "erc1155", "weth", "permit", "permit2", "uniswap_v2",
             "uniswap_v3", "universal_router", "multicall", "safe", "proxy_admin", "ownership",
             "eip7702"}
    assert {f.category for f in FUNCTIONS.values()} <= known
    assert {c.category for c in UNIVERSAL_ROUTER_COMMANDS.values()} <= known


def test_event_topics() -> None:
    transfer = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    assert event_for(transfer, 2).category == "erc20"  # type: ignore[union-attr]
    assert event_for(transfer, 3).category == "erc721"  # type: ignore[union-attr]
    approval = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
    assert event_for(approval, 2) is not None
    names = {e.name for e in EVENTS.values()}
    assert {"ApprovalForAll", "TransferSingle", "TransferBatch", "Deposit", "Withdrawal",
            "Permit"} <= names


def test_error_selectors() -> None:
    assert ERRORS["0x08c379a0"].name == "Error"
    assert ERRORS["0x4e487b71"].name == "Panic"
    assert ERRORS["0xe450d38c"].signature == "ERC20InsufficientBalance(address,uint256,uint256)"
    assert ERRORS["0x118cdaa7"].signature == "OwnableUnauthorizedAccount(address)"
    assert ERRORS["0x756688fe"].signature == "InvalidNonce()"
    assert PANIC_CODES[0x11] == "arithmetic overflow or underflow"


def test_parse_fragment_structs_and_aliases() -> None:
    name, inputs = parse_fragment("f((address a, uint b)[] xs, bytes32 indexed h, int)")
    assert name == "f"
    assert [t.canonical for t in inputs] == ["(address,uint256)[]", "bytes32", "int256"]
    assert inputs[0].name == "xs" and inputs[0].elem.components[1].name == "b"  # type: ignore
    assert inputs[1].indexed and inputs[1].name == "h"
    with pytest.raises(ValueError):
        parse_fragment("f(uint7 x)")


def test_decode_abi_matches_eth_abi() -> None:
    _, inputs = parse_fragment(
        "f(address a, uint8 b, int16 c, bool d, bytes3 e, bytes f, string g, uint256[] h,"
        " (address x, bytes y)[] i, uint256[2] j)")
    values = ["0x" + "11" * 20, 255, -2, True, b"abc", b"\x01\x02", "héllo", [1, 2],
              [("0x" + "22" * 20, b"z"), ("0x" + "33" * 20, b"")], [7, 8]]
    data = encode([t.canonical for t in inputs], values)
    out = decode_abi(inputs, data + b"\x00" * 7)  # trailing bytes are ignored like the EVM does
    assert out == [values[0], 255, -2, True, b"abc", b"\x01\x02", "héllo", [1, 2],
                   [("0x" + "22" * 20, b"z"), ("0x" + "33" * 20, b"")], [7, 8]]


def test_decode_abi_masks_dirty_bits() -> None:
    _, inputs = parse_fragment("f(address a, uint8 b, bool c)")
    data = b"\xff" * 12 + b"\x11" * 20 + b"\xff" * 31 + b"\x05" + b"\x00" * 31 + b"\x02"
    assert decode_abi(inputs, data) == ["0x" + "11" * 20, 5, True]


@pytest.mark.parametrize("data", [
    b"",                                          # too short
    (2**64).to_bytes(32, "big"),                  # offset past the end
    (32).to_bytes(32, "big") + (10**9).to_bytes(32, "big"),  # absurd array length
])
def test_decode_abi_rejects_malformed(data: bytes) -> None:
    _, inputs = parse_fragment("f(bytes[] x)")
    with pytest.raises(InvalidCalldata):
        decode_abi(inputs, data)


def test_decode_abi_bounds_pointer_reuse() -> None:
    # 3000 array elements all pointing at one 100 KB tail: eth_abi would build ~300 MB.
    _, inputs = parse_fragment("f((address t, bool b, bytes d)[] calls)")
    n = 3000
    tail = encode(["(address,bool,bytes)"], [("0x" + "22" * 20, True, b"\x11" * 100_000)])[32:]
    data = ((32).to_bytes(32, "big") + n.to_bytes(32, "big")
            + (32 * n).to_bytes(32, "big") * n + tail)
    with pytest.raises(InvalidCalldata, match="references itself"):
        decode_abi(inputs, data)


def test_import_is_cheap() -> None:
    # Module import must not pull in eth_abi / eth_utils (CLI start-up time).
    code = ("import sys, mm_agent.evm.signatures, mm_agent.security.decode; "
            "print(any(m.split('.')[0] in ('eth_abi', 'eth_utils') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
