"""Signing primitives shared by the BYOK keyring and the wallet service, and EIP-712 checks.

Keys are passed in by the caller (the keyring or the service signer) and never stored here.

The hot paths sign without importing eth-account (~0.35 s: eth-keyfile pulls py_ecc's BLS
code): keccak from ``evm.keccak``, secp256k1 from coincurve (what eth-keys itself uses when it
is installed, so the signatures are the same bytes: RFC 6979 nonces, low s), EIP-191 and
EIP-712 hashing here and in ``evm.eip712``, and the RLP of a type-2 transaction below. Inputs
outside the shapes the wallet produces (hex-string integers, access lists, non-bytes keys…)
are signed by eth-account as before. tests/test_fast_crypto.py checks parity with eth-account.
"""

from __future__ import annotations

import re
from typing import Any

from .keccak import keccak256

__all__ = [
    "eip191_digest",
    "sign_hash",
    "sign_message",
    "sign_transaction",
    "sign_typed_data",
    "typed_data_digest",
    "validate_typed_data",
]


def sign_hash(key: bytes, digest: bytes) -> tuple[int, int, int]:
    """(r, s, recovery id) of a secp256k1 signature of a 32-byte digest (no further hashing)."""
    from coincurve import PrivateKey

    sig = PrivateKey(bytes(key)).sign_recoverable(digest, hasher=None)
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]


def _signature_hex(key: bytes, digest: bytes) -> str:
    r, s, rec = sign_hash(key, digest)
    return "0x" + r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex() + f"{27 + rec:02x}"


def _is_key(key: Any) -> bool:
    return isinstance(key, (bytes, bytearray)) and len(key) == 32


def eip191_digest(data: bytes) -> bytes:
    """EIP-191 personal_sign digest: keccak(0x19 ‖ "Ethereum Signed Message:" ‖ LF ‖ len ‖ data)."""
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def sign_message(key: bytes, message: str) -> str:
    """EIP-191 personal_sign; a 0x-hex message is signed as the bytes it encodes."""
    data = bytes.fromhex(message[2:]) if _is_hex(message) else message.encode("utf-8")
    if _is_key(key):
        return _signature_hex(key, eip191_digest(data))
    from eth_account import Account
    from eth_account.messages import encode_defunct

    return "0x" + Account.sign_message(encode_defunct(primitive=data), key).signature.hex()


def sign_typed_data(key: bytes, typed: dict[str, Any]) -> str:
    from . import eip712

    if _is_key(key):
        return _signature_hex(key, eip712.digest(typed))
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    return "0x" + Account.sign_message(encode_typed_data(full_message=typed), key).signature.hex()


# --- type-2 transactions ------------------------------------------------------------------------
_TX_INTS = ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas")
_TX_KEYS = frozenset((*_TX_INTS, "type", "to", "value", "data", "accessList"))
_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _rlp(item: bytes | list[Any]) -> bytes:
    if isinstance(item, list):
        payload = b"".join(_rlp(x) for x in item)
        return _rlp_length(len(payload), 0xC0) + payload
    if len(item) == 1 and item[0] < 0x80:
        return item
    return _rlp_length(len(item), 0x80) + item


def _rlp_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(raw)]) + raw


def _uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _tx_fields(tx: dict[str, Any]) -> list[Any] | None:
    """The unsigned RLP fields of a type-2 transaction in the wallet's own shape, else None."""
    if not set(tx) <= _TX_KEYS or tx.get("type", 2) not in (2, "0x2") \
            or tx.get("accessList", []) != []:
        return None
    ints = [tx.get(k) for k in _TX_INTS] + [tx.get("value", 0)]
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**256
               for v in ints):
        return None
    to = tx.get("to")
    if to in (None, ""):
        to_bytes = b""
    elif isinstance(to, str) and _HEX40.match(to):
        from .addresses import to_checksum_address

        if to_checksum_address(to) != to:
            return None  # eth-account decides: it refuses anything but the EIP-55 form
        to_bytes = bytes.fromhex(to[2:])
    else:
        return None
    data = tx.get("data", b"")
    if isinstance(data, str):
        if not _is_hex(data):
            return None
        data = bytes.fromhex(data[2:])
    elif not isinstance(data, bytes):
        return None
    chain_id, nonce, tip, max_fee, gas, value = ints
    return [_uint(chain_id), _uint(nonce), _uint(tip), _uint(max_fee), _uint(gas), to_bytes,
            _uint(value), data, []]


def sign_transaction(key: bytes, tx: dict[str, Any]) -> tuple[str, str]:
    """Sign a type-2 transaction; returns (raw tx hex, tx hash hex)."""
    fields = _tx_fields(tx) if _is_key(key) else None
    if fields is not None:
        r, s, rec = sign_hash(key, keccak256(b"\x02" + _rlp(fields)))
        raw = b"\x02" + _rlp([*fields, _uint(rec), _uint(r), _uint(s)])
        return "0x" + raw.hex(), "0x" + keccak256(raw).hex()
    from eth_account import Account

    signed = Account.sign_transaction(tx, key)
    return "0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex()


def _is_hex(message: str) -> bool:
    if not message.startswith("0x") or len(message) % 2:
        return False
    try:
        bytes.fromhex(message[2:])
    except ValueError:
        return False
    return True


