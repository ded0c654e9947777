"""Shared types and helpers of the local threat scanner.

Only the standard library is imported here: ``DecodedCall`` comes from ``mm_agent.security.decode``
and is only read through attribute access, so the rules also accept any object with the same fields.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from ..decode import DecodedCall

__all__ = [
    "FAR_EXPIRY_SECONDS",
    "LARGE_SHARE",
    "MAX_UINT256",
    "UNLIMITED_THRESHOLD",
    "ZERO",
    "CallSite",
    "Feature",
    "FeatureType",
    "ResultType",
    "ScanInput",
    "ScanResult",
    "Scanner",
    "as_bool",
    "as_int",
    "is_addr",
    "iter_calls",
    "low",
    "param",
    "short",
    "sig",
]

FeatureType = Literal["Benign", "Warning", "Malicious", "Info", "Error"]
ResultType = Literal["Benign", "Warning", "Malicious", "Error"]

MAX_UINT256 = 2**256 - 1
# Anything at or above type(uint96).max base units is "unlimited": it is the smallest sentinel
# tokens really use for "infinite" (UNI/COMP store allowances as uint96 and turn max uint256 into
# max uint96), and it covers max uint160 (Permit2), max uint256 and "huge round number" tricks.
# Amounts below it are judged against the holder's balance (see ``LARGE_SHARE``).
UNLIMITED_THRESHOLD = 2**96 - 1
# A grant of at least this share of what the holder has exposes "most of it".
LARGE_SHARE = 0.5
# A grant that stays usable longer than this is long-lived.
FAR_EXPIRY_SECONDS = 30 * 24 * 3600
ZERO = "0x" + "0" * 40
_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _never_contract(_address: str) -> bool:
    return False


def _unknown_balance(_token: str, _holder: str) -> int | None:
    return None


@dataclass
class ScanInput:
    """Everything the rules may look at. Addresses in the sets are lowercase."""

    kind: Literal["transaction", "message", "typed-data"]
    chain_id: int
    wallet: str
    tx: dict[str, Any] | None = None
    decoded: DecodedCall | None = None
    simulation: dict[str, Any] | None = None
    message: str | None = None
    typed_data: dict[str, Any] | None = None
    is_contract: Callable[[str], bool] = _never_contract
    known_counterparties: frozenset[str] = frozenset()
    denylist: frozenset[str] = frozenset()
    now: int | None = None
    # {lowercase address: name} of verified protocols on this chain (known_protocols.py + config)
    known_protocols: Mapping[str, str] = field(default_factory=dict)
    # lowercase addresses of tokens of known value on this chain (the chain's token list, devnet
    # tokens); native coin always counts
    known_assets: frozenset[str] = frozenset()
    # balance_of(token, holder) -> base units, None when it cannot be read (memoised by scan())
    balance_of: Callable[[str, str], int | None] = _unknown_balance
    # CTF exchanges beyond the built-in table (known_protocols.CTF_EXCHANGES), e.g. the devnet's:
    # {lowercase exchange: {"name", "version": "1"|"2"|"3", "collateral": asset dict | None,
    #  "operators": [address, …]}}
    ctf_exchanges: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Reference prices of outcome tokens for the CTF order rule, filled by the caller (the
    # predict commands: the order book), keyed by the token id as a decimal string. A value is a
    # price in collateral per token (number, Decimal or decimal string: the midpoint), or a
    # mapping {"bid", "ask", "mid", "source"} (a BUY is compared with the ask, a SELL with the
    # bid, else the mid). No entry: no price check.
    reference_prices: Mapping[str, Any] = field(default_factory=dict)

    def now_ts(self) -> int:
        return int(self.now if self.now is not None else time.time())

    def known(self, address: str | None) -> bool:
        """Used before by this wallet (history), not "verified": see ``protocol``."""
        return address is not None and address.lower() in self.known_counterparties

    def protocol(self, address: str | None) -> str | None:
        """The name of a verified protocol at ``address`` on this chain, else None."""
        return self.known_protocols.get(address.lower()) if address else None

    def balance(self, token: str | None, holder: str | None) -> int | None:
        if not is_addr(token) or not is_addr(holder):
            return None
        try:
            return self.balance_of(token, holder)  # type: ignore[arg-type]
        except Exception:  # an unreadable balance only weakens the share rule, never crashes
            return None

    def has_code(self, address: str | None) -> bool:
        # The zero address never holds code; asking the node about it is a wasted call.
        if not is_addr(address) or low(address) == ZERO:
            return False
        return bool(self.is_contract(address))  # type: ignore[arg-type]

    @property
    def tx_to(self) -> str | None:
        to = (self.tx or {}).get("to")
        return to if is_addr(to) else None

    @property
    def tx_value(self) -> int:
        return as_int((self.tx or {}).get("value")) or 0


@dataclass
class Feature:
    """One finding. ``reason``/``classification`` feed the aggregate, not the JSON feature."""

    type: FeatureType
    feature_id: str
    description: str
    address: str | None = None
    reason: str = ""
    classification: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "featureId": self.feature_id,
            "description": self.description,
            "address": self.address,
        }


@dataclass
class ScanResult:
    result_type: ResultType
    reason: str
    classification: str
    description: str
    features: list[Feature] = field(default_factory=list)
    # What the action would let others take (see grants.py): one dict per (spender, asset).
    grants: list[dict[str, Any]] = field(default_factory=list)
    # Prediction-market orders the typed data signs (rules_ctf_orders.order_entry), for the
    # policy's outflow.
    orders: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "resultType": self.result_type,
            "reason": self.reason,
            "classification": self.classification,
            "description": self.description,
            "features": [f.to_dict() for f in self.features],
            "grants": list(self.grants),
        }
        if self.orders:  # only for typed data that signs a prediction-market order
            out["orders"] = list(self.orders)
        return out


class Scanner(Protocol):
    """A remote (or extra local) scanner: returns features, may raise (which fails closed)."""

    def scan(self, inp: ScanInput) -> list[Feature]: ...


# --- small value helpers ----------------------------------------------------------------------
def is_addr(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX40.match(value))


def low(address: str | None) -> str:
    return (address or "").lower()


def short(address: str | None) -> str:
    return f"{address[:6]}…{address[-4:]}" if address and len(address) > 12 else str(address)


def as_int(value: object) -> int | None:
    """Decoded/typed-data numbers arrive as int, decimal string or 0x-hex string."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            return None
    return None


