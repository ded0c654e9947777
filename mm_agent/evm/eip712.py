"""EIP-712 hashing without eth-account/eth-abi, bit-for-bit what eth-account 0.14 computes.

``digest(payload)`` reproduces ``_hash_eip191_message(encode_typed_data(full_message=payload))``
including eth-account's own choices: the domain is hashed with the fixed field order
``name, version, chainId, verifyingContract, salt`` (whatever order ``types.EIP712Domain``
declares), the message with the primary type derived from ``types`` (the given
``primaryType`` must match it), ``string`` values for integers are read as eth-account reads
them, and so on.

Only well-formed values take the fast path: addresses as 0x strings (any case: eth-abi checks
no checksum), booleans, strings, 0x-hex bytes, integers (or decimal/0x strings) in range. Anything
else — including everything eth-account would reject — is handed to eth-account itself, so
errors and unusual inputs behave exactly as before. tests/test_fast_crypto.py checks parity on
nested structs, arrays (of structs, of arrays, empty), bytes, strings and negative integers.
"""

from __future__ import annotations

import re
from typing import Any

from .abi import encode_static, int_bits
from .keccak import keccak256

__all__ = ["digest"]

_DOMAIN_FIELDS = {"name": "string", "version": "string", "chainId": "uint256",
                  "verifyingContract": "address", "salt": "bytes32"}
_SOLIDITY = frozenset(
    ["bool", "address", "string", "bytes", "uint", "int"]
    + [f"int{8 * i}" for i in range(1, 33)] + [f"uint{8 * i}" for i in range(1, 33)]
    + [f"bytes{i}" for i in range(1, 33)])
_HEXSTR = re.compile(r"(0[xX])?[0-9a-fA-F]*")
_EMPTY_ARRAY = keccak256(b"")
_ZERO = b"\0" * 32

Types = dict[str, list[dict[str, str]]]


class _Fallback(Exception):
    """This input is left to eth-account."""


def _core(typ: str) -> str:
    return typ[: typ.index("[")] if typ.endswith("]") else typ


def _primary_type(types: Types) -> str:
    custom = set(types)
    deps = set()
    for name, fields in types.items():
        for f in fields:
            core = _core(f["type"])
            if core in custom and core != name:
                deps.add(core)
    roots = list(custom - deps)
    if len(roots) != 1:
        raise _Fallback
    return roots[0]


def _dependencies(typ: str, types: Types, found: set[str]) -> set[str]:
    typ = _core(typ)
    if typ in _SOLIDITY or typ in found:
        return found
    if typ not in types:
        raise _Fallback
    found.add(typ)
    for f in types[typ]:
        _dependencies(f["type"], types, found)
    return found


def _type_hash(typ: str, types: Types) -> bytes:
    deps = _dependencies(typ, types, set())
    deps.discard(typ)
    text = "".join(f"{t}({','.join(f['type'] + ' ' + f['name'] for f in types[t])})"
                   for t in [typ, *sorted(deps)])
    return keccak256(text.encode("utf-8"))


def _hex_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") \
            or not _HEXSTR.fullmatch(value) or len(value) % 2:
        raise _Fallback
    return bytes.fromhex(value[2:])


def _field(types: Types, typ: str, value: Any) -> bytes:
    """One 32-byte word, following eth-account's ``encode_field`` branch by branch."""
    if typ in types:
        return _ZERO if value is None else keccak256(_encode_data(typ, types, value))
    if typ in ("string", "bytes") and value is None:
        return _ZERO
    if value is None:
        raise _Fallback
    if typ.endswith("]"):
        if not isinstance(value, list):
            raise _Fallback
        parent = typ[: typ.rindex("[")]
        if not value:
            return _EMPTY_ARRAY
        return keccak256(b"".join(_field(types, parent, item) for item in value))
    if typ == "bool":
        if not isinstance(value, bool):
            raise _Fallback
        return encode_static("bool", value)
    if typ.startswith("bytes"):
        data = _hex_bytes(value)
        return keccak256(data) if typ == "bytes" else encode_static(typ, data)
    if typ == "string":
        if not isinstance(value, str):
            raise _Fallback
        return keccak256(value.encode("utf-8"))
    if int_bits(typ) is not None:
        if isinstance(value, str):
            # eth-account: to_int(hexstr=) for 0x strings, else Python's int(text)
            value = int(value, 16) if value.startswith("0x") and _HEXSTR.fullmatch(value) \
                else int(value)
        return encode_static(typ, value)
    if typ == "address":
        return encode_static(typ, value)
    raise _Fallback


def _encode_data(typ: str, types: Types, data: Any) -> bytes:
    if not isinstance(data, dict):
        raise _Fallback
    words = [_type_hash(typ, types)]
    words += [_field(types, f["type"], data.get(f["name"])) for f in types[typ]]
    return b"".join(words)


def _fast(payload: dict[str, Any]) -> bytes:
    if not isinstance(payload["types"], dict) or not isinstance(payload["domain"], dict):
        raise _Fallback
    types = dict(payload["types"])
    domain = dict(payload["domain"])
    if "EIP712Domain" in types and \
            set(domain) != {f["name"] for f in types["EIP712Domain"]}:
        raise _Fallback
    types.pop("EIP712Domain", None)
    primary = _primary_type(types)
    if "primaryType" in payload and payload["primaryType"] != primary:
        raise _Fallback
    if any(k not in _DOMAIN_FIELDS for k in domain):
        raise _Fallback
    domain_types: Types = {"EIP712Domain": [{"name": k, "type": t}
                                            for k, t in _DOMAIN_FIELDS.items() if k in domain]}
    domain_hash = keccak256(_encode_data("EIP712Domain", domain_types, domain))
    message_hash = keccak256(_encode_data(primary, types, payload["message"]))
    return keccak256(b"\x19\x01" + domain_hash + message_hash)


def digest(payload: dict[str, Any]) -> bytes:
    """``keccak(0x1901 ‖ domainSeparator ‖ hashStruct(message))`` as eth-account computes it."""
    try:
        return _fast(payload)
    except RecursionError:
        raise
    except Exception:  # anything unusual: eth-account decides (and raises)
        from eth_account.messages import _hash_eip191_message, encode_typed_data

        return bytes(_hash_eip191_message(encode_typed_data(full_message=payload)))
