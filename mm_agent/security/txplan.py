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

A wallet's queue (:func:`plan_transactions`): the same steps for n transactions of one sender
with one context round trip and ONE ``eth_simulateV1`` call per run, the transactions in
sequence, one per block (block k: number latest + 1 + k, time + k block times, the same base
fee estimate and coinbase), so each simulation sees the state the ones before it leave. Round 1
runs every transaction with its first gas limit; round 2 (only when some limit changed)
re-runs the WHOLE sequence with the final limits, and that is what the previews show. The
wallet's balance is shared: a transaction's affordable gas is what the balance leaves after the
value and ``gasLimit x maxFeePerGas`` of the ones before it (what ``prepare_transactions``
checks too). :func:`plan_transaction` is the one-element case.

A wallet that cannot pay for gas still gets a preview (without fee fields, as before), marked
not executable: execution refuses it with ``INSUFFICIENT_FUNDS`` rather than sign something
whose simulation did not see the real fees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mm_agent.errors import InsufficientFunds, RpcError
from mm_agent.evm.fees import (
    Fees,
    TxFees,
    fee_cap_violations,
    fee_history_request,
    fees_from_history,
    payload_fees,
)
from mm_agent.evm.rpc import RpcClient, hex_to_int

from .simulate import (
    method_missing,
    sequential_block_overrides,
    simulate_sequence,
    simulate_transaction,
)

__all__ = ["GAS_MARGIN_ADD", "GAS_MARGIN_DEN", "GAS_MARGIN_NUM", "MAX_SEQUENCE", "TxPlan",
           "plan_transaction", "plan_transactions", "signed_gas_limit"]

log = logging.getLogger("mm_agent.security.txplan")

GAS_MARGIN_NUM, GAS_MARGIN_DEN, GAS_MARGIN_ADD = 13, 10, 5_000
PLAIN_GAS = 21_000
DEFAULT_BLOCK_GAS = 30_000_000
# Blocks one eth_simulateV1 call may simulate: geth, erigon and nethermind refuse more than 256
# ("too many blocks"); a longer queue is planned as a prefix.
MAX_SEQUENCE = 256


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
    return plan_transactions(rpc, chain_id, sender, [tx], fee_cap_multiple=fee_cap_multiple,
                             has_code=has_code, remember_code=remember_code,
                             simulate_kw=simulate_kw)[0]


def plan_transactions(
    rpc: RpcClient,
    chain_id: int,
    sender: str,
    txs: list[dict[str, Any]],
    *,
    fee_cap_multiple: str,
    has_code: Callable[[str], bool | None],
    remember_code: Callable[[str, bool], None],
    simulate_kw: dict[str, Any],
    first_nonce: int | None = None,
) -> list[TxPlan]:
    """Plans for ``txs`` of ``sender`` executed in this order, one per block (module doc).

    Returns plans for a PREFIX of ``txs`` (at least one when ``txs`` is not empty); the caller
    plans the rest again later, after the planned ones ran (or did not). Shorter than ``txs``
    when:

    - the node has no ``eth_simulateV1`` (the fallback cannot run a sequence), or refuses the
      sequence as a whole (``validation``: one invalid call fails the request, without
      saying which): the first transaction alone, planned as :func:`plan_transaction` would;
    - a simulation fails (reverts, out of gas): the plans stop with it, since what comes
      after assumed it ran, and a failing transaction is never sent;
    - the wallet cannot pay for transaction k after the ones before it (value + gas limit x
      max fee each): the plans stop before it (the first transaction alone is planned as
      :func:`plan_transaction` would, not executable);
    - more than :data:`MAX_SEQUENCE` transactions.

    ``first_nonce``: pass explicit nonces ``first_nonce + k``. Leave it None (the default):
    the node then takes the sender's state nonce, which each simulated transaction increments
    (geth's ``sanitizeCall``; anvil does not check nonces here), while an explicit nonce that
    is not the state nonce (a transaction still pending) makes a validating node refuse it.
    """
    if not txs:
        return []
    txs = txs[:MAX_SEQUENCE]
    calls: list[tuple[str, list[Any]]] = [
        fee_history_request(), ("eth_getBlockByNumber", ["latest", False]),
        ("eth_getBalance", [sender, "latest"]),
    ]
    codes: dict[str, bool | None] = {}  # lowercase `to` -> has code (None: fetched below)
    for tx in txs:
        to = tx.get("to")
        if to and to.lower() not in codes:
            codes[to.lower()] = has_code(to)
    unknown = [to for to, known in codes.items() if known is None]
    calls += [("eth_getCode", [to, "latest"]) for to in unknown]
    results = rpc.batch(calls)
    history, latest, raw_balance = results[0], results[1] or {}, results[2]
    for to, code in zip(unknown, results[3:], strict=True):
        codes[to] = bool(code and code != "0x")
        remember_code(to, codes[to])
    estimate = fees_from_history(history)
    ctx = _Context(
        estimate=estimate, balance=hex_to_int(raw_balance),
        block_gas=hex_to_int(latest.get("gasLimit")) or DEFAULT_BLOCK_GAS,
        blocks=sequential_block_overrides(chain_id, latest, estimate.base_fee, len(txs)),
        fee_cap_multiple=fee_cap_multiple, simulate_kw=simulate_kw)
    items = [_item(sender, tx, estimate, codes,
                   None if first_nonce is None else first_nonce + k)
             for k, tx in enumerate(txs)]
    return _plan(rpc, ctx, items)


