"""Where and how a swap trades: the Uniswap venues, their addresses, the best route for an
amount, and the router call that executes it. Chain reads only; records, expiry and signing are
``markets/swap.py``'s.

- **Uniswap V2 on the devnet** (:func:`route_v2`): the markets deployment's router, WETH9 and
  pools (``devnet.json["markets"]``); the shortest pool path (at most three hops), quoted with
  ``getAmountOut`` over the pools' reserves (``markets/amm.py``), exact to the wei.
- **Uniswap V3 on real chains** (:func:`route_v3`): QuoterV2 (``quoteExactInputSingle`` over
  the fee tiers) and SwapRouter02 (``exactInputSingle`` inside ``multicall(deadline, …)``),
  at the addresses of Uniswap's deployment pages (:data:`V3_DEPLOYMENTS`). Before a quote,
  each address must hold code and the quoter and router must be built on the table's factory
  and WETH (their ``factory()``/``WETH9()`` immutables): pools are looked up on that factory,
  so the pool quoted is the pool the router trades in. ``SWAP_PROTOCOL_UNAVAILABLE`` otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mm_agent.errors import (
    AmountTooHigh,
    InvalidAmount,
    MMError,
    NoQuotes,
    SwapError,
    SwapProtocolUnavailable,
)
from mm_agent.evm.addresses import to_checksum_address
from mm_agent.evm.chains import DEVNET_CHAIN_ID
from mm_agent.evm.tokens import TokenInfo

from . import amm

if TYPE_CHECKING:
    from mm_agent.evm.rpc import RpcClient

__all__ = [
    "ADDRESS_THIS",
    "V3_DEPLOYMENTS",
    "V3_FEES",
    "Route",
    "V3Deployment",
    "call_data",
    "decode_reply",
    "route_v2",
    "route_v3",
    "swap_transaction",
]

V3_FEES = (100, 500, 3000, 10000)
ADDRESS_THIS = "0x0000000000000000000000000000000000000002"  # SwapRouter02's "the router"
_ZERO_CODE = (None, "", "0x", "0x0")


@dataclass(frozen=True)
class V3Deployment:
    factory: str
    quoter_v2: str
    swap_router02: str
    weth: str


# Uniswap's v3 deployment pages (docs.uniswap.org/contracts/v3/reference/deployments/…):
# Ethereum, Arbitrum, Optimism, Polygon share the factory, QuoterV2 and SwapRouter02 addresses;
# Base has its own. Checked (code, immutables) before every quote.
_V3_SHARED = ("0x1F98431c8aD98523631AE4a59f267346ea31F984",
              "0x61fFE014bA17989E743c5F6cB21bF9697530B21e",
              "0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45")
V3_DEPLOYMENTS: dict[int, V3Deployment] = {
    1: V3Deployment(*_V3_SHARED, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
    42161: V3Deployment(*_V3_SHARED, "0x82aF49447D8a07e3bd95BD0d56f35241523fBab1"),
    10: V3Deployment(*_V3_SHARED, "0x4200000000000000000000000000000000000006"),
    137: V3Deployment(*_V3_SHARED, "0x0d500B1d8E8eF31E21C99d1Db9A6444d3ADf1270"),  # WPOL
    8453: V3Deployment("0x33128a8fC17869897dcE68Ed026d694621f6FDfD",
                       "0x3d4e44Eb1374240CE5F1B871ab261CD16335B76a",
                       "0x2626664c2603336E57B271c5C0b26F421741e481",
                       "0x4200000000000000000000000000000000000006"),
}


@dataclass
class Route:
    venue: str  # "uniswap-v2" | "uniswap-v3"
    router: str
    path: list[str]  # token addresses (WETH for the native coin)
    amount_in: int
    amount_out: int
    price_impact: Decimal  # fraction
    fee: int | None = None  # V3 fee tier
    pools: list[str] | None = None


def _selector(signature: str) -> str:
    from mm_agent.evm.signatures import keccak256

    return "0x" + keccak256(signature.encode())[:4].hex()


def call_data(signature: str, types: list[str], args: list[Any]) -> str:
    """``0x`` selector ‖ ABI-encoded arguments."""
    from eth_abi import encode

    return _selector(signature) + encode(types, args).hex()


def decode_reply(types: list[str], raw: Any) -> Any:
    """An ``eth_call`` result as ``types``; ``SWAP_ERROR`` for a short or odd reply."""
    from eth_abi import decode

    if not isinstance(raw, str) or not raw.startswith("0x") or len(raw) < 2 + 64 * len(types):
        raise SwapError(f"Unexpected eth_call reply {str(raw)[:80]!r}.")
    return decode(types, bytes.fromhex(raw[2:]))


def _call(to: str, signature: str, types: list[str] | None = None,
          args: list[Any] | None = None) -> tuple[str, list[Any]]:
    return ("eth_call", [{"to": to, "data": call_data(signature, types or [], args or [])},
                         "latest"])


def _require_code(rpc: RpcClient, chain_id: int, contracts: Mapping[str, str]) -> None:
    codes = rpc.batch([("eth_getCode", [a, "latest"]) for a in contracts.values()])
    missing = [f"{name} {addr}" for (name, addr), code in zip(contracts.items(), codes,
                                                               strict=True)
               if code in _ZERO_CODE]
    if missing:
        raise SwapProtocolUnavailable(
            f"No contract code at {', '.join(missing)} on chain {chain_id}: refusing to "
            "quote or swap there.",
            hint="The address table does not match this chain (check the RPC URL).")


# --- Uniswap V2 (devnet) -------------------------------------------------------------------------
def route_v2(rpc: RpcClient, markets: Mapping[str, Any], src: TokenInfo, dst: TokenInfo,
             amount_in: int) -> Route:
    """The shortest pool path of the devnet markets deployment, quoted over live reserves."""
    contracts = markets["contracts"]
    router, weth = str(contracts["UniswapV2Router02"]), str(contracts["WETH9"])
    _require_code(rpc, DEVNET_CHAIN_ID, {"UniswapV2Router02": router, "WETH9": weth})
    a, b = (src.address or weth).lower(), (dst.address or weth).lower()
    edges: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for p in markets.get("pools") or []:
        if isinstance(p, dict):
            t0, t1 = str(p["token0"]).lower(), str(p["token1"]).lower()
            edges.setdefault(t0, []).append((t1, p))
            edges.setdefault(t1, []).append((t0, p))
    found = _shortest_path(edges, a, b)
    if not found:
        raise NoQuotes(f"No devnet pool path from {src.symbol} to {dst.symbol}.")
    hops = list(itertools.pairwise(found))
    raw = rpc.batch([_call(str(pool["pair"]), "getReserves()") for (_, _), (_, pool) in hops
                     if pool is not None])
    reserves = []
    for ((tin, _), (_, pool)), reply in zip(hops, raw, strict=True):
        assert pool is not None
        r0, r1, _ts = decode_reply(["uint112", "uint112", "uint32"], reply)
        reserves.append((int(r0), int(r1)) if tin == str(pool["token0"]).lower()
                        else (int(r1), int(r0)))
    try:
        quote = amm.quote_path(amount_in, reserves, 0)
    except InvalidAmount as exc:
        raise AmountTooHigh(str(exc)) from exc
    if quote.amount_out <= 0 or quote.amount_out >= reserves[-1][1]:
        raise AmountTooHigh(f"{src.symbol} → {dst.symbol}: the pools cannot fill this amount.")
    return Route("uniswap-v2", to_checksum_address(router),
                 [to_checksum_address(t) for t, _ in found], amount_in, quote.amount_out,
                 quote.price_impact,
                 pools=[to_checksum_address(str(p["pair"])) for _, p in found[1:] if p])


def _shortest_path(edges: Mapping[str, list[tuple[str, dict[str, Any]]]], a: str, b: str,
                   ) -> list[tuple[str, dict[str, Any] | None]] | None:
    """Breadth-first search over the pools, at most three hops: [(token, pool reaching it)]."""
    frontier: list[list[tuple[str, dict[str, Any] | None]]] = [[(a, None)]]
    for _ in range(3):
        nxt = []
        for path in frontier:
            for token, pool in edges.get(path[-1][0], []):
                if any(token == t for t, _ in path):
                    continue
                candidate = [*path, (token, pool)]
                if token == b:
                    return candidate
                nxt.append(candidate)
        frontier = nxt
    return None


# --- Uniswap V3 (real chains) --------------------------------------------------------------------
def route_v3(rpc: RpcClient, chain_id: int, dep: V3Deployment, src: TokenInfo, dst: TokenInfo,
             amount_in: int) -> Route:
    """QuoterV2's best single-pool quote over the fee tiers."""
    _require_code(rpc, chain_id, {"UniswapV3Factory": dep.factory, "QuoterV2": dep.quoter_v2,
                                 "SwapRouter02": dep.swap_router02})
    tin, tout = src.address or dep.weth, dst.address or dep.weth
    wiring = [_call(a, sig) for a in (dep.quoter_v2, dep.swap_router02)
              for sig in ("factory()", "WETH9()")]
    pools = [_call(dep.factory, "getPool(address,address,uint24)",
                   ["address", "address", "uint24"], [tin, tout, fee]) for fee in V3_FEES]
    try:
        replies = rpc.batch([*wiring, *pools])
        built_on = {str(decode_reply(["address"], r)[0]).lower() for r in replies[:4]}
    except MMError as exc:
        raise SwapProtocolUnavailable(
            f"The QuoterV2/SwapRouter02 on chain {chain_id} do not answer factory()/WETH9(): "
            f"refusing to quote or swap there ({exc.message}).") from exc
    if built_on != {dep.factory.lower(), dep.weth.lower()}:
        # The router would trade in another factory's pools than the ones quoted here.
        raise SwapProtocolUnavailable(
            f"The QuoterV2/SwapRouter02 on chain {chain_id} are not built on the factory "
            f"{dep.factory} and WETH {dep.weth}: refusing to quote or swap there.",
            hint="The address table does not match this chain (check the RPC URL).")
    best: tuple[int, int, str] | None = None
    for fee, raw in zip(V3_FEES, replies[4:], strict=True):
        pool = decode_reply(["address"], raw)[0]
        if int(pool, 16) == 0:
            continue
        try:
            out = rpc.call(*_call(dep.quoter_v2, "quoteExactInputSingle((address,address,"
                                  "uint256,uint24,uint160))",
                                  ["(address,address,uint256,uint24,uint160)"],
                                  [(tin, tout, amount_in, fee, 0)]))
        except MMError:
            continue  # the quoter reverts for a pool without liquidity at that size
        amount_out = int(decode_reply(["uint256", "uint160", "uint32", "uint256"], out)[0])
        if best is None or amount_out > best[0]:
            best = (amount_out, fee, to_checksum_address(pool))
    if best is None or best[0] <= 0:
        raise NoQuotes(f"No Uniswap V3 pool quotes {src.symbol} → {dst.symbol} on chain "
                       f"{chain_id}.")
    amount_out, fee, pool = best
    slot0, token0 = rpc.batch([_call(pool, "slot0()"), _call(pool, "token0()")])
    sqrt_price = int(decode_reply(["uint160"], slot0)[0])
    mid = Decimal(sqrt_price) ** 2 / Decimal(2**192)  # token1 per token0, base units
    if str(decode_reply(["address"], token0)[0]).lower() != tin.lower():
        mid = 1 / mid if mid else Decimal(0)
    execution = Decimal(amount_out) / Decimal(amount_in)
    impact = max(Decimal(0), 1 - execution / mid) if mid else Decimal(0)
    return Route("uniswap-v3", to_checksum_address(dep.swap_router02),
                 [to_checksum_address(tin), to_checksum_address(tout)], amount_in, amount_out,
                 impact, fee=fee, pools=[pool])


