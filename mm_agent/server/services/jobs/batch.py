"""A wallet's queued transactions as one batch (``lanes.py`` hands them over, in order).

The single-job path (``steps.py``) runs per job: preview → policy → prepare → nonce + sign +
store → broadcast. A batch does the same steps for n jobs of one wallet and chain with one
round trip each instead of n:

1. **preview**: ``Engine.preview_transactions``, ONE ``eth_simulateV1`` call whose blocks run
   the jobs in sequence (each job's simulation sees the state the jobs before it leave, in
   the block it would land in); it may plan only a prefix (a node without ``eth_simulateV1``:
   the first job alone), the rest runs again;
2. **prepare**: ``Engine.prepare_transactions``, one balance read and a cumulative funds check;
3. **policy**: ``PolicyService.evaluate_and_reserve_many``, one database transaction, each job
   judged with the window the jobs before it leave;
4. **sign and store**: one database transaction: every job row held (still ours, not
   cancelled), the nonces allocated as one contiguous run, each job's preview, nonce and
   signed bytes written;
5. **broadcast** in nonce order, then the confirmer (receipts and completion in batches).

What a batch never changes: each job's preview is its own simulation in sequence, and the
first job that does not go straight through (the policy wants a human or denies it, its
simulation reverts, its funds fall short, it was cancelled meanwhile) STOPS the batch there:
that job takes the single path's course, and every job behind it goes back to the front of
its lane, without a reservation, to be simulated again without it. Nonces are taken only
for the jobs that are signed, in one run, so no gap is left.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, select, update

from mm_agent.errors import MMError
from mm_agent.evm.rpc import hex_to_int
from mm_agent.local.request_log import TERMINAL_STATUSES

from ...db.store import allocate_nonce, jobs, nonces, now
from .. import outflows

if TYPE_CHECKING:
    from mm_agent.security.pipeline import Preview

    from .steps import Pipeline

__all__ = ["BatchRunner"]

# A batch's signed jobs, stored in one executemany (``b_`` names: a bound parameter may not be
# named after a column it sets).
_SIGNED = update(jobs).where(jobs.c.polling_id == bindparam("b_id")).values(
    prepared=bindparam("b_prepared", type_=jobs.c.prepared.type),
    nonce=bindparam("b_nonce"), raw_tx=bindparam("b_raw"), tx_hash=bindparam("b_hash"),
    status="SUBMITTED", version=jobs.c.version + 1, updated_at=bindparam("b_ts"),
    preview=bindparam("b_preview", type_=jobs.c.preview.type),
    intent=bindparam("b_intent"))

log = logging.getLogger("mm_agent.server.services.jobs")


class BatchRunner:
    """``run(polling_ids)``: one batch of one wallet's queued transaction jobs; returns the
    jobs to run again (in order)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.queue = pipeline.queue
        self.store = pipeline.store
        self.engine = pipeline.engine

    def run(self, polling_ids: list[str]) -> list[str]:
        rows, wallet = self.queue.load_many(polling_ids)
        rows = [r for r in rows if r.status == "PENDING"]
        if len(rows) <= 1:
            for row in rows:  # alone: the single path, unchanged
                self.pipeline.run_safely(row.polling_id)
            return []
        try:
            outcome = self._plan_and_sign(rows, wallet)
        except Exception as exc:
            # Nothing of this batch was signed (signing is its last step, one database
            # transaction): drop the reservations it made; the first job takes the single
            # path, which records its own outcome, and the others run again.
            if not isinstance(exc, MMError):
                log.exception("batch of %d job(s) failed before signing", len(rows))
            with self.store.tx(exclusive=False) as conn:
                # Only what nothing signed: a signed job's reservation counts until it ends.
                still = conn.execute(select(jobs.c.polling_id).where(and_(
                    jobs.c.polling_id.in_([r.polling_id for r in rows]),
                    jobs.c.status == "PENDING"))).scalars().all()
                outflows.unreserve(conn, list(still))
            self.pipeline.run_safely(rows[0].polling_id)
            return [r.polling_id for r in rows[1:]]
        signed, stopper, again = outcome
        if stopper is not None:
            self._stop(*stopper)
        for polling_id, loaded, key in signed:
            self.pipeline.broadcast_and_confirm(polling_id, key, loaded=loaded)
        return again

    def _stop(self, job: Any, tx: dict[str, Any], preview: Preview,
              failure: MMError | None) -> None:
        """The job that stopped the batch takes the single path's course: held for the
        policy (denied, or to the human), or failed (a revert, funds short)."""
        record = {"preview": preview.to_dict(), "intent": preview.intent}
        try:
            if failure is None:
                self.pipeline.hold_for_policy(job, preview, tx, record)
            else:
                self.queue.update(job.polling_id, **record)
                self.queue.fail(job.polling_id, "FAILED", failure)
        except MMError as err:
            self.queue.fail(job.polling_id, "FAILED", err)
        except Exception as exc:  # the job's edge, as ``run_safely``
            log.exception("job %s crashed (%s)", job.polling_id, type(exc).__name__)
            from mm_agent.errors import TxFailed

            self.queue.fail(job.polling_id, "FAILED",
                            TxFailed(f"Internal error ({type(exc).__name__})."))

    def _plan_and_sign(self, rows: list[Any], wallet: Any) -> tuple[
            list[tuple[str, tuple[Any, Any], bytes]],
            tuple[Any, dict[str, Any], Preview, MMError | None] | None, list[str]]:
        """Steps 1–4. Returns what to broadcast, the job that stops the batch (job, tx,
        preview, failure or None for a policy hold) and the jobs to run again."""
        p = self.pipeline
        chain_id = int(rows[0].body["chainId"])
        address = wallet.address
        # The transactions. A request that cannot become one (bad payload, an ERC-20 the
        # wallet cannot cover) fails on its own: it will never run, so it changes nothing
        # for the others' simulations.
        batch: list[tuple[Any, dict[str, Any], str | None]] = []
        for job in rows:
            try:
                tx, intent = p.transaction_of(address, job.body)
            except MMError as err:
                self.queue.fail(job.polling_id, "FAILED", err)
                continue
            batch.append((job, tx, intent))
        if len(batch) <= 1:
            for job, _, _ in batch:
                p.run_safely(job.polling_id)
            return [], None, []
        previews = self.engine.preview_transactions(
            chain_id, address, [(tx, intent) for _, tx, intent in batch])
        planned = batch[:len(previews)]
        prepared = self.engine.prepare_transactions(
            chain_id, address, [(tx, pv) for (_, tx, _), pv in zip(planned, previews,
                                                                    strict=True)])
        short = next((i for i, out in enumerate(prepared) if isinstance(out, MMError)),
                     len(prepared))
        # The policy judges up to the first job that cannot be prepared (the single path
        # judges before preparing, so that one's verdict still decides its course).
        judged = p.policies.evaluate_and_reserve_many(
            wallet, [(job.polling_id, pv) for (job, _, _), pv in
                     zip(planned[:short + 1], previews, strict=False)])
        for pv, result in zip(previews, judged, strict=False):
            pv.policy = result
        held = next((i for i, r in enumerate(judged) if r.decision != "allow"), len(judged))
        stop = min(held, short)
        # The job that stops the batch (None: every planned job goes through), and the jobs
        # behind it (or behind the planned prefix), which run again.
        stopper = None
        if stop < len(planned):
            failure = None if held == stop else prepared[stop]
            assert failure is None or isinstance(failure, MMError)
            stopper = (planned[stop][0], planned[stop][1], previews[stop], failure)
        behind = [job.polling_id for job, _, _ in batch[stop + (stopper is not None):]]
        signable = [(job, tx, pv, prepared[i])
                    for i, ((job, tx, _), pv) in enumerate(zip(planned[:stop], previews,
                                                               strict=False))]
        back = [stopper[0].polling_id] if stopper is not None else []
        signed, cut = self._sign_and_store(wallet, chain_id, signable, back_if_cut=back)
        if cut is None:
            return signed, stopper, behind
        # Cancelled while the batch ran: it ends as it was cancelled (its reservation was
        # released in the signing transaction), and every job behind it (simulated with it)
        # runs again, the stopper included.
        return signed, None, [job.polling_id for job, _, _, _ in signable[cut + 1:]] + back \
            + behind

    def _sign_and_store(self, wallet: Any, chain_id: int,
                        signable: list[tuple[Any, dict[str, Any], Preview, Any]], *,
                        back_if_cut: list[str]
                        ) -> tuple[list[tuple[str, tuple[Any, Any], bytes]], int | None]:
        """Hold, number, sign and store ``signable`` in ONE database transaction. Returns
        what to broadcast, and the index of the first job found cancelled (None: none): it
        and the jobs behind it are not signed, and the reservations of those behind it (and
        of ``back_if_cut``) are dropped: they run again."""
        if not signable:
            return [], None
        from mm_agent.evm import signing

        from ..keys import load_wallet_key

        address = wallet.address
        key = load_wallet_key(self.pipeline.keys, address, wallet.key_enc,
                              wallet.data_key_wrapped)
        with self.store.read() as conn:
            known = conn.execute(select(nonces.c.next_nonce).where(and_(
                nonces.c.chain_id == chain_id, nonces.c.address == address))).first()
        # As the single path: the service's nonce record is authoritative once it has one.
        chain_next = 0 if known is not None else hex_to_int(self.engine.rpc(chain_id).call(
            "eth_getTransactionCount", [address, "pending"]))
        out: list[tuple[str, tuple[Any, Any], bytes]] = []
        cut: int | None = None
        ts = now()
        with self.store.tx(exclusive=False) as conn:
            held = self.queue.hold_many(conn, [job.polling_id for job, _, _, _ in signable])
            cut = next((i for i, (job, _, _, _) in enumerate(signable)
                        if held[job.polling_id].status in TERMINAL_STATUSES), None)
            take = signable[:cut] if cut is not None else signable
            if cut is not None:
                outflows.release_in(conn, signable[cut][0].polling_id)
                outflows.unreserve(conn, [job.polling_id for job, _, _, _ in signable[cut + 1:]]
                                   + back_if_cut)
            if take:
                first = allocate_nonce(conn, chain_id, address, chain_next, count=len(take))
                rows = []
                for offset, (job, _, preview, prepared) in enumerate(take):
                    tx = {**prepared, "nonce": first + offset}
                    raw, tx_hash = signing.sign_transaction(key, tx)
                    shown = preview.to_dict()
                    rows.append({"b_id": job.polling_id, "b_prepared": tx, "b_nonce": tx["nonce"],
                                 "b_raw": raw, "b_hash": tx_hash, "b_ts": ts,
                                 "b_preview": shown, "b_intent": preview.intent})
                    loaded = SimpleNamespace(chain_id=chain_id, raw_tx=raw, tx_hash=tx_hash,
                                             nonce=tx["nonce"], prepared=tx, body=job.body,
                                             preview=shown)
                    out.append((job.polling_id, (loaded, wallet), key))
                # Stored before broadcast: after a crash we re-send exactly these bytes.
                conn.execute(_SIGNED, rows)
            self.queue.notify_in(conn, [polling_id for polling_id, _, _ in out])
        for polling_id, _, _ in out:
            self.queue.notify_local(polling_id, "SUBMITTED")
        return out, cut
