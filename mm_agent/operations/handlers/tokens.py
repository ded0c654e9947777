"""`mm token list [--chain]` and `mm token list search --query`: the tokens known by symbol.

The reference CLI's `mm token list search|popular|…` query MetaMask's Token API; we have no such
service, so these list what this wallet resolves by symbol without a network call: each chain's
native coin, the curated ERC-20s of ``chains.py`` and, on the devnet, the deployed demo tokens.
That is exactly the set `--token SYMBOL` accepts, which is what UNKNOWN_TOKEN points users to.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mm_agent.evm.chains import CHAINS, DEVNET_CHAIN_ID, get_chain, tokens_for

from ..context import Context
from ..fields import ChainIds

__all__ = ["TokenListArgs", "TokenSearchArgs", "token_list", "token_search"]

_STRICT = ConfigDict(extra="forbid")
_CHAIN = Field(None, description="Comma-separated chain ids, e.g. '1,8453' (default: every "
               "supported chain).", json_schema_extra={"cli_flags": ["--chain", "--chain-id"],
                                                       "cli_metavar": "IDS"})


class TokenListArgs(BaseModel):
    model_config = _STRICT
    chain: ChainIds = _CHAIN


class TokenSearchArgs(BaseModel):
    model_config = _STRICT
    query: str = Field(description="Part of a symbol or name, e.g. 'USDC' or 'Wrapped'.",
                       min_length=1, max_length=64)
    chain: ChainIds = _CHAIN


def _rows(ctx: Context, chain_ids: list[int] | None) -> list[dict[str, Any]]:
    devnet = ctx.home.read_json("devnet.json")
    rows: list[dict[str, Any]] = []
    for chain_id in chain_ids or list(CHAINS):
        chain = get_chain(chain_id)  # UNSUPPORTED_CHAIN for an unknown id
        if chain_id == DEVNET_CHAIN_ID and not devnet and chain_ids is None:
            continue  # no devnet running: nothing to list there unless asked
        native = chain.native
        rows.append({"symbol": native.symbol, "name": native.name, "address": None,
                     "decimals": native.decimals, "chainId": chain_id, "caip2": chain.caip2,
                     "native": True})
        for t in tokens_for(chain_id, devnet if isinstance(devnet, dict) else None):
            rows.append({"symbol": t.symbol, "name": t.name, "address": t.address,
                         "decimals": t.decimals, "chainId": chain_id, "caip2": chain.caip2,
                         "native": False})
    return rows


def token_list(ctx: Context, args: TokenListArgs) -> dict[str, Any]:
    return {"tokens": _rows(ctx, args.chain)}


def token_search(ctx: Context, args: TokenSearchArgs) -> dict[str, Any]:
    needle = args.query.strip().lower()
    found = [r for r in _rows(ctx, args.chain)
             if needle in r["symbol"].lower() or needle in (r["name"] or "").lower()]
    return {"query": args.query, "tokens": found}
