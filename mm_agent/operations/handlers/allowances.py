"""`mm wallet allowances list|revoke`: token approvals this wallet has granted
(``mm_agent.wallets.allowances``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..context import Context
from ..fields import Address, ChainId, ChainIds, OptionalTimeout

__all__ = ["AllowancesListArgs", "AllowancesRevokeArgs", "allowances_list",
           "allowances_revoke"]

_STRICT = ConfigDict(extra="forbid")


class AllowancesListArgs(BaseModel):
    model_config = _STRICT
    chain_ids: ChainIds = Field(None, description="Chain ids, e.g. [1, 8453] (on the command "
                                "line: 1,8453); default: the devnet if running, else Ethereum, "
                                "Base, Linea.", json_schema_extra={"cli_flags": ["--chain-ids"],
                                                                   "cli_metavar": "IDS"})
    token: str | None = Field(None, description="Only this token (symbol or 0x address).",
                              max_length=64)
    spender: Address | None = Field(None, description="Only this spender.")
    all: bool = Field(False, description="Also list allowances that are now zero.")


class AllowancesRevokeArgs(BaseModel):
    model_config = _STRICT
    chain_id: ChainId = Field(description="Chain id of the token.")
    token: str = Field(description="Token symbol or 0x address.", min_length=1, max_length=64)
    spender: Address = Field(description="The spender whose allowance goes to zero.")
    wait: bool = Field(False, description="Block until the request is final (server wallet); "
                       "BYOK requests always complete before returning.")
    dry_run: bool = Field(False, description="Return the security preview without signing.")
    wallet_timeout: OptionalTimeout = None


def allowances_list(ctx: Context, args: AllowancesListArgs) -> dict[str, Any]:
    from mm_agent.evm.chains import DEFAULT_CHAIN_IDS, DEVNET_CHAIN_ID
    from mm_agent.wallets.allowances import list_allowances

    wallet = ctx.wallet
    chains = args.chain_ids or ([DEVNET_CHAIN_ID] if wallet.engine.devnet()  # type: ignore[attr-defined]
                                else list(DEFAULT_CHAIN_IDS))
    return list_allowances(wallet, chains, token=args.token, spender=args.spender,
                           include_zero=args.all)


def allowances_revoke(ctx: Context, args: AllowancesRevokeArgs) -> dict[str, Any]:
    from mm_agent.wallets.allowances import revoke_allowance

    from .wallet import request_result

    with ctx.progress("Revoking"):
        out = revoke_allowance(ctx.wallet, chain_id=args.chain_id, token=args.token,
                               spender=args.spender, wait=args.wait, dry_run=args.dry_run,
                               wallet_timeout=args.wallet_timeout)
    if isinstance(out, dict):
        return out
    return request_result(out)


# --- results (MCP outputSchema) ------------------------------------------------------------------
class AllowanceRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    chain_id: int = Field(alias="chainId", description="Chain id.")
    token: str = Field(description="Token contract.")
    spender: str = Field(description="Who may spend it.")
    allowance: str = Field(description="Current allowance, base units.")
    unlimited: bool = Field(description="An (effectively) unlimited approval.")


class AllowanceList(BaseModel):
    model_config = ConfigDict(extra="allow")
    owner: str = Field(description="The account that granted them.")
    allowances: list[AllowanceRow] = Field(description="Current non-zero allowances.")
    warnings: list[str] = Field(description="What could not be read or was not searched.")
