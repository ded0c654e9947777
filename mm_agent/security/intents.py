"""Readable one-line intents of decoded calls ("Transfer 1.5 USDC to 0x…").

Split from ``decode`` (which builds ``DecodedCall`` trees); ``decode`` calls ``intent_for`` for
each call it decodes, and re-exports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mm_agent.evm.addresses import ZERO_ADDRESS, to_checksum_address
from mm_agent.evm.amounts import format_units
from mm_agent.evm.signatures import command_for, function_for

from .decode_types import (
    _LISTED,
    _TOO_DEEP,
    _UNLIMITED_160,
    _UR_CONTRACT_BALANCE,
    _UR_ROUTER,
    _UR_SENDER,
    DecodedCall,
    TokenFormatter,
)

__all__ = ["intent_for"]


# --- helpers --------------------------------------------------------------------------------
class _Formatter:
    """The caller's token formatter plus the chain's native currency (symbol, decimals):
    native amounts read "0.5 ETH", never a raw wei count."""

    def __init__(self, tokens: TokenFormatter | None, native: tuple[str, int] | None) -> None:
        self.tokens = tokens
        self.native = native

    def __call__(self, token: str, raw: int) -> str:
        return self.tokens(token, raw) if self.tokens is not None else ""

    def native_amount(self, raw: int) -> str:
        if self.native is None:  # no chain known (bare decoding): every supported chain's
            return f"{format_units(raw, 18)} of the native coin"  # native has 18 decimals
        symbol, decimals = self.native
        return f"{format_units(raw, decimals)} {symbol}"


def _native(fmt: TokenFormatter | None, raw: int) -> str:
    if isinstance(fmt, _Formatter):
        return fmt.native_amount(raw)
    return _Formatter(None, None).native_amount(raw)


def _who(addr: str | None) -> str:
    return addr or "the target contract"


def _amt(fmt: TokenFormatter | None, token: str | None, raw: int) -> str:
    if token == ZERO_ADDRESS:  # Universal Router's marker for the native currency
        return _native(fmt, raw)
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


def intent_for(decoded: DecodedCall, token_formatter: TokenFormatter | None = None, *,
               native: tuple[str, int] | None = None) -> str:
    """A readable one-line intent; ``token_formatter`` turns raw token amounts into text and
    ``native`` is the chain's (symbol, decimals) for native amounts (``Chain.native_symbol``,
    ``Chain.native_decimals``)."""
    c = decoded
    fmt = (token_formatter if isinstance(token_formatter, _Formatter)
           else _Formatter(token_formatter, native))
    try:
        text = _intent(c, fmt)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        # Odd-but-decodable arguments must never break the pipeline.
        text = f"Call {c.function_name or c.selector} on {_who(c.to)}"
    native_send = c.function_name is None and c.selector is None
    if c.value and not native_send and c.function_name not in _VALUE_STATED:
        text += f", sending {fmt.native_amount(c.value)}"
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
            return f"Send {_native(fmt, c.value)} to {_who(c.to)}"
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
        return f"Wrap {_native(fmt, c.value)} into {_who(tok)}"
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
        ain: int | str = _native(fmt, c.value) if "ETHFor" in name else int(
            a("amountIn") if exact_in else a("amountInMax"))
        aout = int(a("amountOutMin") if exact_in else a("amountOut"))
        return _swap(fmt, "Uniswap V2", path[0], ain, path[-1], aout, exact_in, a("to"))
    if name == "addLiquidity":
        pair = (f"{_amt(fmt, a('tokenA'), int(a('amountADesired')))} and "
                f"{_amt(fmt, a('tokenB'), int(a('amountBDesired')))}")
        return f"Add liquidity to Uniswap V2: {pair}, LP tokens to {a('to')}"
    if name == "addLiquidityETH":
        pair = (f"{_amt(fmt, a('token'), int(a('amountTokenDesired')))} and "
                f"{_native(fmt, c.value)}")
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


