"""EIP-1559 fee estimation from ``eth_feeHistory`` percentiles.

The tip is the median of recent blocks' 50th-percentile rewards (floored so an idle chain such
as a devnet still gets a positive tip); the fee cap leaves room for the base fee to double,
which covers six full blocks of base-fee growth at 12.5 % each.

Replacement ceiling (one rule, both wallet modes): a stuck transaction may be re-sent with
bumped fees, but never with a ``maxFeePerGas`` above ``FEE_CAP_MULTIPLIER`` x the signed one.
The preview discloses that ceiling (``fees.maxReplacementFeePerGas``) and its worst-case fee is
``gasLimit`` x the ceiling, so what the human sees and what the guard counts as outflow is the
most the transaction can ever cost; the submitter stops bumping at the disclosed ceiling.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from .rpc import RpcClient, hex_to_int

__all__ = [
    "BUMP_DENOMINATOR",
    "BUMP_NUMERATOR",
    "FEE_CAP_MULTIPLIER",
    "Fees",
    "TxFees",
    "bump",
    "estimate_fees",
    "fee_cap_violations",
    "fee_history_request",
    "fees_from_history",
    "payload_fees",
]

MIN_PRIORITY_FEE = 1_000_000  # 0.001 gwei
BLOCKS = 10
# Replacement needs both fee fields raised by at least 12.5 % (geth's txpool rule).
BUMP_NUMERATOR, BUMP_DENOMINATOR = 1125, 1000
# Stuck-transaction replacements may raise maxFeePerGas to at most this multiple of the signed
# one (the preview's ``maxReplacementFeePerGas``). Defined here only.
FEE_CAP_MULTIPLIER = 3


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


@dataclass(frozen=True)
class TxFees:
    """The gas limit and fees a transaction is simulated with and signed with: one object, so
    the preview and what is signed cannot differ. ``source`` says whether the fee fields came
    from the fee-history estimate or from the agent's payload. ``max_replacement_fee_per_gas``
    is the ceiling stuck-transaction replacements may reach (default: ``FEE_CAP_MULTIPLIER`` x
    ``max_fee_per_gas``); it is disclosed in the preview and enforced by the submitter."""

    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    base_fee: int
    source: str  # "estimate" | "payload"
    max_replacement_fee_per_gas: int | None = None

    @property
    def replacement_ceiling(self) -> int:
        """The highest ``maxFeePerGas`` any replacement may carry (never below the signed)."""
        if self.max_replacement_fee_per_gas is None:
            return self.max_fee_per_gas * FEE_CAP_MULTIPLIER
        return max(self.max_replacement_fee_per_gas, self.max_fee_per_gas)

    @property
    def signed_fee(self) -> int:
        """The most the first signed transaction can cost in fees (the funds check)."""
        return self.gas_limit * self.max_fee_per_gas

    @property
    def worst_case_fee(self) -> int:
        """The most the transaction can cost in fees, replacements included."""
        return self.gas_limit * self.replacement_ceiling

    def to_tx(self) -> dict[str, int]:
        return {"gas": self.gas_limit, "maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas}

    def to_dict(self) -> dict[str, str]:
        """The preview's ``fees`` object (wei and gas as decimal strings)."""
        return {"gasLimit": str(self.gas_limit), "maxFeePerGas": str(self.max_fee_per_gas),
                "maxPriorityFeePerGas": str(self.max_priority_fee_per_gas),
                "maxReplacementFeePerGas": str(self.replacement_ceiling),
                "baseFee": str(self.base_fee), "worstCaseFeeWei": str(self.worst_case_fee),
                "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TxFees:
        """From a preview's ``fees`` (a preview stored before the ceiling was disclosed gets
        the default one)."""
        ceiling = data.get("maxReplacementFeePerGas")
        return cls(int(data["gasLimit"]), int(data["maxFeePerGas"]),
                   int(data["maxPriorityFeePerGas"]), int(data["baseFee"]),
                   str(data.get("source") or "estimate"),
                   int(ceiling) if ceiling not in (None, "") else None)


def payload_fees(tx: dict[str, Any], estimate: Fees) -> tuple[int, int, str]:
    """``(maxFeePerGas, maxPriorityFeePerGas, source)``: the payload's fee fields where it has
    them (a legacy ``gasPrice`` arrives here already mapped to both), the estimate otherwise."""
    max_fee, tip = tx.get("maxFeePerGas"), tx.get("maxPriorityFeePerGas")
    if max_fee is None and tip is None:
        return estimate.max_fee_per_gas, estimate.max_priority_fee_per_gas, "estimate"
    if max_fee is None:
        # Only a tip: room for the base fee to double on top of it, as the estimate does.
        return 2 * estimate.base_fee + int(tip), int(tip), "payload"
    if tip is None:
        tip = min(estimate.max_priority_fee_per_gas, int(max_fee))
    return int(max_fee), int(tip), "payload"


def fee_cap_violations(fees: TxFees, estimate: Fees, *, multiple: str,
                       agent_gas: int | None, estimated_gas: int) -> list[dict[str, str]]:
    """``fee_cap`` violations (approval required): agent fees above ``multiple`` x the
    estimate, or an agent gas limit above ``multiple`` x the wallet's own gas estimate."""
    from decimal import Decimal

    factor = Decimal(multiple)
    out = []
    cap = int(Decimal(estimate.max_fee_per_gas) * factor)
    if fees.source == "payload" and fees.max_fee_per_gas > cap:
        out.append({"rule": "fee_cap", "message": (
            f"The payload's maxFeePerGas ({fees.max_fee_per_gas} wei) is above {multiple}x "
            f"the fee-history estimate ({estimate.max_fee_per_gas} wei).")})
    gas_cap = int(Decimal(estimated_gas) * factor)
    if agent_gas is not None and agent_gas > gas_cap:
        out.append({"rule": "fee_cap", "message": (
            f"The payload's gas limit ({agent_gas}) is above {multiple}x the simulated need "
            f"({estimated_gas}).")})
    return out


def bump(value: int) -> int:
    """At least +12.5 %, rounded up, and at least +1 wei."""
    return max(-(-value * BUMP_NUMERATOR // BUMP_DENOMINATOR), value + 1)