@dataclass
class _Context:
    estimate: Fees
    balance: int
    block_gas: int
    blocks: list[dict[str, Any]]  # blockOverrides of transaction k's block
    fee_cap_multiple: str
    simulate_kw: dict[str, Any]
    # eth_simulateV1 missing: the fallback for every further run
    unsupported: list[RpcError] = field(default_factory=list)


@dataclass
class _Item:
    base: dict[str, Any]  # from, to, value, data (nonce)
    value: int
    max_fee: int
    tip: int
    source: str
    agent_gas: int | None
    plain: bool


def _item(sender: str, tx: dict[str, Any], estimate: Fees, codes: dict[str, bool | None],
          nonce: int | None) -> _Item:
    to = tx.get("to")
    value = int(tx.get("value") or 0)
    data = tx.get("data") or "0x"
    known = codes.get(to.lower()) if to else None
    max_fee, tip, source = payload_fees(tx, estimate)
    base: dict[str, Any] = {"from": sender, "to": to, "value": value, "data": data}
    if nonce is not None:
        base["nonce"] = nonce
    plain = data == "0x" and to is not None and not known and not tx.get("authorizationList")
    return _Item(base=base, value=value, max_fee=max_fee, tip=tip, source=source,
                 agent_gas=int(tx["gas"]) if tx.get("gas") is not None else None, plain=plain)


def _affordable(ctx: _Context, item: _Item, reserved: int) -> int:
    """The gas ``item`` can pay for once the transactions before it reserved ``reserved``."""
    if item.max_fee <= 0:
        return ctx.block_gas
    return (ctx.balance - reserved - item.value) // item.max_fee


def _first_gas(ctx: _Context, item: _Item, affordable: int) -> int:
    if item.agent_gas is not None:
        return item.agent_gas
    if item.plain:
        return PLAIN_GAS
    # All the gas the wallet can pay for, to learn what the call uses.
    return min(ctx.block_gas, affordable) if affordable >= PLAIN_GAS else ctx.block_gas


def _funding(ctx: _Context, items: list[_Item], sim_gas: list[int],
             signed_gas: list[int]) -> list[bool]:
    """Whether each transaction can pay for ``sim_gas`` after the value and ``signed_gas`` x
    max fee of the ones before it (more than the node charges them: it charges gas used at
    the effective price, so a sequence funded here passes the node's validation)."""
    out, reserved = [], 0
    for item, gas, signed in zip(items, sim_gas, signed_gas, strict=True):
        out.append(_affordable(ctx, item, reserved) >= gas)
        reserved += item.value + signed * item.max_fee
    return out


def _plan(rpc: RpcClient, ctx: _Context, items: list[_Item]) -> list[TxPlan]:
    # Round 1: every transaction with its first gas limit.
    first: list[int] = []
    reserved = 0
    for item in items:
        gas = _first_gas(ctx, item, _affordable(ctx, item, reserved))
        first.append(gas)
        reserved += item.value + gas * item.max_fee
    funded = _funding(ctx, items, first, first)
    # A call the node refuses fails a validated sequence as a whole: plan up to it, so it
    # comes first next time and is simulated (and refused) alone, as plan_transaction does.
    keep = _sequence_len([f and not _refused(ctx, i, g)
                          for i, g, f in zip(items, first, funded, strict=True)])
    items, first, funded = items[:keep], first[:keep], funded[:keep]
    sims = _run(rpc, ctx, items, first, funded)
    if sims is None:
        return _plan(rpc, ctx, items[:1])
    n = _through_first_failure(sims)
    items, first, sims, funded = items[:n], first[:n], sims[:n], funded[:n]
    # The gas limits to sign, and whether a simulation must run again with them.
    final: list[tuple[int, int, bool]] = [_final_gas(ctx, i, s, g)
                                          for i, s, g in zip(items, sims, first, strict=True)]
    signed = [gas for gas, _, _ in final]
    if any(rerun for _, _, rerun in final):
        # Round 2: the WHOLE sequence again with the final limits (a transaction that did
        # not change keeps the limit it ran with); these simulations are the previews.
        run_gas = [gas if rerun else g for (gas, _, rerun), g in zip(final, first, strict=True)]
        funded = _funding(ctx, items, run_gas, signed)
        if len(items) > 1 and not funded[0]:
            return _plan(rpc, ctx, items[:1])
        keep = _sequence_len(funded)
        items, run_gas, signed, final = (items[:keep], run_gas[:keep], signed[:keep],
                                         final[:keep])
        sims = _run(rpc, ctx, items, run_gas, funded[:keep])
        if sims is None:
            return _plan(rpc, ctx, items[:1])
        n = _through_first_failure(sims)
        items, sims, final, funded = items[:n], sims[:n], final[:n], funded[:n]
    plans = []
    for item, sim, (gas, needed, _), ok in zip(items, sims, final, funded, strict=True):
        fees = TxFees(gas_limit=gas, max_fee_per_gas=item.max_fee,
                      max_priority_fee_per_gas=item.tip, base_fee=ctx.estimate.base_fee,
                      source=item.source)
        violations = fee_cap_violations(fees, ctx.estimate, multiple=ctx.fee_cap_multiple,
                                        agent_gas=item.agent_gas, estimated_gas=needed)
        plans.append(TxPlan(simulation=sim, fees=fees, executable=ok, violations=violations))
    return plans


