"""The public wallet names (contract §9): ``Wallet`` and ``AsyncWallet``.

They are the interface classes of ``base.py`` and ``async_base.py``: ``Wallet.from_env()``
opens the implementation of MM_HOME's mode (``ByokWallet`` or ``RemoteWallet``),
``AsyncWallet.from_env()`` its async twin, and ``isinstance(w, Wallet)`` holds in both modes.
The implementations load lazily (``base.IMPLEMENTATIONS``), so importing this module loads
neither the keyring nor the HTTP client.
"""

from __future__ import annotations

from .async_base import AsyncWalletBase
from .base import WalletBase

__all__ = ["AsyncWallet", "Wallet"]

Wallet = WalletBase
AsyncWallet = AsyncWalletBase
