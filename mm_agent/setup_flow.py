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
        if (existing["mode"] == "server-wallet" and trading_mode is not None
                and wallet_mode == "server-wallet"):
            return _switch_mode(ctx, existing, trading_mode)
        raise AlreadyInitialized(f"A {existing['mode']} wallet is already set up here.")
    if wallet_mode == "byok":
        return _init_byok(ctx)
    if wallet_mode == "server-wallet":
        return _init_server_wallet(ctx, trading_mode)
    raise UnsupportedInMode(f"Unknown wallet mode {wallet_mode!r}.")


def _init_server_wallet(ctx: Context, trading_mode: str | None) -> dict[str, Any]:
    """Use the signed-in account's first wallet on the service, or create one."""
    from .remote import RemoteClient
    from .session import SessionStore

    if trading_mode is None:
        trading_mode = ctx.prompt_choice("Trading mode", ("guard", "beast"), "guard")
        if trading_mode is None:
            raise MissingFlag("Missing --mode (guard or beast) for the server wallet.")
    sessions = SessionStore(ctx.home)
    session = sessions.require()  # NOT_AUTHENTICATED: `mm login` first
    with RemoteClient(ctx.home, ctx.config) as client:
        wallets = client.list_wallets()
        if not wallets:
            wallets = [client.create_wallet(None, trading_mode)]
    known = {w["address"] for w in wallets}
    # Keep the wallet this session used before, else the oldest one.
    active = session.active_wallet if session.active_wallet in known else wallets[0]["address"]
    chosen = next(w for w in wallets if w["address"] == active)
    ctx.home.write_json("wallets.json", {
        "mode": "server-wallet",
        "active": active,
        "accounts": [{"address": w["address"], "name": w.get("name"),
                      "tradingMode": w.get("tradingMode")} for w in wallets],
    })
    sessions.update(active_wallet=active)
    if chosen.get("tradingMode") != trading_mode:
        ctx.notice(f"Wallet {active} is in {chosen.get('tradingMode')} mode; switching trading "
                   "modes needs `mm wallet trading-mode set`.")
    return {"walletMode": "server-wallet", "tradingMode": chosen.get("tradingMode"),
            "address": active, "serviceUrl": client.base_url}


def _switch_mode(ctx: Context, existing: dict[str, Any], mode: str) -> dict[str, Any]:
    """Contract §3: `mm init --mode X` on a set-up server wallet switches the trading mode with
    the rules of `mm wallet trading-mode set` (guard → beast waits for approval)."""
    wallet = ctx.wallet
    change = wallet.set_trading_mode(mode)
    current = wallet.trading_mode()["tradingMode"]

    def apply(data: dict[str, Any]) -> dict[str, Any]:
        for acct in data.get("accounts", []):
            if acct.get("address") == existing.get("active"):
                acct["tradingMode"] = current
        return data

    ctx.home.update_json("wallets.json", {}, apply)
    out = {"walletMode": "server-wallet", "tradingMode": current,
           "address": existing.get("active"), "serviceUrl": ctx.config.service_url,
           "status": change["status"]}
    if change.get("pollingId"):
        out["pollingId"] = change["pollingId"]
    return out


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
