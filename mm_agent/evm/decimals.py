"""Bounded parsing of numbers that come from outside (amounts, limits, prices, settings).

``Decimal("1e999999999")`` parses in a microsecond, but ``int()`` of it, a ``quantize`` or a
conversion to cents then stalls the process or raises an unexpected error, and
``int("9" * 5000)`` raises ``ValueError`` (Python's digit limit) far from any handler. Every
number from a request, a policy document or a config file therefore goes through
``bounded_decimal`` / ``bounded_int`` first: the text length, the number of significant digits
and the exponent are capped before any arithmetic happens.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from mm_agent.errors import ValidationError

__all__ = ["MAX_DIGITS", "MAX_EXPONENT", "MAX_TEXT", "bounded_decimal", "bounded_int"]

MAX_TEXT = 100  # characters of a number's text
MAX_DIGITS = 80  # significant digits (2**256 has 78)
MAX_EXPONENT = 80  # |adjusted exponent|: 1e80 is already past any real amount


def bounded_decimal(value: object, *, what: str = "number", max_digits: int = MAX_DIGITS,
                    max_exponent: int = MAX_EXPONENT,
                    error: type[ValidationError] = ValidationError) -> Decimal:
    """A finite ``Decimal`` with at most ``max_digits`` significant digits and an adjusted
    exponent within ±``max_exponent``; otherwise ``error`` (a ValidationError class).
    Accepts str, int and Decimal; floats only via their shortest repr; never bool."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise error(f"{what} must be a number, not {type(value).__name__}.")
    if isinstance(value, Decimal):
        number = value
    else:
        if isinstance(value, int) and value.bit_length() > 4 * MAX_TEXT:
            raise error(f"{what} is too large.")
        text = (value if isinstance(value, str) else repr(value)).strip().replace("_", "")
        if len(text) > MAX_TEXT:
            raise error(f"{what} is too long ({len(text)} characters; at most {MAX_TEXT}).")
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            raise error(f"{what}: {text[:40]!r} is not a number.") from None
    if not number.is_finite():
        raise error(f"{what} is not a finite number.")
    digits = len(number.as_tuple().digits)
    if digits > max_digits:
        raise error(f"{what} has more than {max_digits} significant digits.")
    if number and abs(number.adjusted()) > max_exponent:
        raise error(f"{what} is out of range (exponent beyond ±{max_exponent}).")
    return number


def bounded_int(value: object, *, what: str = "number", max_digits: int = MAX_DIGITS,
                error: type[ValidationError] = ValidationError) -> int:
    """A whole number (decimal text or int) with at most ``max_digits`` digits."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise error(f"{what} must be a whole number, not {type(value).__name__}.")
    if isinstance(value, int):
        # bit_length first: str() of a huge int is itself the slow (or refused) operation.
        if value.bit_length() > 4 * max_digits or len(str(abs(value))) > max_digits:
            raise error(f"{what} has more than {max_digits} digits.")
        return value
    text = value.strip().replace("_", "")
    body = text[1:] if text[:1] in "+-" else text
    if not body.isdigit() or not body.isascii():
        raise error(f"{what}: {text[:40]!r} is not a whole number.")
    if len(body.lstrip("0")) > max_digits:
        raise error(f"{what} has more than {max_digits} digits.")
    return int(text)