def as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "0x1")
    return bool(value)


# --- decoded calls ----------------------------------------------------------------------------
@dataclass
class CallSite:
    """A decoded call and the contract it is sent to (None when the decoder could not tell)."""

    call: Any
    target: str | None


def sig(call: Any) -> str:
    """Canonical ``name(type,…)``, built from the params so that param names never matter."""
    name = getattr(call, "function_name", None) or ""
    params = getattr(call, "params", None)
    if name and params is not None:
        return f"{name}({','.join(str(getattr(p, 'type', '')) for p in params)})"
    return str(getattr(call, "signature", "") or "").replace(" ", "")


def param(call: Any, index: int) -> Any:
    params = list(getattr(call, "params", None) or [])
    return getattr(params[index], "value", None) if index < len(params) else None


def iter_calls(inp: ScanInput) -> Iterator[CallSite]:
    """The top-level decoded call and, depth first, every inner call (multicall, Safe)."""
    if inp.decoded is None:
        return

    def walk(call: Any, target: str | None, depth: int) -> Iterator[CallSite]:
        yield CallSite(call, target)
        if depth >= 8:  # nested multicalls deeper than this are not worth following
            return
        for inner in getattr(call, "inner", None) or []:
            inner_to = getattr(inner, "to", None) or getattr(inner, "target", None)
            if not is_addr(inner_to):
                # Safe execTransaction forwards to its `to`; multicall(bytes[]) calls itself.
                safe_to = param(call, 0) if sig(call).startswith("execTransaction(") else None
                inner_to = safe_to if is_addr(safe_to) else target
            yield from walk(inner, inner_to, depth + 1)

    yield from walk(inp.decoded, inp.tx_to, 0)
