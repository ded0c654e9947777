"""The BYOK wallet, async: ``AsyncByokWallet``.

BYOK work is local signing plus short RPC calls, so each coroutine runs the blocking
``ByokWallet`` method in a worker thread (the event loop stays free). The methods are written
out with their full signatures, so type checkers and ``help()`` see the real interface.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.state import Home

from ..async_base import AsyncRequestsBase, AsyncWalletBase
from ..base import (
    ApprovalHook,
    AwaitingHook,
    PasswordSource,
    WriteResult,
)
from .wallet import ByokWallet

__all__ = ["AsyncByokRequestsAPI", "AsyncByokWallet"]


class AsyncByokRequestsAPI(AsyncRequestsBase):
    """``async_wallet.requests`` of a BYOK wallet (the local request log)."""

    def __init__(self, wallet: ByokWallet) -> None:
        self._w = wallet

    async def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        return await asyncio.to_thread(self._w.requests.list, sync, limit)

    async def get(self, polling_id: str) -> WalletRequest:
        return await asyncio.to_thread(self._w.requests.get, polling_id)

    async def wait(self, polling_id: str, timeout: float | None = None) -> WalletRequest:
        return await asyncio.to_thread(self._w.requests.wait, polling_id, timeout)

    async def cancel(self, polling_id: str) -> WalletRequest:
        return await asyncio.to_thread(self._w.requests.cancel, polling_id)


class AsyncByokWallet(AsyncWalletBase):
    """The BYOK wallet, async (``AsyncWallet.from_env()`` in a BYOK MM_HOME)."""

    def __init__(self, wallet: ByokWallet) -> None:
        self._wallet = wallet
        self.home = wallet.home
        self.config = wallet.config
        self.requests: AsyncByokRequestsAPI = AsyncByokRequestsAPI(wallet)

    def __repr__(self) -> str:
        return f"Async{self._wallet!r}"

    @classmethod
    def from_env(cls, *, home: Home | None = None, config: Config | None = None,
                 approval_hook: ApprovalHook | None = None, interactive: bool = False,
                 password: PasswordSource | None = None,
                 on_awaiting: AwaitingHook | None = None) -> AsyncByokWallet:
        """See ``ByokWallet.from_env``."""
        return cls(ByokWallet.from_env(home=home, config=config, approval_hook=approval_hook,
                                       interactive=interactive, password=password))

    @property
    def sync(self) -> ByokWallet:
        """The blocking twin over the same MM_HOME."""
        return self._wallet

    @property
    def mode(self) -> str:
        """``"byok"``."""
        return "byok"

    @property
    def address(self) -> str:
        """The checksummed address this wallet acts for (see ``WalletBase.address``)."""
        return self._wallet.address

    @property
    def approval_hook(self) -> ApprovalHook | None:
        """The blocking wallet's hook (it runs in the worker thread)."""
        return self._wallet.approval_hook

    def bound(self, *, account: str | None = None, idempotency_key: str | None = None,
              confirm: str | None = None) -> AsyncByokWallet:
        return AsyncByokWallet(self._wallet.bound(account=account,
                                                  idempotency_key=idempotency_key,
                                                  confirm=confirm))

    async def aclose(self) -> None:
        self._wallet.close()

    async def unlock(self) -> None:
        """See ``ByokWallet.unlock`` (scrypt runs in a worker thread)."""
        await asyncio.to_thread(self._wallet.unlock)

    async def accounts(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._wallet.accounts)

    async def create_account(self, name: str | None = None, trading_mode: str | None = None,
                             *, idempotency_key: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.create_account, name, trading_mode,
                                       idempotency_key=idempotency_key)

    async def select(self, address: str) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.select, address)

    async def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.show, address, name)

    async def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                      token_contracts: list[str] | None = None,
                      address: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.balance, chain_ids, token, token_contracts,
                                       address)

    async def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.tx, tx_hash, chain_id)

    async def tx_history(self, chain_ids: list[int] | None = None,
                         limit: int = 20) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._wallet.tx_history, chain_ids, limit)

    async def policy(self) -> dict[str, Any]:
        return self._wallet.policy()

    async def set_policy(self, policy: str, *, wait: bool = False,
                         wallet_timeout: float | None = None) -> dict[str, Any]:
        return self._wallet.set_policy(policy, wait=wait, wallet_timeout=wallet_timeout)

    async def trading_mode(self) -> dict[str, Any]:
        return self._wallet.trading_mode()

    async def set_trading_mode(self, mode: str, *, wait: bool = False,
                               wallet_timeout: float | None = None) -> dict[str, Any]:
        return self._wallet.set_trading_mode(mode, wait=wait, wallet_timeout=wallet_timeout)

    async def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                      message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._wallet.preview, kind=kind, chain_id=chain_id,
                                       payload=payload, message=message, intent=intent)

    async def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                       wait: bool = True, dry_run: bool = False,
                       wallet_timeout: int | None = None,
                       idempotency_key: str | None = None) -> WriteResult:
        return await asyncio.to_thread(self._wallet.transfer, to=to, amount=amount,
                                       chain_id=chain_id, token=token, wait=wait,
                                       dry_run=dry_run, wallet_timeout=wallet_timeout,
                                       idempotency_key=idempotency_key)

    async def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                               intent: str | None = None, wait: bool = True,
                               dry_run: bool = False, wallet_timeout: int | None = None,
                               idempotency_key: str | None = None) -> WriteResult:
        return await asyncio.to_thread(self._wallet.send_transaction, chain_id=chain_id,
                                       payload=payload, intent=intent, wait=wait,
                                       dry_run=dry_run, wallet_timeout=wallet_timeout,
                                       idempotency_key=idempotency_key)

    async def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                           dry_run: bool = False, wallet_timeout: int | None = None,
                           idempotency_key: str | None = None) -> WriteResult:
        return await asyncio.to_thread(self._wallet.sign_message, message=message,
                                       chain_id=chain_id, wait=wait, dry_run=dry_run,
                                       wallet_timeout=wallet_timeout,
                                       idempotency_key=idempotency_key)

    async def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                              intent: str | None = None, wait: bool = True,
                              dry_run: bool = False, wallet_timeout: int | None = None,
                              idempotency_key: str | None = None) -> WriteResult:
        return await asyncio.to_thread(self._wallet.sign_typed_data, chain_id=chain_id,
                                       payload=payload, intent=intent, wait=wait,
                                       dry_run=dry_run, wallet_timeout=wallet_timeout,
                                       idempotency_key=idempotency_key)
