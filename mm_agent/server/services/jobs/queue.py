"""The job queue: persisting requests, the worker pool, claims and leases, state changes and
event-driven waits.

Every change bumps the job's ``version`` and wakes the long-poll waiters of that job (an
``asyncio.Event`` per job, set from worker threads through the loop). A final status is final:
``update`` never moves a job out of a terminal status.

Replicas (several ``mm server start`` on one PostgreSQL database):

- A job is *claimed* by one replica (``jobs.claimed_by`` = its ``replica_id``) until
  ``jobs.lease_until``. The replica that accepts a request claims it in the same INSERT and
  runs it on its own pool; a job moving back to PENDING (an approval given on any replica) is
  claimed by the replica that moved it, in the same UPDATE.
- While a replica holds jobs (queued or running) it renews their leases every third of the
  lease (``renew``, from a thread of its own, not the busy pool). A replica that dies stops
  renewing; once the lease lapses another one takes the job over (``take_over``:
  ``SELECT … FOR UPDATE SKIP LOCKED``, so two sweepers never take the same job): PENDING runs
  again from the start, SUBMITTED is reconciled with its stored bytes (``reconcile.py``).
- Fencing: a worker's own changes to its job only apply while the job is still claimed by its
  replica (``update`` and ``hold``); a worker that lost its job (a replica stalled past its
  lease) gets ``LeaseLost`` and unwinds without touching it, so a job is never signed twice.
- Wake-ups cross replicas: on PostgreSQL every change also ``NOTIFY mm_jobs, '<pollingId>'``
  (in the changing transaction), and each replica ``LISTEN``s on a dedicated connection and
  wakes its own long polls. SQLite (one process) wakes in process only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import and_, or_, select, update

from mm_agent.errors import IdempotencyConflict, MMError, RequestNotFound, ServiceStopping
from mm_agent.local.request_log import TERMINAL_STATUSES

from ...db.store import Store, jobs, now, wallets
from ...settings import ServerSettings
from .. import outflows
from .lanes import Lanes
from .listener import NotifyListener
from .records import body_hash, job_to_request
from .statements import (
    ACCOUNT_JOB,
    CHANNEL,
    COUNTERPARTIES,
    insert_job,
    pg_notify,
    update_statement,
)
from .wakeups import Wakeups

__all__ = ["CHANNEL", "JobQueue", "LeaseLost"]

log = logging.getLogger("mm_agent.server.services.jobs")

# Statuses a replica works on (and so holds a lease for).
RUNNING = ("PENDING", "SUBMITTED")
NOT_RUN = ("policy", "trading-mode")  # requests an approval applies, not a worker
SETTLED = (*TERMINAL_STATUSES, "AWAITING_MFA")  # where a final-only long poll returns


class LeaseLost(BaseException):
    """This replica's claim on the job lapsed and another replica took the job over: the
    worker unwinds without touching the job again. A ``BaseException`` (like
    ``asyncio.CancelledError``) so the pipeline's ``except Exception`` edges never record it
    as the job's failure."""


