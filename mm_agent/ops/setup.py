"""Setup and session operations: doctor, config, reset, init (human-facing)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..context import Context
from ..errors import ConfirmationRequired, InlineSecretRefused

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
