"""mm-agent: a self-hostable agent wallet.

The public API is what ``__all__`` names. Heavy parts (signing, chain access) load on first use
so that ``import mm_agent`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import MMError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .wallet import AsyncWallet, Wallet
    from .wallet_requests import WalletRequest

__all__ = ["AsyncWallet", "MMError", "Wallet", "WalletRequest", "__version__"]

_LAZY = {
    "Wallet": ".wallet",
    "AsyncWallet": ".wallet",
    "WalletRequest": ".wallet_requests",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mm_agent' has no attribute {name!r}")
