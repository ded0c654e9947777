"""Uniswap V2 quotes, exact to the wei (the pair's constant-product formula with its 0.3 % fee).

``amount_out`` is ``UniswapV2Library.getAmountOut``: a swap of that size through the router
receives exactly this amount when the reserves are the ones quoted. Reserves come from the
pair's ``getReserves()`` (see :func:`mm_agent.markets.devnet_deploy.pair_reserves`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mm_agent.errors import InvalidAmount

__all__ = ["FEE_DENOMINATOR", "FEE_NUMERATOR", "Quote", "amount_in", "amount_out",
           "amounts_out", "min_amount_out", "price_impact", "quote_path"]

# 0.3 % fee: 997/1000 of the input is swapped.
FEE_NUMERATOR = 997
FEE_DENOMINATOR = 1000


def _check(amount: int, reserve_in: int, reserve_out: int) -> None:
    if amount <= 0:
        raise InvalidAmount("The amount must be greater than zero.")
    if reserve_in <= 0 or reserve_out <= 0:
        raise InvalidAmount("The pool has no liquidity.")


def amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    _check(amount_in, reserve_in, reserve_out)
    with_fee = amount_in * FEE_NUMERATOR
    return with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR + with_fee)


def amount_in(amount_out_: int, reserve_in: int, reserve_out: int) -> int:
    """The input needed to receive ``amount_out_`` (``getAmountIn``: rounds up by one)."""
    _check(amount_out_, reserve_in, reserve_out)
    if amount_out_ >= reserve_out:
        raise InvalidAmount("The pool does not hold that much.")
    numerator = reserve_in * amount_out_ * FEE_DENOMINATOR
    denominator = (reserve_out - amount_out_) * FEE_NUMERATOR
    return numerator // denominator + 1


def amounts_out(amount: int, reserves: list[tuple[int, int]]) -> list[int]:
    """``getAmountsOut`` along a path given each hop's (reserve_in, reserve_out)."""
    out = [amount]
    for reserve_in, reserve_out in reserves:
        out.append(amount_out(out[-1], reserve_in, reserve_out))
    return out


def price_impact(amount_in_: int, amount_out_: int, reserve_in: int, reserve_out: int) -> Decimal:
    """How much worse than the pool's mid price the trade executes (0.01 = 1 %), fee included.

    Mid price: ``reserve_out / reserve_in``; execution price: ``amount_out / amount_in``.
    """
    _check(amount_in_, reserve_in, reserve_out)
    mid = Decimal(reserve_out) / Decimal(reserve_in)
    execution = Decimal(amount_out_) / Decimal(amount_in_)
    return max(Decimal(0), 1 - execution / mid)


def min_amount_out(amount: int, slippage_bps: int) -> int:
    """The least the swap may return for a slippage tolerance in basis points (50 = 0.5 %)."""
    if not 0 <= slippage_bps <= 10_000:
        raise InvalidAmount("Slippage must be between 0 and 100 %.")
    return amount * (10_000 - slippage_bps) // 10_000


@dataclass(frozen=True)
class Quote:
    amount_in: int
    amount_out: int
    min_amount_out: int
    price_impact: Decimal
    amounts: tuple[int, ...]


def quote_path(amount: int, reserves: list[tuple[int, int]], slippage_bps: int = 50) -> Quote:
    """A quote along a path: the per-hop amounts, the output, its minimum and the price impact
    (each hop's impact compounded)."""
    amounts = amounts_out(amount, reserves)
    keep = Decimal(1)
    for (r_in, r_out), a_in, a_out in zip(reserves, amounts, amounts[1:], strict=False):
        keep *= 1 - price_impact(a_in, a_out, r_in, r_out)
    return Quote(amount_in=amount, amount_out=amounts[-1],
                 min_amount_out=min_amount_out(amounts[-1], slippage_bps),
                 price_impact=1 - keep, amounts=tuple(amounts))
