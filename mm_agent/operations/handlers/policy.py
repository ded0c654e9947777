"""`mm wallet policy get|set|template` and `mm wallet trading-mode get|set` (server wallet)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.errors import UnsupportedInMode

from ..context import Context
from ..fields import OptionalTimeout

_STRICT = ConfigDict(extra="forbid")
_WAIT = Field(False, description="Block until a change that needs approval is approved, "
              "rejected or times out.")


class PolicySetArgs(BaseModel):
    model_config = _STRICT
    policy: str = Field(description="The complete policy document as YAML (see "
                        "`mm wallet policy template`).")
    wait: bool = _WAIT
    wallet_timeout: OptionalTimeout = None


class TradingModeSetArgs(BaseModel):
    model_config = _STRICT
    mode: Literal["guard", "beast"] = Field(
        description="guard (all guardrails) or beast (threat scan only).",
        json_schema_extra={"cli_argument": True})
    wait: bool = _WAIT
    wallet_timeout: OptionalTimeout = None


def _server_wallet(ctx: Context) -> Any:
    wallet = ctx.wallet
    if wallet.mode != "server-wallet":
        raise UnsupportedInMode("Policies and trading modes belong to server wallets.",
                                hint="BYOK requests are guarded by the threat scan and your "
                                "confirmation on a terminal.")
    return wallet


def policy_get(ctx: Context, _args: None) -> dict[str, Any]:
    return dict(_server_wallet(ctx).policy())


def policy_set(ctx: Context, args: PolicySetArgs) -> dict[str, Any]:
    return _server_wallet(ctx).set_policy(args.policy, wait=args.wait,
                                          wallet_timeout=args.wallet_timeout)


def policy_template(ctx: Context, _args: None) -> dict[str, Any]:
    from mm_agent.security.policy.document import template

    data = ctx.home.read_json("wallets.json")
    address = data.get("active") if isinstance(data, dict) else None
    return {"policy": template(address)}


def trading_mode_get(ctx: Context, _args: None) -> dict[str, Any]:
    return dict(_server_wallet(ctx).trading_mode())


def trading_mode_set(ctx: Context, args: TradingModeSetArgs) -> dict[str, Any]:
    return _server_wallet(ctx).set_trading_mode(args.mode, wait=args.wait,
                                                wallet_timeout=args.wallet_timeout)
