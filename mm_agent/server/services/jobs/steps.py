"""The job pipeline, step by step: preview (decode → simulate → scan → policy), then either a
human approval (``AWAITING_MFA``) or prepare (gas, fees, funds) → nonce + sign + store, in ONE
database transaction → broadcast → confirm; and, once a human approved, the re-checked
continuation (``approval_guard.py``).

The lean path (no approval): the preview is written with the signature in the one signing
transaction (or, when the job stops before signing, on its own as before), and after the
broadcast the worker hands the job to the ``Confirmer`` (``confirm.py``: receipts of all
broadcast jobs in batches) instead of polling its receipt, so it is free for the next job.

Crash safety: the signed raw transaction and its nonce are committed before anything is
broadcast, so ``reconcile.py`` only ever re-sends those same bytes after a restart.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, update

from mm_agent.errors import MMError, RpcError, TxDenied
from mm_agent.evm.rpc import hex_to_int
from mm_agent.local.config import Config
from mm_agent.local.request_log import TERMINAL_STATUSES
from mm_agent.security.pipeline import Engine

from ...db.store import allocate_nonce, jobs, nonces, now
from ..keys import MasterKey
from .approval import ApprovalOpener
from .confirm import Confirmer, Pending
from .queue import JobQueue

if TYPE_CHECKING:
    from mm_agent.security.pipeline import Preview

    from ..policy import PolicyService

__all__ = ["Pipeline"]

log = logging.getLogger("mm_agent.server.services.jobs")


class Pipeline:
    """Runs jobs of the queue through the engine; signs with keys unwrapped by ``keys``."""

    def __init__(self, queue: JobQueue, engine: Engine, keys: MasterKey, config: Config,
                 policies: PolicyService, opener: ApprovalOpener) -> None:
        self.queue = queue
        self.store = queue.store
        self.engine = engine
        self.keys = keys
        self.config = config
        self.policies = policies
        self.opener = opener
        self.confirmer = Confirmer(self)

    def next_nonce(self, chain_id: int, address: str) -> int:
        """The nonce ``_sign_and_store`` would give this wallet's next transaction."""
        with self.store.read() as conn:
            row = conn.execute(select(nonces.c.next_nonce).where(and_(
                nonces.c.chain_id == chain_id, nonces.c.address == address))).first()
        if row is not None:
            return int(row.next_nonce)
        return hex_to_int(self.engine.rpc(chain_id).call(
            "eth_getTransactionCount", [address, "pending"]))

    def run_safely(self, polling_id: str) -> None:
        try:
            self._run(polling_id)
        except MMError as err:
            self.queue.fail(polling_id, "FAILED", err)
        except Exception as exc:  # the job's edge: record it instead of losing the job
            log.exception("job %s crashed (%s)", polling_id, type(exc).__name__)
            from mm_agent.errors import TxFailed

            self.queue.fail(polling_id, "FAILED",
                            TxFailed(f"Internal error ({type(exc).__name__})."))

    def preview_for(self, wallet_address: str, body: dict[str, Any]) -> tuple[Preview, Any]:
        """The section-5 preview of a request body, and what signing will need."""
        from mm_agent.evm.signing import validate_typed_data

        kind, chain_id = body["kind"], int(body["chainId"])
        if kind in ("transfer", "transaction"):
            tx, intent = self.transaction_of(wallet_address, body)
            return self.engine.preview_transaction(chain_id, wallet_address, tx,
                                                   intent=intent), tx
        if kind == "message":
            return self.engine.preview_message(chain_id, wallet_address, body["message"]), None
        typed = validate_typed_data(body["payload"], chain_id)
        return self.engine.preview_typed_data(chain_id, wallet_address, typed), typed

    def transaction_of(self, wallet_address: str, body: dict[str, Any]
                       ) -> tuple[dict[str, Any], str | None]:
        """The unsigned transaction of a transfer/transaction request, and the engine's own
        headline for it (None: the preview decodes one)."""
        from mm_agent.evm.payloads import parse_transaction_payload

        chain_id = int(body["chainId"])
        if body["kind"] == "transfer":
            return self.engine.build_transfer(wallet_address, body["to"], body["amount"],
                                              body.get("token") or "ETH", chain_id)
        # The headline is always the engine's own decoding; the agent's words are only ever
        # the labelled ``agentNote``.
        return parse_transaction_payload(body["payload"], chain_id=chain_id,
                                         sender=wallet_address), None

    def _run(self, polling_id: str) -> None:
        job, wallet = self.queue.load(polling_id)
        if job.status != "PENDING":
            return
        preview, material = self.preview_for(wallet.address, job.body)
        # The wallet's policy (guard/beast, allowlists, the outflow window) decides; an
        # allowed outflow is reserved in the same database transaction.
        preview.policy = self.policies.evaluate_and_reserve(polling_id, wallet, preview)
        record = {"preview": preview.to_dict(), "intent": preview.intent}
        if not preview.denied and not preview.requires_approval:
            # Written with the signature (one transaction), or alone if it stops before.
            self._execute(polling_id, wallet, job.body, preview, material, record=record)
            return
        self.hold_for_policy(job, preview, material, record)

    def hold_for_policy(self, job: Any, preview: Preview, material: Any,
                        record: dict[str, Any]) -> None:
        """A request the policy did not let through: denied (FAILED), or to the human."""
        self.queue.update(job.polling_id, **record)
        if preview.denied:
            from mm_agent.errors import PolicyDenied

            self.queue.fail(job.polling_id, "FAILED", PolicyDenied(preview.reason))
            return
        self.opener.open(job.polling_id, preview.reason,
                         shown=self._shown(job, preview, material))

    @staticmethod
    def _shown(job: Any, preview: Preview, material: Any) -> dict[str, Any]:
        """What the approval shows, signable part and digest (``approval_guard``)."""
        from ..approval_guard import shown_snapshot

        tx = material if job.kind == "transaction" and isinstance(material, dict) else None
        snap = shown_snapshot(preview.chain_id, preview.to_dict(), tx)
        snap.pop("preview")  # already the job's `preview`
        return snap

    def _execute(self, polling_id: str, wallet: Any, body: dict[str, Any], preview: Preview,
                 material: Any, *, record: dict[str, Any] | None = None) -> None:
        """Sign (and for transactions store and broadcast). ``record``: job values not yet
        written (the preview), stored with the signature, or alone if this stops first."""
        try:
            self._sign_and_send(polling_id, wallet, body, preview, material, record or {})
        except BaseException:
            if record:
                self.queue.update(polling_id, **record)
            raise

    def _sign_and_send(self, polling_id: str, wallet: Any, body: dict[str, Any],
                       preview: Preview, material: Any, record: dict[str, Any]) -> None:
        from types import SimpleNamespace

        from mm_agent.evm import signing

        from ..keys import load_wallet_key

        key = load_wallet_key(self.keys, wallet.address, wallet.key_enc,
                              wallet.data_key_wrapped)
        if body["kind"] in ("message", "typed-data"):
            if body["kind"] == "message":
                signature = signing.sign_message(key, body["message"])
            else:
                signature = signing.sign_typed_data(key, material)
            self.queue.update(polling_id, status="COMPLETED", signature=signature,
                              result={"signature": signature, "address": wallet.address},
                              **record)
            record.clear()
            return
        chain_id = int(body["chainId"])
        prepared = self.engine.prepare_transaction(chain_id, wallet.address, material, preview)
        # A payload nonce passed the preview only if it is the next one: the nonce table
        # assigns it like any other (never a caller-chosen nonce).
        tx, raw, tx_hash = self._sign_and_store(polling_id, wallet.address, chain_id, prepared,
                                                key, None, record)
        record.clear()  # written
        # What broadcast needs, without reading the row back.
        job = SimpleNamespace(chain_id=chain_id, raw_tx=raw, tx_hash=tx_hash, nonce=tx["nonce"],
                              prepared=tx, body=body, preview=preview.to_dict())
        self.broadcast_and_confirm(polling_id, key, loaded=(job, wallet))

    def _sign_and_store(self, polling_id: str, address: str, chain_id: int,
                        prepared: dict[str, Any], key: bytes, fixed_nonce: int | None,
                        record: dict[str, Any] | None = None
                        ) -> tuple[dict[str, Any], str, str]:
        """Nonce + sign + store in one transaction (with ``record``'s values); returns the
        signed transaction, its raw bytes and hash."""
        from mm_agent.evm import signing

        with self.store.read() as conn:
            known = conn.execute(select(nonces.c.next_nonce).where(and_(
                nonces.c.chain_id == chain_id, nonces.c.address == address))).first()
        # The service is the only holder of this key, so once it has a nonce record that
        # record is authoritative; the chain is asked only for an address new to it.
        chain_next = 0 if known is not None else hex_to_int(self.engine.rpc(chain_id).call(
            "eth_getTransactionCount", [address, "pending"]))
        # Row locks, not the write lock: the job row (``hold``: still ours, across replicas)
        # and the (chain, address) nonce row (``allocate_nonce``), each until commit.
        with self.store.tx(exclusive=False) as conn:
            if self.queue.hold(conn, polling_id).status in TERMINAL_STATUSES:
                # Cancelled meanwhile: raising rolls back, so no nonce is taken, nothing signed.
                from mm_agent.errors import TxCancelled

                raise TxCancelled("The request was cancelled before signing.")
            if fixed_nonce is not None:
                nonce = int(fixed_nonce)
            else:
                nonce = allocate_nonce(conn, chain_id, address, chain_next)
            tx = {**prepared, "nonce": nonce}
            raw, tx_hash = signing.sign_transaction(key, tx)
            # Stored before broadcast: after a crash we re-send exactly these bytes.
            conn.execute(update(jobs).where(jobs.c.polling_id == polling_id).values(
                prepared=tx, nonce=nonce, raw_tx=raw, tx_hash=tx_hash, status="SUBMITTED",
                version=jobs.c.version + 1, updated_at=now(), **(record or {})))
        self.queue.notify(polling_id, "SUBMITTED")
        return tx, raw, tx_hash

    def broadcast_and_confirm(self, polling_id: str, key: bytes | None, *,
                              loaded: tuple[Any, Any] | None = None) -> None:
        """Broadcast the stored bytes, then hand the job to the confirmer (receipts in
        batches). A rejected broadcast fails the job and gives its nonce back or fills it."""
        job, wallet = loaded or self.queue.load(polling_id)
        chain_id = int(job.chain_id)
        submitter = self.engine.submitter(chain_id)
        try:
            submitter.broadcast(job.raw_tx)
        except RpcError as exc:
            low = exc.message.lower()
            if "already known" not in low and "nonce too low" not in low:
                self.queue.fail(polling_id, "FAILED", exc)
                self._fill_gap(wallet, chain_id, int(job.nonce), key)
                return
        self.confirmer.add(Pending(
            polling_id, chain_id, str(job.tx_hash),
            lambda receipt: self._complete(polling_id, job, receipt, job.tx_hash, 0),
            time.monotonic(), job=job))

    def confirm_one(self, polling_id: str, hashes: list[str] | None = None,
                    replacements: int = 0) -> None:
        """The per-job confirmation (``Submitter.confirm``: polls, replaces a stuck
        transaction with higher fees for its nonce): for a job the confirmer did not see mined
        soon enough. ``hashes``: every hash already sent for its nonce. Not mined within the
        wallet timeout either: the job goes back to the confirmer (still SUBMITTED, watched
        until one of its hashes is mined), then here again for the next round of bumps."""
        from mm_agent.evm import signing
        from mm_agent.security.submit import SubmitResult

        job, wallet = self.queue.load(polling_id)
        if job.status != "SUBMITTED":
            return
        if self._cancelled_on_chain(polling_id, job):
            return
        submitter = self.engine.submitter(int(job.chain_id))
        from ..keys import load_wallet_key

        # Signed before any freeze: finishing it (fee bumps of this nonce) is allowed.
        key = load_wallet_key(self.keys, wallet.address, wallet.key_enc,
                              wallet.data_key_wrapped, frozen_ok=True)
        # Replacements never above the ceiling the preview disclosed (for an approved request:
        # the one stored with what the human was shown).
        from ..approval_guard import replacement_ceiling

        submitter.fee_cap = replacement_ceiling(
            job.prepared, ((job.approval or {}).get("shown") or {}).get("tx"),
            (job.preview or {}).get("fees"))
        sent = list(hashes or [job.tx_hash])
        result = SubmitResult(tx_hash=sent[-1], receipt=None, hashes=sent,
                              replacements=replacements)
        signer = key

        def sign(tx: dict[str, Any]) -> tuple[str, str]:
            return signing.sign_transaction(signer, tx)

        try:
            submitter.confirm(result, dict(job.prepared), sign,
                              timeout=float(self.config.wallet_timeout))
        except MMError as err:
            self.queue.update(polling_id, tx_hash=result.tx_hash)
            self.queue.fail(polling_id, "FAILED", err)
            return
        if result.receipt is None:
            # Still pending: stays SUBMITTED and watched (a restart reconciles it too).
            self.confirmer.add(Pending(
                polling_id, int(job.chain_id), result.tx_hash,
                lambda receipt: self._complete(
                    polling_id, job, receipt,
                    str(receipt.get("transactionHash") or result.tx_hash),
                    result.replacements),
                time.monotonic(), hashes=list(result.hashes),
                replacements=result.replacements))
            return
        self._complete(polling_id, job, result.receipt, result.tx_hash, result.replacements)

    def _cancelled_on_chain(self, polling_id: str, job: Any) -> bool:
        """A cancel (``services/cancel.py``: a self-transfer replacing this nonce) that was
        mined after its own watcher gave up ends the job here: DENIED / TX_CANCELLED."""
        from mm_agent.errors import TxCancelled

        cancel_hash = (job.result or {}).get("cancelTxHash")
        if not cancel_hash:
            return False
        try:
            receipt = self.engine.rpc(int(job.chain_id)).call(
                "eth_getTransactionReceipt", [cancel_hash])
        except MMError:
            return False
        if not isinstance(receipt, dict):
            return False
        self.queue.fail(polling_id, "DENIED", TxCancelled(
            f"Cancelled: replaced by {cancel_hash} (block "
            f"{hex_to_int(receipt.get('blockNumber'))})."))
        return True

    @staticmethod
    def _completion(job: Any, receipt: dict[str, Any], tx_hash: str,
                    replacements: int) -> dict[str, Any]:
        body = job.body
        recipient = body.get("to") if body["kind"] == "transfer" else job.prepared.get("to")
        preview = job.preview or {}
        return {"status": "COMPLETED", "tx_hash": tx_hash, "result": {
            "to": recipient,
            "effectiveRecipient": (preview.get("decoded") or {}).get("effectiveRecipient"),
            "blockNumber": hex_to_int(receipt.get("blockNumber")),
            "gasUsed": str(hex_to_int(receipt.get("gasUsed"))),
            "replacements": replacements,
        }}

    def _complete(self, polling_id: str, job: Any, receipt: dict[str, Any], tx_hash: str,
                  replacements: int) -> None:
        self.queue.update(polling_id, **self._completion(job, receipt, tx_hash, replacements))
        self.queue.commit_outflow(polling_id)

    def complete_many(self, mined: list[tuple[Pending, dict[str, Any]]]) -> None:
        """The confirmer's group commit: jobs whose transactions were mined successfully,
        COMPLETED (and their outflows committed) in one database transaction."""
        changes = {p.polling_id: self._completion(
            p.job, receipt, str(receipt.get("transactionHash") or p.tx_hash), p.replacements)
            for p, receipt in mined}
        self.queue.update_many(changes, committed_outflows=list(changes))

    def _fill_gap(self, wallet: Any, chain_id: int, nonce: int, key: bytes | None) -> None:
        """A rejected broadcast leaves its nonce unused. Give it back if it is the newest
        reservation; otherwise send a zero-value self-transfer with it so later
        transactions are not stuck behind a gap."""
        with self.store.tx(exclusive=False) as conn:
            row = conn.execute(select(nonces.c.next_nonce).where(and_(
                nonces.c.chain_id == chain_id, nonces.c.address == wallet.address))
                .with_for_update()).first()
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

    def approve(self, polling_id: str) -> None:
        """The human approved: continue the pipeline where it stopped."""
        job, wallet = self.queue.load(polling_id)
        if job.status != "AWAITING_MFA":
            return
        if job.kind in ("policy", "trading-mode"):
            try:
                result = self.policies.apply_approved(job, wallet)
            except MMError as err:
                self.queue.fail(polling_id, "FAILED", err)
                return
            self.queue.update(polling_id, status="COMPLETED", result=result)
            return
        self.queue.update(polling_id, status="PENDING")  # claimed here, whoever ran it
        self.queue.spawn_job(self._continue_approved, polling_id)

    def _continue_approved(self, polling_id: str) -> None:
        """Sign what the human approved, or nothing: simulate again with today's state; if the
        result differs materially from what was shown (balance changes, verdict, gas, new
        violations) the request goes back to the human; otherwise it is signed with the SHOWN
        gas limit and fee caps, and the signable digest must match the shown one."""
        from mm_agent.errors import PolicyDenied, SimulationMismatch

        from ..approval_guard import material_changes, signable_digest

        try:
            job, wallet = self.queue.load(polling_id)
            shown_preview = dict(job.preview or {})
            shown = dict((job.approval or {}).get("shown") or {})
            preview, material = self.preview_for(wallet.address, job.body)
            preview.policy = self.policies.evaluate_and_reserve(None, wallet, preview)
            if preview.denied:  # e.g. a party blocklisted since: never signed
                self.queue.update(polling_id, preview=preview.to_dict())
                self.queue.fail(polling_id, "FAILED", PolicyDenied(preview.reason))
                return
            changed = material_changes(shown_preview, preview.to_dict(), wallet.address)
            if changed:
                why = ("The chain changed since you were asked, so nothing was signed: "
                       + "; ".join(changed) + ". Check the new details. Originally: "
                       + ((job.approval or {}).get("reason") or "approval required"))
                self.queue.update(polling_id, preview=preview.to_dict(), status="PENDING")
                self.opener.open(polling_id, why,
                                   shown=self._shown(job, preview, material))
                return
            if job.kind == "transaction" and shown.get("tx"):
                # Sign the gas limit, fee caps and replacement ceiling the human saw, never
                # fresher (higher) ones.
                from ..approval_guard import shown_fees

                preview.fees = shown_fees(preview.fees, shown["tx"])
            self.policies.reserve_approved(polling_id, wallet, preview)
            self.queue.update(polling_id, preview=preview.to_dict())
            if job.kind != "transaction" or not shown.get("digest"):
                self._execute(polling_id, wallet, job.body, preview, material)
                return
            prepared = self.engine.prepare_transaction(int(job.body["chainId"]), wallet.address,
                                                       material, preview)
            if signable_digest(prepared) != shown["digest"]:
                self.queue.fail(polling_id, "FAILED", SimulationMismatch(
                    "What would be signed differs from what the human approved; nothing was "
                    "signed."))
                return
            from ..keys import load_wallet_key

            key = load_wallet_key(self.keys, wallet.address, wallet.key_enc,
                                  wallet.data_key_wrapped)
            self._sign_and_store(polling_id, wallet.address, int(job.body["chainId"]),
                                 prepared, key, None)
            self.broadcast_and_confirm(polling_id, key)
        except MMError as err:
            self.queue.fail(polling_id, "FAILED", err)
        except Exception as exc:  # the job's edge
            log.exception("approved job %s crashed (%s)", polling_id, type(exc).__name__)
            from mm_agent.errors import TxFailed

            self.queue.fail(polling_id, "FAILED",
                            TxFailed(f"Internal error ({type(exc).__name__})."))

    def deny(self, polling_id: str) -> None:
        self.queue.fail(polling_id, "DENIED", TxDenied("The request was rejected by the human."))
