"""The server wallet, natively async: ``AsyncRemoteWallet`` (over ``AsyncRemoteClient``).

Same checks, bodies and local mirrors as ``RemoteWallet`` (``RemoteCore``); the HTTP calls
are awaited, never run in threads. Only ``tx`` (a local chain read) uses a worker thread.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from mm_agent.errors import JobTimeout
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.chains import parse_chain_ids
from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.state import Home

from ..async_base import AsyncRequestsBase, AsyncWalletBase
from ..base import (
    ApprovalHook,
    AwaitingHook,
    PasswordSource,
    WriteResult,
    check_trading_mode,
)
from .client import AsyncRemoteClient, _to_request, log_awaiting
from .core import RemoteCore
from .wallet import RemoteWallet

__all__ = ["AsyncRemoteRequestsAPI", "AsyncRemoteWallet"]


class AsyncRemoteRequestsAPI(AsyncRequestsBase):
    """``async_wallet.requests`` of a server wallet."""

    def __init__(self, wallet: AsyncRemoteWallet) -> None:
        self._w = wallet

    async def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        if not sync:
            return self._w._cached_requests()[:max(0, int(limit))]
        items = await self._w.client.list_requests(limit)
        self._w._cache_requests(items, replace_all=True)
        return [_to_request(r) for r in items]

    async def get(self, polling_id: str) -> WalletRequest:
        data = await self._w.client.get_request(polling_id)
        self._w._cache_requests([data], replace_all=False)
        return _to_request(data)

    async def wait(self, polling_id: str, timeout: float | None = None) -> WalletRequest:
        return await self._wait(polling_id, timeout)

    async def _wait(self, polling_id: str, timeout: float | None,
                    current: dict[str, Any] | None = None) -> WalletRequest:
        try:
            req = await self._w.client.wait(polling_id, self._w._wait_seconds(timeout),
                                            on_awaiting=self._w.on_awaiting or log_awaiting,
                                            current=current)
        except JobTimeout as err:
            self._w._cache_requests([err.details["request"]], replace_all=False)
            raise
        self._w._cache_requests([req.to_dict()], replace_all=False)
        return req

    async def cancel(self, polling_id: str) -> WalletRequest:
        data = await self._w.client.cancel_request(polling_id)
        self._w._cache_requests([data], replace_all=False)
        return _to_request(data)


class AsyncRemoteWallet(RemoteCore, AsyncWalletBase):
    """The server wallet, async. ``sync`` is the blocking ``RemoteWallet`` over the same
    MM_HOME (what the toolkits run in worker threads)."""

    def __init__(self, wallet: RemoteWallet, client: AsyncRemoteClient | None = None) -> None:
        self._wallet = wallet
        self.home = wallet.home
        self.config = wallet.config
        self.on_awaiting = wallet.on_awaiting
        self.client = client or AsyncRemoteClient(wallet.home, wallet.config)
        self.requests: AsyncRemoteRequestsAPI = AsyncRemoteRequestsAPI(self)

    def __repr__(self) -> str:
        return f"Async{self._wallet!r}"

    @classmethod
    def from_env(cls, *, home: Home | None = None, config: Config | None = None,
                 approval_hook: ApprovalHook | None = None, interactive: bool = False,
                 password: PasswordSource | None = None,
                 on_awaiting: AwaitingHook | None = None) -> AsyncRemoteWallet:
        """See ``RemoteWallet.from_env``."""
        return cls(RemoteWallet.from_env(home=home, config=config, on_awaiting=on_awaiting))

    @property
    def sync(self) -> RemoteWallet:
        """The blocking twin over the same MM_HOME."""
        return self._wallet

    @property
    def mode(self) -> str:
        """``"server-wallet"``."""
        return "server-wallet"

    @property
    def address(self) -> str:
        """The checksummed address this wallet acts for (see ``WalletBase.address``)."""
        return self._account or self._active()

    def bound(self, *, account: str | None = None, idempotency_key: str | None = None,
              confirm: str | None = None) -> AsyncRemoteWallet:
        """See ``RemoteWallet.bound`` (the copy shares the HTTP client)."""
        view = copy.copy(self)
        view._wallet = self._wallet.bound(account=account, idempotency_key=idempotency_key)
        view._account = view._wallet._account
        view._idempotency_key = view._wallet._idempotency_key
        view.requests = AsyncRemoteRequestsAPI(view)
        return view

    async def aclose(self) -> None:
        await self.client.aclose()
        self._wallet.close()

    async def accounts(self) -> list[dict[str, Any]]:
        wallets = await self.client.list_wallets()
        self._cache_accounts(wallets)
        return self._mark(wallets)

    async def create_account(self, name: str | None = None, trading_mode: str | None = None,
                             *, idempotency_key: str | None = None) -> dict[str, Any]:
        check_trading_mode(trading_mode)
        wallet = await self.client.create_wallet(name, trading_mode,
                                                 idempotency_key=idempotency_key)
        self._add_account(wallet)
        return dict(wallet)

    async def select(self, address: str) -> dict[str, Any]:
        wallet = await self.client.get_wallet(validate_address(address))
        self._add_account(wallet)
        self._cache_accounts(await self.client.list_wallets(), active=wallet["address"])
        return dict(wallet)

    async def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        if address:
            return self._show(await self.client.get_wallet(validate_address(address)))
        return self._show(self._find(await self.client.list_wallets(), None, name))

    async def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                      token_contracts: list[str] | None = None,
                      address: str | None = None) -> dict[str, Any]:
        owner = validate_address(address) if address else self.address
        contracts = [validate_address(c, field="tokenContracts") for c in token_contracts or []]
        return dict(await self.client.balance(owner, parse_chain_ids(chain_ids), token,
                                              contracts))

    async def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.tx, tx_hash, chain_id)

    async def tx_history(self, chain_ids: list[int] | None = None,
                         limit: int = 20) -> list[dict[str, Any]]:
        return self._history(await self.requests.list(), chain_ids, limit)

    async def policy(self) -> dict[str, Any]:
        return dict(await self.client.get_policy(self.address))

    async def set_policy(self, policy: str, *, wait: bool = False,
                         wallet_timeout: float | None = None) -> dict[str, Any]:
        data = dict(await self.client.set_policy(self.address, policy))
        if not self._must_wait(data, wait):
            return data
        return self._settled(data, await self.requests.wait(data["pollingId"], wallet_timeout))

    async def trading_mode(self) -> dict[str, Any]:
        return dict(await self.client.get_trading_mode(self.address))

    async def set_trading_mode(self, mode: str, *, wait: bool = False,
                               wallet_timeout: float | None = None) -> dict[str, Any]:
        data = dict(await self.client.set_trading_mode(self.address, mode))
        if not self._must_wait(data, wait):
            return data
        return self._settled(data, await self.requests.wait(data["pollingId"], wallet_timeout))

    async def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                      message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        body = self._preview_body(kind, chain_id, payload, message, intent)
        return dict(await self.client.submit(self.address, body))

    async def _submit(self, body: dict[str, Any], *, wait: bool, wallet_timeout: float | None,
                      idempotency_key: str | None) -> WriteResult:
        data = await self.client.submit(self.address, body,
                                        idempotency_key=self._key(idempotency_key))
        if body.get("dryRun"):
            return dict(data)
        self._cache_requests([data], replace_all=False)
        if not wait:
            return _to_request(data)
        return await self.requests._wait(data["pollingId"], wallet_timeout, current=data)

    async def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                       wait: bool = True, dry_run: bool = False,
                       wallet_timeout: int | None = None,
                       idempotency_key: str | None = None) -> WriteResult:
        return await self._submit(self._transfer_body(to, amount, chain_id, token, dry_run),
                                  wait=wait, wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)

    async def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                               intent: str | None = None, wait: bool = True,
                               dry_run: bool = False, wallet_timeout: int | None = None,
                               idempotency_key: str | None = None) -> WriteResult:
        return await self._submit(self._transaction_body(chain_id, payload, intent, dry_run),
                                  wait=wait, wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)

    async def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                           dry_run: bool = False, wallet_timeout: int | None = None,
                           idempotency_key: str | None = None) -> WriteResult:
        return await self._submit(self._message_body(message, chain_id, dry_run), wait=wait,
                                  wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)

    async def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                              intent: str | None = None, wait: bool = True,
                              dry_run: bool = False, wallet_timeout: int | None = None,
                              idempotency_key: str | None = None) -> WriteResult:
        return await self._submit(self._typed_body(chain_id, payload, intent, dry_run),
                                  wait=wait, wallet_timeout=wallet_timeout,
                                  idempotency_key=idempotency_key)
