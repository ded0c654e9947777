"""`mm swap quote|execute|status` (contract §10): same-chain Uniswap swaps through the wallet's
pipeline (``mm_agent.markets.swap``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..context import Context
from ..fields import Address, Amount, ChainId, OptionalTimeout

__all__ = ["SwapExecuteArgs", "SwapQuoteArgs", "SwapStatusArgs", "swap_execute", "swap_quote",
           "swap_status"]

_STRICT = ConfigDict(extra="forbid")
_QUOTE_ID = Field(description="quoteId returned by `swap quote`.", min_length=1, max_length=80)


class SwapQuoteArgs(BaseModel):
    model_config = _STRICT
    from_token: str = Field(description="Token to sell: the native symbol (ETH), a token "
                            "symbol or a 0x address.", min_length=1, max_length=64,
                            json_schema_extra={"cli_flags": ["--from"]})
    to_token: str = Field(description="Token to buy: symbol or 0x address.", min_length=1,
                          max_length=64, json_schema_extra={"cli_flags": ["--to"]})
    amount: Amount = Field(description="Human decimal amount to sell, e.g. '0.5'.")
    from_chain: ChainId = Field(description="Chain id of the swap, e.g. 1 or 31337.")
    to_chain: ChainId | None = Field(None, description="Destination chain; must equal "
                                     "--from-chain (cross-chain is BRIDGE_UNSUPPORTED).")
    to_address: Address | None = Field(None, description="Recipient for cross-chain swaps "
                                       "(unsupported); a swap pays this wallet.")
    slippage: str | None = Field(None, description="Maximum slippage in percent, 0-100 "
                                 "(default 0.5).", max_length=8)


class SwapExecuteArgs(BaseModel):
    model_config = _STRICT
    quote_id: str = _QUOTE_ID
    wait: bool = Field(False, description="Block until the swap is final (server wallet); "
                       "BYOK swaps always complete before returning. Approvals are always "
                       "waited for (up to --wallet-timeout) before the swap is sent; an "
                       "APPROVAL_PENDING quote may be executed again after it expired (the pool "
                       "is re-read first: SWAP_PRICE_MOVED below its minimum).")
    wallet_timeout: OptionalTimeout = None


class SwapStatusArgs(BaseModel):
    model_config = _STRICT
    quote_id: str = _QUOTE_ID


def _service(ctx: Context) -> Any:
    from mm_agent.markets.swap import SwapService

    return SwapService(ctx.wallet)


def swap_quote(ctx: Context, args: SwapQuoteArgs) -> dict[str, Any]:
    with ctx.progress("Quoting"):
        return _service(ctx).quote(  # type: ignore[no-any-return]
            from_token=args.from_token, to_token=args.to_token, amount=args.amount,
            from_chain=args.from_chain, to_chain=args.to_chain, to_address=args.to_address,
            slippage=args.slippage)


def swap_execute(ctx: Context, args: SwapExecuteArgs) -> dict[str, Any]:
    with ctx.progress("Swapping"):
        return _service(ctx).execute(  # type: ignore[no-any-return]
            args.quote_id, wait=args.wait, wallet_timeout=args.wallet_timeout)


def swap_status(ctx: Context, args: SwapStatusArgs) -> dict[str, Any]:
    return _service(ctx).status(args.quote_id)  # type: ignore[no-any-return]


# --- results (MCP outputSchema) ------------------------------------------------------------------
class SwapAsset(BaseModel):
    model_config = ConfigDict(extra="allow")
    chain_id: int = Field(alias="chainId", description="Chain id.")
    symbol: str = Field(description="Token symbol.")
    address: str | None = Field(None, description="Token contract (null: the native coin).")
    decimals: int = Field(description="Decimals of the base units.")


class SwapQuoteResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    quote_id: str = Field(alias="quoteId", description="Id for `swap execute` / `swap status`.")
    status: str = Field(description="QUOTED, EXPIRED, APPROVAL_PENDING, SUBMITTED, COMPLETED "
                        "or FAILED.")
    src_asset: SwapAsset = Field(alias="srcAsset", description="Token sold.")
    dest_asset: SwapAsset = Field(alias="destAsset", description="Token bought.")
    src_asset_amount: str = Field(alias="srcAssetAmount", description="Amount sold, base "
                                  "units.")
    dest_asset_amount: str = Field(alias="destAssetAmount", description="Expected output, "
                                   "base units of destAsset.")
    min_dest_asset_amount: str = Field(alias="minDestAssetAmount", description="Least the "
                                       "swap may return (slippage), base units.")
    price_impact: str = Field(alias="priceImpact", description="Price impact in percent.")
    slippage: str = Field(description="Slippage tolerance in percent.")
    protocols: list[str] = Field(description="Venues used (uniswap-v2, uniswap-v3).")
    warnings: list[str] = Field(description="Things to tell the user (high impact...).")
    expires_at: str = Field(alias="expiresAt", description="When the quote expires (UTC).")
    approval: dict[str, Any] | None = Field(None, description="The exact approval execute "
                                            "will sign first, if any.")
    tx_hash: str | None = Field(None, alias="txHash", description="The swap's transaction.")
    received: str | None = Field(None, description="What the swap paid, base units.")
