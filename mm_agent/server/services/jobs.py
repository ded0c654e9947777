"""Jobs: every transfer, transaction, message and typed-data request of a server wallet.

A job runs the same engine pipeline as BYOK (decode → simulate → scan → policy), then either
waits for a human (``AWAITING_MFA``) or goes on: prepare (gas, fees, funds) → nonce + sign +
store, in ONE database transaction → broadcast → confirm.

Crash safety: the signed raw transaction and its nonce are committed before anything is
broadcast. On start, ``reconcile`` finishes every unfinished job: a job with a stored raw
transaction is only ever re-broadcast with those same bytes (never re-signed with the nonce),
so a restart cannot produce a second, different transaction for the same nonce.

Waiting is event-driven: every change bumps the job's ``version`` and wakes the long-poll
waiters of that job (an ``asyncio.Event`` per job, set from worker threads through the loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from mm_agent.errors import (
    IdempotencyConflict,
    MMError,
    RequestNotFound,
    RpcError,
    TxDenied,
    TxExpired,
)
from mm_agent.evm.rpc import hex_to_int
from mm_agent.local.request_log import TERMINAL_STATUSES

from ..db.store import approvals, jobs, nonces, now, sha256, wallets

if TYPE_CHECKING:
    from mm_agent.security.pipeline import Preview

    from ..app import ServiceState

__all__ = ["JobRunner", "body_hash", "job_to_request"]

log = logging.getLogger("mm_agent.server.services.jobs")


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def job_to_request(row: Any, address: str | None = None) -> dict[str, Any]:
    """The contract §4 request object (plus ``version``) of a job row."""
    out: dict[str, Any] = {
        "pollingId": row.polling_id, "kind": row.kind, "status": row.status,
        "intent": row.intent, "chainId": row.chain_id, "version": row.version,
        "createdAt": _iso(row.created_at), "updatedAt": _iso(row.updated_at),
    }
    if address:
        out["address"] = address
    note = (row.body or {}).get("agentNote") if isinstance(row.body, dict) else None
    if note:
        out["agentNote"] = note
    for key, col in (("txHash", "tx_hash"), ("signature", "signature"), ("error", "error"),
                     ("preview", "preview"), ("approval", "approval"), ("result", "result"),
                     ("nonce", "nonce")):
        value = getattr(row, col)
        if value is not None:
            out[key] = value
    return out


class JobRunner:
    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.store = state.store
        self.engine = state.engine
        self._pool = ThreadPoolExecutor(max_workers=state.settings.workers,
                                        thread_name_prefix="mm-job")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: dict[str, asyncio.Event] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._closing = False  # set on shutdown: open long polls end (SERVICE_STOPPING)
        self.engine._counterparties = self.counterparties
        self.engine.nonce_source = self.next_nonce

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._pool, self.reconcile)
        self._sweeper = asyncio.create_task(self._sweep_expired())

    async def stop(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def closing(self) -> None:
        """Shutdown began (called on the event loop): wake every long poll so that it ends
        with a retry hint instead of holding the shutdown up."""
        self._closing = True
        for event in list(self._events.values()):
            event.set()
        self._events.clear()

    # --- notification ------------------------------------------------------------------------
    def _notify(self, polling_id: str) -> None:
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
                from mm_agent.errors import ServiceStopping

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

    def next_nonce(self, chain_id: int, address: str) -> int:
        """The nonce ``_sign_and_store`` would give this wallet's next transaction."""
        with self.store.read() as conn:
            row = conn.execute(select(nonces.c.next_nonce).where(and_(
                nonces.c.chain_id == chain_id, nonces.c.address == address))).first()
        if row is not None:
            return int(row.next_nonce)
        return hex_to_int(self.engine.rpc(chain_id).call(
            "eth_getTransactionCount", [address, "pending"]))

    # --- submission --------------------------------------------------------------------------
    def submit(self, account_id: str, wallet_row: Any, body: dict[str, Any], intent: str,
               idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Persist a new job (or return the one this idempotency key already made)."""
        digest = body_hash(body)
        ts = now()
        polling_id = uuid.uuid4().hex
        window = self.state.settings.idempotency_seconds
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
        self._pool.submit(self._run_safely, polling_id)

    # --- state changes -------------------------------------------------------------------------
    def _update(self, polling_id: str, **values: Any) -> None:
        values["updated_at"] = now()
        where = jobs.c.polling_id == polling_id
        if "status" in values:
            # A final status is final: a job cancelled (cancel.py) while a worker still ran it
            # must not come back as AWAITING_MFA/SUBMITTED.
            where = and_(where, jobs.c.status.notin_(tuple(TERMINAL_STATUSES)))
        with self.store.tx() as conn:
            conn.execute(update(jobs).where(where)
                         .values(version=jobs.c.version + 1, **values))
        self._notify(polling_id)

    def _fail(self, polling_id: str, status: str, err: MMError) -> None:
        self._update(polling_id, status=status,
                     error={"code": err.code, "message": err.message})
        self._release_outflow(polling_id)

    def _release_outflow(self, polling_id: str) -> None:
        """Hook for the outflow window (policy); nothing reserved without a policy."""
        hook = getattr(self.state, "release_outflow", None)
        if hook:
            hook(polling_id)

    def _load(self, polling_id: str) -> tuple[Any, Any]:
        with self.store.read() as conn:
            job = conn.execute(select(jobs).where(jobs.c.polling_id == polling_id)).one()
            wallet = conn.execute(select(wallets).where(wallets.c.id == job.wallet_id)).one()
        return job, wallet

    # --- the pipeline --------------------------------------------------------------------------
    def _run_safely(self, polling_id: str) -> None:
        try:
            self._run(polling_id)
        except MMError as err:
            self._fail(polling_id, "FAILED", err)
        except Exception as exc:  # the job's edge: record it instead of losing the job
            log.exception("job %s crashed (%s)", polling_id, type(exc).__name__)
            from mm_agent.errors import TxFailed

            self._fail(polling_id, "FAILED", TxFailed(f"Internal error ({type(exc).__name__})."))

    def preview_for(self, wallet_address: str, body: dict[str, Any]) -> tuple[Preview, Any]:
        """The section-5 preview of a request body, and what signing will need."""
        from mm_agent.evm.payloads import parse_transaction_payload
        from mm_agent.evm.signing import validate_typed_data

        kind, chain_id = body["kind"], int(body["chainId"])
        if kind == "transfer":
            tx, intent = self.engine.build_transfer(wallet_address, body["to"], body["amount"],
                                                    body.get("token") or "ETH", chain_id)
            return self.engine.preview_transaction(chain_id, wallet_address, tx,
                                                   intent=intent), tx
        if kind == "transaction":
            tx = parse_transaction_payload(body["payload"], chain_id=chain_id,
                                           sender=wallet_address)
            # The headline is always the engine's own decoding; the agent's words are only
            # ever the labelled ``agentNote``.
            return self.engine.preview_transaction(chain_id, wallet_address, tx), tx
        if kind == "message":
            return self.engine.preview_message(chain_id, wallet_address, body["message"]), None
        typed = validate_typed_data(body["payload"], chain_id)
        return self.engine.preview_typed_data(chain_id, wallet_address, typed), typed

    def _run(self, polling_id: str) -> None:
        job, wallet = self._load(polling_id)
        if job.status != "PENDING":
            return
        preview, material = self.preview_for(wallet.address, job.body)
        # The wallet's policy (guard/beast, allowlists, the outflow window) decides; an
        # allowed outflow is reserved in the same database transaction.
        preview.policy = self.state.policies.evaluate_and_reserve(polling_id, wallet, preview)
        self._update(polling_id, preview=preview.to_dict(), intent=preview.intent)
        if preview.denied:
            from mm_agent.errors import PolicyDenied

            self._fail(polling_id, "FAILED", PolicyDenied(preview.reason))
            return
        if preview.requires_approval:
            self.open_approval(polling_id, preview.reason,
                               shown=self._shown(job, preview, material))
            return
        self._execute(polling_id, wallet, job.body, preview, material)

    @staticmethod
    def _shown(job: Any, preview: Preview, material: Any) -> dict[str, Any]:
        """What the approval shows, signable part and digest (``approval_guard``)."""
        from .approval_guard import shown_snapshot

        tx = material if job.kind == "transaction" and isinstance(material, dict) else None
        snap = shown_snapshot(preview.chain_id, preview.to_dict(), tx)
        snap.pop("preview")  # already the job's `preview`
        return snap

    def _execute(self, polling_id: str, wallet: Any, body: dict[str, Any], preview: Preview,
                 material: Any) -> None:
        from mm_agent.evm import signing

        from .keys import load_wallet_key

        key = load_wallet_key(self.state.keys, wallet.address, wallet.key_enc,
                              wallet.data_key_wrapped)
        if body["kind"] in ("message", "typed-data"):
            if body["kind"] == "message":
                signature = signing.sign_message(key, body["message"])
            else:
                signature = signing.sign_typed_data(key, material)
            self._update(polling_id, status="COMPLETED", signature=signature,
                         result={"signature": signature, "address": wallet.address})
            return
        chain_id = int(body["chainId"])
        prepared = self.engine.prepare_transaction(chain_id, wallet.address, material, preview)
        # A payload nonce passed the preview only if it is the next one: the nonce table
        # assigns it like any other (never a caller-chosen nonce).
        self._sign_and_store(polling_id, wallet.address, chain_id, prepared, key, None)
        self._broadcast_and_confirm(polling_id, key)

    def _sign_and_store(self, polling_id: str, address: str, chain_id: int,
                        prepared: dict[str, Any], key: bytes, fixed_nonce: int | None) -> None:
        from mm_agent.evm import signing

        with self.store.read() as conn:
            known = conn.execute(select(nonces.c.next_nonce).where(and_(
                nonces.c.chain_id == chain_id, nonces.c.address == address))).first()
        # The service is the only holder of this key, so once it has a nonce record that
        # record is authoritative; the chain is asked only for an address new to it.
        chain_next = 0 if known is not None else hex_to_int(self.engine.rpc(chain_id).call(
            "eth_getTransactionCount", [address, "pending"]))
        with self.store.tx() as conn:
            if conn.execute(select(jobs.c.status).where(
                    jobs.c.polling_id == polling_id)).scalar() in TERMINAL_STATUSES:
                # Cancelled meanwhile: raising rolls back, so no nonce is taken, nothing signed.
                from mm_agent.errors import TxCancelled

                raise TxCancelled("The request was cancelled before signing.")
            if fixed_nonce is not None:
                nonce = int(fixed_nonce)
            else:
                row = conn.execute(select(nonces.c.next_nonce).where(and_(
                    nonces.c.chain_id == chain_id, nonces.c.address == address))).first()
                nonce = max(chain_next, row.next_nonce if row else 0)
                if row is None:
                    conn.execute(insert(nonces).values(chain_id=chain_id, address=address,
                                                       next_nonce=nonce + 1))
                else:
                    conn.execute(update(nonces).where(and_(
                        nonces.c.chain_id == chain_id, nonces.c.address == address))
                        .values(next_nonce=nonce + 1))
            tx = {**prepared, "nonce": nonce}
            raw, tx_hash = signing.sign_transaction(key, tx)
            # Stored before broadcast: after a crash we re-send exactly these bytes.
            conn.execute(update(jobs).where(jobs.c.polling_id == polling_id).values(
                prepared=tx, nonce=nonce, raw_tx=raw, tx_hash=tx_hash, status="SUBMITTED",
                version=jobs.c.version + 1, updated_at=now()))
        self._notify(polling_id)

    def _broadcast_and_confirm(self, polling_id: str, key: bytes | None) -> None:
        from mm_agent.evm import signing
        from mm_agent.security.submit import SubmitResult

        job, wallet = self._load(polling_id)
        chain_id = int(job.chain_id)
        submitter = self.engine.submitter(chain_id)
        try:
            submitter.broadcast(job.raw_tx)
        except RpcError as exc:
            low = exc.message.lower()
            if "already known" not in low and "nonce too low" not in low:
                self._fail(polling_id, "FAILED", exc)
                self._fill_gap(wallet, chain_id, int(job.nonce), key)
                return
        if key is None:
            from .keys import load_wallet_key

            key = load_wallet_key(self.state.keys, wallet.address, wallet.key_enc,
                                  wallet.data_key_wrapped)
        submitter.fee_cap = int(job.prepared["maxFeePerGas"]) * 3
        result = SubmitResult(tx_hash=job.tx_hash, receipt=None, hashes=[job.tx_hash])
        signer = key

        def sign(tx: dict[str, Any]) -> tuple[str, str]:
            return signing.sign_transaction(signer, tx)

        try:
            submitter.confirm(result, dict(job.prepared), sign,
                              timeout=float(self.state.config.wallet_timeout))
        except MMError as err:
            self._update(polling_id, tx_hash=result.tx_hash)
            self._fail(polling_id, "FAILED", err)
            return
        if result.receipt is None:
            return  # still pending: stays SUBMITTED; reconcile picks it up later
        body = job.body
        recipient = body.get("to") if body["kind"] == "transfer" else job.prepared.get("to")
        preview = job.preview or {}
        self._update(polling_id, status="COMPLETED", tx_hash=result.tx_hash, result={
            "to": recipient,
            "effectiveRecipient": (preview.get("decoded") or {}).get("effectiveRecipient"),
            "blockNumber": hex_to_int(result.receipt.get("blockNumber")),
            "gasUsed": str(hex_to_int(result.receipt.get("gasUsed"))),
            "replacements": result.replacements,
        })
        commit = getattr(self.state, "commit_outflow", None)
        if commit:
            commit(polling_id)

    def _fill_gap(self, wallet: Any, chain_id: int, nonce: int, key: bytes | None) -> None:
        """A rejected broadcast leaves its nonce unused. Give it back if it is the newest
        reservation; otherwise send a zero-value self-transfer with it so later
        transactions are not stuck behind a gap."""
        with self.store.tx() as conn:
            row = conn.execute(select(nonces.c.next_nonce).where(and_(
                nonces.c.chain_id == chain_id, nonces.c.address == wallet.address))).first()
            if row is not None and row.next_nonce == nonce + 1:
                conn.execute(update(nonces).where(and_(
                    nonces.c.chain_id == chain_id, nonces.c.address == wallet.address))
                    .values(next_nonce=nonce))
                return
        if key is None:
            return
        from mm_agent.evm import signing
        from mm_agent.evm.fees import estimate_fees

        fees = estimate_fees(self.engine.rpc(chain_id))
        raw, _ = signing.sign_transaction(key, {
            "type": 2, "chainId": chain_id, "to": wallet.address, "value": 0, "data": "0x",
            "gas": 21_000, "nonce": nonce, **fees.to_tx()})
        try:
            self.engine.submitter(chain_id).broadcast(raw)
        except MMError:
            log.warning("could not fill nonce gap %d on chain %d", nonce, chain_id)

    # --- approvals -----------------------------------------------------------------------------
    def open_approval(self, polling_id: str, reason: str,
                      shown: dict[str, Any] | None = None) -> str:
        """AWAITING_MFA: an approval with a single-use secret (stored hashed) on the account's
        channel. Returns the secret (for the mail/push), never stored in clear."""
        job, _wallet = self._load(polling_id)
        if job.status in TERMINAL_STATUSES:
            return ""  # cancelled while previewed: no approval to open
        settings = self.state.settings
        secret = secrets.token_urlsafe(32)
        approval_id = uuid.uuid4().hex
        expires = now() + settings.approval_window_seconds
        from ..db.store import accounts

        with self.store.read() as conn:
            account = conn.execute(select(accounts).where(
                accounts.c.id == job.account_id)).one()
        with self.store.tx() as conn:
            conn.execute(insert(approvals).values(
                id=approval_id, polling_id=polling_id, secret_hash=sha256(secret),
                channel=account.channel, status="open", expires_at=expires, created_at=now()))
        approval: dict[str, Any] = {"channel": account.channel, "reason": reason,
                                    "expiresAt": _iso(expires)}
        if shown:
            approval["shown"] = shown  # the signable tx + digest the human is shown
        self._update(polling_id, status="AWAITING_MFA", approval=approval)
        notify = getattr(self.state, "notify_approval", None)
        if notify:
            notify(account, job, approval_id, secret, reason)
        return secret

    def approve(self, polling_id: str) -> None:
        """The human approved: continue the pipeline where it stopped."""
        job, wallet = self._load(polling_id)
        if job.status != "AWAITING_MFA":
            return
        if job.kind in ("policy", "trading-mode"):
            try:
                result = self.state.policies.apply_approved(job, wallet)
            except MMError as err:
                self._fail(polling_id, "FAILED", err)
                return
            self._update(polling_id, status="COMPLETED", result=result)
            return
        self._update(polling_id, status="PENDING")
        self._pool.submit(self._continue_approved, polling_id)

    def _continue_approved(self, polling_id: str) -> None:
        """Sign what the human approved, or nothing: simulate again with today's state; if the
        result differs materially from what was shown (balance changes, verdict, gas, new
        violations) the request goes back to the human; otherwise it is signed with the SHOWN
        gas limit and fee caps, and the signable digest must match the shown one."""
        from mm_agent.errors import PolicyDenied, SimulationMismatch

        from .approval_guard import material_changes, signable_digest

        try:
            job, wallet = self._load(polling_id)
            shown_preview = dict(job.preview or {})
            shown = dict((job.approval or {}).get("shown") or {})
            preview, material = self.preview_for(wallet.address, job.body)
            preview.policy = self.state.policies.evaluate_and_reserve(None, wallet, preview)
            if preview.denied:  # e.g. a party blocklisted since: never signed
                self._update(polling_id, preview=preview.to_dict())
                self._fail(polling_id, "FAILED", PolicyDenied(preview.reason))
                return
            changed = material_changes(shown_preview, preview.to_dict(), wallet.address)
            if changed:
                why = ("The chain changed since you were asked, so nothing was signed: "
                       + "; ".join(changed) + ". Check the new details. Originally: "
                       + ((job.approval or {}).get("reason") or "approval required"))
                self._update(polling_id, preview=preview.to_dict(), status="PENDING")
                self.open_approval(polling_id, why,
                                   shown=self._shown(job, preview, material))
                return
            if job.kind == "transaction" and shown.get("tx"):
                # Sign the gas limit and fee caps the human saw, never fresher (higher) ones.
                tx = shown["tx"]
                preview.fees = {**(preview.fees or {}), "gasLimit": tx["gasLimit"],
                                "maxFeePerGas": tx["maxFeePerGas"],
                                "maxPriorityFeePerGas": tx["maxPriorityFeePerGas"]}
            self.state.policies.reserve_approved(polling_id, wallet, preview)
            self._update(polling_id, preview=preview.to_dict())
            if job.kind != "transaction" or not shown.get("digest"):
                self._execute(polling_id, wallet, job.body, preview, material)
                return
            prepared = self.engine.prepare_transaction(int(job.body["chainId"]), wallet.address,
                                                       material, preview)
            if signable_digest(prepared) != shown["digest"]:
                self._fail(polling_id, "FAILED", SimulationMismatch(
                    "What would be signed differs from what the human approved; nothing was "
                    "signed."))
                return
            from .keys import load_wallet_key

            key = load_wallet_key(self.state.keys, wallet.address, wallet.key_enc,
                                  wallet.data_key_wrapped)
            self._sign_and_store(polling_id, wallet.address, int(job.body["chainId"]),
                                 prepared, key, None)
            self._broadcast_and_confirm(polling_id, key)
        except MMError as err:
            self._fail(polling_id, "FAILED", err)
        except Exception as exc:  # the job's edge
            log.exception("approved job %s crashed (%s)", polling_id, type(exc).__name__)
            from mm_agent.errors import TxFailed

            self._fail(polling_id, "FAILED", TxFailed(f"Internal error ({type(exc).__name__})."))

    def deny(self, polling_id: str) -> None:
        self._fail(polling_id, "DENIED", TxDenied("The request was rejected by the human."))

    async def _sweep_expired(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await asyncio.get_running_loop().run_in_executor(self._pool, self.expire_due)
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
            job, _ = self._load(row.polling_id)
            if job.status == "AWAITING_MFA":
                self._fail(row.polling_id, "EXPIRED",
                           TxExpired("The approval was not given in time."))
        return len(due)

    # --- crash recovery ------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Finish what a previous process left: re-run PENDING jobs from the start, re-send
        the stored bytes of SUBMITTED ones (never a new signature for their nonce)."""
        with self.store.read() as conn:
            rows = conn.execute(select(jobs.c.polling_id, jobs.c.status, jobs.c.raw_tx).where(
                jobs.c.status.in_(("PENDING", "SUBMITTED")))).all()
        for row in rows:
            if row.status == "SUBMITTED" and row.raw_tx:
                self._pool.submit(self._reconcile_submitted, row.polling_id)
            elif row.status == "PENDING":
                self.enqueue(row.polling_id)

    def _reconcile_submitted(self, polling_id: str) -> None:
        try:
            job, _ = self._load(polling_id)
            receipt = self.engine.rpc(int(job.chain_id)).call(
                "eth_getTransactionReceipt", [job.tx_hash])
            if receipt:
                if hex_to_int(receipt.get("status")) == 1:
                    self._update(polling_id, status="COMPLETED", result={
                        "to": job.body.get("to") or job.prepared.get("to"),
                        "blockNumber": hex_to_int(receipt.get("blockNumber")),
                        "gasUsed": str(hex_to_int(receipt.get("gasUsed"))), "replacements": 0,
                        "recovered": True})
                else:
                    from mm_agent.errors import SimulationMismatch

                    # Only transactions whose preview succeeded are ever signed and stored.
                    self._fail(polling_id, "FAILED", SimulationMismatch(
                        "Reverted on chain although its preview succeeded."))
                return
            self._broadcast_and_confirm(polling_id, None)
        except MMError as err:
            self._fail(polling_id, "FAILED", err)
