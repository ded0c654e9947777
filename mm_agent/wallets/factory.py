"""Opening MM_HOME's wallet in its mode: what ``Wallet.from_env()`` does, as functions for the
context and the edges (the mode → implementation table is ``base.IMPLEMENTATIONS``)."""

from __future__ import annotations

from mm_agent.local.config import Config
from mm_agent.local.state import Home

from .async_base import AsyncWalletBase
from .base import (
    IMPLEMENTATIONS,
    ApprovalHook,
    AwaitingHook,
    PasswordSource,
    WalletBase,
    wallet_mode,
)

__all__ = ["IMPLEMENTATIONS", "async_of", "open_async_wallet", "open_wallet", "wallet_mode"]


def open_wallet(*, home: Home | None = None, config: Config | None = None,
                approval_hook: ApprovalHook | None = None, interactive: bool = False,
                password: PasswordSource | None = None,
                on_awaiting: AwaitingHook | None = None) -> WalletBase:
    """The blocking wallet of MM_HOME (``Wallet.from_env`` documents the arguments)."""
    return WalletBase.from_env(home=home, config=config, approval_hook=approval_hook,
                               interactive=interactive, password=password,
                               on_awaiting=on_awaiting)


def open_async_wallet(*, home: Home | None = None, config: Config | None = None,
                      approval_hook: ApprovalHook | None = None, interactive: bool = False,
                      password: PasswordSource | None = None,
                      on_awaiting: AwaitingHook | None = None) -> AsyncWalletBase:
    """The async wallet of MM_HOME (``AsyncWallet.from_env`` documents the arguments)."""
    return AsyncWalletBase.from_env(home=home, config=config, approval_hook=approval_hook,
                                    interactive=interactive, password=password,
                                    on_awaiting=on_awaiting)


def async_of(wallet: WalletBase) -> AsyncWalletBase:
    """The async implementation of ``wallet``'s mode, over that same blocking wallet."""
    return AsyncWalletBase.of(wallet)
