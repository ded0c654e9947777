"""What a previous process left, and what time ends: crash recovery and the approval expiry.

On start, ``reconcile`` finishes every unfinished job: PENDING jobs run again from the start;
a SUBMITTED job is only ever re-broadcast with its stored raw bytes (never re-signed with the
nonce), so a restart cannot produce a second, different transaction for the same nonce.
``expire_due`` (every second, and from the approval page) ends jobs whose approval window
passed: EXPIRED / ``TX_EXPIRED``.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import and_, select, update

from mm_agent.errors import MMError, SimulationMismatch, TxExpired
from mm_agent.evm.rpc import hex_to_int
from mm_agent.security.pipeline import Engine

from ...db.store import approvals, jobs, now
from .queue import JobQueue
from .steps import Pipeline

__all__ = ["Reconciler"]


class Reconciler:
    def __init__(self, queue: JobQueue, pipeline: Pipeline, engine: Engine) -> None:
        self.queue = queue
        self.store = queue.store
        self.pipeline = pipeline
        self.engine = engine

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

    def reconcile(self) -> None:
        """Finish what a previous process left: re-run PENDING jobs from the start, re-send
        the stored bytes of SUBMITTED ones (never a new signature for their nonce)."""
        with self.store.read() as conn:
            rows = conn.execute(select(jobs.c.polling_id, jobs.c.status, jobs.c.raw_tx).where(
                jobs.c.status.in_(("PENDING", "SUBMITTED")))).all()
        for row in rows:
            if row.status == "SUBMITTED" and row.raw_tx:
                self.queue.spawn(self._reconcile_submitted, row.polling_id)
            elif row.status == "PENDING":
                self.queue.enqueue(row.polling_id)

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
