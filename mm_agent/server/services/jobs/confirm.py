"""Confirmation, decoupled from broadcast: receipts of every broadcast job in batches.

A worker that broadcast a job hands it here and is free for the next job at once (a wallet's
next transaction is signed and sent without waiting for this one's receipt: nonces come from
the nonce table, in order). One thread polls ``eth_getTransactionReceipt`` for all the jobs it
holds, one JSON-RPC batch per chain per round, and finishes the mined ones exactly as the
per-job path does (``COMPLETED`` with the same result, or ``SIMULATION_MISMATCH`` for a
revert). A job not mined within ``handoff_after`` seconds goes back to the per-job path
(``Pipeline.confirm_one``: ``Submitter.confirm``, which replaces a stuck transaction with
higher fees for the same nonce), so the stuck-transaction handling is unchanged apart from
starting that much later.

Crash safety is unchanged: a job here is SUBMITTED with its raw bytes stored; after a restart
``reconcile`` re-sends those bytes and confirms it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mm_agent.errors import MMError, SimulationMismatch
from mm_agent.evm.rpc import hex_to_int


class Pipeline(Protocol):
    """What the confirmer needs of the job pipeline (``steps.Pipeline``), named here so that
    this module does not import ``steps``, which imports it."""

    config: Any
    engine: Any
    queue: Any

    def confirm_one(self, polling_id: str, hashes: list[str] | None = None,
                    replacements: int = 0) -> None: ...

    def complete_many(self, mined: list[tuple[Pending, dict[str, Any]]]) -> None: ...

__all__ = ["Confirmer", "Pending"]

log = logging.getLogger("mm_agent.server.services.jobs")

MAX_BATCH = 200  # receipts per JSON-RPC batch


@dataclass
class Pending:
    polling_id: str
    chain_id: int
    tx_hash: str
    finish: Callable[[dict[str, Any]], None]  # called with the receipt of a successful tx
    since: float
    # What the pipeline's group commit needs (``complete_many``); None: ``finish`` alone.
    job: Any = None
    # Every hash sent for this nonce (the original and fee-bumped replacements: whichever
    # is mined finishes the job); empty: ``tx_hash`` alone.
    hashes: list[str] = field(default_factory=list)
    replacements: int = 0

    def all_hashes(self) -> list[str]:
        return self.hashes or [self.tx_hash]


class Confirmer:
    def __init__(self, pipeline: Pipeline, *, poll_interval: float = 0.01,
                 handoff_after: float | None = None) -> None:
        self.pipeline = pipeline
        self.poll_interval = poll_interval
        stuck = float(pipeline.config.stuck_after_seconds)
        # Hand back to the per-job path (fee bumps) well before the stuck threshold.
        self.handoff_after = handoff_after if handoff_after is not None else min(stuck / 2, 5.0)
        self._pending: dict[str, Pending] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def add(self, pending: Pending) -> None:
        with self._cond:
            self._pending[pending.polling_id] = pending
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mm-confirm",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _keep_claims(self, ids: list[str]) -> None:
        # The queue renews the leases of the jobs this process holds: these are held here.
        for polling_id in ids:
            self.pipeline.queue.keep_claim(polling_id)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                batch = list(self._pending.values())
            self._keep_claims([p.polling_id for p in batch])
            try:
                self._round(batch)
            except Exception:  # keep confirming the others; a job left here is retried
                log.exception("confirmer round failed")
            time.sleep(self.poll_interval)

    def _round(self, batch: list[Pending]) -> None:
        by_chain: dict[int, list[Pending]] = {}
        for p in batch:
            by_chain.setdefault(p.chain_id, []).append(p)
        for chain_id, items in by_chain.items():
            rpc = self.pipeline.engine.rpc(chain_id)
            for start in range(0, len(items), MAX_BATCH):
                chunk = items[start:start + MAX_BATCH]
                asked = [(p, h) for p in chunk for h in p.all_hashes()]
                try:
                    replies = rpc.batch([("eth_getTransactionReceipt", [h]) for _, h in asked])
                except MMError as exc:
                    log.warning("receipts on chain %d: %s", chain_id, exc.message)
                    replies = [None] * len(asked)
                found: dict[str, dict[str, Any]] = {}
                for (p, _), reply in zip(asked, replies, strict=True):
                    if isinstance(reply, dict):
                        found.setdefault(p.polling_id, reply)
                receipts = [found.get(p.polling_id) for p in chunk]
                now = time.monotonic()
                mined: list[tuple[Pending, dict[str, Any]]] = []
                for p, receipt in zip(chunk, receipts, strict=True):
                    if isinstance(receipt, dict):
                        if p.job is not None and hex_to_int(receipt.get("status")) == 1:
                            mined.append((p, receipt))
                        else:
                            self._done(p, receipt)
                    elif now - p.since >= self.handoff_after:
                        self._drop(p)
                        self.pipeline.queue.spawn_job(self.pipeline.confirm_one, p.polling_id,
                                                      p.all_hashes(), p.replacements)
                self._done_many(mined)

    def _drop(self, p: Pending) -> None:
        with self._cond:
            self._pending.pop(p.polling_id, None)

    def _done_many(self, mined: list[tuple[Pending, dict[str, Any]]]) -> None:
        """Successful receipts finished in one group commit (one database transaction)."""
        if not mined:
            return
        for p, _ in mined:
            self._drop(p)
        try:
            self.pipeline.complete_many(mined)
        except Exception:
            # Not committed: finish them one by one (a job left SUBMITTED is reconciled).
            log.exception("group commit of %d job(s) failed; one by one", len(mined))
            for p, receipt in mined:
                self._done(p, receipt)

    def _done(self, p: Pending, receipt: dict[str, Any]) -> None:
        self._drop(p)
        queue = self.pipeline.queue
        try:
            if hex_to_int(receipt.get("status")) != 1:
                # The same words as ``Submitter.confirm``: only a successful preview is signed.
                queue.fail(p.polling_id, "FAILED", SimulationMismatch(
                    f"Transaction {p.tx_hash} reverted on chain although its preview "
                    "succeeded: the contract behaved differently from the simulation "
                    "(its state changed in between, or it detects simulations).",
                    details={"txHash": p.tx_hash}))
                return
            p.finish(receipt)
        except Exception:
            log.exception("finishing job %s failed", p.polling_id)
