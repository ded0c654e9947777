"""The BYOK wallet: the user's mnemonic, the security pipeline run here, immediate results.

``ByokWallet`` implements ``WalletBase``; every write is complete (signed, sent, confirmed, or
refused) when the method returns, and is recorded in ``MM_HOME/requests.sqlite``. The steps of
a write are in ``runner.py``; cancelling a stuck transaction in ``cancel.py``.
"""

from __future__ import annotations

import copy
from typing import Any

from mm_agent.errors import NotInitialized, UnsupportedInMode
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.chains import (
    DEFAULT_CHAIN_IDS,
    DEVNET_CHAIN_ID,
    parse_chain_id,
    parse_chain_ids,
)
from mm_agent.evm.payloads import load_json_payload, parse_transaction_payload
from mm_agent.local import env as env_vars
from mm_agent.local.config import Config
from mm_agent.local.request_log import RequestLog, WalletRequest, history_rows
from mm_agent.local.state import Home
from mm_agent.security.pipeline import Engine, Preview

from ..base import (
    ApprovalHook,
    AwaitingHook,
    PasswordSource,
    RequestsBase,
    WalletBase,
    WriteResult,
    check_preview_kind,
)
from .keyring import ByokKeyring
from .runner import run_signature, run_transaction

__all__ = ["DEFAULT_BALANCE_CHAINS", "ByokRequestsAPI", "ByokWallet"]

DEFAULT_BALANCE_CHAINS = DEFAULT_CHAIN_IDS
_NO_POLICY = ("Policies and trading modes belong to server wallets; BYOK requests are guarded "
              "by the threat scan and your confirmation on a terminal.")


class ByokRequestsAPI(RequestsBase):
    """``wallet.requests`` of a BYOK wallet: the local request log."""

    def __init__(self, wallet: ByokWallet) -> None:
        self._w = wallet

    def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        """BYOK records are local: ``sync`` changes nothing."""
        return self._w._log.recent(limit)

    def get(self, polling_id: str) -> WalletRequest:
        return self._w._log.get(polling_id)

    def wait(self, polling_id: str, timeout: float | None = None) -> WalletRequest:
        """BYOK requests are final when their method returns: this is ``get``."""
        return self._w._log.get(polling_id)

    def cancel(self, polling_id: str) -> WalletRequest:
        """Replace a stuck ``SUBMITTED`` transaction (``byok/cancel.py``)."""
        from .cancel import cancel_request

        return cancel_request(self._w, polling_id)


