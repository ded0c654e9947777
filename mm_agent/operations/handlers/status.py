"""`mm doctor` and `mm init show`: status reads with no arguments (no pydantic import).

`mm doctor` checks what it reports instead of trusting cached flags: the service answers
``/healthz``, the stored token is accepted by an authenticated call, each RPC that matters (the
devnet's, every ``rpc.<chainId>`` / ``privateRpc.<chainId>`` override) answers ``eth_chainId``
with the right chain, each within a short timeout. URLs are shown as scheme://host only: RPC
URLs often carry an API key in their path or query.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mm_agent.errors import MMError, NotInitialized
from mm_agent.version import __version__

if TYPE_CHECKING:
    from ..context import Context

PROBE_TIMEOUT = 3.0  # seconds per check: a doctor that hangs helps nobody


def redact_url(url: str) -> str:
    # Lazily: mm_agent.evm.rpc loads httpx, which `mm init show` must not pay for.
    from mm_agent.evm.rpc import redact_url as redact

    return redact(url)


def _http_ok(url: str, body: dict[str, Any] | None = None) -> Any:
    """GET (or POST JSON) with the probe timeout; the decoded JSON answer."""
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=PROBE_TIMEOUT) as resp:
        return json.loads(resp.read(1_000_000) or b"null")


def _probe_service(url: str) -> tuple[bool, str | None]:
    try:
        _http_ok(url.rstrip("/") + "/healthz")
        return True, None
    except Exception as exc:  # any failure is "unreachable"; the reason goes in the hint
        return False, type(exc).__name__


def _probe_rpc(chain_id: int, url: str, kind: str) -> dict[str, Any]:
    row: dict[str, Any] = {"chainId": chain_id, "kind": kind, "url": redact_url(url),
                           "reachable": False, "chainIdMatches": None}
    try:
        answer = _http_ok(url, {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                "params": []})
        got = int(str(answer.get("result")), 16) if isinstance(answer, dict) else None
    except Exception as exc:
        row["error"] = type(exc).__name__
        return row
    row["reachable"] = got is not None
    row["chainIdMatches"] = got == chain_id if got is not None else None
    return row


def _rpc_targets(ctx: Context, devnet: Any) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    if isinstance(devnet, dict) and devnet.get("rpcUrl"):
        out.append((int(devnet.get("chainId") or 31337), str(devnet["rpcUrl"]), "devnet"))
    for name, value in ctx.config.all().items():
        if not value or "." not in name:
            continue
        prefix, _, cid = name.partition(".")
        if prefix in ("rpc", "privateRpc") and cid.isdigit():
            out.append((int(cid), str(value), "private" if prefix == "privateRpc" else "rpc"))
    return out


def _vault_unencrypted(wallets: Any) -> bool:
    if not isinstance(wallets, dict) or wallets.get("mode") != "byok":
        return False
    blob = (wallets.get("byok") or {}).get("vault")
    if not isinstance(blob, dict):
        return False
    from mm_agent.wallets.byok import vault

    try:
        return not vault.is_encrypted(blob)
    except MMError:
        return False  # a broken vault is reported by the commands that open it


def doctor(ctx: Context, _args: None) -> dict[str, Any]:
    hints: list[str] = []
    wallets = ctx.home.read_json("wallets.json")
    session = ctx.home.read_json("session.json")
    mode = wallets.get("mode") if isinstance(wallets, dict) else None
    if not mode:
        hints.append("Run `mm init` to set up a wallet.")
    has_token = bool(isinstance(session, dict) and session.get("accessToken"))
    service_url = ctx.config.service_url

    # The service: only when this set-up uses one (server wallet, or a stored sign-in).
    service_reachable: bool | None = None
    authenticated = False
    trading_mode = _active_trading_mode(wallets)
    if mode == "server-wallet" or has_token:
        service_reachable, why = _probe_service(service_url)
        if not service_reachable:
            hints.append(f"The wallet service at {redact_url(service_url)} does not answer "
                         f"({why}); check serviceUrl or start it with `mm server start`.")
    if has_token and service_reachable:
        authenticated, live_mode = _check_session(ctx, wallets)
        if not authenticated:
            hints.append("The stored sign-in is no longer accepted (expired or revoked); run "
                          "`mm login` again.")
        elif live_mode is not None:
            trading_mode = live_mode
    if mode == "server-wallet" and not has_token:
        hints.append("Run `mm login` to sign in to the wallet service.")

    rpcs = [_probe_rpc(cid, url, kind)
            for cid, url, kind in _rpc_targets(ctx, ctx.home.read_json("devnet.json"))]
    for row in rpcs:
        if not row["reachable"]:
            hints.append(f"The {row['kind']} RPC of chain {row['chainId']} ({row['url']}) does "
                         "not answer; check it with `mm config get`.")
        elif row["chainIdMatches"] is False:
            hints.append(f"The {row['kind']} RPC of chain {row['chainId']} ({row['url']}) "
                         "serves another chain.")
    if ctx.home.read_json("devnet.json") is None:
        hints.append("No local devnet recorded; `mm devnet start --detach` starts one.")
    if _vault_unencrypted(wallets):
        hints.append("The BYOK mnemonic is stored unencrypted; `mm wallet password set` "
                      "encrypts it (MM_NEW_PASSWORD or a hidden prompt).")
    return {
        "cli": __version__,
        "home": str(ctx.home.root),
        "serviceUrl": service_url,
        "serviceReachable": service_reachable,
        "authenticated": authenticated,
        "initialized": bool(mode),
        "walletMode": mode,
        "tradingMode": trading_mode,
        "rpcs": rpcs,
        "hints": hints,
    }


def _check_session(ctx: Context, wallets: Any) -> tuple[bool, str | None]:
    """(token accepted by the service, live trading mode of the active server wallet)."""
    from mm_agent.wallets.remote.client import RemoteClient

    try:
        with RemoteClient(ctx.home, ctx.config) as client:
            client.auth_status()
            active = wallets.get("active") if isinstance(wallets, dict) else None
            if not (isinstance(wallets, dict) and wallets.get("mode") == "server-wallet"
                    and active):
                return True, None
            try:
                return True, _mode_of(client.get_trading_mode(active))
            except MMError:
                return True, None
    except MMError:  # NOT_AUTHENTICATED after a failed refresh, FORBIDDEN, …
        return False, None


def _mode_of(answer: Any) -> str | None:
    if isinstance(answer, dict):
        mode = answer.get("tradingMode") or answer.get("mode")
        return str(mode) if mode else None
    return None


def _active_trading_mode(wallets: Any) -> str | None:
    if not isinstance(wallets, dict):
        return None
    active = wallets.get("active")
    for acct in wallets.get("accounts", []):
        if acct.get("address") == active:
            return acct.get("tradingMode")
    return None


def init_show(ctx: Context, _args: None) -> dict[str, Any]:
    from mm_agent.local.wallets_file import load_wallets

    wallets = load_wallets(ctx.home)  # STATE_CORRUPT for a damaged file
    if not isinstance(wallets, dict) or not wallets.get("mode"):
        raise NotInitialized("No wallet is set up under this MM_HOME.")
    out: dict[str, Any] = {
        "walletMode": wallets["mode"],
        "tradingMode": _active_trading_mode(wallets),
        "address": wallets.get("active"),
        "serviceUrl": ctx.config.service_url if wallets["mode"] == "server-wallet" else None,
    }
    if wallets["mode"] == "server-wallet" and wallets.get("active"):
        # The service holds the truth (a mode change may have been approved since): ask it, and
        # fall back to the cached value, saying so, when it cannot answer.
        from mm_agent.wallets.remote.client import RemoteClient

        try:
            with RemoteClient(ctx.home, ctx.config) as client:
                live = _mode_of(client.get_trading_mode(wallets["active"]))
        except MMError:
            live = None
        if live is not None:
            out["tradingMode"] = live
            _cache_mode(ctx, wallets["active"], live)
        out["tradingModeSource"] = "service" if live is not None else "cache"
    return out


def _cache_mode(ctx: Context, address: str, mode: str) -> None:
    def apply(data: Any) -> Any:
        if isinstance(data, dict):
            for acct in data.get("accounts", []):
                if acct.get("address") == address:
                    acct["tradingMode"] = mode
        return data

    try:
        ctx.home.update_json("wallets.json", {}, apply)
    except MMError:
        pass  # the cache is only a cache
