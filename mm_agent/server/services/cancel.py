"""Cancelling a request (`mm wallet requests cancel --polling-id`).

Status after a cancel: ``DENIED`` with error code ``TX_CANCELLED`` (the contract's terminal
statuses stay FAILED/DENIED/EXPIRED/COMPLETED; DENIED already means "not done on purpose").

- ``PENDING`` / ``AWAITING_MFA``: nothing was signed. One conditional UPDATE moves the job to
  DENIED only if it is still in one of those statuses (a worker that signs checks the status
  in the same database transaction that takes the nonce, so a cancelled job is never signed);
  its open approval is closed (``cancelled``) and its outflow reservation released.
- ``SUBMITTED``: the transaction is out. A replacement that cancels it is signed: a 0-value
  self-transfer with the same nonce, with both fees above anything sent for that nonce (the
  first fees bumped 12.5 % once per possible automatic replacement, plus one; a previous,
  still pending cancel's bumped once; or the current estimate if higher). Those fees are part
  of the previewed payload, so the pipeline simulates with exactly them and the preview's
  ``fees`` (``result.cancelPreview``) are what is signed. The wallet chose them, not the agent:
  the engine's ``fee_cap`` finding is dropped (``wallet_fees_preview``). The replacement is
  broadcast once and never re-bumped here (the original job's own replacements, at most
  1.125^3 x its first fees, are underpriced against it), so its disclosed
  ``maxReplacementFeePerGas`` is never reached; a stuck cancel is cancelled again. The job
  records ``result.cancelTxHash`` at once; when the replacement is mined the job becomes
  DENIED/TX_CANCELLED. If the original is mined first the job completes as usual: a cancel is
  a request, not a guarantee.
- A finished request cannot be cancelled: ``ALREADY_DECIDED``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, update

from mm_agent.errors import ApprovalClosed, MMError, RpcError, TxCancelled
from mm_agent.evm.fees import bump
from mm_agent.evm.rpc import hex_to_int

from ..db.store import approvals, jobs, now
from .jobs.records import job_to_request

if TYPE_CHECKING:
    from .jobs.runner import JobRunner

__all__ = ["CANCELLABLE", "cancel_job"]

log = logging.getLogger("mm_agent.server.services.cancel")

CANCELLABLE = ("PENDING", "AWAITING_MFA")


def _error(message: str) -> dict[str, str]:
    return {"code": TxCancelled.code, "message": message}


def cancel_job(runner: JobRunner, account_id: str, polling_id: str) -> dict[str, Any]:
    """Cancel one of the account's requests; returns the request as it now stands."""
    row, address = runner.get(account_id, polling_id)  # REQUEST_NOT_FOUND for others' jobs
    if row.status in CANCELLABLE and _cancel_unsigned(runner, polling_id):
        row, address = runner.get(account_id, polling_id)
        return job_to_request(row, address)
    row, address = runner.get(account_id, polling_id)  # it may have moved on meanwhile
    if row.status == "SUBMITTED" and row.raw_tx:
        return _replace_submitted(runner, row, address)
    raise ApprovalClosed(f"Request {polling_id} is {row.status}: there is nothing to cancel.",
                         hint="Only PENDING, AWAITING_MFA and SUBMITTED requests can be "
                              "cancelled.")


def _cancel_unsigned(runner: JobRunner, polling_id: str) -> bool:
    ts = now()
    with runner.store.tx() as conn:
        moved = conn.execute(update(jobs).where(and_(
            jobs.c.polling_id == polling_id, jobs.c.status.in_(CANCELLABLE))).values(
            status="DENIED", error=_error("Cancelled by its submitter before signing."),
            version=jobs.c.version + 1, updated_at=ts)).rowcount
        if moved:
            conn.execute(update(approvals).where(and_(
                approvals.c.polling_id == polling_id, approvals.c.status == "open"))
                .values(status="cancelled", decided_at=ts))
    if moved:
        runner.queue.release_outflow(polling_id)
        runner.queue.notify(polling_id)
    return bool(moved)


