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

from collections.abc import Callable
from typing import Any

from mm_agent.errors import NotInitialized, PasswordRequired, UnsupportedInMode, WalletNotFound
from mm_agent.evm import signing
from mm_agent.evm.signing import typed_data_digest, validate_typed_data
from mm_agent.local.state import Home

from . import vault

__all__ = ["UNENCRYPTED_WARNING", "ByokKeyring", "typed_data_digest", "validate_typed_data"]

PasswordSource = Callable[[], str | None]

UNENCRYPTED_WARNING = ("warning: no password given; the mnemonic is stored unencrypted in "
                       "wallets.json (mode 0600). Set one with `mm wallet password set`.")


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
        from mm_agent.local.wallets_file import load_wallets

        data = load_wallets(self.home)  # STATE_CORRUPT for a damaged file
        if data is None:
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
    def unlock(self) -> None:
        """Unlock the vault now (scrypt is slow by design): PASSWORD_REQUIRED or
        WRONG_PASSWORD surface here, before a request is started or recorded."""
        self._mnemonic()

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
        address = derive_address(phrase, 0)
        return {
            "mode": "byok",
            "active": address,
            "accounts": [{"address": address, "name": "Account 1", "index": 0}],
            "byok": {"vault": blob, "nextIndex": 1},
        }

    @staticmethod
    def initial_warnings(password: str | None) -> list[str]:
        """What the person setting up a wallet with ``password`` must be told (the library
        never prints: the caller shows these)."""
        return [] if password else [UNENCRYPTED_WARNING]

    def create_account(self, name: str | None = None) -> dict[str, Any]:
        from .mnemonic import derive_address

        mnemonic = self._mnemonic()
        created: dict[str, Any] = {}

        def apply(data: dict[str, Any]) -> dict[str, Any]:
            index = int(data["byok"].get("nextIndex", len(data["accounts"])))
            label = name or f"Account {index + 1}"
            if any(a.get("name") == label for a in data["accounts"]):
                from mm_agent.errors import ValidationError

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
        return signing.sign_message(self._key(address), message)

    def sign_typed_data(self, address: str, typed: dict[str, Any]) -> str:
        return signing.sign_typed_data(self._key(address), typed)

    def sign_transaction(self, address: str, tx: dict[str, Any]) -> tuple[str, str]:
        return signing.sign_transaction(self._key(address), tx)
