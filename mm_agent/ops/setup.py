"""Setup and session operations: doctor, config, reset, init (human-facing)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import __version__
from ..context import Context
from ..errors import ConfirmationRequired, InlineSecretRefused, NotInitialized

_STRICT = ConfigDict(extra="forbid")


class ConfigGetArgs(BaseModel):
    model_config = _STRICT
    key: str | None = Field(None, description="Config key; all keys when omitted.",
                            json_schema_extra={"cli_argument": True})


class ConfigSetArgs(BaseModel):
    model_config = _STRICT
    key: str = Field(description="Config key.", json_schema_extra={"cli_argument": True})
    value: str = Field(description="New value.", json_schema_extra={"cli_argument": True})


class ResetArgs(BaseModel):
    model_config = _STRICT
    yes: bool = Field(False, description="Do not ask for confirmation.",
                      json_schema_extra={"cli_flags": ["--yes", "-y"]})


def _refuse_inline(value: object) -> None:
    if value is not None:
        # Never echo the value: it is a secret typed where it should not have been.
        raise InlineSecretRefused("Secrets are not accepted as command-line flags.")


class InitArgs(BaseModel):
    model_config = _STRICT
    wallet: Literal["server-wallet", "byok"] | None = Field(
        None, description="Wallet mode: server-wallet (keys in the wallet service) or byok.")
    mode: Literal["guard", "beast"] | None = Field(
        None, description="Trading mode of a server wallet.")
    mnemonic: str | None = Field(None, description="Refused: use MM_MNEMONIC or the prompt.",
                                 json_schema_extra={"cli_hidden": True})
    password: str | None = Field(None, description="Refused: use MM_PASSWORD or the prompt.",
                                 json_schema_extra={"cli_hidden": True})

    @field_validator("mnemonic", "password", mode="before")
    @classmethod
    def _no_inline_secrets(cls, value: object) -> None:
        _refuse_inline(value)
        return None


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


def config_get(ctx: Context, args: ConfigGetArgs) -> dict[str, Any]:
    if args.key:
        return {"key": args.key, "value": ctx.config.get(args.key),
                "source": ctx.config.source(args.key)}
    return {"config": ctx.config.all()}


def config_set(ctx: Context, args: ConfigSetArgs) -> dict[str, Any]:
    value = ctx.config.set(args.key, args.value)
    return {"key": args.key, "value": value}


def reset(ctx: Context, args: ResetArgs) -> dict[str, Any]:
    if not args.yes:
        answer = ctx.confirm(f"Delete all mm state under {ctx.home.root}?")
        if answer is None:
            raise ConfirmationRequired("`mm reset` deletes local state; pass --yes to confirm.")
        if not answer:
            return {"reset": False, "removed": []}
    return {"reset": True, "removed": ctx.home.reset()}


def init(ctx: Context, args: InitArgs) -> dict[str, Any]:
    from ..setup_flow import run_init

    return run_init(ctx, wallet_mode=args.wallet, trading_mode=args.mode)


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
