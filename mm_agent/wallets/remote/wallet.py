"""The server wallet: ``RemoteWallet`` (blocking, over ``RemoteClient``).

Keys never leave the wallet service. Every signing or transaction method submits a request
(with an ``Idempotency-Key``) and either returns it at once (``wait=False``) or long-polls it
to a final status (``wait=True``). What it shares with ``AsyncRemoteWallet`` (checks, bodies,
the local mirrors) is ``RemoteCore``; neither inherits from the BYOK wallet.
"""

from __future__ import annotations

import copy
from typing import Any

from mm_agent.errors import JobTimeout, MMError
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.chains import parse_chain_ids
from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.session import SessionStore
from mm_agent.local.state import Home

from ..base import (
    ApprovalHook,
    AwaitingHook,
    PasswordSource,
    RequestsBase,
    WalletBase,
    WriteResult,
    check_trading_mode,
)
from .client import RemoteClient, _to_request, log_awaiting
from .core import RemoteCore

__all__ = ["RemoteRequestsAPI", "RemoteWallet"]


class RemoteRequestsAPI(RequestsBase):
    """``wallet.requests`` of a server wallet: the service is the source of truth."""

    def __init__(self, wallet: RemoteWallet) -> None:
        self._w = wallet

    def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        """``sync=False`` reads the local cache (``requests.json``) only."""
        if not sync:
            return self._w._cached_requests()[:max(0, int(limit))]
        items = self._w.client.list_requests(limit)
        self._w._cache_requests(items, replace_all=True)
        return [_to_request(r) for r in items]

    def get(self, polling_id: str) -> WalletRequest:
        data = self._w.client.get_request(polling_id)
        self._w._cache_requests([data], replace_all=False)
        return _to_request(data)

    def wait(self, polling_id: str, timeout: float | None = None) -> WalletRequest:
        return self._wait(polling_id, timeout)

    def _wait(self, polling_id: str, timeout: float | None,
              current: dict[str, Any] | None = None) -> WalletRequest:
        # ``current``: the state just submitted, so the first poll can start from it.
        try:
            req = self._w.client.wait(polling_id, self._w._wait_seconds(timeout),
                                      on_awaiting=self._w.on_awaiting or log_awaiting,
                                      current=current)
        except JobTimeout as err:
            self._w._cache_requests([err.details["request"]], replace_all=False)
            raise
        self._w._cache_requests([req.to_dict()], replace_all=False)
        return req

    def cancel(self, polling_id: str) -> WalletRequest:
        """The service cancels (``mm_agent/server/services/cancel.py``)."""
        data = self._w.client.cancel_request(polling_id)
        self._w._cache_requests([data], replace_all=False)
        return _to_request(data)

    def release_order(self, polling_id: str, cancel_tx_hash: str) -> dict[str, Any]:
        """A signed prediction-market order cancelled on chain (``cancel_tx_hash``): the service
        verifies the cancel and its fills itself and scales the signing request's outflow
        reservation to the filled share (``server/services/order_release.py``); a second call
        changes nothing. Raises ORDER_NOT_CANCELLED when the chain shows no such cancel."""
        return dict(self._w.client.release_order(polling_id, cancel_tx_hash))


