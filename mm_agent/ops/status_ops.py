"""`mm doctor` and `mm init show`: status reads with no arguments (no pydantic import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import NotInitialized

if TYPE_CHECKING:
    from ..context import Context


def doctor(ctx: Context, _args: None) -> dict[str, Any]:
    hints: list[str] = []
    wallets = ctx.home.read_json("wallets.json")
    session = ctx.home.read_json("session.json")
    mode = wallets.get("mode") if isinstance(wallets, dict) else None
    if not mode:
        hints.append("Run `mm init` to set up a wallet.")
    authenticated = bool(isinstance(session, dict) and session.get("accessToken"))
    if mode == "server-wallet" and not authenticated:
        hints.append("Run `mm login` to sign in to the wallet service.")
    devnet = ctx.home.read_json("devnet.json")
    if devnet is None:
        hints.append("No local devnet recorded; `mm devnet start --detach` starts one.")
    return {
        "cli": __version__,
        "home": str(ctx.home.root),
        "serviceUrl": ctx.config.service_url,
        "authenticated": authenticated,
        "initialized": bool(mode),
        "walletMode": mode,
        "tradingMode": _active_trading_mode(wallets),
        "hints": hints,
    }


def _active_trading_mode(wallets: Any) -> str | None:
    if not isinstance(wallets, dict):
        return None
    active = wallets.get("active")
    for acct in wallets.get("accounts", []):
        if acct.get("address") == active:
            return acct.get("tradingMode")
    return None


def init_show(ctx: Context, _args: None) -> dict[str, Any]:
    wallets = ctx.home.read_json("wallets.json")
    if not isinstance(wallets, dict) or not wallets.get("mode"):
        raise NotInitialized("No wallet is set up under this MM_HOME.")
    return {
        "walletMode": wallets["mode"],
        "tradingMode": _active_trading_mode(wallets),
        "address": wallets.get("active"),
        "serviceUrl": ctx.config.service_url if wallets["mode"] == "server-wallet" else None,
    }
