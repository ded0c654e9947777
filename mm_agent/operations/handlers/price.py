"""`mm price spot|history` (contract §10): USD prices, each with its ``source``
(``mm_agent.markets.price``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..context import Context

__all__ = ["PriceHistoryArgs", "PriceSpotArgs", "price_history", "price_spot"]

_STRICT = ConfigDict(extra="forbid")
_VS = Field("usd", description="Quote currency (usd only).", max_length=8)


class PriceSpotArgs(BaseModel):
    model_config = _STRICT
    asset_ids: str = Field(description="CAIP-19 asset ids, comma-separated: "
                           "eip155:1/slip44:60 (native) or eip155:1/erc20:0x… (token).",
                           min_length=1, max_length=2000)
    vs: str = _VS


class PriceHistoryArgs(BaseModel):
    model_config = _STRICT
    chain_id: str = Field(description="CAIP-2 chain id (eip155:1) or a chain id (1).",
                          min_length=1, max_length=32)
    asset_type: str = Field(description="The CAIP-19 asset type: slip44:60 or erc20:0x….",
                            min_length=1, max_length=80)
    time_period: str | None = Field(None, description="Lookback: 1d, 7d, 30d, 2M, 1y or 3y "
                                    "(default 1d); not with --from/--to.", max_length=4)
    interval: str | None = Field(None, description="Sampling: 5m, hourly or daily (default: "
                                 "every point).", max_length=8)
    start: int | None = Field(None, description="Range start, Unix seconds (with --to).",
                              json_schema_extra={"cli_flags": ["--from"]})
    end: int | None = Field(None, description="Range end, Unix seconds (with --from).",
                            json_schema_extra={"cli_flags": ["--to"]})
    vs: str = _VS


def price_spot(ctx: Context, args: PriceSpotArgs) -> dict[str, Any]:
    from mm_agent.markets.price import PriceBook, check_vs, parse_asset_id
    from mm_agent.security.pipeline import Engine

    vs = check_vs(args.vs)
    ids = [a.strip() for a in args.asset_ids.split(",") if a.strip()]
    if not ids:
        from mm_agent.errors import InvalidAssetId

        raise InvalidAssetId("--asset-ids is empty.")
    parsed = [(a, *parse_asset_id(a)) for a in ids]  # every id checked before any lookup
    book = PriceBook(Engine(ctx.home, ctx.config))
    rows = []
    for asset_id, chain_id, address in parsed:
        asset = book.asset(chain_id, address)
        spot = book.spot(asset)
        if spot is None:
            rows.append({"assetId": asset_id, "vsCurrency": vs, "price": None, "source": None,
                         "symbol": asset.symbol, "chainId": chain_id,
                         "error": "No price source knows this asset."})
        else:
            rows.append({**spot.to_dict(), "assetId": asset_id})
    return {"vsCurrency": vs, "includeMarketData": False, "prices": rows}


def price_history(ctx: Context, args: PriceHistoryArgs) -> dict[str, Any]:
    from mm_agent.markets.price import PriceBook, check_vs
    from mm_agent.markets.price import price_history as history
    from mm_agent.security.pipeline import Engine

    check_vs(args.vs)
    chain = args.chain_id.strip()
    caip2 = chain if chain.startswith("eip155:") else f"eip155:{chain}"
    book = PriceBook(Engine(ctx.home, ctx.config))
    asset = book.asset_by_id(f"{caip2}/{args.asset_type.strip()}")
    return history(book, asset, time_period=args.time_period, start=args.start, end=args.end,
                   interval=args.interval)


# --- results (MCP outputSchema) ------------------------------------------------------------------
class SpotRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    asset_id: str = Field(alias="assetId", description="CAIP-19 asset id.")
    price: str | None = Field(description="USD per whole unit, or null when unknown.")
    source: str | None = Field(description="static, chainlink, devnet-pool or devnet-static.")


class PriceSpotResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    vs_currency: str = Field(alias="vsCurrency", description="Quote currency (usd).")
    prices: list[SpotRow] = Field(description="One row per asset id, in order.")


class PriceHistoryResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    chain_id: str = Field(alias="chainId", description="CAIP-2 chain id.")
    asset_type: str = Field(alias="assetType", description="CAIP-19 asset type.")
    source: str = Field(description="chainlink or devnet-pool.")
    prices: list[list[Any]] = Field(description="[millisecond timestamp, price] rows.")
    feed: str | None = Field(None, description="chainlink: the feed (proxy) address read.")
    truncated: bool | None = Field(None, description="chainlink: true when the walk back "
                                   "through the feed's rounds stopped before the window's "
                                   "start (read budget, or an unreadable earlier phase).")