class RemoteWallet(RemoteCore, WalletBase):
    """A server wallet. Open it with ``Wallet.from_env()`` (or ``RemoteWallet.from_env()``).

    ``on_awaiting`` is told once when a waited-for request needs a human (``AWAITING_MFA``);
    the default only logs (the CLI passes one that tells the person on stderr).
    """

    def __init__(self, *, home: Home, config: Config, client: RemoteClient | None = None,
                 on_awaiting: AwaitingHook | None = None) -> None:
        self.home = home
        self.config = config
        self.on_awaiting = on_awaiting
        self.client = client or RemoteClient(home, config)
        self.requests: RemoteRequestsAPI = RemoteRequestsAPI(self)
        self._engine: Any = None

    def __repr__(self) -> str:
        try:
            address: str | None = self.address
        except MMError:
            address = None
        return (f"RemoteWallet(mode='server-wallet', address={address!r}, "
                f"service={self.client.base_url!r})")

    @classmethod
    def from_env(cls, *, home: Home | None = None, config: Config | None = None,
                 approval_hook: ApprovalHook | None = None, interactive: bool = False,
                 password: PasswordSource | None = None,
                 on_awaiting: AwaitingHook | None = None) -> RemoteWallet:
        """The server wallet of MM_HOME. ``approval_hook``, ``interactive`` and ``password``
        are BYOK's: approvals happen on the service's page. NOT_AUTHENTICATED without a
        sign-in session."""
        home = home or Home.from_env()
        config = config or Config(home)
        SessionStore(home).require()  # NOT_AUTHENTICATED before anything else
        return cls(home=home, config=config, on_awaiting=on_awaiting)

    @property
    def engine(self) -> Any:
        """Local chain access, only for ``tx`` lookups (the service signs and sends)."""
        if self._engine is None:
            from mm_agent.security.pipeline import Engine

            self._engine = Engine(self.home, self.config)
        return self._engine

    # --- identity ------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``"server-wallet"``."""
        return "server-wallet"

    @property
    def address(self) -> str:
        """The checksummed address this wallet acts for (see ``WalletBase.address``)."""
        return self._account or self._active()

    def bound(self, *, account: str | None = None, idempotency_key: str | None = None,
              confirm: str | None = None) -> RemoteWallet:
        """``confirm`` is BYOK's (server-wallet approvals happen on the service's page)."""
        view = copy.copy(self)
        view.requests = RemoteRequestsAPI(view)  # waits with the copy's settings
        if account is not None:
            # The service refuses a wallet that is not this account's.
            view._account = validate_address(account, field="account")
        if idempotency_key is not None:
            view._idempotency_key = idempotency_key
        return view

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    # --- accounts ------------------------------------------------------------------------------
    def accounts(self) -> list[dict[str, Any]]:
        wallets = self.client.list_wallets()
        self._cache_accounts(wallets)
        return self._mark(wallets)

    def create_account(self, name: str | None = None, trading_mode: str | None = None, *,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        check_trading_mode(trading_mode)
        wallet = self.client.create_wallet(name, trading_mode, idempotency_key=idempotency_key)
        self._add_account(wallet)
        return dict(wallet)

    def select(self, address: str) -> dict[str, Any]:
        wallet = self.client.get_wallet(validate_address(address))
        self._add_account(wallet)
        self._cache_accounts(self.client.list_wallets(), active=wallet["address"])
        return dict(wallet)

    def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        if address:
            return self._show(self.client.get_wallet(validate_address(address)))
        return self._show(self._find(self.client.list_wallets(), None, name))

    # --- reads ---------------------------------------------------------------------------------
    def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                token_contracts: list[str] | None = None,
                address: str | None = None) -> dict[str, Any]:
        owner = validate_address(address) if address else self.address
        contracts = [validate_address(c, field="tokenContracts") for c in token_contracts or []]
        return dict(self.client.balance(owner, parse_chain_ids(chain_ids), token, contracts))

    def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        from ..transactions import read_transaction

        return read_transaction(self.engine, tx_hash, chain_id, known=self._cached_requests())

    def tx_history(self, chain_ids: list[int] | None = None,
                   limit: int = 20) -> list[dict[str, Any]]:
        return self._history(self.requests.list(), chain_ids, limit)

    # --- policy and trading mode -------------------------------------------------------------
    def policy(self) -> dict[str, Any]:
        return dict(self.client.get_policy(self.address))

    def set_policy(self, policy: str, *, wait: bool = False,
                   wallet_timeout: float | None = None) -> dict[str, Any]:
        data = dict(self.client.set_policy(self.address, policy))
        if not self._must_wait(data, wait):
            return data
        return self._settled(data, self.requests.wait(data["pollingId"], wallet_timeout))

    def trading_mode(self) -> dict[str, Any]:
        return dict(self.client.get_trading_mode(self.address))

    def set_trading_mode(self, mode: str, *, wait: bool = False,
                         wallet_timeout: float | None = None) -> dict[str, Any]:
        data = dict(self.client.set_trading_mode(self.address, mode))
        if not self._must_wait(data, wait):
            return data
        return self._settled(data, self.requests.wait(data["pollingId"], wallet_timeout))

    # --- writes --------------------------------------------------------------------------------
    def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        body = self._preview_body(kind, chain_id, payload, message, intent)
        return dict(self.client.submit(self.address, body))

    def _submit(self, body: dict[str, Any], *, wait: bool, wallet_timeout: float | None,
                idempotency_key: str | None) -> WriteResult:
        data = self.client.submit(self.address, body,
                                  idempotency_key=self._key(idempotency_key))
        if body.get("dryRun"):
            return dict(data)
        self._cache_requests([data], replace_all=False)
        if not wait:
            return _to_request(data)
        return self.requests._wait(data["pollingId"], wallet_timeout, current=data)

    def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                 wait: bool = True, dry_run: bool = False, wallet_timeout: int | None = None,
                 idempotency_key: str | None = None) -> WriteResult:
        return self._submit(self._transfer_body(to, amount, chain_id, token, dry_run),
                            wait=wait, wallet_timeout=wallet_timeout,
                            idempotency_key=idempotency_key)

    def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                         intent: str | None = None, wait: bool = True, dry_run: bool = False,
                         wallet_timeout: int | None = None,
                         idempotency_key: str | None = None) -> WriteResult:
        return self._submit(self._transaction_body(chain_id, payload, intent, dry_run),
                            wait=wait, wallet_timeout=wallet_timeout,
                            idempotency_key=idempotency_key)

    def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                     dry_run: bool = False, wallet_timeout: int | None = None,
                     idempotency_key: str | None = None) -> WriteResult:
        return self._submit(self._message_body(message, chain_id, dry_run), wait=wait,
                            wallet_timeout=wallet_timeout, idempotency_key=idempotency_key)

    def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                        intent: str | None = None, wait: bool = True, dry_run: bool = False,
                        wallet_timeout: int | None = None,
                        idempotency_key: str | None = None) -> WriteResult:
        return self._submit(self._typed_body(chain_id, payload, intent, dry_run), wait=wait,
                            wallet_timeout=wallet_timeout, idempotency_key=idempotency_key)
