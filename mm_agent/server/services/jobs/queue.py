"""The job queue: persisting requests, the worker pool, state changes and event-driven waits.

Every change bumps the job's ``version`` and wakes the long-poll waiters of that job (an
``asyncio.Event`` per job, set from worker threads through the loop). A final status is final:
``update`` never moves a job out of a terminal status.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from mm_agent.errors import IdempotencyConflict, MMError, RequestNotFound, ServiceStopping
from mm_agent.local.request_log import TERMINAL_STATUSES

from ...db.store import Store, jobs, now, wallets
from ...settings import ServerSettings
from .. import outflows
from .records import body_hash, job_to_request

__all__ = ["JobQueue"]


class JobQueue:
    """Jobs in the store, the pool that runs them, and the waiters of each job."""

    def __init__(self, store: Store, settings: ServerSettings) -> None:
        self.store = store
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=settings.workers,
                                        thread_name_prefix="mm-job")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: dict[str, asyncio.Event] = {}
        self._closing = False  # set on shutdown: open long polls end (SERVICE_STOPPING)
        # The job pipeline (steps.py) registers itself here: what ``enqueue`` runs.
        self.run_job: Callable[[str], None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def closing(self) -> None:
        """Shutdown began (called on the event loop): wake every long poll so that it ends
        with a retry hint instead of holding the shutdown up."""
        self._closing = True
        for event in list(self._events.values()):
            event.set()
        self._events.clear()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the worker pool."""
        return self._pool.submit(fn, *args)

    async def in_pool(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    # --- notification ------------------------------------------------------------------------
    def notify(self, polling_id: str) -> None:
        """Wake the waiters of a job (from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._fire, polling_id)

    def _fire(self, polling_id: str) -> None:
        event = self._events.pop(polling_id, None)
        if event is not None:
            event.set()

    async def wait(self, account_id: str, polling_id: str, version: int,
                   timeout: float, *, final_only: bool = False) -> dict[str, Any]:
        """Return once the job changed past ``version`` (or, with ``final_only``, once it is
        terminal or waiting for a human), or at ``timeout`` with its current state."""
        deadline = time.monotonic() + timeout
        while True:
            if self._closing:
                raise ServiceStopping("The wallet service is stopping.")
            # Register before reading so a change between the two cannot be missed.
            event = self._events.setdefault(polling_id, asyncio.Event())
            row, address = self.get(account_id, polling_id)
            settled = row.status in TERMINAL_STATUSES or row.status == "AWAITING_MFA"
            changed = row.version > version
            if row.status in TERMINAL_STATUSES or (changed and (settled or not final_only)):
                return job_to_request(row, address)
            left = deadline - time.monotonic()
            if left <= 0:
                return job_to_request(row, address)
            try:
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                pass

    # --- reads -------------------------------------------------------------------------------
    def get(self, account_id: str, polling_id: str) -> tuple[Any, str]:
        """The account's job and its wallet address, or REQUEST_NOT_FOUND."""
        with self.store.read() as conn:
            found = conn.execute(
                select(jobs, wallets.c.address).join(wallets, wallets.c.id == jobs.c.wallet_id)
                .where(and_(jobs.c.polling_id == polling_id, jobs.c.account_id == account_id))
            ).first()
        if found is None:
            raise RequestNotFound(f"No request with pollingId {polling_id}.")
        return found, found.address

    def list(self, account_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(jobs, wallets.c.address).join(wallets, wallets.c.id == jobs.c.wallet_id)
                .where(jobs.c.account_id == account_id)
                .order_by(jobs.c.created_at.desc()).limit(limit)
            ).all()
        return [job_to_request(r, r.address) for r in rows]

    def load(self, polling_id: str) -> tuple[Any, Any]:
        """A job row and its wallet row (any account: for the workers)."""
        with self.store.read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.polling_id == polling_id)).one()
            wallet = conn.execute(select(wallets).where(wallets.c.id == job.wallet_id)).one()
        return job, wallet

    def counterparties(self, address: str) -> frozenset[str]:
        """Addresses this wallet paid or called in completed jobs (for poisoning checks)."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(jobs.c.result).join(wallets, wallets.c.id == jobs.c.wallet_id)
                .where(and_(wallets.c.address == address, jobs.c.status == "COMPLETED",
                            jobs.c.kind == "transaction"))
                .order_by(jobs.c.created_at.desc()).limit(500)
            ).scalars().all()
        seen = set()
        for result in rows:
            for key in ("to", "effectiveRecipient"):
                if result and result.get(key):
                    seen.add(str(result[key]).lower())
        return frozenset(seen)

    # --- submission --------------------------------------------------------------------------
    def submit(self, account_id: str, wallet_row: Any, body: dict[str, Any], intent: str,
               idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Persist a new job (or return the one this idempotency key already made)."""
        digest = body_hash(body)
        ts = now()
        polling_id = uuid.uuid4().hex
        window = self.settings.idempotency_seconds
        with self.store.tx() as conn:
            if idempotency_key:
                prior = conn.execute(select(jobs).where(and_(
                    jobs.c.account_id == account_id,
                    jobs.c.idempotency_key == idempotency_key))).first()
                if prior is not None and prior.created_at >= ts - window:
                    if prior.body_hash != digest:
                        raise IdempotencyConflict(
                            "This Idempotency-Key was used with a different request body.")
                    return job_to_request(prior, wallet_row.address), False
                if prior is not None:  # expired key: free it for reuse
                    conn.execute(update(jobs).where(jobs.c.polling_id == prior.polling_id)
                                 .values(idempotency_key=None))
            try:
                conn.execute(insert(jobs).values(
                    polling_id=polling_id, wallet_id=wallet_row.id, account_id=account_id,
                    kind="transaction" if body["kind"] == "transfer" else body["kind"],
                    status="PENDING", intent=intent, chain_id=body.get("chainId"), body=body,
                    body_hash=digest, idempotency_key=idempotency_key, version=1,
                    created_at=ts, updated_at=ts))
            except IntegrityError as exc:  # pragma: no cover - serialised by BEGIN IMMEDIATE
                raise IdempotencyConflict("Concurrent use of one Idempotency-Key.") from exc
            row = conn.execute(select(jobs).where(jobs.c.polling_id == polling_id)).one()
        self.enqueue(polling_id)
        return job_to_request(row, wallet_row.address), True

    def enqueue(self, polling_id: str) -> None:
        if self.run_job is None:  # pragma: no cover - wired by JobRunner
            raise RuntimeError("no job pipeline attached to the queue")
        self._pool.submit(self.run_job, polling_id)

    # --- state changes -------------------------------------------------------------------------
    def update(self, polling_id: str, **values: Any) -> None:
        values["updated_at"] = now()
        where = jobs.c.polling_id == polling_id
        if "status" in values:
            # A final status is final: a job cancelled (cancel.py) while a worker still ran it
            # must not come back as AWAITING_MFA/SUBMITTED.
            where = and_(where, jobs.c.status.notin_(tuple(TERMINAL_STATUSES)))
        with self.store.tx() as conn:
            conn.execute(update(jobs).where(where)
                         .values(version=jobs.c.version + 1, **values))
        self.notify(polling_id)

    def fail(self, polling_id: str, status: str, err: MMError) -> None:
        """End the job with ``status`` and the error; its outflow reservation is released."""
        self.update(polling_id, status=status,
                    error={"code": err.code, "message": err.message})
        outflows.release(self.store, polling_id)

    def release_outflow(self, polling_id: str) -> None:
        outflows.release(self.store, polling_id)

    def commit_outflow(self, polling_id: str) -> None:
        outflows.commit(self.store, polling_id)