def _replace_submitted(runner: JobRunner, row: Any, address: str) -> dict[str, Any]:
    from mm_agent.evm import signing
    from mm_agent.wallets.byok.cancel import cancel_tx, wallet_fees_preview

    from ..db.store import wallets
    from .keys import load_wallet_key

    engine = runner.engine
    chain_id = int(row.chain_id)
    rpc = engine.rpc(chain_id)
    prepared = dict(row.prepared or {})
    max_fee = int(prepared.get("maxFeePerGas") or 0)
    tip = int(prepared.get("maxPriorityFeePerGas") or 0)
    tx = cancel_tx(rpc, address, max_fee, tip)
    earlier = _pending_cancel(rpc, (row.result or {}).get("cancelTxHash"))
    if earlier is not None:
        # A cancel already sent and still pending (stuck: the base fee rose above it): this
        # one must replace it too, so both fees at least one bump above it.
        tx["maxFeePerGas"] = max(tx["maxFeePerGas"], bump(earlier[0]))
        tx["maxPriorityFeePerGas"] = max(tx["maxPriorityFeePerGas"], bump(earlier[1]))
    # Through the pipeline like any transaction (decode, simulate with exactly these fees,
    # scan): nothing but gas leaves the wallet, so no policy approval is asked for.
    preview = wallet_fees_preview(engine, engine.preview_transaction(
        chain_id, address, tx,
        intent=f"Cancel request {row.polling_id} (replace nonce {row.nonce})"))
    # Exactly the previewed gas and fees (and the funds check), never a second estimate.
    unsigned = engine.prepare_transaction(chain_id, address, tx, preview)
    with runner.store.read() as conn:
        wallet = conn.execute(select(wallets).where(wallets.c.id == row.wallet_id)).one()
    # A cancel only replaces a nonce signed before: allowed on a frozen wallet too.
    key = load_wallet_key(runner.keys, wallet.address, wallet.key_enc,
                          wallet.data_key_wrapped, frozen_ok=True)
    raw, cancel_hash = signing.sign_transaction(key, {**unsigned, "nonce": int(row.nonce)})
    try:
        engine.submitter(chain_id).broadcast(raw)
    except RpcError as exc:
        low = exc.message.lower()
        if "nonce too low" in low or "already known" in low:
            raise ApprovalClosed(f"Request {row.polling_id}'s transaction was already mined "
                                 "(or replaced): too late to cancel.") from exc
        raise
    result = {**(row.result or {}), "cancelTxHash": cancel_hash,
              "cancelPreview": preview.to_dict()}
    with runner.store.tx() as conn:
        conn.execute(update(jobs).where(jobs.c.polling_id == row.polling_id).values(
            result=result, version=jobs.c.version + 1, updated_at=now()))
    runner.queue.notify(row.polling_id)
    runner.queue.spawn(_await_cancel, runner, row.polling_id, chain_id, cancel_hash)
    out, address = runner.get(row.account_id, row.polling_id)
    return job_to_request(out, address)


def _pending_cancel(rpc: Any, cancel_hash: str | None) -> tuple[int, int] | None:
    """(maxFeePerGas, maxPriorityFeePerGas) of an earlier cancel still waiting in the pool."""
    if not cancel_hash:
        return None
    sent = rpc.call("eth_getTransactionByHash", [cancel_hash])
    if not isinstance(sent, dict) or sent.get("blockNumber"):
        return None
    return (hex_to_int(sent.get("maxFeePerGas") or 0),
            hex_to_int(sent.get("maxPriorityFeePerGas") or 0))


def _await_cancel(runner: JobRunner, polling_id: str, chain_id: int, cancel_hash: str) -> None:
    """When the replacement is mined, the job ends DENIED/TX_CANCELLED (if still SUBMITTED)."""
    deadline = time.monotonic() + float(runner.config.wallet_timeout)
    rpc = runner.engine.rpc(chain_id)
    while time.monotonic() < deadline:
        try:
            receipt = rpc.call("eth_getTransactionReceipt", [cancel_hash])
        except MMError:
            receipt = None
        if isinstance(receipt, dict):
            with runner.store.tx() as conn:
                moved = conn.execute(update(jobs).where(and_(
                    jobs.c.polling_id == polling_id, jobs.c.status == "SUBMITTED")).values(
                    status="DENIED",
                    error=_error(f"Cancelled: replaced by {cancel_hash} (block "
                                 f"{hex_to_int(receipt.get('blockNumber'))})."),
                    version=jobs.c.version + 1, updated_at=now())).rowcount
            if moved:
                runner.queue.release_outflow(polling_id)
                runner.queue.notify(polling_id)
            return
        time.sleep(0.2)
    log.info("cancel replacement %s of %s not mined yet", cancel_hash, polling_id)