def validate_typed_data(payload: Any, chain_id: int) -> dict[str, Any]:
    """Full EIP-712 v4 structure check; ``CHAIN_ID_MISMATCH`` if the domain names another chain."""
    from mm_agent.errors import ChainIdMismatch, InvalidTypedData

    if not isinstance(payload, dict):
        raise InvalidTypedData("Typed data must be a JSON object.")
    for key in ("types", "primaryType", "domain", "message"):
        if key not in payload:
            raise InvalidTypedData(f"Typed data is missing `{key}`.")
    types, primary = payload["types"], payload["primaryType"]
    if not isinstance(types, dict) or not isinstance(payload["domain"], dict) \
            or not isinstance(payload["message"], dict):
        raise InvalidTypedData("`types`, `domain` and `message` must be objects.")
    if not isinstance(primary, str) or primary not in types:
        raise InvalidTypedData(f"primaryType {primary!r} is not defined in `types`.")
    for name, fields in types.items():
        if not isinstance(fields, list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str)
            and isinstance(f.get("type"), str)
            for f in fields
        ):
            raise InvalidTypedData(f"Type {name!r} must be a list of {{name, type}} objects.")
    _check_struct(types, primary, payload["message"], "message")
    if "EIP712Domain" in types:
        _check_struct(types, "EIP712Domain", payload["domain"], "domain")
    domain_chain = payload["domain"].get("chainId")
    if domain_chain is not None:
        from .chains import parse_chain_id

        try:
            parsed = parse_chain_id(domain_chain, field="domain.chainId")
        except Exception as exc:
            raise InvalidTypedData(f"domain.chainId {domain_chain!r} is not a chain id.") from exc
        if parsed != chain_id:
            raise ChainIdMismatch(
                f"The typed data's domain.chainId is {parsed}, but --chain-id is {chain_id}.")
    try:
        typed_data_digest(payload)
    except Exception as exc:
        # Only eth-account raises here (the fast encoder hands it every input it would
        # refuse): EncodingError, ValidationError (e.g. a domain field not in its type)…
        if not _is_encoding_error(exc):
            raise
        raise InvalidTypedData(f"Typed data does not encode: {exc}.") from exc
    return payload


def _is_encoding_error(exc: Exception) -> bool:
    if isinstance(exc, (ValueError, TypeError, KeyError)):
        return True
    from eth_abi.exceptions import EncodingError  # a value its type cannot encode
    from eth_utils.exceptions import ValidationError

    return isinstance(exc, (EncodingError, ValidationError))


_INT = re.compile(r"^(u?)int([0-9]*)$")
_BYTES = re.compile(r"^bytes([0-9]+)$")


def _check_value(types: dict[str, Any], typ: str, value: Any, where: str) -> None:
    """Strict EIP-712 value check: what the signer sees must be exactly what is hashed."""
    from mm_agent.errors import InvalidTypedData

    def bad(why: str) -> InvalidTypedData:
        return InvalidTypedData(f"{where}: {why} (type {typ}).")

    if typ.endswith("]"):
        base, _, size = typ[:-1].rpartition("[")
        if not isinstance(value, list) or (size and len(value) != int(size)):
            raise bad("expected an array" + (f" of {size}" if size else ""))
        for i, item in enumerate(value):
            _check_value(types, base, item, f"{where}[{i}]")
    elif typ in types:
        if not isinstance(value, dict):
            raise bad("expected an object")
        _check_struct(types, typ, value, where)
    elif typ == "address":
        if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
            raise bad(f"{value!r} is not an address")
    elif typ == "bool":
        if not isinstance(value, bool):
            raise bad("expected true or false")
    elif typ == "string":
        if not isinstance(value, str):
            raise bad("expected a string")
    elif typ == "bytes" or _BYTES.match(typ):
        m = _BYTES.match(typ)
        if not isinstance(value, str) or not re.fullmatch(r"0x([0-9a-fA-F]{2})*", value):
            raise bad("expected 0x hex bytes")
        if m and len(value) - 2 > 2 * int(m.group(1)):
            raise bad(f"longer than {m.group(1)} bytes")
    elif _INT.match(typ):
        m = _INT.match(typ)
        assert m is not None
        bits = int(m.group(2) or 256)
        try:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError
            num = int(value, 0) if isinstance(value, str) else value
        except ValueError:
            raise bad(f"{value!r} is not an integer") from None
        lo, hi = (0, 2**bits - 1) if m.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not lo <= num <= hi:
            raise bad(f"{value!r} is out of range")
    else:
        raise bad("unknown type")


def _check_struct(types: dict[str, Any], name: str, value: dict[str, Any], where: str) -> None:
    from mm_agent.errors import InvalidTypedData

    declared = {f["name"]: f["type"] for f in types[name]}
    missing = [k for k in declared if k not in value]
    extra = [k for k in value if k not in declared]
    if missing or extra:
        raise InvalidTypedData(
            f"{where}: fields do not match type {name}"
            + (f"; missing {missing}" if missing else "")
            + (f"; undeclared {extra}" if extra else "") + ".")
    for key, typ in declared.items():
        _check_value(types, typ, value[key], f"{where}.{key}")


def typed_data_digest(payload: dict[str, Any]) -> str:
    """The EIP-712 digest ``keccak(0x1901 ‖ domainSeparator ‖ hashStruct(message))``."""
    from . import eip712

    return "0x" + eip712.digest(payload).hex()
