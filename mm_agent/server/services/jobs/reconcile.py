"""What a previous process left, and what time ends: crash recovery, lease takeover and the
approval expiry.

``reconcile`` finishes unfinished jobs nobody holds: PENDING jobs run again from the start;
a SUBMITTED job is only ever re-broadcast with its stored raw bytes (never re-signed with the
nonce), so a restart cannot produce a second, different transaction for the same nonce. On
start it takes every unfinished job on SQLite (one process, the data dir lock) and the jobs
whose lease lapsed on PostgreSQL; then ``lease_loop`` (a thread of its own) renews this
replica's leases and takes over a dead replica's jobs once their lease lapses
(``queue.take_over``, ``FOR UPDATE SKIP LOCKED``).
``expire_due`` (every second, and from the approval page) ends jobs whose approval window
passed: EXPIRED / ``TX_EXPIRED``.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy import and_, select, update

from mm_agent.errors import MMError, SimulationMismatch, TxExpired
from mm_agent.evm.rpc import hex_to_int
from mm_agent.security.pipeline import Engine

from ...db.store import approvals, now
from .queue import JobQueue
from .steps import Pipeline

__all__ = ["Reconciler"]

log = logging.getLogger("mm_agent.server.services.jobs")


class Reconciler:
    def __init__(self, queue: JobQueue, pipeline: Pipeline, engine: Engine) -> None:
        self.queue = queue
        self.store = queue.store
        self.pipeline = pipeline
        self.engine = engine
        self._thread: threading.Thread | None = None

    async def sweep_expired(self) -> None:
        """Runs for the service's lifetime: expire due approvals every second."""
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.queue.in_pool(self.expire_due)
            except RuntimeError:  # pool shut down
                return

    def expire_due(self) -> int:
        """Approvals past their window: the job ends EXPIRED (TX_EXPIRED)."""
        ts = now()
        with self.store.tx() as conn:
            due = conn.execute(select(approvals.c.id, approvals.c.polling_id).where(and_(
                approvals.c.status == "open", approvals.c.expires_at < ts))).all()
            for row in due:
                conn.execute(update(approvals).where(approvals.c.id == row.id)
                             .values(status="expired", decided_at=ts))
        for row in due:
            job, _ = self.queue.load(row.polling_id)
            if job.status == "AWAITING_MFA":
                self.queue.fail(row.polling_id, "EXPIRED",
                                TxExpired("The approval was not given in time."))
        return len(due)

    def reconcile(self, *, everything: bool | None = None) -> int:
        """Finish what a dead process left: re-run PENDING jobs from the start, re-send
        the stored bytes of SUBMITTED ones (never a new signature for their nonce). Takes
        the jobs whose lease lapsed (every unfinished one with ``everything``, the default on
        SQLite). Returns how many it took."""
        if everything is None:
            everything = self.store.is_sqlite
        taken = 0
        while True:
            # Every unfinished job at once (nothing else holds them), or the lapsed ones in
            # batches (each batch is claimed afresh, so the next finds the rest).
            batch = self.queue.take_over(everything=everything,
                                         limit=None if everything else 100)
            for polling_id, status, stored in batch:
                if status == "SUBMITTED" and stored:
                    self.queue.spawn_job(self._reconcile_submitted, polling_id)
                else:
                    self.queue.enqueue(polling_id)
            taken += len(batch)
            if everything or len(batch) < 100:
                return taken

    def start_leases(self) -> None:
        """Start the lease thread: renew this replica's leases every third of the lease and
        take over lapsed ones. A thread of its own: a pool busy with long jobs must not
        delay renewals (or this replica's jobs would be taken from it)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.lease_loop, name="mm-leases",
                                            daemon=True)
            self._thread.start()

    def lease_loop(self) -> None:
        interval = max(0.2, self.queue.lease_seconds / 3)
        stop = self.queue._stop
        while not stop.wait(interval):
            try:
                self.queue.renew()
                self.reconcile(everything=False)
            except RuntimeError:  # pool shut down
                return
            except Exception as exc:  # database away for a moment: try again next round
                log.warning("lease round failed (%s)", type(exc).__name__)

    def _reconcile_submitted(self, polling_id: str) -> None:
        try:
            job, _ = self.queue.load(polling_id)
            receipt = self.engine.rpc(int(job.chain_id)).call(
                "eth_getTransactionReceipt", [job.tx_hash])
            if receipt:
                if hex_to_int(receipt.get("status")) == 1:
                    self.queue.update(polling_id, status="COMPLETED", result={
                        "to": job.body.get("to") or job.prepared.get("to"),
                        "blockNumber": hex_to_int(receipt.get("blockNumber")),
                        "gasUsed": str(hex_to_int(receipt.get("gasUsed"))), "replacements": 0,
                        "recovered": True})
                else:
                    # Only transactions whose preview succeeded are ever signed and stored.
                    self.queue.fail(polling_id, "FAILED", SimulationMismatch(
                        "Reverted on chain although its preview succeeded."))
                return
            self.pipeline.broadcast_and_confirm(polling_id, None)
        except MMError as err:
            self.queue.fail(polling_id, "FAILED", err)