# --- the router call -----------------------------------------------------------------------------
def swap_transaction(route: Route, src: TokenInfo, dst: TokenInfo, owner: str, amount_in: int,
                     min_out: int, deadline: int) -> dict[str, Any]:
    """``{to, value, data}`` of the router call: exact input, at least ``min_out`` to
    ``owner``, reverting after ``deadline`` (both enforced on chain by the router)."""
    value = amount_in if src.address is None else 0
    if route.venue == "uniswap-v2":
        if src.address is None:
            data = call_data("swapExactETHForTokens(uint256,address[],address,uint256)",
                             ["uint256", "address[]", "address", "uint256"],
                             [min_out, route.path, owner, deadline])
        elif dst.address is None:
            data = call_data("swapExactTokensForETH(uint256,uint256,address[],address,uint256)",
                             ["uint256", "uint256", "address[]", "address", "uint256"],
                             [amount_in, min_out, route.path, owner, deadline])
        else:
            data = call_data(
                "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
                ["uint256", "uint256", "address[]", "address", "uint256"],
                [amount_in, min_out, route.path, owner, deadline])
        return {"to": route.router, "value": hex(value), "data": data}
    # SwapRouter02: exactInputSingle inside multicall(deadline, calls); for the native coin out
    # the router keeps the WETH (ADDRESS_THIS) and unwrapWETH9 pays the owner.
    recipient = ADDRESS_THIS if dst.address is None else owner
    calls = [bytes.fromhex(call_data(
        "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))",
        ["(address,address,uint24,address,uint256,uint256,uint160)"],
        [(route.path[0], route.path[1], int(route.fee or 0), recipient, amount_in, min_out,
          0)])[2:])]
    if dst.address is None:
        calls.append(bytes.fromhex(call_data("unwrapWETH9(uint256,address)",
                                             ["uint256", "address"], [min_out, owner])[2:]))
    data = call_data("multicall(uint256,bytes[])", ["uint256", "bytes[]"], [deadline, calls])
    return {"to": route.router, "value": hex(value), "data": data}
