"""The transaction decoder: real calldata encoded with eth_abi, decoded back."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode

from mm_agent.errors import InvalidAddress, InvalidAmount, InvalidCalldata
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.signatures import keccak256
from mm_agent.security.decode import (
    DecodedCall,
    decode_calldata,
    decode_log,
    decode_revert,
    intent_for,
)

TOKEN = to_checksum_address("0x" + "a0" * 20)
TOKEN_B = to_checksum_address("0x" + "b0" * 20)
ALICE = to_checksum_address("0x" + "a1" * 20)
BOB = to_checksum_address("0x" + "b2" * 20)
EVIL = to_checksum_address("0x" + "e7" * 20)
ROUTER = to_checksum_address("0x" + "c3" * 20)
MAX = 2**256 - 1
MAX160 = 2**160 - 1


def call(signature: str, *args: Any) -> str:
    """0x calldata for ``signature`` (canonical) with ``args``."""
    types = _split(signature[signature.index("(") + 1 : -1])
    return "0x" + (keccak256(signature.encode())[:4] + encode(types, list(args))).hex()


def raw(signature: str, *args: Any) -> bytes:
    return bytes.fromhex(call(signature, *args)[2:])


def _split(inner: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    return [*out, cur] if cur else out


def fmt(token: str, amount: int) -> str | None:
    return f"{amount / 10**6:g} USDC" if token == TOKEN else None


# --- ERC-20 ------------------------------------------------------------------------------------
def test_transfer() -> None:
    d = decode_calldata(call("transfer(address,uint256)", BOB, 1_000_000), to=TOKEN)
    assert (d.function_name, d.selector, d.category) == ("transfer", "0xa9059cbb", "erc20")
    assert d.signature == "transfer(address,uint256)"
    assert [(p.name, p.type, p.value) for p in d.params] == [
        ("to", "address", BOB), ("amount", "uint256", "1000000")]
    assert d.effective_recipient == BOB and d.spender is None
    assert d.token == TOKEN and d.amount == 1_000_000
    assert d.intent == f"Transfer 1000000 units of token {TOKEN} to {BOB}"
    assert intent_for(d, fmt) == f"Transfer 1 USDC to {BOB}"
    assert d.to_dict() == {
        "functionName": "transfer", "signature": "transfer(address,uint256)",
        "selector": "0xa9059cbb", "category": "erc20",
        "params": [{"name": "to", "type": "address", "value": BOB},
                   {"name": "amount", "type": "uint256", "value": "1000000"}],
        "intent": d.intent, "effectiveRecipient": BOB, "spender": None, "inner": [],
        "to": TOKEN,
    }


def test_transfer_from_is_a_token_transfer() -> None:
    d = decode_calldata(call("transferFrom(address,address,uint256)", ALICE, BOB, 42), to=TOKEN)
    assert d.effective_recipient == BOB
    assert d.intent == (f"Transfer 42 (amount or token id) of token {TOKEN} "
                        f"from {ALICE} to {BOB}")
    assert intent_for(d, fmt) == f"Transfer 4.2e-05 USDC from {ALICE} to {BOB}"


def test_approve_unlimited_and_limited_and_revoke() -> None:
    d = decode_calldata(call("approve(address,uint256)", EVIL, MAX), to=TOKEN)
    assert d.spender == EVIL and d.effective_recipient is None and d.unlimited
    assert d.intent == f"Approve {EVIL} to spend unlimited of token {TOKEN}"
    half = decode_calldata(call("approve(address,uint256)", EVIL, 2**255), to=TOKEN)
    assert half.unlimited
    limited = decode_calldata(call("approve(address,uint256)", ROUTER, 5_000_000), to=TOKEN)
    assert not limited.unlimited
    assert intent_for(limited, fmt) == f"Approve {ROUTER} to spend 5 USDC"
    revoke = decode_calldata(call("approve(address,uint256)", ROUTER, 0), to=TOKEN)
    assert revoke.intent == f"Revoke approval of {ROUTER} for token {TOKEN}"


def test_increase_and_decrease_allowance() -> None:
    up = decode_calldata(call("increaseAllowance(address,uint256)", EVIL, MAX), to=TOKEN)
    assert up.spender == EVIL and up.unlimited
    assert up.intent == f"Increase the allowance of {EVIL} by unlimited of token {TOKEN}"
    down = decode_calldata(call("decreaseAllowance(address,uint256)", EVIL, MAX), to=TOKEN)
    assert not down.unlimited and down.intent.startswith("Decrease the allowance")


def test_without_target() -> None:
    d = decode_calldata(call("transfer(address,uint256)", BOB, 1))
    assert d.intent == f"Transfer 1 units of token the target contract to {BOB}"
    assert d.token is None


# --- ERC-721 / ERC-1155 --------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    call("safeTransferFrom(address,address,uint256)", ALICE, BOB, 7),
    call("safeTransferFrom(address,address,uint256,bytes)", ALICE, BOB, 7, b"hi"),
])
def test_erc721_safe_transfer(data: str) -> None:
    d = decode_calldata(data, to=TOKEN)
    assert d.category == "erc721" and d.effective_recipient == BOB
    assert d.intent == f"Transfer NFT #7 of {TOKEN} from {ALICE} to {BOB}"


def test_set_approval_for_all() -> None:
    d = decode_calldata(call("setApprovalForAll(address,bool)", EVIL, True), to=TOKEN)
    assert d.spender == EVIL and d.unlimited and d.effective_recipient is None
    assert d.intent == f"Set approval for all tokens of {TOKEN} to {EVIL}"
    off = decode_calldata(call("setApprovalForAll(address,bool)", EVIL, False), to=TOKEN)
    assert not off.unlimited
    assert off.intent == f"Revoke approval for all tokens of {TOKEN} from {EVIL}"


def test_erc1155() -> None:
    d = decode_calldata(call("safeTransferFrom(address,address,uint256,uint256,bytes)",
                             ALICE, BOB, 3, 10, b""), to=TOKEN)
    assert d.category == "erc1155" and d.effective_recipient == BOB
    assert d.intent == f"Transfer 10 of token id 3 of {TOKEN} from {ALICE} to {BOB}"
    b = decode_calldata(call("safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
                             ALICE, BOB, [1, 2], [5, 6], b""), to=TOKEN)
    assert b.effective_recipient == BOB and b.arg("ids") == ["1", "2"]
    assert b.intent == f"Transfer 2 token ids of {TOKEN} from {ALICE} to {BOB}"


# --- native and WETH ---------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["0x", "", b""])
def test_native_transfer(data: str | bytes) -> None:
    d = decode_calldata(data, to=BOB.lower(), value=10**18)
    assert d.function_name is None and d.selector is None and d.category == "native"
    assert d.effective_recipient == BOB and d.recipients == [BOB]
    assert d.intent == f"Send 1 of the native coin to {BOB}"


def test_weth() -> None:
    dep = decode_calldata(call("deposit()"), to=TOKEN, value=5)
    assert dep.category == "weth" and dep.effective_recipient is None
    assert dep.intent == f"Wrap 0.000000000000000005 of the native coin into {TOKEN}"
    wd = decode_calldata(call("withdraw(uint256)", 5), to=TOKEN)
    assert wd.effective_recipient is None
    assert wd.intent == f"Unwrap 5 units of token {TOKEN} to native currency"


# --- permits -----------------------------------------------------------------------------------
def test_eip2612_permit() -> None:
    d = decode_calldata(call("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
                             ALICE, EVIL, MAX, 1_800_000_000, 27, b"\x01" * 32, b"\x02" * 32),
                        to=TOKEN)
    assert d.category == "permit" and d.spender == EVIL and d.unlimited
    assert d.intent == (f"Permit {EVIL} to spend unlimited of token {TOKEN} from {ALICE}, "
                        "deadline 2027-01-15 08:00:00Z")
    dai = decode_calldata(call("permit(address,address,uint256,uint256,bool,uint8,bytes32,bytes32)",
                               ALICE, EVIL, 0, 0, True, 27, b"\x01" * 32, b"\x02" * 32), to=TOKEN)
    assert dai.unlimited and dai.spender == EVIL


def test_permit2_approve() -> None:
    permit2 = ROUTER
    d = decode_calldata(call("approve(address,address,uint160,uint48)", TOKEN, EVIL, MAX160,
                             2**48 - 1), to=permit2)
    assert d.category == "permit2" and d.spender == EVIL and d.token == TOKEN and d.unlimited
    assert d.intent == (f"Approve {EVIL} to spend unlimited of token {TOKEN} via Permit2, "
                        "expires never")
    small = decode_calldata(call("approve(address,address,uint160,uint48)", TOKEN, BOB, 10**6, 0),
                            to=permit2)
    assert not small.unlimited
    assert intent_for(small, fmt) == (f"Approve {BOB} to spend 1 USDC via Permit2, expires at "
                                      "the end of this block")


def test_permit2_permit_single_and_batch() -> None:
    single = call("permit(address,((address,uint160,uint48,uint48),address,uint256),bytes)",
                  ALICE, ((TOKEN, MAX160, 1_800_000_000, 0), EVIL, 1_800_000_000), b"\x00" * 65)
    d = decode_calldata(single, to=ROUTER)
    assert d.selector == "0x2b67b570" and d.spender == EVIL and d.unlimited and d.token == TOKEN
    assert d.arg("permitSingle")["details"]["amount"] == str(MAX160)
    assert d.intent.startswith(f"Permit2: permit {EVIL} to spend unlimited of token {TOKEN} "
                               f"from {ALICE}, expires 2027-01-15")
    batch = call("permit(address,((address,uint160,uint48,uint48)[],address,uint256),bytes)",
                 ALICE, ([(TOKEN, 10**6, 0, 0), (TOKEN_B, MAX160, 0, 1)], EVIL, 0), b"")
    b = decode_calldata(batch, to=ROUTER)
    assert b.spender == EVIL and b.unlimited and b.token is None
    assert intent_for(b, fmt) == (f"Permit2: permit {EVIL} to spend 1 USDC; unlimited of token "
                                  f"{TOKEN_B}")


def test_permit2_transfers() -> None:
    d = decode_calldata(call("transferFrom(address,address,uint160,address)", ALICE, BOB, 9,
                             TOKEN), to=ROUTER)
    assert d.effective_recipient == BOB and d.token == TOKEN
    assert d.intent == f"Permit2: transfer 9 units of token {TOKEN} from {ALICE} to {BOB}"
    batch = decode_calldata(call("transferFrom((address,address,uint160,address)[])",
                                 [(ALICE, BOB, 1, TOKEN), (ALICE, EVIL, 2, TOKEN)]), to=ROUTER)
    assert batch.recipients == [BOB, EVIL] and batch.effective_recipient == BOB
    sig = call("permitTransferFrom(((address,uint256),uint256,uint256),(address,uint256),"
               "address,bytes)", ((TOKEN, 100), 1, 2), (EVIL, 100), ALICE, b"\x00")
    s = decode_calldata(sig, to=ROUTER)
    assert s.effective_recipient == EVIL and s.token == TOKEN and s.amount == 100
    assert s.intent == (f"Permit2: transfer by signature from {ALICE}: 100 units of token "
                        f"{TOKEN} to {EVIL}")


# --- Uniswap -----------------------------------------------------------------------------------
def test_uniswap_v2_swaps() -> None:
    d = decode_calldata(call("swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
                             10**6, 5, [TOKEN, TOKEN_B], BOB, 1), to=ROUTER)
    assert d.category == "uniswap_v2" and d.effective_recipient == BOB
    assert d.intent == (f"Swap 1000000 units of token {TOKEN} for at least 5 units of token "
                        f"{TOKEN_B} via Uniswap V2, recipient {BOB}")
    assert intent_for(d, fmt).startswith("Swap 1 USDC for at least 5 units")
    eth = decode_calldata(call("swapExactETHForTokens(uint256,address[],address,uint256)",
                               5, [TOKEN_B, TOKEN], ALICE, 1), to=ROUTER, value=7)
    assert eth.effective_recipient == ALICE
    assert eth.intent == (f"Swap 0.000000000000000007 of the native coin for at least 5 units "
                          f"of token {TOKEN} via Uniswap V2, recipient {ALICE}")
    v2 = "(uint256,uint256,address[],address,uint256)"
    out = decode_calldata(call(f"swapTokensForExactTokens{v2}", 5, 9, [TOKEN, TOKEN_B], BOB, 1),
                          to=ROUTER)
    assert out.intent.startswith(f"Swap at most 9 units of token {TOKEN} for 5 units")
    to_eth = decode_calldata(call(f"swapExactTokensForETH{v2}", 5, 1, [TOKEN, TOKEN_B], BOB, 1),
                             to=ROUTER)
    assert to_eth.effective_recipient == BOB


def test_uniswap_v2_liquidity() -> None:
    add = decode_calldata(call("addLiquidity(address,address,uint256,uint256,uint256,uint256,"
                               "address,uint256)", TOKEN, TOKEN_B, 1, 2, 0, 0, BOB, 9), to=ROUTER)
    assert add.effective_recipient == BOB and add.intent.startswith("Add liquidity to Uniswap V2")
    rem = decode_calldata(call("removeLiquidity(address,address,uint256,uint256,uint256,address,"
                               "uint256)", TOKEN, TOKEN_B, 3, 0, 0, BOB, 9), to=ROUTER)
    assert rem.intent == (f"Remove 3 LP units from the Uniswap V2 pool of {TOKEN} and {TOKEN_B}, "
                          f"proceeds to {BOB}")


def test_uniswap_v3() -> None:
    single = call("exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,"
                  "uint160))", (TOKEN, TOKEN_B, 500, BOB, 1, 10**6, 3, 0))
    d = decode_calldata(single, to=ROUTER)
    assert d.category == "uniswap_v3" and d.effective_recipient == BOB
    assert d.arg("params")["fee"] == "500"
    assert intent_for(d, fmt) == (f"Swap 1 USDC for at least 3 units of token {TOKEN_B} via "
                                  f"Uniswap V3, recipient {BOB}")
    path = bytes.fromhex(TOKEN[2:]) + (3000).to_bytes(3, "big") + bytes.fromhex(TOKEN_B[2:])
    multi = decode_calldata(call("exactInput((bytes,address,uint256,uint256))",
                                 (path, ALICE, 10**6, 1)), to=ROUTER)  # SwapRouter02
    assert multi.effective_recipient == ALICE
    assert intent_for(multi, fmt).startswith(f"Swap 1 USDC for at least 1 units of token {TOKEN_B}")
    out = decode_calldata(call("exactOutputSingle((address,address,uint24,address,uint256,"
                               "uint256,uint256,uint160))", (TOKEN, TOKEN_B, 500, BOB, 1, 4, 9, 0)),
                          to=ROUTER)
    assert out.intent.startswith(f"Swap at most 9 units of token {TOKEN} for 4 units")


def test_universal_router_surfaces_permit2_permit() -> None:
    permit = encode(["((address,uint160,uint48,uint48),address,uint256)", "bytes"],
                    [((TOKEN, MAX160, 0, 0), EVIL, 0), b"\x00" * 65])
    swap = encode(["address", "uint256", "uint256", "address[]", "bool"],
                  ["0x" + "00" * 19 + "01", 10**6, 1, [TOKEN, TOKEN_B], True])
    sweep = encode(["address", "address", "uint256"], ["0x" + "00" * 20, BOB, 0])
    data = call("execute(bytes,bytes[],uint256)", bytes([0x0A, 0x08, 0x84]),
                [permit, swap, sweep], 1)
    d = decode_calldata(data, to=ROUTER)
    assert d.category == "universal_router"
    names = [i.function_name for i in d.inner]
    assert names == ["PERMIT2_PERMIT", "V2_SWAP_EXACT_IN", "SWEEP"]
    assert d.inner[0].spender == EVIL and d.inner[0].unlimited and d.inner[0].category == "permit2"
    assert d.inner[1].effective_recipient is None  # 0x…01 = msg.sender, i.e. the user
    assert d.inner[2].allow_failure and d.inner[2].effective_recipient == BOB
    assert d.effective_recipient == BOB
    assert intent_for(d, fmt) == (
        f"Execute via Uniswap Universal Router: Permit2: permit {EVIL} to spend unlimited of "
        f"token {TOKEN}, expires at the end of this block; Swap 1 USDC for at least "
        f"1 units of token {TOKEN_B} via Uniswap V2, recipient you; Sweep at least 0 of the "
        f"native coin to {BOB} (allowed to fail)")


# --- batching: multicall, Safe, EIP-7702 -----------------------------------------------------
def test_multicall3_inner_approval_is_surfaced() -> None:
    approve = raw("approve(address,uint256)", EVIL, MAX)
    transfer = raw("transfer(address,uint256)", BOB, 1)
    d = decode_calldata(call("aggregate3((address,bool,bytes)[])",
                             [(TOKEN, False, approve), (TOKEN_B, True, transfer)]), to=ROUTER)
    assert d.category == "multicall" and len(d.inner) == 2
    first = d.inner[0]
    assert (first.function_name, first.spender, first.to, first.unlimited) == (
        "approve", EVIL, TOKEN, True)
    assert d.inner[1].allow_failure and d.inner[1].token == TOKEN_B
    assert [c.spender for c in d.walk() if c.spender] == [EVIL]
    assert d.effective_recipient == BOB  # value leaves via the inner transfer
    assert d.intent.startswith(f"Batch 2 calls via Multicall3: Approve {EVIL} to spend unlimited")
    assert d.to_dict()["inner"][0]["spender"] == EVIL


def test_router_multicall_calls_itself() -> None:
    approve = raw("approve(address,uint256)", EVIL, 1)
    for data in (call("multicall(bytes[])", [approve]),
                 call("multicall(uint256,bytes[])", 99, [approve])):
        d = decode_calldata(data, to=TOKEN)
        assert d.inner[0].to == TOKEN and d.inner[0].spender == EVIL
        assert d.intent == f"Multicall (1 calls): Approve {EVIL} to spend 1 units of token {TOKEN}"


def test_aggregate_and_try_aggregate() -> None:
    transfer = raw("transfer(address,uint256)", BOB, 1)
    for data in (call("aggregate((address,bytes)[])", [(TOKEN, transfer)]),
                 call("tryAggregate(bool,(address,bytes)[])", False, [(TOKEN, transfer)])):
        assert decode_calldata(data, to=ROUTER).inner[0].effective_recipient == BOB


SAFE_EXEC = ("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,"
             "bytes)")


def _safe(to: str, value: int, data: bytes, operation: int) -> str:
    zero = "0x" + "00" * 20
    return call(SAFE_EXEC, to, value, data, operation, 0, 0, 0, zero, zero, b"\x00" * 65)


def test_safe_exec_transaction() -> None:
    inner = raw("transfer(address,uint256)", EVIL, 5)
    d = decode_calldata(_safe(TOKEN, 0, inner, 0), to=ROUTER)
    assert d.category == "safe" and d.inner[0].operation == "CALL"
    assert d.inner[0].effective_recipient == EVIL and d.effective_recipient == EVIL
    assert d.intent == (f"Execute Safe transaction (CALL) to {TOKEN}: Transfer 5 units of token "
                        f"{TOKEN} to {EVIL}")
    dc = decode_calldata(_safe(EVIL, 0, b"\x12\x34\x56\x78", 1), to=ROUTER)
    assert dc.inner[0].operation == "DELEGATECALL"
    assert dc.intent == (f"Execute Safe transaction (DELEGATECALL) to {EVIL}: Call unknown "
                         "function 0x12345678")
    assert dc.to_dict()["inner"][0]["operation"] == "DELEGATECALL"
    native = decode_calldata(_safe(BOB, 3, b"", 0), to=ROUTER)
    assert native.inner[0].effective_recipient == BOB
    assert native.intent.endswith(f"Send 0.000000000000000003 of the native coin to {BOB}")


def test_safe_multisend_two_levels_deep() -> None:
    approve = raw("approve(address,uint256)", EVIL, MAX)
    packed = (bytes([0]) + bytes.fromhex(TOKEN[2:]) + (0).to_bytes(32, "big")
              + len(approve).to_bytes(32, "big") + approve
              + bytes([0]) + bytes.fromhex(BOB[2:]) + (4).to_bytes(32, "big")
              + (0).to_bytes(32, "big"))
    multisend = raw("multiSend(bytes)", packed)
    d = decode_calldata(_safe(ROUTER, 0, multisend, 1), to=ALICE)
    ms = d.inner[0]
    assert ms.function_name == "multiSend" and ms.operation == "DELEGATECALL"
    assert [c.function_name for c in ms.inner] == ["approve", None]
    assert ms.inner[0].spender == EVIL and ms.inner[1].effective_recipient == BOB
    assert any(c.spender == EVIL for c in d.walk())


def test_erc7579_execute() -> None:
    transfer = raw("transfer(address,uint256)", EVIL, 5)
    single = bytes.fromhex(TOKEN[2:]) + (0).to_bytes(32, "big") + transfer
    d = decode_calldata(call("execute(bytes32,bytes)", b"\x00" * 32, single), to=ALICE)
    assert d.category == "eip7702" and d.inner[0].effective_recipient == EVIL
    batch_mode = b"\x01" + b"\x00" * 31
    batch = encode(["(address,uint256,bytes)[]"], [[(TOKEN, 0, transfer), (BOB, 9, b"")]])
    b = decode_calldata(call("execute(bytes32,bytes)", batch_mode, batch), to=ALICE)
    assert b.recipients == [EVIL, BOB]
    assert b.intent == (f"Execute from smart account {ALICE}: Transfer 5 units of token {TOKEN} "
                        f"to {EVIL}; Send 0.000000000000000009 of the native coin to {BOB}")


# --- admin -------------------------------------------------------------------------------------
def test_proxy_admin_and_ownership() -> None:
    impl = EVIL
    up = decode_calldata(call("upgradeTo(address)", impl), to=TOKEN)
    assert up.category == "proxy_admin"
    assert up.intent == f"Upgrade proxy {TOKEN} to implementation {impl}"
    init = raw("transferOwnership(address)", EVIL)
    upc = decode_calldata(call("upgradeToAndCall(address,bytes)", impl, init), to=TOKEN)
    assert upc.inner[0].function_name == "transferOwnership"
    assert upc.intent == (f"Upgrade proxy {TOKEN} to implementation {impl} and call: Transfer "
                          f"ownership of {TOKEN} to {EVIL}")
    own = decode_calldata(call("transferOwnership(address)", BOB), to=TOKEN)
    assert own.category == "ownership"
    assert own.intent == f"Transfer ownership of {TOKEN} to {BOB}"
    assert decode_calldata(call("renounceOwnership()"), to=TOKEN).intent == (
        f"Renounce ownership of {TOKEN}")


# --- unknown and malformed ----------------------------------------------------------------------
def test_unknown_selector() -> None:
    d = decode_calldata("0x12345678" + "00" * 32, to=TOKEN)
    assert d.function_name is None and d.selector == "0x12345678"
    assert d.intent == "Call unknown function 0x12345678"
    assert d.to_dict()["functionName"] is None
    assert d.effective_recipient is None
    paid = decode_calldata("0x12345678", to=TOKEN, value=3)
    assert paid.effective_recipient == TOKEN


@pytest.mark.parametrize("data", ["0xzz", "0x123", "hello", "0x1234", b"\x01\x02\x03", "0xa9059c"])
def test_invalid_calldata(data: str | bytes) -> None:
    with pytest.raises(InvalidCalldata):
        decode_calldata(data)


def test_bad_target_and_value() -> None:
    with pytest.raises(InvalidAddress):
        decode_calldata("0x", to="0x1234")
    with pytest.raises(InvalidAmount):
        decode_calldata("0x", to=BOB, value=-1)


def test_known_selector_with_undecodable_args() -> None:
    d = decode_calldata("0xa9059cbb" + "00" * 10, to=TOKEN)
    assert d.function_name == "transfer" and d.params == [] and d.error
    assert d.intent == f"Call transfer on {TOKEN} with undecodable arguments"
    assert isinstance(d, DecodedCall)


def test_bytes_params_and_tuple_values_are_json_friendly() -> None:
    d = decode_calldata(call("safeTransferFrom(address,address,uint256,bytes)", ALICE, BOB, 1,
                             b"\xde\xad"), to=TOKEN)
    assert d.arg("data") == "0xdead"
    agg = decode_calldata(call("aggregate((address,bytes)[])", [(TOKEN, b"\x01")]), to=ROUTER)
    assert agg.arg("calls") == [{"target": TOKEN, "callData": "0x01"}]


# --- reverts -----------------------------------------------------------------------------------
def _err(signature: str, *args: Any) -> str:
    return call(signature, *args)


def test_decode_revert() -> None:
    assert decode_revert(_err("Error(string)", "Ownable: caller is not the owner")) == (
        "Ownable: caller is not the owner")
    assert decode_revert(_err("Panic(uint256)", 0x11)) == (
        "Panic(0x11): arithmetic overflow or underflow")
    assert decode_revert(_err("Panic(uint256)", 0x12)) == "Panic(0x12): division or modulo by zero"
    assert decode_revert(_err("Panic(uint256)", 0x99)) == "Panic(0x99): unknown panic code"
    assert decode_revert(_err("ERC20InsufficientBalance(address,uint256,uint256)", ALICE, 1, 2)) \
        == f"ERC20InsufficientBalance(sender={ALICE}, balance=1, needed=2)"
    assert decode_revert(_err("OwnableUnauthorizedAccount(address)", BOB)) == (
        f"OwnableUnauthorizedAccount(account={BOB})")
    assert decode_revert(_err("ERC721NonexistentToken(uint256)", 7)) == (
        "ERC721NonexistentToken(tokenId=7)")
    assert decode_revert(_err("SignatureExpired(uint256)", 5)) == (
        "SignatureExpired(signatureDeadline=5)")
    assert decode_revert(_err("InvalidNonce()")) == "InvalidNonce()"
    assert decode_revert("0xdeadbeef") == "custom error 0xdeadbeef"
    assert decode_revert("0xdeadbeef" + "00" * 64) == "custom error 0xdeadbeef"
    for empty in (None, "", "0x", b""):
        assert decode_revert(empty) is None


def test_decode_revert_nested_and_malformed() -> None:
    inner = raw("Error(string)", "STF")
    assert decode_revert(_err("ExecutionFailed(uint256,bytes)", 1, inner)) == (
        "ExecutionFailed(commandIndex=1, message=STF)")
    assert decode_revert("0x08c379a0" + "00" * 3) == "Error (undecodable arguments)"
    assert decode_revert("0x0102") == "malformed revert data 0x0102"
    assert decode_revert("not hex") == "malformed revert data"


# --- logs --------------------------------------------------------------------------------------
def _topic(signature: str) -> str:
    return "0x" + keccak256(signature.encode()).hex()


def _addr_topic(addr: str) -> str:
    return "0x" + "00" * 12 + addr[2:].lower()


def test_decode_log_erc20_vs_erc721_transfer() -> None:
    t0 = _topic("Transfer(address,address,uint256)")
    erc20 = decode_log([t0, _addr_topic(ALICE), _addr_topic(BOB)],
                       "0x" + encode(["uint256"], [500]).hex())
    assert erc20 is not None and erc20.category == "erc20"
    assert [(p.name, p.value) for p in erc20.params] == [
        ("from", ALICE), ("to", BOB), ("value", "500")]
    erc721 = decode_log([t0, _addr_topic(ALICE), _addr_topic(BOB), "0x" + "00" * 31 + "07"], "0x")
    assert erc721 is not None and erc721.category == "erc721" and erc721.arg("tokenId") == "7"
    assert erc721.to_dict()["name"] == "Transfer"


def test_decode_log_other_events() -> None:
    appr = decode_log([_topic("Approval(address,address,uint256)"), _addr_topic(ALICE),
                       _addr_topic(EVIL)], "0x" + encode(["uint256"], [MAX]).hex())
    assert appr is not None and appr.arg("spender") == EVIL and appr.arg("value") == str(MAX)
    afa = decode_log([_topic("ApprovalForAll(address,address,bool)"), _addr_topic(ALICE),
                      _addr_topic(EVIL)], "0x" + encode(["bool"], [True]).hex())
    assert afa is not None and afa.arg("approved") is True
    single = decode_log([_topic("TransferSingle(address,address,address,uint256,uint256)"),
                         _addr_topic(ROUTER), _addr_topic(ALICE), _addr_topic(BOB)],
                        "0x" + encode(["uint256", "uint256"], [3, 10]).hex())
    assert single is not None and single.category == "erc1155" and single.arg("value") == "10"
    batch = decode_log([_topic("TransferBatch(address,address,address,uint256[],uint256[])"),
                        _addr_topic(ROUTER), _addr_topic(ALICE), _addr_topic(BOB)],
                       "0x" + encode(["uint256[]", "uint256[]"], [[1, 2], [3, 4]]).hex())
    assert batch is not None and batch.arg("ids") == ["1", "2"]
    dep = decode_log([_topic("Deposit(address,uint256)"), _addr_topic(ALICE)],
                     "0x" + encode(["uint256"], [9]).hex())
    assert dep is not None and dep.category == "weth" and dep.arg("wad") == "9"
    wd = decode_log([_topic("Withdrawal(address,uint256)"), _addr_topic(ALICE)],
                    "0x" + encode(["uint256"], [9]).hex())
    assert wd is not None and wd.name == "Withdrawal"
    p2 = decode_log([_topic("Approval(address,address,address,uint160,uint48)"),
                     _addr_topic(ALICE), _addr_topic(TOKEN), _addr_topic(EVIL)],
                    "0x" + encode(["uint160", "uint48"], [MAX160, 0]).hex())
    assert p2 is not None and p2.category == "permit2" and p2.arg("spender") == EVIL
    permit = decode_log([_topic("Permit(address,address,address,uint160,uint48,uint48)"),
                         _addr_topic(ALICE), _addr_topic(TOKEN), _addr_topic(EVIL)],
                        "0x" + encode(["uint160", "uint48", "uint48"], [1, 2, 3]).hex())
    assert permit is not None and permit.arg("nonce") == "3"


def test_decode_log_unknown_or_malformed() -> None:
    assert decode_log([], "0x") is None
    assert decode_log(["0x" + "11" * 32], "0x") is None
    t0 = _topic("Transfer(address,address,uint256)")
    assert decode_log([t0, _addr_topic(ALICE), _addr_topic(BOB)], "0x") is None  # no value
    assert decode_log([t0, "0x12"], "0x") is None
    assert decode_log([t0], "zz") is None
