"""EIP-1559 fee estimation from ``eth_feeHistory`` percentiles.

The tip is the median of recent blocks' 50th-percentile rewards (floored so an idle chain such
as a devnet still gets a positive tip); the fee cap leaves room for the base fee to double,
which covers six full blocks of base-fee growth at 12.5 % each.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from .rpc import RpcClient, hex_to_int

__all__ = [
    "BUMP_DENOMINATOR",
    "BUMP_NUMERATOR",
    "Fees",
    "bump",
    "estimate_fees",
    "fee_history_request",
    "fees_from_history",
]

MIN_PRIORITY_FEE = 1_000_000  # 0.001 gwei
BLOCKS = 10
# Replacement needs both fee fields raised by at least 12.5 % (geth's txpool rule).
BUMP_NUMERATOR, BUMP_DENOMINATOR = 1125, 1000


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    base_fee: int

    def to_tx(self) -> dict[str, int]:
        return {"maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas}


def fee_history_request(percentile: int = 50) -> tuple[str, list[Any]]:
    """The ``eth_feeHistory`` call :func:`estimate_fees` makes, for callers that batch it."""
    return "eth_feeHistory", [hex(BLOCKS), "latest", [percentile]]


def estimate_fees(rpc: RpcClient, *, percentile: int = 50) -> Fees:
    return fees_from_history(rpc.call(*fee_history_request(percentile)))


def fees_from_history(history: dict[str, Any]) -> Fees:
    base_fees = [hex_to_int(b) for b in history.get("baseFeePerGas", [])]
    next_base = base_fees[-1] if base_fees else 0
    rewards = [hex_to_int(r[0]) for r in history.get("reward") or [] if r]
    tip = max(int(statistics.median(rewards)) if rewards else 0, MIN_PRIORITY_FEE)
    return Fees(max_fee_per_gas=2 * next_base + tip, max_priority_fee_per_gas=tip,
                base_fee=next_base)


def bump(value: int) -> int:
    """At least +12.5 %, rounded up, and at least +1 wei."""
    return max(-(-value * BUMP_NUMERATOR // BUMP_DENOMINATOR), value + 1)