def _refused(ctx: _Context, item: _Item, gas: int) -> bool:
    """Whether a validating node refuses ``item`` whatever the state (its own fields)."""
    return (gas < PLAIN_GAS or item.tip > item.max_fee
            or item.max_fee < ctx.estimate.base_fee)


def _prefix_len(funded: list[bool]) -> int:
    return next((k for k, ok in enumerate(funded) if not ok), len(funded))


def _sequence_len(joins: list[bool]) -> int:
    """Up to the first transaction that cannot join the sequence; the first one stays in any
    case (alone it is planned as ``plan_transaction`` plans it: unfunded, it is simulated
    without fees and marked not executable; refused, its simulation says why)."""
    return max(_prefix_len(joins), 1)


def _through_first_failure(sims: list[dict[str, Any]]) -> int:
    """How many simulations to keep: up to and including the first that fails (the ones
    after it assumed it ran; it will never be sent)."""
    return next((k + 1 for k, sim in enumerate(sims) if not sim.get("success")), len(sims))


def _final_gas(ctx: _Context, item: _Item, sim: dict[str, Any],
               first: int) -> tuple[int, int, bool]:
    """(gas limit to sign, the wallet's own estimate for the fee-cap rule, run again?)."""
    used = int(sim.get("gasUsed") or 0)
    if item.agent_gas is not None:
        return item.agent_gas, signed_gas_limit(used, ctx.block_gas), False
    if item.plain:
        if sim.get("success") and used > PLAIN_GAS:
            # Not a plain payment after all (a precompile, say): size it as a call.
            gas = signed_gas_limit(used, ctx.block_gas)
            return gas, gas, True
        return PLAIN_GAS, PLAIN_GAS, False
    gas = signed_gas_limit(used, ctx.block_gas)
    # Final run with the limit that will be signed: gasleft() must read the same.
    return gas, gas, bool(sim.get("success")) and gas != first


def _call(item: _Item, gas: int, funded: bool) -> dict[str, Any]:
    call = {**item.base, "gas": gas}
    if funded:
        call.update(maxFeePerGas=item.max_fee, maxPriorityFeePerGas=item.tip)
    return call


def _run(rpc: RpcClient, ctx: _Context, items: list[_Item], gas: list[int],
         funded: list[bool]) -> list[dict[str, Any]] | None:
    """One simulation per transaction, in sequence; None when the node cannot or will not
    run this sequence (the caller then plans the first transaction alone)."""
    calls = [_call(i, g, f) for i, g, f in zip(items, gas, funded, strict=True)]
    if len(calls) == 1:
        sim = simulate_transaction(rpc, calls[0], block=ctx.blocks[0], validation=funded[0],
                                   v1_error=ctx.unsupported[0] if ctx.unsupported else None,
                                   **ctx.simulate_kw)
        if sim.get("method") == "fallback" and not ctx.unsupported:
            ctx.unsupported.append(RpcError("eth_simulateV1 is not available on this node."))
        return [sim]
    if ctx.unsupported:
        return None
    try:
        # Every call funded (the plans stop before one that is not), so validation is on for
        # all: the EVM sees the real base fee and gas price in every block.
        return simulate_sequence(rpc, calls, blocks=ctx.blocks[:len(calls)], validation=True,
                                 **ctx.simulate_kw)
    except (RpcError, InsufficientFunds) as exc:
        if isinstance(exc, RpcError) and method_missing(exc):
            ctx.unsupported.append(exc)
        log.debug("sequence of %d not simulated (%s); planning the first alone",
                  len(calls), exc.message)
        return None
