"""mm-agent: a self-hostable agent wallet.

The public API is what ``__all__`` names. Heavy parts (signing, chain access) load on first use
so that ``import mm_agent`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_agent import _recursion
from mm_agent.errors import MMError
from mm_agent.version import __version__

# py_ecc (eth-account's dependency) raises the recursion limit to 100000 at import; with it a
# deeply nested JSON document overruns the C stack and kills the process. Undo that, always.
_recursion.install()

if TYPE_CHECKING:
    from mm_agent.local.request_log import WalletRequest
    from mm_agent.wallets.wallet import AsyncWallet, Wallet

__all__ = ["AsyncWallet", "MMError", "Wallet", "WalletRequest", "__version__"]

_LAZY = {
    "Wallet": "mm_agent.wallets.wallet",
    "AsyncWallet": "mm_agent.wallets.wallet",
    "WalletRequest": "mm_agent.local.request_log",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mm_agent' has no attribute {name!r}")
