"""Transaction decoder: the first stage of the security pipeline and ``mm decode``.

Turns calldata into a :class:`DecodedCall` (function, JSON-friendly params, who really receives
value, who is granted an allowance, inner calls of multicalls / Safe transactions / Universal
Router plans, and a readable intent), revert data into a reason, and logs into events. Nothing
here touches the network; token-aware amounts come from the caller via ``intent_for``'s
``token_formatter``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .addresses import ZERO_ADDRESS, to_checksum_address, validate_address
from .errors import InvalidAmount, InvalidCalldata
from .signatures import (
    ERRORS,
    PANIC_CODES,
    UNIVERSAL_ROUTER_COMMANDS,
    ABIType,
    FunctionSpec,
    command_for,
    decode_abi,
    decode_word,
    event_for,
    function_for,
    resolve_path,
    to_json,
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
    "intent_for",
]

#: ``token_formatter(token_address, raw_amount)`` → e.g. ``"1.5 USDC"``, or None if unknown.
TokenFormatter = Callable[[str, int], str | None]

#: How deep inner calls are decoded (Safe → MultiSend → approve needs 2 levels).
MAX_NESTING = 3
_UNLIMITED_256 = 1 << 255  # ≥ half of uint256 max is "unlimited" in practice
_UNLIMITED_160 = 1 << 159  # same rule for Permit2's uint160 amounts
_UR_SENDER = "0x0000000000000000000000000000000000000001"  # Universal Router MSG_SENDER
_UR_ROUTER = "0x0000000000000000000000000000000000000002"  # Universal Router ADDRESS_THIS
_UR_CONTRACT_BALANCE = 1 << 255
_HEX = re.compile(r"[0-9a-fA-F]*")
_TOO_DEEP = "inner calls nested too deep to decode"
_LISTED = 20  # inner intents spelled out in a one-line intent (all stay in `inner`)


@dataclass(frozen=True)
class DecodedParam:
    name: str
    type: str
    value: Any  # JSON-friendly: decimal strings, checksummed addresses, 0x hex, lists/dicts

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "value": self.value}


@dataclass(frozen=True)
class DecodedCall:
    """One decoded call. ``effective_recipient`` is who really receives value (None: nobody
    but the sender); ``recipients`` lists all of them for batch transfers and inner calls."""

    function_name: str | None
    signature: str | None
    selector: str | None
    params: list[DecodedParam]
    category: str | None
    effective_recipient: str | None
    spender: str | None
    intent: str
    inner: list[DecodedCall] = field(default_factory=list)
    to: str | None = None
    value: int = 0
    token: str | None = None  # the asset contract concerned, if any
    amount: int | None = None  # raw amount (approval, transfer) when there is exactly one
    unlimited: bool = False  # the allowance granted is unbounded (incl. setApprovalForAll)
    recipients: list[str] = field(default_factory=list)
    operation: str = "CALL"  # how the caller executes this call: CALL or DELEGATECALL
    error: str | None = None  # why arguments could not be decoded
    allow_failure: bool = False  # a batch entry whose failure does not revert the batch

    def arg(self, name: str) -> Any:
        """The JSON value of a top-level parameter, or None."""
        return next((p.value for p in self.params if p.name == name), None)

    def walk(self) -> Iterator[DecodedCall]:
        """This call and every inner call, depth first (for later pipeline stages)."""
        yield self
        for call in self.inner:
            yield from call.walk()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "functionName": self.function_name,
            "signature": self.signature,
            "selector": self.selector,
            "category": self.category,
            "params": [p.to_dict() for p in self.params],
            "intent": self.intent,
            "effectiveRecipient": self.effective_recipient,
            "spender": self.spender,
            "inner": [c.to_dict() for c in self.inner],
        }
        if self.to is not None:
            out["to"] = self.to
        if self.value:
            out["value"] = str(self.value)
        if self.operation != "CALL":
            out["operation"] = self.operation
        if self.error:
            out["error"] = self.error
        if self.allow_failure:
            out["allowFailure"] = True
        return out


@dataclass(frozen=True)
class DecodedEvent:
    name: str
    signature: str
    category: str
    topic0: str
    params: list[DecodedParam]

    def arg(self, name: str) -> Any:
        return next((p.value for p in self.params if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "signature": self.signature,
            "category": self.category,
            "params": [p.to_dict() for p in self.params],
        }


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
    return replace(call, intent=intent_for(call))


# --- intents --------------------------------------------------------------------------------
def _who(addr: str | None) -> str:
    return addr or "the target contract"


def _amt(fmt: TokenFormatter | None, token: str | None, raw: int) -> str:
    if token == ZERO_ADDRESS:  # Universal Router's marker for the native currency
        return f"{raw} wei"
    if fmt is not None and token:
        text = fmt(token, raw)
        if text:
            return text
    return f"{raw} units of token {_who(token)}"


def _when(ts: int) -> str:
    if ts >= (1 << 48) - 1 or ts > 253402300799:  # uint48 max or past year 9999
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _ur_who(addr: str) -> str:
    return {_UR_SENDER: "you", _UR_ROUTER: "the router"}.get(addr.lower(), addr)


def _v3_path(path_hex: str, reverse: bool) -> tuple[str | None, str | None]:
    # Packed path: token(20) ‖ fee(3) ‖ token(20) ‖ …; exact-output paths run output → input.
    raw = bytes.fromhex(path_hex[2:])
    tokens = [to_checksum_address("0x" + raw[i : i + 20].hex())
              for i in range(0, len(raw) - 19, 23)]
    if not tokens:
        return None, None
    return (tokens[-1], tokens[0]) if reverse else (tokens[0], tokens[-1])


def _swap(fmt: TokenFormatter | None, venue: str, tin: str | None, ain: int | str,
          tout: str | None, aout: int, exact_in: bool, recipient: str | None) -> str:
    if isinstance(ain, int) and ain == _UR_CONTRACT_BALANCE:
        text_in = f"the router's balance of token {_who(tin)}"
    else:
        text_in = ain if isinstance(ain, str) else _amt(fmt, tin, ain)
    text_out = _amt(fmt, tout, aout)
    body = (f"Swap {text_in} for at least {text_out}" if exact_in
            else f"Swap at most {text_in} for {text_out}")
    return f"{body} via {venue}" + (f", recipient {recipient}" if recipient else "")


def _allowance(fmt: TokenFormatter | None, c: DecodedCall, token: str | None, raw: int) -> str:
    return f"unlimited of token {_who(token)}" if c.unlimited else _amt(fmt, token, raw)


def _list(intents: Sequence[str]) -> str:
    if len(intents) > _LISTED:
        return "; ".join(intents[:_LISTED]) + f"; and {len(intents) - _LISTED} more"
    return "; ".join(intents) if intents else "nothing"


# Names whose intent already states the native value sent.
_VALUE_STATED = {"deposit", "swapExactETHForTokens", "swapETHForExactTokens",
                 "swapExactETHForTokensSupportingFeeOnTransferTokens", "addLiquidityETH"}


def intent_for(decoded: DecodedCall, token_formatter: TokenFormatter | None = None) -> str:
    """A readable one-line intent; ``token_formatter`` turns raw token amounts into text."""
    c = decoded
    try:
        text = _intent(c, token_formatter)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        # Odd-but-decodable arguments must never break the pipeline.
        text = f"Call {c.function_name or c.selector} on {_who(c.to)}"
    native_send = c.function_name is None and c.selector is None
    if c.value and not native_send and c.function_name not in _VALUE_STATED:
        text += f", sending {c.value} wei"
    if c.allow_failure:
        text += " (allowed to fail)"
    return text


class _Fields(dict[str, Any]):
    """``format_map`` source for intent templates; unknown keys render as ``?``."""

    def __missing__(self, key: str) -> str:
        return "?"


def _template(c: DecodedCall, template: str, inner: list[str]) -> str:
    fields = _Fields({p.name: p.value for p in c.params})
    if c.selector is None:  # Universal Router command: show its recipient markers as words
        fields.update({k: _ur_who(v) for k, v in fields.items() if isinstance(v, str)})
    fields.update(_target=_who(c.to), _inner=_list(inner), _count=len(inner))
    return template.format_map(fields)


def _intent(c: DecodedCall, fmt: TokenFormatter | None) -> str:
    if c.function_name is None:
        if c.error:
            return f"Call {_who(c.to)} with {c.error}"
        if c.selector is None:
            return f"Send {c.value} wei to {_who(c.to)}"
        return f"Call unknown function {c.selector}"
    if c.error == "unknown command":
        return f"Unknown Universal Router command {c.function_name}"
    if c.error == _TOO_DEEP:
        return f"Call {c.function_name} on {_who(c.to)} ({_TOO_DEEP})"
    if c.error:
        return f"Call {c.function_name} on {_who(c.to)} with undecodable arguments"
    spec = function_for(c.selector) if c.selector else command_for(c.function_name)
    inner = [intent_for(i, fmt) for i in c.inner]
    if spec is not None and spec.intent:
        return _template(c, spec.intent, inner)
    a, name, cat, tok = c.arg, c.function_name, c.category, c.token
    if cat == "erc20":
        if name == "transfer":
            return f"Transfer {_amt(fmt, tok, int(a('amount')))} to {a('to')}"
        if name == "transferFrom":  # ERC-20 amount or ERC-721 token id: same selector
            raw = int(a("value"))
            what = (fmt(tok, raw) if fmt and tok else None) or (
                f"{raw} (amount or token id) of token {_who(tok)}")
            return f"Transfer {what} from {a('from')} to {a('to')}"
        if name == "approve" and not c.amount:
            return f"Revoke approval of {c.spender} for token {_who(tok)}"
        if name == "approve":
            return f"Approve {c.spender} to spend {_allowance(fmt, c, tok, c.amount or 0)}"
        verb = "Increase" if name == "increaseAllowance" else "Decrease"
        return f"{verb} the allowance of {c.spender} by {_allowance(fmt, c, tok, c.amount or 0)}"
    if name == "setApprovalForAll":
        if a("approved"):
            return f"Set approval for all tokens of {_who(tok)} to {c.spender}"
        return f"Revoke approval for all tokens of {_who(tok)} from {c.spender}"
    if name == "safeBatchTransferFrom":
        return f"Transfer {len(a('ids'))} token ids of {_who(tok)} from {a('from')} to {a('to')}"
    if name == "deposit":
        return f"Wrap {c.value} wei into {_who(tok)}"
    if name == "withdraw":
        return f"Unwrap {_amt(fmt, tok, int(a('amount')))} to native currency"
    if cat == "permit":
        if a("allowed") is not None:  # DAI's permit(holder, spender, nonce, expiry, allowed, …)
            if not a("allowed"):
                return f"Revoke the permit of {c.spender} for token {_who(tok)} from {a('holder')}"
            return (f"Permit {c.spender} to spend unlimited of token {_who(tok)} from "
                    f"{a('holder')}, expiry {_when(int(a('expiry')))}")
        return (f"Permit {c.spender} to spend {_allowance(fmt, c, tok, c.amount or 0)} from "
                f"{a('owner')}, deadline {_when(int(a('deadline')))}")
    if cat == "permit2":
        return _permit2_intent(c, fmt)
    if cat in ("uniswap_v2", "uniswap_v3"):
        return _uniswap_intent(c, fmt)
    if name in ("execTransaction", "execTransactionFromModule"):
        op = "DELEGATECALL" if int(a("operation")) == 1 else "CALL"
        return f"Execute Safe transaction ({op}) to {a('to')}: {_list(inner)}"
    recipient = _ur_who(a("recipient") or "")
    if name == "SWEEP":
        return f"Sweep at least {_amt(fmt, tok, int(a('amountMin')))} to {recipient}"
    if name == "TRANSFER":
        return f"Transfer {_amt(fmt, tok, int(a('value')))} to {recipient}"
    if name == "BALANCE_CHECK_ERC20":
        need = _amt(fmt, a("token"), int(a("minBalance")))
        return f"Check that {a('owner')} holds at least {need}"
    return f"Call {name} on {_who(c.to)}"


def _permit2_intent(c: DecodedCall, fmt: TokenFormatter | None) -> str:
    a, name = c.arg, c.function_name
    single = a("permitSingle")
    if name == "approve" or single is not None:
        exp = int(a("expiration") if single is None else single["details"]["expiration"])
        when = "at the end of this block" if exp == 0 else _when(exp)
        what = f"{c.spender} to spend {_allowance(fmt, c, c.token, c.amount or 0)}"
        if name == "approve":
            return f"Approve {what} via Permit2, expires {when}"
        owner = f" from {a('owner')}" if a("owner") else ""
        return f"Permit2: permit {what}{owner}, expires {when}"
    if a("permitBatch") is not None:
        parts = [f"unlimited of token {d['token']}" if int(d["amount"]) >= _UNLIMITED_160
                 else _amt(fmt, d["token"], int(d["amount"])) for d in a("permitBatch")["details"]]
        return f"Permit2: permit {c.spender} to spend {_list(parts)}"
    rows = a("transferDetails") if name == "transferFrom" else a("batchDetails")
    if isinstance(rows, list):  # AllowanceTransferDetails[]
        return "Permit2: transfer " + _list(
            [f"{_amt(fmt, r['token'], int(r['amount']))} from {r['from']} to {r['to']}"
             for r in rows])
    if name == "transferFrom":
        return (f"Permit2: transfer {_amt(fmt, c.token, int(a('amount')))} from {a('from')} "
                f"to {a('to')}")
    if name == "PERMIT2_TRANSFER_FROM":
        return (f"Permit2: transfer {_amt(fmt, c.token, int(a('amount')))} from you to "
                f"{_ur_who(a('recipient'))}")
    details, permitted = a("transferDetails"), a("permit")["permitted"]
    if isinstance(details, dict):  # permit(Witness)TransferFrom, single or batch
        details, permitted = [details], [permitted]
    what = _list([f"{_amt(fmt, p['token'], int(d['requestedAmount']))} to {d['to']}"
                  for p, d in zip(permitted, details, strict=False)])
    return f"Permit2: transfer by signature from {a('owner')}: {what}"


def _uniswap_intent(c: DecodedCall, fmt: TokenFormatter | None) -> str:
    a, name = c.arg, c.function_name or ""
    if name.startswith(("V2_SWAP", "V3_SWAP")):  # Universal Router swap commands
        exact_in = name.endswith("EXACT_IN")
        path = a("path")
        if name.startswith("V2"):
            tin, tout = (path[0], path[-1]) if path else (None, None)
        else:
            tin, tout = _v3_path(path, reverse=not exact_in)
        ain = int(a("amountIn") if exact_in else a("amountInMax"))
        aout = int(a("amountOutMin") if exact_in else a("amountOut"))
        venue = f"Uniswap {name[:2]}"
        return _swap(fmt, venue, tin, ain, tout, aout, exact_in, _ur_who(a("recipient")))
    if name.startswith("swap"):  # V2 router
        path = a("path")
        exact_in = name.startswith("swapExact")
        ain: int | str = f"{c.value} wei" if "ETHFor" in name else int(
            a("amountIn") if exact_in else a("amountInMax"))
        aout = int(a("amountOutMin") if exact_in else a("amountOut"))
        return _swap(fmt, "Uniswap V2", path[0], ain, path[-1], aout, exact_in, a("to"))
    if name == "addLiquidity":
        pair = (f"{_amt(fmt, a('tokenA'), int(a('amountADesired')))} and "
                f"{_amt(fmt, a('tokenB'), int(a('amountBDesired')))}")
        return f"Add liquidity to Uniswap V2: {pair}, LP tokens to {a('to')}"
    if name == "addLiquidityETH":
        pair = f"{_amt(fmt, a('token'), int(a('amountTokenDesired')))} and {c.value} wei"
        return f"Add liquidity to Uniswap V2: {pair}, LP tokens to {a('to')}"
    p = a("params")
    if name.startswith("exact") and isinstance(p, dict):  # V3 SwapRouter / SwapRouter02
        exact_in = name.startswith("exactInput")
        if "path" in p:
            tin, tout = _v3_path(p["path"], reverse=not exact_in)
        else:
            tin, tout = p["tokenIn"], p["tokenOut"]
        ain = int(p["amountIn"] if exact_in else p["amountInMaximum"])
        aout = int(p["amountOutMinimum"] if exact_in else p["amountOut"])
        return _swap(fmt, "Uniswap V3", tin, ain, tout, aout, exact_in, p["recipient"])
    if name == "sweepToken":
        need = _amt(fmt, a("token"), int(a("amountMinimum")))
        return f"Sweep at least {need} to {a('recipient')}"
    return f"Call {name} on {_who(c.to)}"


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
