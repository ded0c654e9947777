"""The async half of the wallet interface: ``AsyncWalletBase`` and ``AsyncRequestsBase``.

The same methods as ``WalletBase`` / ``RequestsBase`` (``base.py`` documents parameters,
returns and errors), each I/O method a coroutine; ``address``, ``mode``, ``bound`` and
``from_env`` are local and stay plain.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, TypeVar

from mm_agent.local.config import Config
from mm_agent.local.request_log import WalletRequest
from mm_agent.local.state import Home

from .base import (
    ApprovalHook,
    AwaitingHook,
    PasswordSource,
    WalletBase,
    WriteResult,
    implementation,
    wallet_mode,
)

__all__ = ["AsyncRequestsBase", "AsyncWalletBase"]

_AW = TypeVar("_AW", bound="AsyncWalletBase")


class AsyncRequestsBase(ABC):
    """``async_wallet.requests``: the same four calls as ``RequestsBase``, as coroutines."""

    @abstractmethod
    async def list(self, sync: bool = True, limit: int = 50) -> list[WalletRequest]:
        """See ``RequestsBase.list``. Example: ``await aw.requests.list()``."""

    @abstractmethod
    async def get(self, polling_id: str) -> WalletRequest:
        """See ``RequestsBase.get``. Example: ``await aw.requests.get(pid)``."""

    @abstractmethod
    async def wait(self, polling_id: str, timeout: float | None = None) -> WalletRequest:
        """See ``RequestsBase.wait``. Example: ``await aw.requests.wait(pid, timeout=60)``."""

    @abstractmethod
    async def cancel(self, polling_id: str) -> WalletRequest:
        """See ``RequestsBase.cancel``. Example: ``await aw.requests.cancel(pid)``."""


# --- the async wallet --------------------------------------------------------------------------
class AsyncWalletBase(ABC):
    """A wallet of either mode, async (``mm_agent.AsyncWallet``). Every I/O method and every
    ``requests.*`` call is a coroutine; ``address``, ``mode`` and ``bound`` are not (local).

    Example::

        async with AsyncWallet.from_env() as aw:
            req = await aw.transfer(to="0x…", amount="0.5", chain_id=31337, wait=True)
    """

    home: Home
    config: Config
    requests: AsyncRequestsBase

    @classmethod
    def from_env(cls, *, home: Home | None = None, config: Config | None = None,
                 approval_hook: ApprovalHook | None = None, interactive: bool = False,
                 password: PasswordSource | None = None,
                 on_awaiting: AwaitingHook | None = None) -> AsyncWalletBase:
        """Open the wallet of MM_HOME, async; arguments, errors as ``Wallet.from_env``.

        Returns:
            An ``AsyncByokWallet`` or an ``AsyncRemoteWallet`` (both are ``AsyncWallet``).

        Example::

            async with AsyncWallet.from_env() as aw:
                await aw.balance(chain_ids=[31337])
        """
        home = home or Home.from_env()
        config = config or Config(home)
        wallet: AsyncWalletBase = implementation(wallet_mode(home), asynchronous=True).from_env(
            home=home, config=config, approval_hook=approval_hook, interactive=interactive,
            password=password, on_awaiting=on_awaiting)
        return wallet

    @classmethod
    def of(cls, wallet: WalletBase) -> AsyncWalletBase:
        """The async face of an open blocking wallet (same MM_HOME, account and hooks).

        Example::

            aw = AsyncWallet.of(Wallet.from_env())
        """
        async_wallet: AsyncWalletBase = implementation(wallet.mode, asynchronous=True)(wallet)
        return async_wallet

    async def __aenter__(self: _AW) -> _AW:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    @abstractmethod
    def sync(self) -> WalletBase:
        """The blocking twin over the same MM_HOME (what the toolkits run in worker threads)."""

    @property
    @abstractmethod
    def mode(self) -> str:
        """``"byok"`` or ``"server-wallet"``."""

    @property
    @abstractmethod
    def address(self) -> str:
        """See ``WalletBase.address``."""

    @abstractmethod
    def bound(self: _AW, *, account: str | None = None, idempotency_key: str | None = None,
              confirm: str | None = None) -> _AW:
        """See ``WalletBase.bound``. Example: ``aw.bound(account=other)``."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release key material and connections. Example: ``await aw.aclose()``."""

    @abstractmethod
    async def accounts(self) -> list[dict[str, Any]]:
        """See ``WalletBase.accounts``. Example: ``await aw.accounts()``."""

    @abstractmethod
    async def create_account(self, name: str | None = None, trading_mode: str | None = None,
                             *, idempotency_key: str | None = None) -> dict[str, Any]:
        """See ``WalletBase.create_account``. Example: ``await aw.create_account("b")``."""

    @abstractmethod
    async def select(self, address: str) -> dict[str, Any]:
        """See ``WalletBase.select``. Example: ``await aw.select(addr)``."""

    @abstractmethod
    async def show(self, address: str | None = None, name: str | None = None) -> dict[str, Any]:
        """See ``WalletBase.show``. Example: ``await aw.show(name="Account 1")``."""

    @abstractmethod
    async def balance(self, chain_ids: list[int] | None = None, token: str | None = None,
                      token_contracts: list[str] | None = None,
                      address: str | None = None) -> dict[str, Any]:
        """See ``WalletBase.balance``. Example: ``await aw.balance(chain_ids=[31337])``."""

    @abstractmethod
    async def tx(self, tx_hash: str, chain_id: int | None = None) -> dict[str, Any]:
        """See ``WalletBase.tx``. Example: ``await aw.tx(req.tx_hash)``."""

    @abstractmethod
    async def tx_history(self, chain_ids: list[int] | None = None,
                         limit: int = 20) -> list[dict[str, Any]]:
        """See ``WalletBase.tx_history``. Example: ``await aw.tx_history(limit=5)``."""

    @abstractmethod
    async def policy(self) -> dict[str, Any]:
        """See ``WalletBase.policy``. Example: ``await aw.policy()``."""

    @abstractmethod
    async def set_policy(self, policy: str, *, wait: bool = False,
                         wallet_timeout: float | None = None) -> dict[str, Any]:
        """See ``WalletBase.set_policy``. Example: ``await aw.set_policy(doc, wait=True)``."""

    @abstractmethod
    async def trading_mode(self) -> dict[str, Any]:
        """See ``WalletBase.trading_mode``. Example: ``await aw.trading_mode()``."""

    @abstractmethod
    async def set_trading_mode(self, mode: str, *, wait: bool = False,
                               wallet_timeout: float | None = None) -> dict[str, Any]:
        """See ``WalletBase.set_trading_mode``. Example: ``await aw.set_trading_mode("guard")``."""

    @abstractmethod
    async def preview(self, *, kind: str = "transaction", chain_id: int, payload: Any = None,
                      message: str | None = None, intent: str | None = None) -> dict[str, Any]:
        """See ``WalletBase.preview``. Example: ``await aw.preview(chain_id=1, payload=p)``."""

    @abstractmethod
    async def transfer(self, *, to: str, amount: str, chain_id: int, token: str = "ETH",
                       wait: bool = True, dry_run: bool = False,
                       wallet_timeout: int | None = None,
                       idempotency_key: str | None = None) -> WriteResult:
        """See ``WalletBase.transfer``.

        Example::

            req = await aw.transfer(to="0x…", amount="0.5", chain_id=31337, wait=True)
        """

    @abstractmethod
    async def send_transaction(self, *, chain_id: int, payload: dict[str, Any] | str,
                               intent: str | None = None, wait: bool = True,
                               dry_run: bool = False, wallet_timeout: int | None = None,
                               idempotency_key: str | None = None) -> WriteResult:
        """See ``WalletBase.send_transaction``.

        Example::

            req = await aw.send_transaction(chain_id=31337, payload={"to": "0x…"})
        """

    @abstractmethod
    async def sign_message(self, *, message: str, chain_id: int, wait: bool = True,
                           dry_run: bool = False, wallet_timeout: int | None = None,
                           idempotency_key: str | None = None) -> WriteResult:
        """See ``WalletBase.sign_message``. Example: ``await aw.sign_message(message="hi",
        chain_id=1)``."""

    @abstractmethod
    async def sign_typed_data(self, *, chain_id: int, payload: dict[str, Any] | str,
                              intent: str | None = None, wait: bool = True,
                              dry_run: bool = False, wallet_timeout: int | None = None,
                              idempotency_key: str | None = None) -> WriteResult:
        """See ``WalletBase.sign_typed_data``. Example: ``await aw.sign_typed_data(chain_id=1,
        payload=typed)``."""
