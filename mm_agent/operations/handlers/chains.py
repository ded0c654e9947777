"""Chain registry operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_agent.evm.chains import CHAINS, DEFAULT_CHAIN_IDS, DEVNET_CHAIN_ID

if TYPE_CHECKING:
    from ..context import Context


def chains_list(ctx: Context, _args: None) -> dict[str, Any]:
    devnet = ctx.home.read_json("devnet.json")
    selected = set(DEFAULT_CHAIN_IDS) | ({DEVNET_CHAIN_ID} if devnet else set())
    return {
        "chains": [
            {
                "chainId": c.chain_id,
                "caip2": c.caip2,
                "name": c.name,
                "nativeSymbol": c.native_symbol,
                "testnet": c.testnet,
                "selected": c.chain_id in selected,
            }
            for c in CHAINS.values()
        ]
    }
