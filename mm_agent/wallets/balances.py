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
                  token_contracts: list[str], prices: Any = None) -> dict[str, Any]:
    """Balances with ``usdValue`` (and ``priceSource``) where a price is known, null otherwise;
    ``totalValue`` sums the priced ones (null when none is). ``prices``: a
    :class:`mm_agent.markets.price.PriceBook` (default: one over ``engine``)."""
    chains_out = []
    priced: list[Any] = []
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
            priced.append((chain_id, info, units, tokens[-1]))
        chains_out.append({"chainId": chain_id, "caip2": chain.caip2, "name": chain.name,
                           "tokens": tokens})
    total = _add_usd_values(engine, priced, prices)
    return {"address": owner, "currency": "USD", "totalValue": total, "chains": chains_out}


def _add_usd_values(engine: Engine, rows: list[Any], prices: Any) -> str | None:
    """Fill ``usdValue``/``priceSource`` in place; an unreachable price source leaves null."""
    from decimal import Decimal, localcontext

    from mm_agent.markets.price import Asset, PriceBook, format_usd

    if not rows:
        return None
    try:
        book = prices if prices is not None else PriceBook(engine)
    except MMError:
        return None
    total: Decimal | None = None
    for chain_id, info, units, row in rows:
        if units == 0:
            row["usdValue"] = "0.00"  # nothing is worth nothing, priced or not
            total = total if total is not None else Decimal(0)
            continue
        try:
            spot = book.spot(Asset(chain_id, info.address, info.symbol, info.decimals))
        except MMError:
            spot = None
        if spot is None:
            continue
        with localcontext() as ctx:
            ctx.prec = 200  # uint256 × price, exact
            value = Decimal(units).scaleb(-info.decimals) * spot.price
            total = value if total is None else total + value
        row["usdValue"] = format_usd(value)
        row["priceSource"] = spot.source
    return None if total is None else format_usd(total)
