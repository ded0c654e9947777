"""Smart submission: broadcast, confirm, and replace stuck transactions.

- Broadcast goes to the chain's private (MEV-protected) endpoint when one is configured and
  smart transactions are on; the public RPC is used for it only when fallback is allowed.
- A transaction not mined after ``stuck_after`` seconds is replaced: same nonce, both fee
  fields raised by at least 12.5 %, never above ``fee_cap``, at most ``max_replacements`` times.
- Confirmation watches every hash sent for the nonce, since any of them may be the one mined.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mm_agent.errors import NetworkUnreachable, RpcError, SimulationMismatch
from mm_agent.evm.fees import bump
from mm_agent.evm.rpc import RpcClient, hex_to_int

__all__ = ["SignFn", "SubmitResult", "Submitter"]

log = logging.getLogger("mm_agent.security.submit")

# Takes an unsigned type-2 tx dict, returns (raw tx hex, tx hash hex).
SignFn = Callable[[dict[str, Any]], tuple[str, str]]


@dataclass
class SubmitResult:
    tx_hash: str
    receipt: dict[str, Any] | None
    hashes: list[str] = field(default_factory=list)
    replacements: int = 0  # replacements actually broadcast
    capped: bool = False  # a further bump would exceed the fee cap: stop replacing

    @property
    def mined(self) -> bool:
        return self.receipt is not None


@dataclass
class Submitter:
    rpc: RpcClient
    private_rpc: RpcClient | None = None
    public_fallback: bool = False
    stuck_after: float = 30.0
    max_replacements: int = 3
    fee_cap: int | None = None  # absolute wei cap for maxFeePerGas
    poll_interval: float = 0.05

    def broadcast(self, raw: str) -> str:
        if self.private_rpc is not None:
            try:
                return str(self.private_rpc.call("eth_sendRawTransaction", [raw]))
            except NetworkUnreachable:
                if not self.public_fallback:
                    raise
                log.warning("private endpoint unreachable; falling back to the public RPC")
        return str(self.rpc.call("eth_sendRawTransaction", [raw]))

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
        return result if isinstance(result, dict) else None

    def send_and_confirm(
        self, tx: dict[str, Any], sign: SignFn, *, timeout: float = 120.0
    ) -> SubmitResult:
        raw, tx_hash = sign(tx)
        self.broadcast(raw)
        result = SubmitResult(tx_hash=tx_hash, receipt=None, hashes=[tx_hash])
        self.confirm(result, tx, sign, timeout=timeout)
        return result

    def confirm(self, result: SubmitResult, tx: dict[str, Any], sign: SignFn, *,
                timeout: float) -> SubmitResult:
        deadline = time.monotonic() + timeout
        last_send = time.monotonic()
        current = dict(tx)
        while time.monotonic() < deadline:
            for h in reversed(result.hashes):
                receipt = self._receipt(h)
                if receipt is not None:
                    result.tx_hash, result.receipt = h, receipt
                    if hex_to_int(receipt.get("status")) != 1:
                        # Nothing is broadcast unless its preview succeeded, so a revert
                        # here means execution differed from the simulation.
                        raise SimulationMismatch(
                            f"Transaction {h} reverted on chain although its preview "
                            "succeeded: the contract behaved differently from the simulation "
                            "(its state changed in between, or it detects simulations).",
                            details={"txHash": h})
                    return result
            if (time.monotonic() - last_send >= self.stuck_after
                    and result.replacements < self.max_replacements and not result.capped):
                replaced = self._replace(current, sign, result)
                if replaced is not None:
                    current = replaced
                last_send = time.monotonic()
            time.sleep(self.poll_interval)
        return result  # not mined yet: the caller reports SUBMITTED

    def _replace(self, tx: dict[str, Any], sign: SignFn,
                 result: SubmitResult) -> dict[str, Any] | None:
        new = dict(tx)
        new["maxPriorityFeePerGas"] = bump(int(tx["maxPriorityFeePerGas"]))
        new["maxFeePerGas"] = max(bump(int(tx["maxFeePerGas"])), new["maxPriorityFeePerGas"])
        if self.fee_cap is not None and new["maxFeePerGas"] > self.fee_cap:
            log.warning("stuck tx %s: replacement would exceed the fee cap; waiting",
                        result.tx_hash)
            result.capped = True  # stop trying; ``replacements`` keeps the true count
            return None
        raw, tx_hash = sign(new)
        try:
            self.broadcast(raw)
        except RpcError as exc:
            # "nonce too low" means the original was mined meanwhile: keep confirming.
            log.info("replacement not accepted: %s", exc.message)
            return None
        result.hashes.append(tx_hash)
        result.replacements += 1
        log.info("replaced stuck tx with %s (attempt %d)", tx_hash, result.replacements)
        return new
