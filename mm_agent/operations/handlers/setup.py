"""Setup and session operations: doctor, config, reset, init (human-facing)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mm_agent.errors import ConfirmationRequired, InlineSecretRefused

from ..context import Context

_STRICT = ConfigDict(extra="forbid")


class ConfigGetArgs(BaseModel):
    model_config = _STRICT
    key: str | None = Field(None, description="Config key; all keys when omitted.",
                            json_schema_extra={"cli_argument": True})


class ConfigSetArgs(BaseModel):
    model_config = _STRICT
    key: str = Field(description="Config key.", json_schema_extra={"cli_argument": True})
    value: str = Field(description="New value.", json_schema_extra={"cli_argument": True})


class ConfigUnsetArgs(BaseModel):
    model_config = _STRICT
    key: str = Field(description="Config key to remove.", json_schema_extra={"cli_argument": True})


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
    force: bool = Field(
        False, description="Replace an existing (or damaged) wallets.json: it is moved aside "
                           "to wallets.json.bak-<timestamp>, never deleted.")
    mnemonic: str | None = Field(None, description="Refused: use MM_MNEMONIC or the prompt.",
                                 json_schema_extra={"cli_hidden": True})
    password: str | None = Field(None, description="Refused: use MM_PASSWORD or the prompt.",
                                 json_schema_extra={"cli_hidden": True})

    @field_validator("mnemonic", "password", mode="before")
    @classmethod
    def _no_inline_secrets(cls, value: object) -> None:
        _refuse_inline(value)
        return None


def config_get(ctx: Context, args: ConfigGetArgs) -> dict[str, Any]:
    if args.key:
        return {"key": args.key, "value": ctx.config.get(args.key),
                "source": ctx.config.source(args.key)}
    return {"config": ctx.config.all()}


def config_set(ctx: Context, args: ConfigSetArgs) -> dict[str, Any]:
    value = ctx.config.set(args.key, args.value)
    return {"key": args.key, "value": value}


def _reset_warnings(ctx: Context) -> list[str]:
    """What `mm reset` would destroy that cannot be recovered from this machine."""
    from mm_agent.errors import StateError
    from mm_agent.local.wallets_file import load_wallets
    from mm_agent.wallets.byok import vault

    try:
        wallets = load_wallets(ctx.home)
    except StateError:
        return [f"{ctx.home.path('wallets.json')} is damaged and will be deleted; it may hold "
                "the only copy of a mnemonic."]
    if not wallets or wallets.get("mode") != "byok":
        return []
    if vault.is_encrypted(wallets["byok"]["vault"]):
        return ["The encrypted BYOK vault will be deleted: only your written-down mnemonic "
                "can restore these accounts."]
    return ["The BYOK mnemonic is stored UNENCRYPTED here and will be deleted: unless you "
            "wrote it down, these accounts and their funds are lost for good."]


def config_unset(ctx: Context, args: ConfigUnsetArgs) -> dict[str, Any]:
    removed = ctx.config.unset(args.key)
    return {"key": args.key, "removed": removed, "value": ctx.config.get(args.key),
            "source": ctx.config.source(args.key)}


def reset(ctx: Context, args: ResetArgs) -> dict[str, Any]:
    """Delete the state files. A devnet this MM_HOME started is stopped first, so nothing is
    left running that `mm devnet stop` could no longer find (its record is deleted too)."""
    from mm_agent import devnet
    from mm_agent.errors import StateError

    warnings = _reset_warnings(ctx)
    try:
        running = devnet.status(ctx.home)
    except StateError:  # a damaged devnet.json records nothing we could stop
        running = {"running": False}
    if running["running"]:
        warnings.append(f"The devnet on {running['rpcUrl']} (pid {running['pid']}) will be "
                        "stopped.")
    if not args.yes:
        question = "\n".join([*warnings, f"Delete all mm state under {ctx.home.root}?"])
        answer = ctx.confirm(question)
        if answer is None:
            raise ConfirmationRequired("`mm reset` deletes local state; pass --yes to confirm.",
                                       details={"warnings": warnings} if warnings else None)
        if not answer:
            return {"reset": False, "removed": [], "warnings": warnings}
    else:
        for line in warnings:
            ctx.notice(f"warning: {line}")
    out: dict[str, Any] = {"reset": True}
    if running["running"]:
        stopped = devnet.stop(ctx.home)
        out["devnetStopped"] = {"pid": stopped["pid"], "rpcUrl": stopped["rpcUrl"]}
    out["removed"] = ctx.home.reset()
    out["warnings"] = warnings
    return out


def init(ctx: Context, args: InitArgs) -> dict[str, Any]:
    from .setup_flow import run_init

    return run_init(ctx, wallet_mode=args.wallet, trading_mode=args.mode, force=args.force)
