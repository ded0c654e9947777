"""``JobRunner``: the job queue, pipeline and reconciler of one service, behind one object.

Built by the app with its collaborators (``app.py``); routes reach it through
``deps.JobsDep``. It also installs the engine's hooks that need the service's records: the
wallet's known counterparties (address-poisoning checks) and the next nonce.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mm_agent.local.config import Config
from mm_agent.security.pipeline import Engine, Preview

from ..keys import MasterKey
from ..policy import PolicyService
from .approval import ApprovalOpener
from .batch import BatchRunner
from .queue import JobQueue
from .reconcile import Reconciler
from .steps import Pipeline

__all__ = ["JobRunner"]


class JobRunner:
    def __init__(self, queue: JobQueue, engine: Engine, keys: MasterKey, config: Config,
                 policies: PolicyService, opener: ApprovalOpener) -> None:
        self.queue = queue
        self.store = queue.store
        self.engine = engine
        self.keys = keys
        self.config = config
        self.pipeline = Pipeline(queue, engine, keys, config, policies, opener)
        self.reconciler = Reconciler(queue, self.pipeline, engine)
        queue.run_job = self.pipeline.run_safely
        if queue.settings.job_batch_size > 1:
            queue.run_batch = BatchRunner(self.pipeline).run
        self._sweeper: asyncio.Task[None] | None = None
        engine._counterparties = queue.counterparties
        engine.nonce_source = self.pipeline.next_nonce

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.queue.attach(asyncio.get_running_loop())
        # PostgreSQL: other replicas' changes wake this one's long polls (LISTEN mm_jobs).
        await asyncio.to_thread(self.queue.start_listener)
        await self.queue.in_pool(self.reconciler.reconcile)
        # Renew this replica's leases; take over a dead replica's jobs once theirs lapse.
        self.reconciler.start_leases()
        self._sweeper = asyncio.create_task(self.reconciler.sweep_expired())

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        self.pipeline.confirmer.stop()  # SUBMITTED jobs left are reconciled on the next start
        self.queue.shutdown()

    def closing(self) -> None:
        self.queue.closing()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self.queue.loop

    # --- requests ------------------------------------------------------------------------------
    def submit(self, account_id: str, wallet_row: Any, body: dict[str, Any], intent: str,
               idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        return self.queue.submit(account_id, wallet_row, body, intent, idempotency_key)

    def get(self, account_id: str, polling_id: str) -> tuple[Any, str]:
        return self.queue.get(account_id, polling_id)

    def list(self, account_id: str, limit: int = 50) -> list[dict[str, Any]]:
        return self.queue.list(account_id, limit)

    async def wait(self, account_id: str, polling_id: str, version: int, timeout: float, *,
                   final_only: bool = False) -> dict[str, Any]:
        return await self.queue.wait(account_id, polling_id, version, timeout,
                                     final_only=final_only)

    def preview_for(self, wallet_address: str, body: dict[str, Any]) -> tuple[Preview, Any]:
        return self.pipeline.preview_for(wallet_address, body)

    def _load(self, polling_id: str) -> tuple[Any, Any]:
        """A job row and its wallet row (tests and tools read jobs of any account)."""
        return self.queue.load(polling_id)

    # --- human decisions -------------------------------------------------------------------------
    def approve(self, polling_id: str) -> None:
        self.pipeline.approve(polling_id)

    def deny(self, polling_id: str) -> None:
        self.pipeline.deny(polling_id)

    def expire_due(self) -> int:
        return self.reconciler.expire_due()

    def reconcile(self) -> None:
        self.reconciler.reconcile()
