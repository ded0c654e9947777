"""Exact decimal amounts. No float ever touches an amount.

Users give human decimals as strings ("0.5"); the chain counts base units (wei, token units).
"""

from __future__ import annotations

import re
from decimal import Decimal

from mm_agent.errors import InvalidAmount

__all__ = ["format_units", "parse_units", "validate_decimal"]

_DECIMAL = re.compile(r"^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$|^\.[0-9]+$")


def _split(amount: object) -> tuple[str, str]:
    if isinstance(amount, bool) or not isinstance(amount, (str, int)):
        raise InvalidAmount(
            f"Amount must be a decimal string such as \"0.5\", not {type(amount).__name__}."
        )
    if isinstance(amount, int) and amount.bit_length() > 300:
        raise InvalidAmount("Amount has too many digits.")
    text = str(amount).strip().replace("_", "")
    # Bounded before any int(): 2**256 has 78 digits, so 80 + "." + 80 covers every asset.
    whole_len, _, frac_len = (len(x) for x in text.partition("."))
    if whole_len > 80 or frac_len > 80:
        raise InvalidAmount("Amount has too many digits.", hint="Give a plain decimal such as "
                            "\"0.5\"; at most 80 digits before and after the point.")
    if text.startswith("0") and len(text) > 1 and text[1].isdigit():
        text = text.lstrip("0") or "0"
    if not _DECIMAL.match(text):
        raise InvalidAmount(f"{amount!r} is not a plain positive decimal amount.")
    whole, _, frac = text.partition(".")
    return whole, frac.rstrip("0")


def validate_decimal(amount: object) -> str:
    """Syntax check of a positive decimal amount (decimals of the asset checked later)."""
    whole, frac = _split(amount)
    if not int(whole or "0") and not frac:
        raise InvalidAmount("Amount must be greater than zero.")
    return str(amount).strip()


def parse_units(amount: str, decimals: int, *, allow_zero: bool = False) -> int:
    """``"0.5"``, 18 → ``500000000000000000``. Rejects floats, signs, exponents, excess places."""
    whole, frac = _split(amount)
    if len(frac) > decimals:
        raise InvalidAmount(
            f"{amount} has more than {decimals} decimal places for this asset.",
            hint=f"This asset has {decimals} decimals.",
        )
    units = int(whole or "0") * 10**decimals + (int(frac.ljust(decimals, "0")) if frac else 0)
    if units == 0 and not allow_zero:
        raise InvalidAmount("Amount must be greater than zero.")
    if units >= 2**256:
        raise InvalidAmount(f"{amount} is too large.")
    return units


def format_units(units: int, decimals: int) -> str:
    """``500000000000000000``, 18 → ``"0.5"`` (exact, no trailing zeros)."""
    sign = "-" if units < 0 else ""
    units = abs(int(units))
    whole, frac = divmod(units, 10**decimals)
    if not frac:
        return f"{sign}{whole}"
    frac_s = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{frac_s}"


def to_decimal(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)
