"""ABI encoding of the elementary types the hot paths need, without eth-abi.

eth-abi costs ~70 ms to import (parsimonious grammars, eth-utils, cytoolz) and the CLI only
needs a few calls: ``transfer(address,uint256)``, ``balanceOf(address)``, and the string a
``symbol()`` returns. ``encode`` handles ``address``, ``bool``, ``uintN``/``intN``, ``bytesN``,
``bytes`` and ``string`` (head/tail layout for the dynamic two); anything else raises
``ValueError``. Values are checked as eth-abi checks them (tests/test_fast_crypto.py compares
the bytes with ``eth_abi.encode``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["decode_string", "encode", "encode_static"]

_INT = re.compile(r"^(u?)int([0-9]{0,3})$")
_BYTES_N = re.compile(r"^bytes([0-9]{1,2})$")
_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")


def int_bits(typ: str) -> tuple[bool, int] | None:
    """(signed, bits) of ``intN``/``uintN``/``int``/``uint``; None for any other type."""
    m = _INT.match(typ)
    if m is None:
        return None
    bits = int(m.group(2)) if m.group(2) else 256
    if m.group(2).startswith("0") or not (8 <= bits <= 256 and bits % 8 == 0):
        return None
    return (not m.group(1), bits)


def _address_bytes(value: Any) -> bytes:
    # eth-abi 6 takes any-case hex without a checksum check; other spellings it also takes
    # (no 0x, "0X") are refused here: callers pass 0x addresses.
    if isinstance(value, (bytes, bytearray)) and len(value) == 20:
        return bytes(value)
    if not isinstance(value, str) or not _HEX40.match(value):
        raise ValueError(f"not an address: {value!r}")
    return bytes.fromhex(value[2:])


def encode_static(typ: str, value: Any) -> bytes:
    """One 32-byte word for an elementary static type."""
    if typ == "address":
        return _address_bytes(value).rjust(32, b"\0")
    if typ == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"not a bool: {value!r}")
        return int(value).to_bytes(32, "big")
    parsed = int_bits(typ)
    if parsed is not None:
        signed, bits = parsed
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"not an integer: {value!r}")
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not lo <= value <= hi:
            raise ValueError(f"{value} is out of range for {typ}")
        return (value % (1 << 256)).to_bytes(32, "big")
    m = _BYTES_N.match(typ)
    if m is not None and not m.group(1).startswith("0") and 1 <= int(m.group(1)) <= 32:
        if not isinstance(value, (bytes, bytearray)) or len(value) > int(m.group(1)):
            raise ValueError(f"not a {typ} value: {value!r}")
        return bytes(value).ljust(32, b"\0")
    raise ValueError(f"unsupported ABI type {typ!r}")


def _dynamic(typ: str, value: Any) -> bytes:
    if typ == "string":
        if not isinstance(value, str):
            raise ValueError(f"not a string: {value!r}")
        data = value.encode("utf-8")
    else:
        if not isinstance(value, (bytes, bytearray)):
            raise ValueError(f"not bytes: {value!r}")
        data = bytes(value)
    padded = data + b"\0" * (-len(data) % 32)
    return len(data).to_bytes(32, "big") + padded


def encode(types: list[str], values: list[Any]) -> bytes:
    """``eth_abi.encode(types, values)`` for elementary types."""
    if len(types) != len(values):
        raise ValueError("types and values differ in length")
    heads: list[bytes | None] = []
    tails: list[bytes] = []
    for typ, value in zip(types, values, strict=True):
        if typ in ("string", "bytes"):
            heads.append(None)
            tails.append(_dynamic(typ, value))
        else:
            heads.append(encode_static(typ, value))
            tails.append(b"")
    offset = 32 * len(heads)
    out = []
    for head, tail in zip(heads, tails, strict=True):
        if head is None:
            out.append(offset.to_bytes(32, "big"))
            offset += len(tail)
        else:
            out.append(head)
    return b"".join(out) + b"".join(tails)


def decode_string(data: bytes) -> str:
    """``eth_abi.decode(["string"], data)[0]``: strict offsets, zero padding, UTF-8."""
    if len(data) < 32:
        raise ValueError("too short for a string")
    offset = int.from_bytes(data[:32], "big")
    if offset + 32 > len(data):
        raise ValueError("string offset out of range")
    length = int.from_bytes(data[offset:offset + 32], "big")
    start = offset + 32
    end = start + length
    padded_end = end + (-length % 32)
    if padded_end > len(data):
        raise ValueError("string data out of range")
    if any(data[end:padded_end]):
        raise ValueError("non-zero padding")
    return data[start:end].decode("utf-8")
