"""Fees, gas and the simulation that uses exactly them (contract §5, simulation fidelity).

A contract can tell a naive simulation from execution: ``tx.gasprice == 0``,
``block.basefee == 0``, ``gasleft()`` near the block gas limit, a stale timestamp. So fees and
the gas limit are decided *before* the final simulation, and the simulation runs with them:

1. one batched round trip: fee history, the latest block, the sender's balance (and the code
   of ``to`` when unknown);
2. fees: the payload's (``source: "payload"``) or the fee-history estimate (``"estimate"``);
3. simulate in the next block (``blockOverrides``: number + 1, a plausible timestamp, the
   expected base fee, the latest coinbase) with ``validation: true`` (the EVM then sees the
   real base fee and gas price) and the gas limit to be signed: the payload's ``gas``, 21 000
   for a plain payment to an account without code, otherwise a first simulation with all the
   gas the wallet can pay for learns ``gasUsed`` and a second one runs with the signed limit
   (``gasUsed`` x 1.3 + 5 000), which is the one the preview shows;
4. the :class:`~mm_agent.evm.fees.TxFees` of that final simulation is what gets signed.

A wallet that cannot pay for gas still gets a preview (without fee fields, as before), marked
not executable: execution refuses it with ``INSUFFICIENT_FUNDS`` rather than sign something
whose simulation did not see the real fees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mm_agent.errors import RpcError
from mm_agent.evm.fees import (
    TxFees,
    fee_cap_violations,
    fee_history_request,
    fees_from_history,
    payload_fees,
)
from mm_agent.evm.rpc import RpcClient, hex_to_int

from .simulate import next_block_overrides, simulate_transaction

__all__ = ["GAS_MARGIN_ADD", "GAS_MARGIN_DEN", "GAS_MARGIN_NUM", "TxPlan", "plan_transaction",
           "signed_gas_limit"]

GAS_MARGIN_NUM, GAS_MARGIN_DEN, GAS_MARGIN_ADD = 13, 10, 5_000
PLAIN_GAS = 21_000
DEFAULT_BLOCK_GAS = 30_000_000


@dataclass
class TxPlan:
    simulation: dict[str, Any]
    fees: TxFees
    executable: bool  # the final simulation ran with the signed fees (the wallet can pay)
    violations: list[dict[str, str]] = field(default_factory=list)  # fee_cap


def signed_gas_limit(gas_used: int, block_gas: int) -> int:
    """The gas limit signed for a simulated ``gas_used``: a margin, never above the block."""
    return min(gas_used * GAS_MARGIN_NUM // GAS_MARGIN_DEN + GAS_MARGIN_ADD, block_gas)


def plan_transaction(
    rpc: RpcClient,
    chain_id: int,
    sender: str,
    tx: dict[str, Any],
    *,
    fee_cap_multiple: str,
    has_code: Callable[[str], bool | None],
    remember_code: Callable[[str, bool], None],
    simulate_kw: dict[str, Any],
) -> TxPlan:
    """Decide gas and fees for ``tx`` and simulate with exactly them (see the module doc).

    ``has_code(to)`` answers from a cache (None: unknown, fetched in the first batch and
    handed to ``remember_code``); ``simulate_kw`` are the lookups ``simulate_transaction``
    needs (``asset_of``, ``native_symbol``, ``decode_revert``).
    """
    to = tx.get("to")
    value = int(tx.get("value") or 0)
    data = tx.get("data") or "0x"
    calls: list[tuple[str, list[Any]]] = [
        fee_history_request(), ("eth_getBlockByNumber", ["latest", False]),
        ("eth_getBalance", [sender, "latest"]),
    ]
    known = has_code(to) if to else None
    if to and known is None:
        calls.append(("eth_getCode", [to, "latest"]))
    results = rpc.batch(calls)
    history, latest, raw_balance = results[0], results[1] or {}, results[2]
    if to and known is None:
        known = bool(results[3] and results[3] != "0x")
        remember_code(to, known)
    estimate = fees_from_history(history)
    max_fee, tip, source = payload_fees(tx, estimate)
    block = next_block_overrides(chain_id, latest, estimate.base_fee)
    block_gas = hex_to_int(latest.get("gasLimit")) or DEFAULT_BLOCK_GAS
    balance = hex_to_int(raw_balance)
    affordable = (balance - value) // max_fee if max_fee > 0 else block_gas
    agent_gas = int(tx["gas"]) if tx.get("gas") is not None else None
    plain = data == "0x" and to is not None and not known and not tx.get("authorizationList")
    base = {"from": sender, "to": to, "value": value, "data": data}
    unsupported: list[RpcError] = []  # eth_simulateV1 missing: the fallback for every run

    def run(gas: int) -> tuple[dict[str, Any], bool]:
        funded = affordable >= gas
        call = {**base, "gas": gas}
        if funded:
            call.update(maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
        sim = simulate_transaction(rpc, call, block=block, validation=funded,
                                   v1_error=unsupported[0] if unsupported else None,
                                   **simulate_kw)
        if sim.get("method") == "fallback" and not unsupported:
            unsupported.append(RpcError("eth_simulateV1 is not available on this node."))
        return sim, funded

    if agent_gas is not None:
        gas = agent_gas
        sim, funded = run(gas)
        needed = signed_gas_limit(int(sim.get("gasUsed") or 0), block_gas)
    elif plain:
        gas = PLAIN_GAS
        sim, funded = run(gas)
        needed = gas
        if sim.get("success") and int(sim.get("gasUsed") or 0) > PLAIN_GAS:
            # Not a plain payment after all (a precompile, say): size it as a call.
            gas = needed = signed_gas_limit(int(sim["gasUsed"]), block_gas)
            sim, funded = run(gas)
    else:
        # First run: all the gas the wallet can pay for, to learn what the call uses.
        first_gas = min(block_gas, affordable) if affordable >= PLAIN_GAS else block_gas
        sim, funded = run(first_gas)
        gas = needed = signed_gas_limit(int(sim.get("gasUsed") or 0), block_gas)
        if sim.get("success") and gas != first_gas:
            # Final run with the limit that will be signed: gasleft() must read the same.
            sim, funded = run(gas)
    fees = TxFees(gas_limit=gas, max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip,
                  base_fee=estimate.base_fee, source=source)
    violations = fee_cap_violations(fees, estimate, multiple=fee_cap_multiple,
                                    agent_gas=agent_gas, estimated_gas=needed)
    return TxPlan(simulation=sim, fees=fees, executable=funded, violations=violations)
