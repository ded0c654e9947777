"""Transaction decoder: the first stage of the security pipeline and ``mm decode``.

Turns calldata into a :class:`DecodedCall` (function, JSON-friendly params, who really receives
value, who is granted an allowance, inner calls of multicalls / Safe transactions / Universal
Router plans, and a readable intent), revert data into a reason, and logs into events. Nothing
here touches the network; token-aware amounts come from the caller via ``intent_for``'s
``token_formatter``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mm_agent.errors import InvalidAmount, InvalidCalldata
from mm_agent.evm.addresses import to_checksum_address, validate_address
from mm_agent.evm.signatures import (
    ERRORS,
    PANIC_CODES,
    UNIVERSAL_ROUTER_COMMANDS,
    ABIType,
    FunctionSpec,
    decode_abi,
    decode_word,
    event_for,
    function_for,
    resolve_path,
    to_json,
)

from .decode_types import (
    _HEX,
    _TOO_DEEP,
    _UNLIMITED_160,
    _UNLIMITED_256,
    _UR_ROUTER,
    _UR_SENDER,
    MAX_NESTING,
    DecodedCall,
    DecodedEvent,
    DecodedParam,
    TokenFormatter,
)

__all__ = [
    "MAX_NESTING",
    "DecodedCall",
    "DecodedEvent",
    "DecodedParam",
    "TokenFormatter",
    "decode_calldata",
    "decode_log",
    "decode_revert",
    "intent_for",  # noqa: F822 - provided lazily by __getattr__ (lives in ``intents``)
]

# --- input handling ---------------------------------------------------------------------------
def _parse_hex(data: str | bytes | bytearray | memoryview) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if not isinstance(data, str):
        raise InvalidCalldata(f"Calldata must be a hex string or bytes, not {type(data).__name__}.")
    text = data.strip()
    body = text[2:] if text[:2].lower() == "0x" else text
    if not _HEX.fullmatch(body):
        raise InvalidCalldata(f"Calldata is not hex: {text[:20]!r}.")
    if len(body) % 2:
        raise InvalidCalldata("Calldata has an odd number of hex characters.")
    return bytes.fromhex(body)


# --- decoding -----------------------------------------------------------------------------------
def decode_calldata(data: str | bytes, *, to: str | None = None, value: int = 0) -> DecodedCall:
    """Decode a transaction's calldata. ``to``/``value`` are the transaction's, if known.

    Raises ``InvalidCalldata`` for non-hex, odd-length or 1–3 byte data; an unknown selector or
    undecodable arguments are reported in the result, never raised.
    """
    raw = _parse_hex(data)
    if 0 < len(raw) < 4:
        raise InvalidCalldata(f"Calldata is {len(raw)} bytes; a function call needs at least 4.")
    target = validate_address(to, field="to") if to is not None else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidAmount(f"value must be a non-negative integer of wei, not {value!r}.")
    return _decode(raw, target, value, 0, "CALL")


def _bare(name: str | None, signature: str | None, selector: str | None, category: str | None,
          to: str | None, value: int, operation: str, *, pays_to: bool, error: str | None = None
          ) -> DecodedCall:
    """A call without decoded params; ``pays_to``: the native value (if any) goes to ``to``."""
    recipients = [to] if to and pays_to else []
    return DecodedCall(name, signature, selector, [], category, to if recipients else None, None,
                       "", to=to, value=value, recipients=recipients, operation=operation,
                       error=error)


def _decode(raw: bytes, to: str | None, value: int, depth: int, operation: str) -> DecodedCall:
    if not raw:  # plain native transfer: `to` receives it
        call = _bare(None, None, None, "native", to, value, operation, pays_to=True)
    elif len(raw) < 4:
        call = _bare(None, None, None, None, to, value, operation, pays_to=value > 0,
                     error=f"malformed calldata ({len(raw)} bytes)")
    else:
        selector = "0x" + raw[:4].hex()
        spec = function_for(selector)
        if spec is None:
            call = _bare(None, None, selector, None, to, value, operation, pays_to=value > 0)
        else:
            call = _decode_spec(spec, raw[4:], to, value, depth, operation, selector)
    from .intents import intent_for

    return replace(call, intent=intent_for(call))


def _decode_spec(spec: FunctionSpec, args: bytes, to: str | None, value: int, depth: int,
                 operation: str, selector: str | None) -> DecodedCall:
    try:
        values = decode_abi(spec.inputs, args)
    except InvalidCalldata as exc:
        return _bare(spec.name, spec.signature, selector, spec.category, to, value, operation,
                     pays_to=value > 0 and spec.recipient != "@self", error=exc.message)
    params = [DecodedParam(t.name, t.canonical, to_json(t, v))
              for t, v in zip(spec.inputs, values, strict=True)]
    named = {p.name: p.value for p in params}
    inner = _nested(spec, values, to, depth) if spec.nested and depth < MAX_NESTING else []
    too_deep = _TOO_DEEP if spec.nested and depth >= MAX_NESTING else None

    recipients: list[str] = []
    if spec.recipient and spec.recipient != "@self":
        recipients = [r for r in resolve_path(named, spec.recipient) if isinstance(r, str)]
    if selector is None:  # Universal Router command: 0x…01 is the user, 0x…02 the router
        recipients = [r for r in recipients if r.lower() not in (_UR_SENDER, _UR_ROUTER)]
    for call in inner:
        recipients.extend(call.recipients)
    if not recipients and value and to and spec.recipient != "@self":
        recipients = [to]  # the native value itself goes to the called contract
    recipients = list(dict.fromkeys(recipients))

    spenders = resolve_path(named, spec.spender) if spec.spender else []
    tokens = list(dict.fromkeys(resolve_path(named, spec.token))) if spec.token not in (
        None, "@to") else []
    token = to if spec.token == "@to" else (tokens[0] if len(tokens) == 1 else None)
    amounts = [int(a) for a in resolve_path(named, spec.amount)] if spec.amount else []
    limit = _UNLIMITED_160 if spec.category == "permit2" else _UNLIMITED_256
    unlimited = bool(spenders) and spec.name != "decreaseAllowance" and (
        any(a >= limit for a in amounts)
        or named.get("approved") is True  # setApprovalForAll
        or spec.name == "authorizeOperator"  # ERC-777: every token of the holder
        or (spec.category == "permit" and named.get("allowed") is True)  # DAI permit
    )
    return DecodedCall(
        spec.name, spec.signature, selector, params, spec.category,
        recipients[0] if recipients else None, spenders[0] if spenders else None, "", inner=inner,
        to=to, value=value, token=token,
        amount=amounts[0] if len(amounts) == 1 else None, unlimited=unlimited,
        recipients=recipients, operation=operation, error=too_deep,
    )


def _nested(spec: FunctionSpec, values: list[Any], to: str | None, depth: int) -> list[DecodedCall]:
    """Inner calls, by how the function carries them."""
    d = depth + 1
    kind = spec.nested
    if kind == "self_calls":  # multicall(bytes[]) delegatecalls the same contract
        return [_decode(b, to, 0, d, "CALL") for b in values[-1]]
    if kind == "multicall3":  # (target, [allowFailure,] [value,] callData)
        return [_with(_decode(c[-1], to_checksum_address(c[0]), c[2] if len(c) == 4 else 0, d,
                              "CALL"), allow_failure=len(c) > 2 and c[1] is True)
                for c in values[-1]]
    if kind == "safe_exec":
        op = "DELEGATECALL" if values[3] == 1 else "CALL"
        return [_decode(values[2], to_checksum_address(values[0]), values[1], d, op)]
    if kind == "execution":
        target, val, data = values[0]
        return [_decode(data, to_checksum_address(target), val, d, "CALL")]
    if kind == "upgrade_call":
        proxy = to if spec.name == "upgradeToAndCall" else to_checksum_address(values[0])
        return [_decode(values[-1], proxy, 0, d, "CALL")] if values[-1] else []
    if kind == "multisend":
        return _multisend(values[0], d)
    if kind == "erc7579":
        return _erc7579(values[0], values[1], d)
    if kind == "universal_router":
        return _universal_router(values[0], values[1], to, d)
    return []


def _multisend(packed: bytes, depth: int) -> list[DecodedCall]:
    # Safe MultiSend: operation(1) ‖ to(20) ‖ value(32) ‖ dataLength(32) ‖ data, repeated.
    out: list[DecodedCall] = []
    i = 0
    while i + 85 <= len(packed):
        op = packed[i]
        target = _address(packed[i + 1 : i + 21])
        val = int.from_bytes(packed[i + 21 : i + 53], "big")
        size = int.from_bytes(packed[i + 53 : i + 85], "big")
        if size > len(packed) - i - 85:
            break  # truncated entry: MultiSend would revert on it
        data = packed[i + 85 : i + 85 + size]
        out.append(_decode(data, target, val, depth, "DELEGATECALL" if op == 1 else "CALL"))
        i += 85 + size
    return out


def _address(raw: bytes) -> str:
    return to_checksum_address("0x" + raw.hex())


def _erc7579(mode: bytes, execution: bytes, depth: int) -> list[DecodedCall]:
    # ERC-7579 ExecutionLib: single = target(20) ‖ value(32) ‖ data; batch = abi.encode(
    # Execution[]); delegatecall (0xff) = target(20) ‖ data.
    call_type = mode[0] if mode else 0
    target = _address(execution[:20]) if len(execution) >= 20 else None
    if call_type == 0x00 and len(execution) >= 52:
        val = int.from_bytes(execution[20:52], "big")
        return [_decode(execution[52:], target, val, depth, "CALL")]
    if call_type == 0xFF and target:
        return [_decode(execution[20:], target, 0, depth, "DELEGATECALL")]
    if call_type == 0x01:
        batch_type = ABIType("array", elem=ABIType("tuple", components=(
            ABIType("base", "address"), ABIType("base", "uint256"), ABIType("base", "bytes"))))
        try:
            (batch,) = decode_abi([batch_type], execution)
        except InvalidCalldata:
            return []
        return [_decode(data, to_checksum_address(t), v, depth, "CALL") for t, v, data in batch]
    return []


def _universal_router(commands: bytes, inputs: list[bytes], to: str | None, depth: int
                      ) -> list[DecodedCall]:
    out: list[DecodedCall] = []
    for i, byte in enumerate(commands):
        code = byte & 0x3F
        args = inputs[i] if i < len(inputs) else b""
        spec = UNIVERSAL_ROUTER_COMMANDS.get(code)
        if spec is None:
            call = _bare(f"COMMAND_0x{code:02x}", None, None, "universal_router", to, 0, "CALL",
                         pays_to=False, error="unknown command")
        else:
            call = _decode_spec(spec, args, to, 0, depth, "CALL", None)
        out.append(_with(call, allow_failure=bool(byte & 0x80)))  # 0x80: FLAG_ALLOW_REVERT
    return out


def _with(call: DecodedCall, *, allow_failure: bool) -> DecodedCall:
    call = replace(call, allow_failure=allow_failure)
    from .intents import intent_for

    return replace(call, intent=intent_for(call))


# --- reverts and logs ---------------------------------------------------------------------------
def decode_revert(data: str | bytes | None, *, _depth: int = 0) -> str | None:
    """A readable revert reason; None when there is no revert data. Never raises."""
    if data is None:
        return None
    try:
        raw = _parse_hex(data)
    except InvalidCalldata:
        return "malformed revert data"
    if not raw:
        return None
    if len(raw) < 4:
        return f"malformed revert data 0x{raw.hex()}"
    selector = "0x" + raw[:4].hex()
    spec = ERRORS.get(selector)
    if spec is None:
        return f"custom error {selector}"
    try:
        values = decode_abi(spec.inputs, raw[4:])
    except InvalidCalldata:
        return f"{spec.name} (undecodable arguments)"
    if spec.name == "Error":
        return str(values[0])
    if spec.name == "Panic":
        code = int(values[0])
        return f"Panic(0x{code:02x}): {PANIC_CODES.get(code, 'unknown panic code')}"
    parts = []
    for t, v in zip(spec.inputs, values, strict=True):
        if t.base == "bytes" and _depth < 2:  # e.g. ExecutionFailed(…, bytes message)
            shown: Any = decode_revert(v, _depth=_depth + 1) or "0x"
        else:
            shown = to_json(t, v)
        parts.append(f"{t.name}={shown}" if t.name else str(shown))
    return f"{spec.name}({', '.join(parts)})"


def decode_log(topics: Sequence[str], data: str | bytes) -> DecodedEvent | None:
    """Decode a log of a known event; None if unknown or malformed (logs are not trusted)."""
    try:
        words = [_parse_hex(t) for t in topics]
        body = _parse_hex(data)
    except InvalidCalldata:
        return None
    if not words or any(len(w) != 32 for w in words):
        return None
    spec = event_for("0x" + words[0].hex(), len(words) - 1)
    if spec is None:
        return None
    try:
        plain = iter(decode_abi([t for t in spec.inputs if not t.indexed], body))
    except InvalidCalldata:
        return None
    topic_iter = iter(words[1:])
    params: list[DecodedParam] = []
    for t in spec.inputs:
        if not t.indexed:
            value = to_json(t, next(plain))
        elif t.kind == "base" and not t.is_dynamic:
            value = to_json(t, decode_word(t.base, next(topic_iter)))
        else:  # indexed dynamic values are stored as their keccak hash
            value = "0x" + next(topic_iter).hex()
        params.append(DecodedParam(t.name, t.canonical, value))
    return DecodedEvent(spec.name, spec.signature, spec.category, spec.topic0, params)


def __getattr__(name: str) -> Any:
    # `from mm_agent.security.decode import intent_for` keeps working; it lives in ``intents``.
    if name == "intent_for":
        from .intents import intent_for

        return intent_for
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
