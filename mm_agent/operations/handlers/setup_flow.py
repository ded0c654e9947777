"""`mm init`: choose the wallet mode and create (or import) the first account."""

from __future__ import annotations

from typing import Any

from mm_agent.errors import (
    AlreadyInitialized,
    MissingFlag,
    StateCorrupt,
    UnsupportedInMode,
    WalletExists,
)
from mm_agent.local import env as env_vars
from mm_agent.local.wallets_file import load_wallets, move_aside

from ..context import Context

__all__ = ["run_init"]


def run_init(ctx: Context, *, wallet_mode: str | None, trading_mode: str | None,
             force: bool = False) -> dict[str, Any]:
    """Set up a wallet. An existing (or damaged) wallets.json is never overwritten: without
    ``force`` it is an error; with ``force`` it is moved aside (``wallets.json.bak-<ts>``)
    only once the new wallet's inputs are known to be good."""
    try:
        existing = load_wallets(ctx.home)
    except StateCorrupt:
        if not force:
            raise
        existing = None  # damaged: moved aside below, never read
    if wallet_mode is None:
        wallet_mode = ctx.prompt_choice("Wallet mode", ("server-wallet", "byok"), "byok")
        if wallet_mode is None:
            raise MissingFlag("Missing --wallet (server-wallet or byok).")
    if existing is not None and not force:
        if (existing["mode"] == "server-wallet" and trading_mode is not None
                and wallet_mode == "server-wallet"):
            return _switch_mode(ctx, existing, trading_mode)
        where = ctx.home.path("wallets.json")
        hint = (f"`mm init show` shows it. `mm init --force` moves {where} aside "
                "(wallets.json.bak-<timestamp>) and sets up a new wallet; keep that copy.")
        if existing["mode"] == "byok":
            raise WalletExists(f"A BYOK wallet (an encrypted or plain vault with its mnemonic) "
                               f"is already set up in {where}.", hint=hint)
        raise AlreadyInitialized(f"A {existing['mode']} wallet is already set up here.",
                                 hint=hint)
    if wallet_mode == "byok":
        return _init_byok(ctx, force=force)
    if wallet_mode == "server-wallet":
        return _init_server_wallet(ctx, trading_mode, force=force)
    raise UnsupportedInMode(f"Unknown wallet mode {wallet_mode!r}.")


def _set_aside(ctx: Context, force: bool, out: dict[str, Any]) -> None:
    """--force: keep the old file as wallets.json.bak-<ts> and say where it went."""
    if not force:
        return
    moved = move_aside(ctx.home)
    if moved is not None:
        out["previousWalletFile"] = str(moved)
        ctx.notice(f"The previous wallets.json was moved to {moved} (0600); keep it: it may "
                   "hold the only copy of those keys.")


def _init_server_wallet(ctx: Context, trading_mode: str | None,
                        force: bool = False) -> dict[str, Any]:
    """Use the signed-in account's first wallet on the service, or create one."""
    from mm_agent.local.session import SessionStore
    from mm_agent.wallets.remote.client import RemoteClient

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
    moved: dict[str, Any] = {}
    _set_aside(ctx, force, moved)
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
            "address": active, "serviceUrl": client.base_url, **moved}


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


def _init_byok(ctx: Context, force: bool = False) -> dict[str, Any]:
    from mm_agent.wallets.byok.keyring import ByokKeyring

    mnemonic = env_vars.get(env_vars.MNEMONIC) or ctx.prompt_secret("Mnemonic (hidden)")
    if not mnemonic:
        raise MissingFlag("No mnemonic: set MM_MNEMONIC or run `mm init` on a terminal.")
    password = env_vars.raw(env_vars.PASSWORD)
    if password is None:
        password = ctx.prompt_secret("Encryption password (empty for none)", confirm=True)
    if password:
        from mm_agent.wallets.byok.passwords import check_new_password

        check_new_password(password)  # before anything is stored
    state = ByokKeyring.initial_state(mnemonic, password or None)
    out: dict[str, Any] = {"walletMode": "byok", "tradingMode": None, "address": state["active"],
                           "encrypted": bool(password), "serviceUrl": None}
    warnings = ByokKeyring.initial_warnings(password or None)
    if warnings:
        # The library never prints: the console shows these (stderr, every format) and the
        # result carries them.
        out["warnings"] = warnings
        for warning in warnings:
            ctx.notice(warning, always=True)
    with ctx.home.locked():
        _set_aside(ctx, force, out)
        if ctx.home.path("wallets.json").exists():
            # Another `mm init` won the race: never overwrite what it wrote.
            raise WalletExists("A wallet was set up here meanwhile; nothing was changed.")
        ctx.home.write_json("wallets.json", state)
    return out