class ByokWallet(WalletBase):
    """A BYOK wallet. Open it with ``Wallet.from_env()`` (or ``ByokWallet.from_env()``)."""

    # Set only on the copies ``bound()`` makes: the account they act for; the digest a human
    # approved (``mm_agent.security.confirmation``): only a request with that digest is signed.
    _account: str | None = None
    _idempotency_key: str | None = None
    _confirm: str | None = None

    def __init__(self, *, home: Home, config: Config, keyring: ByokKeyring,
                 approval_hook: ApprovalHook | None = None) -> None:
        self.home = home
        self.config = config
        self.keyring = keyring
        self.approval_hook = approval_hook
        self._log = RequestLog(home)
        self.requests: ByokRequestsAPI = ByokRequestsAPI(self)
        self.engine = Engine(home, config, counterparties=self._counterparties)

    def __repr__(self) -> str:
        return f"ByokWallet(mode='byok', address={self.keyring.active!r})"

    @classmethod
    def from_env(cls, *, home: Home | None = None, config: Config | None = None,
                 approval_hook: ApprovalHook | None = None, interactive: bool = False,
                 password: PasswordSource | None = None,
                 on_awaiting: AwaitingHook | None = None) -> ByokWallet:
        """The BYOK wallet of MM_HOME (``on_awaiting`` is the server wallet's: unused here).
        The password comes from ``password``, else ``MM_PASSWORD``, else (``interactive``) a
        hidden prompt; it is asked only when something must be signed."""
        home = home or Home.from_env()
        config = config or Config(home)

        def default_password() -> str | None:
            value = env_vars.get(env_vars.PASSWORD)
            if value:
                return value
            if interactive:
                import getpass

                return getpass.getpass("Wallet password: ")
            return None

        return cls(home=home, config=config,
                   keyring=ByokKeyring(home, password or default_password),
                   approval_hook=approval_hook)

    # --- identity ------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``"byok"``."""
        return "byok"

    @property
    def address(self) -> str:
        """The checksummed address this wallet acts for (see ``WalletBase.address``)."""
        if self._account:
            return self._account
        active = self.keyring.active
        if not active:
            raise NotInitialized("No active account.")
        return str(active)

    def bound(self, *, account: str | None = None, idempotency_key: str | None = None,
              confirm: str | None = None) -> ByokWallet:
        view = copy.copy(self)
        view.requests = ByokRequestsAPI(view)
        if account is not None:
            address = validate_address(account, field="account")
            view._account = str(self.keyring.account(address)["address"])  # WALLET_NOT_FOUND
        if idempotency_key is not None:
            view._idempotency_key = idempotency_key  # the call log dedupes BYOK calls
        if confirm is not None:
            view._confirm = confirm
        return view

    def close(self) -> None:
        """Drop the unlocked mnemonic and keys from memory."""
        self.keyring.forget()

    def unlock(self) -> None:
        """Unlock the vault now: PASSWORD_REQUIRED / WRONG_PASSWORD surface here (a server
        such as `mm mcp` does this at start rather than on an agent's first write)."""
        self.keyring.unlock()

    # --- accounts ------------------------------------------------------------------------------
    def accounts(self) -> list[dict[str, Any]]:
        active = self.address
        return [{**a, "active": a["address"] == active} for a in self.keyring.accounts()]

    def create_account(self, name: str | None = None, trading_mode: str | None = None, *,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        if trading_mode is not None:
            raise UnsupportedInMode("Trading modes belong to server wallets; BYOK has none.")
        return self.keyring.create_account(name)

    def select(self, address: str) -> dict[str, Any]:
        return self.keyring.select(validate_address(address))

    def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        acct = self.keyring.account(address, name)
        return {**acct, "mode": self.mode, "active": acct["address"] == self.address}

    def _counterparties(self, address: str) -> frozenset[str]:
        """Addresses this account has sent to before (the scan's "used before")."""
        return self._log.counterparties(address)

    # --- reads ---------------------------------------------------------------------------------
    def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                token_contracts: list[str] | None = None,
                address: str | None = None) -> dict[str, Any]:
        from ..balances import read_balances

        owner = validate_address(address) if address else self.address
        chains = parse_chain_ids(chain_ids) if chain_ids else self._default_chains()
        return read_balances(self.engine, owner, chains, token=token,
                             token_contracts=token_contracts or [])

    def _default_chains(self) -> list[int]:
        return [DEVNET_CHAIN_ID] if self.engine.devnet() else list(DEFAULT_BALANCE_CHAINS)

    def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        from ..transactions import read_transaction

        return read_transaction(self.engine, tx_hash, chain_id,
                                known=reversed(self._log.all()))

    def tx_history(self, chain_ids: list[int] | None = None,
                   limit: int = 20) -> list[dict[str, Any]]:
        return history_rows(list(reversed(self._log.all())), parse_chain_ids(chain_ids), limit)

    # --- no policies in BYOK -------------------------------------------------------------------
    def policy(self) -> dict[str, Any]:
        raise UnsupportedInMode(_NO_POLICY)

    def set_policy(self, policy: str, *, wait: bool = False,
                   wallet_timeout: float | None = None) -> dict[str, Any]:
        raise UnsupportedInMode(_NO_POLICY)

    def trading_mode(self) -> dict[str, Any]:
        raise UnsupportedInMode(_NO_POLICY)

    def set_trading_mode(self, mode: str, *, wait: bool = False,
                         wallet_timeout: float | None = None) -> dict[str, Any]:
        raise UnsupportedInMode(_NO_POLICY)

    # --- writes --------------------------------------------------------------------------------
    def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        check_preview_kind(kind)
        chain_id = parse_chain_id(chain_id)
        if kind == "transfer":
            spec = payload if isinstance(payload, dict) else {}
            tx, headline = self.engine.build_transfer(self.address, spec.get("to", ""),
                                                      spec.get("amount", ""),
                                                      spec.get("token") or "ETH", chain_id)
            return self.engine.preview_transaction(chain_id, self.address, tx,
                                                   intent=headline).to_dict()
        return self._preview(kind, chain_id, payload, message).to_dict()

    def _preview(self, kind: str, chain_id: int, payload: Any, message: str | None) -> Preview:
        # The headline is always the engine's own decoding (never the agent's words).
        if kind == "transaction":
            tx = parse_transaction_payload(payload, chain_id=chain_id, sender=self.address)
            return self.engine.preview_transaction(chain_id, self.address, tx)
        if kind == "message":
            return self.engine.preview_message(chain_id, self.address, str(message))
        from mm_agent.evm.signing import validate_typed_data

        typed = validate_typed_data(load_json_payload(payload), chain_id)
        return self.engine.preview_typed_data(chain_id, self.address, typed)

    def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                 wait: bool = True, dry_run: bool = False, wallet_timeout: int | None = None,
                 idempotency_key: str | None = None) -> WriteResult:
        chain_id = parse_chain_id(chain_id)
        tx, headline = self.engine.build_transfer(self.address, to, amount, token, chain_id)
        return run_transaction(self, chain_id, tx, headline, None, dry_run=dry_run,
                               timeout=wallet_timeout, recipient=validate_address(to))

    def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                         intent: str | None = None, wait: bool = True, dry_run: bool = False,
                         wallet_timeout: int | None = None,
                         idempotency_key: str | None = None) -> WriteResult:
        chain_id = parse_chain_id(chain_id)
        tx = parse_transaction_payload(payload, chain_id=chain_id, sender=self.address)
        return run_transaction(self, chain_id, tx, None, intent, dry_run=dry_run,
                               timeout=wallet_timeout)

    def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                     dry_run: bool = False, wallet_timeout: int | None = None,
                     idempotency_key: str | None = None) -> WriteResult:
        chain_id = parse_chain_id(chain_id)
        if not dry_run:
            self.keyring.unlock()  # PASSWORD_REQUIRED before a request exists
        preview = self.engine.preview_message(chain_id, self.address, message)
        if dry_run:
            return preview.to_dict()
        return run_signature(self, "message", preview,
                             lambda: self.keyring.sign_message(self.address, message),
                             {"message": message})

    def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                        intent: str | None = None, wait: bool = True, dry_run: bool = False,
                        wallet_timeout: int | None = None,
                        idempotency_key: str | None = None) -> WriteResult:
        from mm_agent.evm.signing import validate_typed_data

        chain_id = parse_chain_id(chain_id)
        typed = validate_typed_data(load_json_payload(payload), chain_id)
        if not dry_run:
            self.keyring.unlock()
        preview = self.engine.preview_typed_data(chain_id, self.address, typed)
        if dry_run:
            return preview.to_dict()
        return run_signature(self, "typed-data", preview,
                             lambda: self.keyring.sign_typed_data(self.address, typed),
                             {"primaryType": typed["primaryType"]}, agent_note=intent)
