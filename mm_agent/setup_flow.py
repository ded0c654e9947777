"""`mm init`: choose the wallet mode and create (or import) the first account."""

from __future__ import annotations

import os
from typing import Any

from .context import Context
from .errors import AlreadyInitialized, MissingFlag, UnsupportedInMode

__all__ = ["run_init"]


def run_init(ctx: Context, *, wallet_mode: str | None, trading_mode: str | None) -> dict[str, Any]:
    existing = ctx.home.read_json("wallets.json")
    if wallet_mode is None:
        wallet_mode = ctx.prompt_choice("Wallet mode", ("server-wallet", "byok"), "byok")
        if wallet_mode is None:
            raise MissingFlag("Missing --wallet (server-wallet or byok).")
    if isinstance(existing, dict) and existing.get("mode"):
        raise AlreadyInitialized(f"A {existing['mode']} wallet is already set up here.")
    if wallet_mode == "byok":
        return _init_byok(ctx)
    raise UnsupportedInMode("The server wallet needs the wallet service, which this build "
                            "does not include yet.", hint="Use `mm init --wallet byok`.")


def _init_byok(ctx: Context) -> dict[str, Any]:
    from .byok.keyring import ByokKeyring

    mnemonic = os.environ.get("MM_MNEMONIC") or ctx.prompt_secret("Mnemonic (hidden)")
    if not mnemonic:
        raise MissingFlag("No mnemonic: set MM_MNEMONIC or run `mm init` on a terminal.")
    password = os.environ.get("MM_PASSWORD")
    if password is None:
        password = ctx.prompt_secret("Encryption password (empty for none)", confirm=True)
    state = ByokKeyring.initial_state(mnemonic, password or None)
    ctx.home.write_json("wallets.json", state)
    return {"walletMode": "byok", "tradingMode": None, "address": state["active"],
            "encrypted": bool(password), "serviceUrl": None}
