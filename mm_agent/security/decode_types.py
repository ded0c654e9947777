"""The decoder's result types and constants, shared by ``decode`` and ``intents``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_NESTING", "DecodedCall", "DecodedEvent", "DecodedParam", "TokenFormatter"]

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
