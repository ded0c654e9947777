"""`mm predict` state and rules: the modes and their networks, ``predict.json`` (MM_HOME, 0600,
atomic, under the state lock), the shapes commands show, and the reference's validation of an
order's flags (exit 2). No I/O beyond MM_HOME; :class:`mm_agent.markets.predict.Predict` and
the handlers build on it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mm_agent.errors import InvalidAmount, ValidationError
from mm_agent.evm.signatures import keccak256
from mm_agent.local.state import Home

from . import orders

__all__ = ["DEFAULT_CLOB_URL", "DEFAULT_GAMMA_URL", "FILLED_TOPIC", "MAX_UINT", "MODES",
           "NETWORKS", "ONE", "ORDER_TYPES", "PREDICT_FILE", "read_state", "set_mode",
           "validate_place"]

PREDICT_FILE = "predict.json"
MODES = ("devnet", "testnet", "mainnet")
# The real networks of ``testnet`` and ``mainnet``.
NETWORKS: dict[str, dict[str, Any]] = {
    "testnet": {"chainId": 80002, "name": "Polygon Amoy"},
    "mainnet": {"chainId": 137, "name": "Polygon"},
}
# The reference clients' hosts (py-clob-client / @polymarket/clob-client; Gamma's public API).
DEFAULT_CLOB_URL = "https://clob.polymarket.com"
DEFAULT_GAMMA_URL = "https://gamma-api.polymarket.com"
ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
MAX_UINT = 2**256 - 1
ONE = Decimal(10) ** orders.COLLATERAL_DECIMALS
FILLED_TOPIC = "0x" + keccak256(
    b"OrderFilled(bytes32,address,address,uint8,uint256,uint256,uint256,uint256,bytes32,"
    b"bytes32)").hex()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _units(amount: int) -> str:
    return format((Decimal(amount) / ONE).normalize(), "f")


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """An order record as commands show it (the signed struct stays in predict.json)."""
    return {k: v for k, v in record.items() if k not in ("order", "exchange", "chainId")}


def read_state(home: Home) -> dict[str, Any]:
    state = home.read_json(PREDICT_FILE, None)
    if not isinstance(state, dict):
        state = {}
    state.setdefault("version", 1)
    state.setdefault("mode", "devnet")
    state.setdefault("accounts", {})
    state.setdefault("orders", [])
    state.setdefault("history", [])
    return state


def set_mode(home: Home, mode: str | None) -> dict[str, Any]:
    """Show (``mode`` None) or switch the back end."""
    with home.locked():
        state = read_state(home)
        if mode is not None:
            if mode not in MODES:
                raise ValidationError(f"Unknown predict mode {mode!r}.",
                                      hint="One of devnet, testnet, mainnet.")
            state["mode"] = mode
            home.write_json(PREDICT_FILE, state)
    out: dict[str, Any] = {"mode": state["mode"], "available": True}
    if state["mode"] in NETWORKS:
        out["chainId"] = NETWORKS[state["mode"]]["chainId"]
        out["network"] = NETWORKS[state["mode"]]["name"]
    return out


def _decimal(value: str | None, what: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{what} {value!r} is not a number.") from None
    if not d.is_finite():
        raise InvalidAmount(f"{what} {value!r} is not a number.")
    return d


def validate_place(*, side: str, size: str, price: str, order_type: str = "GTC",
                   post_only: bool = False, expiration: int | None = None) -> None:
    """The reference's validation rules (exit 2)."""
    if side.lower() not in ("buy", "sell"):
        raise ValidationError(f"Side {side!r} is neither buy nor sell.", hint="--side buy")
    p = _decimal(price, "Price")
    if not Decimal(0) < p <= Decimal(1):
        raise InvalidAmount(f"Price {price} is outside (0, 1].", hint="e.g. --price 0.55")
    if _decimal(size, "Size") <= 0:
        raise InvalidAmount(f"Size {size} is not positive.", hint="e.g. --size 10")
    if order_type.upper() not in ORDER_TYPES:
        raise ValidationError(f"Unknown order type {order_type!r}.",
                              hint="--order-type GTC, GTD, FOK or FAK.")
    if post_only and order_type.upper() in ("FOK", "FAK"):
        raise ValidationError("--post-only cannot be used with FOK or FAK orders.")
    if expiration is not None and order_type.upper() != "GTD":
        raise ValidationError("--expiration is only valid for GTD orders.",
                              hint="Add --order-type GTD, or drop --expiration.")
    if order_type.upper() == "GTD" and expiration is None:
        raise ValidationError("A GTD order needs --expiration (Unix seconds).")