class JobQueue:
    """Jobs in the store, the pool that runs them, and the waiters of each job."""

    def __init__(self, store: Store, settings: ServerSettings) -> None:
        self.store = store
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=settings.workers,
                                        thread_name_prefix="mm-job")
        self.wakeups = Wakeups()  # this process's long polls (wakeups.py)
        # The job pipeline (steps.py) registers itself here: what ``enqueue`` runs, alone or
        # (a wallet's queued transactions, ``lanes.py``) as a batch.
        self.run_job: Callable[[str], None] | None = None
        self.run_batch: Callable[[list[str]], list[str]] | None = None
        self._lanes = Lanes(self._pool.submit, self._run_batch_claimed,
                            max_batch=settings.job_batch_size)
        # Claims (see the module docstring): the jobs this replica holds, queued or running,
        # and the job each worker thread runs (for fencing its changes).
        self.replica_id = settings.replica_id
        self.lease_seconds = float(settings.job_lease_seconds)
        self._owned: set[str] = set()
        self._running: dict[str, int] = {}  # the subset workers run right now (how many)
        self._owned_lock = threading.Lock()
        self._worker = threading.local()
        self._stop = threading.Event()
        self._listener: NotifyListener | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.wakeups.loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self.wakeups.loop

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._listener is not None:
            self._listener.close()

    def closing(self) -> None:
        """Shutdown began (called on the event loop): wake every long poll so that it ends
        with a retry hint instead of holding the shutdown up."""
        self.wakeups.close()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the worker pool."""
        return self._pool.submit(fn, *args)

    def spawn_job(self, fn: Callable[..., Any], polling_id: str, *args: Any) -> Future[Any]:
        """Run ``fn(polling_id, *args)`` on the pool as the holder of the job's claim (taken
        first if this replica does not hold it yet; nothing runs if another one does)."""
        self.keep_claim(polling_id)
        return self._pool.submit(self._run_claimed, fn, polling_id, *args)

    # --- claims and leases -------------------------------------------------------------------
    def keep_claim(self, polling_id: str) -> None:
        """Count the job among those this replica holds (its lease is renewed)."""
        with self._owned_lock:
            self._owned.add(polling_id)

    def _disown(self, polling_id: str) -> None:
        with self._owned_lock:
            self._owned.discard(polling_id)

    def owned(self) -> set[str]:
        with self._owned_lock:
            return set(self._owned)

    def _is_current(self, polling_id: str) -> bool:
        """The calling worker runs this job (alone, or in its batch) under our claim."""
        return (polling_id == getattr(self._worker, "polling_id", None)
                or polling_id in (getattr(self._worker, "batch", None) or ()))

    def _lease_values(self) -> dict[str, Any]:
        return {"claimed_by": self.replica_id, "lease_until": now() + self.lease_seconds}

    def claim(self, polling_id: str) -> bool:
        """Take (or renew) this replica's claim on a PENDING/SUBMITTED job: free, already
        ours, or its lease lapsed. False when another replica holds it or it is not running."""
        return polling_id in self.claim_many([polling_id])

    def claim_many(self, polling_ids: list[str]) -> set[str]:
        """``claim`` for several jobs in one statement; returns the ones now ours."""
        ts = now()
        with self.store.tx(exclusive=False) as conn:
            return set(conn.execute(update(jobs).where(and_(
                jobs.c.polling_id.in_(polling_ids), jobs.c.status.in_(RUNNING),
                or_(jobs.c.claimed_by.is_(None), jobs.c.claimed_by == self.replica_id,
                    jobs.c.lease_until.is_(None), jobs.c.lease_until < ts)))
                .values(**self._lease_values()).returning(jobs.c.polling_id)).scalars().all())

    def _run_batch_claimed(self, batch: list[str]) -> list[str]:
        """Run a lane's batch under this replica's claims; returns the jobs to run again."""
        with self._owned_lock:
            for polling_id in batch:
                self._owned.add(polling_id)
                self._running[polling_id] = self._running.get(polling_id, 0) + 1
        try:
            claimed = self.claim_many(batch)
            for polling_id in batch:
                if polling_id not in claimed:
                    self._disown(polling_id)  # another replica runs it, or it ended
            ours = [p for p in batch if p in claimed]
            if not ours or self.run_batch is None:
                return []
            self._worker.batch = frozenset(ours)
            return self.run_batch(ours)
        except LeaseLost as lost:
            # Another replica took (some of) the batch over: let all of it go; what is still
            # ours after a renewal runs again from its lease sweep.
            for polling_id in batch:
                self._disown(polling_id)
            log.warning("batch job %s was taken over by another replica; this one let the "
                        "batch go", lost)
            return []
        finally:
            self._worker.batch = None
            with self._owned_lock:
                for polling_id in batch:
                    left = self._running.pop(polling_id, 1) - 1
                    if left > 0:
                        self._running[polling_id] = left

    def _run_claimed(self, fn: Callable[..., Any], polling_id: str, *args: Any) -> None:
        with self._owned_lock:
            self._owned.add(polling_id)
            self._running[polling_id] = self._running.get(polling_id, 0) + 1
        try:
            if not self.claim(polling_id):
                self._disown(polling_id)
                return  # another replica runs it, or it ended meanwhile
            self._worker.polling_id = polling_id
            fn(polling_id, *args)
        except LeaseLost:
            self._disown(polling_id)
            log.warning("job %s was taken over by another replica; this one let it go",
                        polling_id)
        finally:
            self._worker.polling_id = None
            # Still held while it is PENDING/SUBMITTED (e.g. broadcast and watched by the
            # confirmer): ``renew`` keeps its lease and forgets it once it ends.
            with self._owned_lock:
                left = self._running.pop(polling_id, 1) - 1
                if left > 0:
                    self._running[polling_id] = left

    def hold(self, conn: Any, polling_id: str) -> Any:
        """Lock the job row (``FOR UPDATE``) in ``conn``'s transaction and return it; a worker
        whose replica no longer holds the job gets ``LeaseLost``. What signs a transaction
        calls this first, so that a job is never signed by two replicas."""
        return self.hold_many(conn, [polling_id])[polling_id]

    def hold_many(self, conn: Any, polling_ids: list[str]) -> dict[str, Any]:
        """``hold`` for several jobs in one statement (a batch's signing transaction)."""
        rows = {r.polling_id: r for r in conn.execute(
            select(jobs.c.polling_id, jobs.c.status, jobs.c.claimed_by)
            .where(jobs.c.polling_id.in_(polling_ids)).with_for_update()).all()}
        for polling_id in polling_ids:
            row = rows[polling_id]
            if (self._is_current(polling_id) and row.claimed_by != self.replica_id
                    and row.status not in TERMINAL_STATUSES):
                raise LeaseLost(polling_id)
        return rows

    def renew(self) -> int:
        """Extend the leases of the jobs this replica holds (queued or running); forget the
        ones that stopped running or were taken from it. Returns how many were renewed."""
        held = self.owned()
        if not held:
            return 0
        kept: set[str] = set()
        ids = sorted(held)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            with self.store.tx(exclusive=False) as conn:
                kept.update(conn.execute(update(jobs).where(and_(
                    jobs.c.polling_id.in_(chunk), jobs.c.claimed_by == self.replica_id,
                    jobs.c.status.in_(RUNNING))).values(**self._lease_values())
                    .returning(jobs.c.polling_id)).scalars().all())
        with self._owned_lock:
            # Only what was held before the renewal and is not running here any more; a job
            # taken meanwhile was claimed with a fresh lease anyway.
            self._owned -= (held - kept) - self._running.keys()
        return len(kept)

    def take_over(self, *, everything: bool = False, limit: int | None = 100
                  ) -> list[tuple[str, str, bool]]:
        """Claim PENDING/SUBMITTED jobs whose lease lapsed (a dead or stalled replica's, or
        never claimed), ``FOR UPDATE SKIP LOCKED`` so concurrent sweepers split them. With
        ``everything`` (start of a single-process SQLite service, which holds the data dir
        lock): every unfinished job. Returns (polling id, status, has stored bytes)."""
        ts = now()
        # Policy and trading-mode changes wait for the human as PENDING rows but are not run
        # by workers (an approval applies them): taking one over would fail it.
        cond = and_(jobs.c.status.in_(RUNNING), jobs.c.kind.notin_(NOT_RUN))
        if not everything:
            cond = and_(cond, or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < ts,
                                  jobs.c.claimed_by.is_(None)))
        with self.store.tx(exclusive=False) as conn:
            rows = conn.execute(
                select(jobs.c.polling_id, jobs.c.status, jobs.c.raw_tx).where(cond)
                .order_by(jobs.c.created_at).limit(limit)
                .with_for_update(skip_locked=True)).all()
            if rows:
                conn.execute(update(jobs).where(jobs.c.polling_id.in_(
                    [r.polling_id for r in rows])).values(**self._lease_values()))
        with self._owned_lock:
            self._owned.update(r.polling_id for r in rows)
            # A job a worker here still runs (its renewal came late) is not started twice.
            rows = [r for r in rows if r.polling_id not in self._running]
        if rows:
            log.info("took over %d job(s)", len(rows))
        return [(r.polling_id, r.status, r.raw_tx is not None) for r in rows]

    async def in_pool(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    # --- notification ------------------------------------------------------------------------
    def notify(self, polling_id: str, status: str | None = None) -> None:
        """Wake the waiters of a job (from any thread), on every replica: call after the
        change committed (``status``: the job's new one, if known). (``update`` notifies
        inside its own transaction instead.)"""
        if not self.store.is_sqlite:
            try:
                with self.store.engine.connect() as conn:
                    pg_notify(conn, [polling_id])
                    conn.commit()
            except Exception as exc:  # the local wake-up below still happens
                log.warning("NOTIFY failed (%s)", type(exc).__name__)
        self.notify_local(polling_id, status)

    def notify_in(self, conn: Any, polling_ids: list[str]) -> None:
        """Other replicas' wake-ups for jobs changed in ``conn``'s transaction (PostgreSQL
        ``NOTIFY``, delivered at commit); call ``notify_local`` for each after the commit."""
        if polling_ids and not self.store.is_sqlite:
            pg_notify(conn, polling_ids)

    def notify_local(self, polling_id: str, status: str | None = None) -> None:
        """Wake this process's waiters of a job (from any thread); ``status``: its new
        status when known (a final-only poll then skips re-reading intermediate steps)."""
        self.wakeups.fire(polling_id, status)

    def start_listener(self) -> None:
        """PostgreSQL: wake local long polls on other replicas' changes (``listener.py``)."""
        if self.store.is_sqlite or self._listener is not None:
            return
        self._listener = NotifyListener(self.store, CHANNEL, self._stop, self.wakeups)
        self._listener.start()

    async def wait(self, account_id: str, polling_id: str, version: int,
                   timeout: float, *, final_only: bool = False) -> dict[str, Any]:
        """Return once the job changed past ``version`` (or, with ``final_only``, once it is
        terminal or waiting for a human), or at ``timeout`` with its current state."""
        deadline = time.monotonic() + timeout
        # Parked before the first read, so a change between the two cannot be missed.
        with self.wakeups.parked(polling_id) as wake:
            read = True
            while True:
                if self.wakeups.closing:
                    raise ServiceStopping("The wallet service is stopping.")
                if read:
                    row, address = await self._read_on_loop(account_id, polling_id)
                    settled = row.status in TERMINAL_STATUSES or row.status == "AWAITING_MFA"
                    changed = row.version > version
                    if row.status in TERMINAL_STATUSES or (
                            changed and (settled or not final_only)):
                        return job_to_request(row, address)
                left = deadline - time.monotonic()
                if left <= 0:
                    return job_to_request(row, address)
                try:
                    # Woken by notify; re-read now and then anyway (a NOTIFY lost while a
                    # replica's LISTEN connection reconnected must not hold a poll to its end).
                    await asyncio.wait_for(wake.event.wait(), min(left, 5.0))
                except TimeoutError:
                    read = True
                    continue
                statuses = wake.take()
                # A final-only poll reads again only for a change that may settle it (or
                # one whose status it was not told).
                read = not final_only or not statuses or any(
                    s is None or s in SETTLED for s in statuses)

    async def _read_on_loop(self, account_id: str, polling_id: str) -> tuple[Any, str]:
        # SQLite answers from the local file in microseconds: read in place. A PostgreSQL
        # read is a network round trip: on the event loop it would stall every other request.
        if self.store.is_sqlite:
            return self.get(account_id, polling_id)
        return await asyncio.to_thread(self.get, account_id, polling_id)

    # --- reads -------------------------------------------------------------------------------
    def get(self, account_id: str, polling_id: str) -> tuple[Any, str]:
        """The account's job and its wallet address, or REQUEST_NOT_FOUND."""
        with self.store.read() as conn:
            found = conn.execute(ACCOUNT_JOB, {"polling_id": polling_id,
                                                "account_id": account_id}).first()
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

    def load_many(self, polling_ids: list[str]) -> tuple[list[Any], Any]:
        """Job rows (in the given order, missing ones left out) and the wallet row of the
        first: a batch is one wallet's."""
        with self.store.read() as conn:
            found = {r.polling_id: r for r in conn.execute(
                select(jobs).where(jobs.c.polling_id.in_(polling_ids))).all()}
            rows = [found[p] for p in polling_ids if p in found]
            wallet = conn.execute(select(wallets).where(
                wallets.c.id == rows[0].wallet_id)).one() if rows else None
        return rows, wallet

    def load(self, polling_id: str) -> tuple[Any, Any]:
        """A job row and its wallet row (any account: for the workers)."""
        with self.store.read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.polling_id == polling_id)).one()
            wallet = conn.execute(select(wallets).where(wallets.c.id == job.wallet_id)).one()
        return job, wallet

    def counterparties(self, address: str) -> frozenset[str]:
        """Addresses this wallet paid or called in completed jobs (for poisoning checks)."""
        with self.store.read() as conn:
            rows = conn.execute(COUNTERPARTIES, {"address": address}).all()
        return frozenset(str(value).lower() for row in rows for value in row if value)

    # --- submission --------------------------------------------------------------------------
    def submit(self, account_id: str, wallet_row: Any, body: dict[str, Any], intent: str,
               idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Persist a new job (or return the one this idempotency key already made)."""
        digest = body_hash(body)
        ts = now()
        polling_id = uuid.uuid4().hex
        window = self.settings.idempotency_seconds

        def prior_of(conn: Any) -> Any:
            return conn.execute(select(jobs).where(and_(
                jobs.c.account_id == account_id,
                jobs.c.idempotency_key == idempotency_key))).first()

        def replay(prior: Any) -> tuple[dict[str, Any], bool]:
            if prior.body_hash != digest:
                raise IdempotencyConflict(
                    "This Idempotency-Key was used with a different request body.")
            return job_to_request(prior, wallet_row.address), False

        # No write lock: the key is exact through the unique (account, key) index alone
        # (INSERT … ON CONFLICT DO NOTHING), across replicas too.
        with self.store.tx(exclusive=False) as conn:
            if idempotency_key:
                prior = prior_of(conn)
                if prior is not None and prior.created_at >= ts - window:
                    return replay(prior)
                if prior is not None:  # expired key: free it for reuse
                    conn.execute(update(jobs).where(and_(
                        jobs.c.polling_id == prior.polling_id,
                        jobs.c.idempotency_key == idempotency_key)).values(idempotency_key=None))
            row = conn.execute(insert_job(conn, keyed=bool(idempotency_key)), dict(
                polling_id=polling_id, wallet_id=wallet_row.id, account_id=account_id,
                kind="transaction" if body["kind"] == "transfer" else body["kind"],
                status="PENDING", intent=intent, chain_id=body.get("chainId"), body=body,
                body_hash=digest, idempotency_key=idempotency_key, version=1,
                created_at=ts, updated_at=ts, **self._lease_values())).first()
            if row is None:
                # Another request with this key won the race (ON CONFLICT waited for its
                # commit): this statement sees its row.
                prior = prior_of(conn)
                if prior is None:  # pragma: no cover - the winner rolled back meanwhile
                    raise IdempotencyConflict("Concurrent use of one Idempotency-Key.",
                                              hint="Retry the request.")
                return replay(prior)
        self.enqueue(polling_id, lane=(wallet_row.id, row.chain_id)
                     if row.kind == "transaction" else None)
        return job_to_request(row, wallet_row.address), True

    def enqueue(self, polling_id: str, *, lane: tuple[str, int] | None = None) -> None:
        """Run the job on this replica's pool (as the holder of its claim): in the lane of
        its wallet and chain when given (a transaction: batched with the wallet's others),
        else alone."""
        if self.run_job is None:  # pragma: no cover - wired by JobRunner
            raise RuntimeError("no job pipeline attached to the queue")
        if lane is None or self.run_batch is None:
            self.spawn_job(self.run_job, polling_id)
            return
        self.keep_claim(polling_id)
        self._lanes.add(lane, polling_id)

    # --- state changes -------------------------------------------------------------------------
    def update(self, polling_id: str, **values: Any) -> None:
        """Change a job (one UPDATE, atomic alone: no write lock). A job moved to
        PENDING/SUBMITTED is claimed by this replica in the same statement (e.g. approved
        here, whichever replica ran it before). A worker's change to its own job applies only
        while its replica still holds it (else ``LeaseLost``)."""
        values["updated_at"] = now()
        where = jobs.c.polling_id == polling_id
        if "status" in values:
            # A final status is final: a job cancelled (cancel.py) while a worker still ran it
            # must not come back as AWAITING_MFA/SUBMITTED.
            where = and_(where, jobs.c.status.notin_(tuple(TERMINAL_STATUSES)))
            if values["status"] in RUNNING:
                values.update(self._lease_values())
                self.keep_claim(polling_id)
        fenced = self._is_current(polling_id)
        if fenced:
            where = and_(where, jobs.c.claimed_by == self.replica_id)
        with self.store.tx(exclusive=False) as conn:
            moved = conn.execute(update(jobs).where(where)
                                 .values(version=jobs.c.version + 1, **values)).rowcount
            if moved and not self.store.is_sqlite:
                pg_notify(conn, [polling_id])
            if fenced and not moved:
                self.hold(conn, polling_id)  # LeaseLost if taken over; else it had ended
        if moved:
            self.notify_local(polling_id, values.get("status"))

    def update_many(self, changes: dict[str, dict[str, Any]], *,
                    committed_outflows: Sequence[str] = ()) -> list[str]:
        """Several jobs' changes in ONE transaction (the confirmer's group commit): each like
        ``update`` (a final status is final), unfenced (not a worker's own job); with the
        outflow reservations of ``committed_outflows`` committed. Returns the jobs changed."""
        if not changes:
            return []
        ts = now()
        moved: list[str] = []
        with self.store.tx(exclusive=False) as conn:
            for polling_id, values in changes.items():
                stmt = update_statement(tuple(sorted(values)))
                params = {f"u_{k}": v for k, v in values.items()}
                if conn.execute(stmt, {**params, "u_id": polling_id, "u_ts": ts}).rowcount:
                    moved.append(polling_id)
            outflows.commit_many(conn, [p for p in committed_outflows if p in moved])
            if moved and not self.store.is_sqlite:
                pg_notify(conn, moved)
        for polling_id in moved:
            self.notify_local(polling_id, changes[polling_id].get("status"))
        return moved

    def fail(self, polling_id: str, status: str, err: MMError) -> None:
        """End the job with ``status`` and the error; its outflow reservation is released."""
        self.update(polling_id, status=status,
                    error={"code": err.code, "message": err.message})
        outflows.release(self.store, polling_id)

    def release_outflow(self, polling_id: str) -> None:
        outflows.release(self.store, polling_id)

    def commit_outflow(self, polling_id: str) -> None:
        outflows.commit(self.store, polling_id)
