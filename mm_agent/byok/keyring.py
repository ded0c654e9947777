"""BYOK accounts and signing: the user's mnemonic, HD accounts, signatures.

State lives in ``wallets.json``::

    {"mode": "byok", "active": "0x…",
     "accounts": [{"address": "0x…", "name": "Account 1", "index": 0}],
     "byok": {"vault": {...vault blob...}, "nextIndex": 1}}

Addresses are cached there so `mm wallet address` needs no crypto. The mnemonic is unlocked
only when something must be signed, kept in memory for the life of this object, and never
shown by ``repr``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from ..errors import NotInitialized, PasswordRequired, UnsupportedInMode, WalletNotFound
from ..state import Home
from . import vault

__all__ = ["ByokKeyring", "typed_data_digest", "validate_typed_data"]

PasswordSource = Callable[[], str | None]


class ByokKeyring:
    def __init__(self, home: Home, password: PasswordSource | None = None) -> None:
        self.home = home
        self._password_source = password or (lambda: None)
        self.__mnemonic: str | None = None
        self.__keys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"ByokKeyring(active={self.active!r})"

    # --- metadata (no crypto) ----------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        data = self.home.read_json("wallets.json")
        if not isinstance(data, dict) or not data.get("mode"):
            raise NotInitialized("No wallet is set up under this MM_HOME.")
        if data["mode"] != "byok":
            raise UnsupportedInMode("This MM_HOME holds a server wallet, not a BYOK wallet.")
        return data

    @property
    def active(self) -> str | None:
        try:
            return self.data().get("active")
        except (NotInitialized, UnsupportedInMode):
            return None

    def accounts(self) -> list[dict[str, Any]]:
        return list(self.data().get("accounts", []))

    def account(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        data = self.data()
        for acct in data.get("accounts", []):
            if address and acct["address"].lower() == address.lower():
                return dict(acct)
            if name and acct.get("name") == name:
                return dict(acct)
            if not address and not name and acct["address"] == data.get("active"):
                return dict(acct)
        raise WalletNotFound(f"No account {address or name or '(active)'} in this wallet.")

    # --- vault ---------------------------------------------------------------------------------
    def _mnemonic(self) -> str:
        if self.__mnemonic is None:
            blob = self.data()["byok"]["vault"]
            password = self._password_source() if vault.is_encrypted(blob) else None
            if vault.is_encrypted(blob) and password is None:
                raise PasswordRequired("The BYOK vault is encrypted and no password is available.")
            secret, upgraded = vault.unlock(blob, password)
            if upgraded is not None:
                # Stored KDF parameters were weaker than today's: re-encrypt in place.
                def apply(data: dict[str, Any]) -> dict[str, Any]:
                    data["byok"]["vault"] = upgraded
                    return data

                self.home.update_json("wallets.json", {}, apply)
            self.__mnemonic = secret
        return self.__mnemonic

    def _key(self, address: str) -> bytes:
        acct = self.account(address)
        if acct["address"] not in self.__keys:
            from .mnemonic import derive_private_key

            self.__keys[acct["address"]] = derive_private_key(self._mnemonic(), int(acct["index"]))
        return self.__keys[acct["address"]]

    def forget(self) -> None:
        """Drop unlocked secrets from memory."""
        self.__mnemonic = None
        self.__keys.clear()

    # --- accounts ------------------------------------------------------------------------------
    @staticmethod
    def initial_state(mnemonic: str, password: str | None) -> dict[str, Any]:
        from .mnemonic import derive_address, validate_mnemonic

        phrase = validate_mnemonic(mnemonic)
        blob = vault.encrypt(phrase, password) if password else vault.plain(phrase)
        if not password:
            print("warning: no password given; the mnemonic is stored unencrypted in "
                  "wallets.json (mode 0600). Set one with `mm wallet password set`.",
                  file=sys.stderr)
        address = derive_address(phrase, 0)
        return {
            "mode": "byok",
            "active": address,
            "accounts": [{"address": address, "name": "Account 1", "index": 0}],
            "byok": {"vault": blob, "nextIndex": 1},
        }

    def create_account(self, name: str | None = None) -> dict[str, Any]:
        from .mnemonic import derive_address

        mnemonic = self._mnemonic()
        created: dict[str, Any] = {}

        def apply(data: dict[str, Any]) -> dict[str, Any]:
            index = int(data["byok"].get("nextIndex", len(data["accounts"])))
            label = name or f"Account {index + 1}"
            if any(a.get("name") == label for a in data["accounts"]):
                from ..errors import ValidationError

                raise ValidationError(f"An account named {label!r} already exists.")
            created.update(address=derive_address(mnemonic, index), name=label, index=index)
            data["accounts"].append(dict(created))
            data["byok"]["nextIndex"] = index + 1
            return data

        self.home.update_json("wallets.json", {}, apply)
        return created

    def select(self, address: str) -> dict[str, Any]:
        acct = self.account(address)

        def apply(data: dict[str, Any]) -> dict[str, Any]:
            data["active"] = acct["address"]
            return data

        self.home.update_json("wallets.json", {}, apply)
        return acct

    def update_vault(self, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        def apply(data: dict[str, Any]) -> dict[str, Any]:
            data["byok"]["vault"] = fn(data["byok"]["vault"])
            return data

        self.home.update_json("wallets.json", {}, apply)
        self.forget()

    # --- signing -------------------------------------------------------------------------------
    def sign_message(self, address: str, message: str) -> str:
        from eth_account import Account
        from eth_account.messages import encode_defunct

        if _is_hex(message):
            signable = encode_defunct(hexstr=message)
        else:
            signable = encode_defunct(text=message)
        return "0x" + Account.sign_message(signable, self._key(address)).signature.hex()

    def sign_typed_data(self, address: str, typed: dict[str, Any]) -> str:
        from eth_account import Account
        from eth_account.messages import encode_typed_data

        signable = encode_typed_data(full_message=typed)
        return "0x" + Account.sign_message(signable, self._key(address)).signature.hex()

    def sign_transaction(self, address: str, tx: dict[str, Any]) -> tuple[str, str]:
        from eth_account import Account

        signed = Account.sign_transaction(tx, self._key(address))
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
    from ..errors import ChainIdMismatch, InvalidTypedData

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
        from ..chains import parse_chain_id

        try:
            parsed = parse_chain_id(domain_chain, field="domain.chainId")
        except Exception as exc:
            raise InvalidTypedData(f"domain.chainId {domain_chain!r} is not a chain id.") from exc
        if parsed != chain_id:
            raise ChainIdMismatch(
                f"The typed data's domain.chainId is {parsed}, but --chain-id is {chain_id}.")
    from eth_abi.exceptions import EncodingError  # a value its type cannot encode
    from eth_utils.exceptions import ValidationError  # e.g. a domain field not in its type

    try:
        typed_data_digest(payload)
    except (ValueError, TypeError, KeyError, EncodingError, ValidationError) as exc:
        raise InvalidTypedData(f"Typed data does not encode: {exc}.") from exc
    return payload


_INT = re.compile(r"^(u?)int([0-9]*)$")
_BYTES = re.compile(r"^bytes([0-9]+)$")


def _check_value(types: dict[str, Any], typ: str, value: Any, where: str) -> None:
    """Strict EIP-712 value check: what the signer sees must be exactly what is hashed."""
    from ..errors import InvalidTypedData

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
    from ..errors import InvalidTypedData

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
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    return "0x" + _hash_eip191_message(encode_typed_data(full_message=payload)).hex()
