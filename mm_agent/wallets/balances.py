"""`mm wallet balance`: native and ERC-20 balances across chains, batched per chain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_agent.errors import MMError
from mm_agent.evm.addresses import validate_address
from mm_agent.evm.amounts import format_units
from mm_agent.evm.chains import get_chain, tokens_for
from mm_agent.evm.rpc import hex_to_int
from mm_agent.evm.tokens import SEL_BALANCE_OF, TokenInfo, encode_call, read_token

if TYPE_CHECKING:
    from mm_agent.security.pipeline import Engine

__all__ = ["read_balances"]


def _chain_tokens(engine: Engine, chain_id: int, token: str | None,
                  contracts: list[str]) -> list[TokenInfo]:
    chain = get_chain(chain_id)
    rpc = engine.rpc(chain_id)
    if token:
        return [engine.asset(chain_id, token)]
    infos = [TokenInfo(None, chain.native_symbol, chain.native_decimals)]
    infos += [TokenInfo(t.address, t.symbol, t.decimals)
              for t in tokens_for(chain_id, engine.devnet())]
    for address in contracts:
        info = read_token(rpc, chain_id, validate_address(address, field="tokenContracts"))
        if all((i.address or "").lower() != info.address.lower() for i in infos if info.address):
            infos.append(info)
    return infos


def read_balances(engine: Engine, owner: str, chain_ids: list[int], *, token: str | None,
                  token_contracts: list[str]) -> dict[str, Any]:
    chains_out = []
    for chain_id in chain_ids:
        chain = get_chain(chain_id)
        infos = _chain_tokens(engine, chain_id, token, token_contracts)
        calls: list[tuple[str, list[Any]]] = []
        for info in infos:
            if info.address is None:
                calls.append(("eth_getBalance", [owner, "latest"]))
            else:
                data = encode_call(SEL_BALANCE_OF, ["address"], [owner])
                calls.append(("eth_call", [{"to": info.address, "data": data}, "latest"]))
        try:
            results = engine.rpc(chain_id).batch(calls)
        except MMError as exc:
            chains_out.append({"chainId": chain_id, "caip2": chain.caip2, "name": chain.name,
                               "tokens": [], "error": {"code": exc.code,
                                                       "message": exc.message}})
            continue
        tokens = []
        for info, raw in zip(infos, results, strict=True):
            units = hex_to_int(raw) if raw and raw != "0x" else 0
            tokens.append({"symbol": info.symbol, "address": info.address,
                           "decimals": info.decimals, "amount": format_units(units, info.decimals),
                           "rawAmount": str(units), "usdValue": None})
        chains_out.append({"chainId": chain_id, "caip2": chain.caip2, "name": chain.name,
                           "tokens": tokens})
    return {"address": owner, "currency": "USD", "totalValue": None, "chains": chains_out}
