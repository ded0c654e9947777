"""Cancelling a BYOK request (``wallet.requests.cancel``).

BYOK requests finish before their method returns, so only a stuck ``SUBMITTED`` transaction
is left to cancel: a 0-value self-transfer with the same nonce and higher fees goes through
the pipeline (preview, gate, sign, submit), and the request ends ``DENIED`` / ``TX_CANCELLED``
once the replacement is mined. A ``PENDING`` request left by a process that died before it
signed is just closed.

The preview shows exactly what is signed: the replacement's fees (the sent ones bumped once
per possible automatic replacement plus one, or the current estimate if higher) go INTO the
previewed transaction, so the engine simulates with them (``validation: true``) and its
``fees`` are what :meth:`Engine.prepare_transaction` signs; the submitter's own re-bumps of a
stuck cancel stop at the preview's ``maxReplacementFeePerGas``. Those fees are the wallet's,
not an agent's, so the engine's ``fee_cap`` finding (which guards fees an agent put in a
payload) is dropped from the cancel's preview (:func:`wallet_fees_preview`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mm_agent.errors import ApprovalClosed, TxCancelled
from mm_agent.local.request_log import WalletRequest

if TYPE_CHECKING:
    from mm_agent.evm.rpc import RpcClient
    from mm_agent.security.pipeline import Engine, Preview

    from .runner import ByokParts

__all__ = ["CANCEL_BUMPS", "cancel_request", "cancel_tx", "wallet_fees_preview"]

# Above the original and each of the submitter's automatic replacements of it
# (``Submitter.max_replacements`` = 3), plus one: 1.125^4 ≈ 1.60 x the first fees.
CANCEL_BUMPS = 4


def cancel_tx(rpc: RpcClient, sender: str, max_fee: int, tip: int) -> dict[str, Any]:
    """The cancelling self-transfer with its fees, from the fees first signed for the nonce:
    both bumped :data:`CANCEL_BUMPS` times, or the current estimate where that is higher.
    The fees are part of the payload so that the preview simulates and shows exactly them;
    the gas limit is left to the planner (21 000 for a plain account; simulated for an
    EIP-7702 delegated one, whose self-call runs code)."""
    from mm_agent.evm.fees import bump, estimate_fees

    for _ in range(CANCEL_BUMPS):
        max_fee, tip = bump(max_fee), bump(tip)
    current = estimate_fees(rpc)
    max_fee = max(max_fee, current.max_fee_per_gas)
    tip = max(tip, min(current.max_priority_fee_per_gas, max_fee))
    return {"to": sender, "value": 0, "data": "0x", "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip}


def wallet_fees_preview(engine: Engine, preview: Preview) -> Preview:
    """``preview`` without the engine's ``fee_cap`` finding, the policy re-run without it.

    ``fee_cap`` (``security.feeCapMultiple``) is about fees an AGENT wrote into a payload; a
    cancel's fees are computed by the wallet from a fixed rule the agent cannot influence,
    and they are at most 1.125^4 ≈ 1.6 x the fees already signed for that nonce (below the
    3 x replacement ceiling that nonce's preview disclosed) or the current estimate. So a
    cancel whose fees exceed the multiple is NOT sent to a human for that reason alone; every
    other finding (scan, policy) stays."""
    from mm_agent.security.pipeline import with_engine_violations

    kept = [v for v in preview.engine_violations if v.get("rule") != "fee_cap"]
    if len(kept) != len(preview.engine_violations):
        preview.engine_violations = kept
        preview.policy = with_engine_violations(preview, engine.policy(preview))
    return preview


def cancel_request(wallet: ByokParts, polling_id: str) -> WalletRequest:
    """Cancel ``polling_id`` (see the module docstring). ALREADY_DECIDED when it is final or
    its transaction is already mined; REQUEST_NOT_FOUND; APPROVAL_REQUIRED / TX_DENIED when
    the cancel's own preview needs a human who is absent or says no; INSUFFICIENT_FUNDS when
    the wallet cannot pay the cancel's gas."""
    from mm_agent.evm.fees import TxFees
    from mm_agent.evm.rpc import hex_to_int
    from mm_agent.security.pipeline import gate

    log = wallet._log
    req = log.get(polling_id)
    if req.status in ("PENDING", "AWAITING_MFA"):
        req.fail("DENIED", TxCancelled("Cancelled by its submitter before signing."))
        log.save(req)
        return req
    if req.status != "SUBMITTED" or not req.tx_hash or req.nonce is None:
        raise ApprovalClosed(f"Request {polling_id} is {req.status}: there is nothing to cancel.",
                             hint="Only PENDING, AWAITING_MFA and SUBMITTED requests can be "
                                  "cancelled.")
    chain_id, sender = int(req.chain_id or 0), str(req.address or wallet.address)
    wallet.keyring.unlock()  # PASSWORD_REQUIRED before anything is sent
    engine = wallet.engine
    rpc = engine.rpc(chain_id)
    if rpc.call("eth_getTransactionReceipt", [req.tx_hash]):
        raise ApprovalClosed(f"Request {polling_id}'s transaction is already mined: too late "
                             "to cancel.", hint="`mm wallet requests watch` shows its outcome.")
    # ``req.tx_hash`` is the first hash sent for the nonce (a replacement is only recorded
    # once mined), so these are the fees the automatic replacements started from.
    sent = rpc.call("eth_getTransactionByHash", [req.tx_hash]) or {}
    tx = cancel_tx(rpc, sender, hex_to_int(sent.get("maxFeePerGas") or sent.get("gasPrice") or 0),
                   hex_to_int(sent.get("maxPriorityFeePerGas") or 0))
    preview = wallet_fees_preview(engine, engine.preview_transaction(
        chain_id, sender, tx, intent=f"Cancel request {polling_id} (replace nonce {req.nonce})"))
    gate(preview, wallet.approval_hook)
    # Exactly the previewed gas and fees (and the funds check), never a second estimate.
    prepared = engine.prepare_transaction(chain_id, sender, tx, preview)
    assert preview.fees is not None  # prepare_transaction refuses a preview without fees
    result = engine.submit(chain_id, sender, prepared,
                           lambda t: wallet.keyring.sign_transaction(sender, t),
                           nonce=int(req.nonce), timeout=float(wallet.config.wallet_timeout),
                           # A stuck cancel is re-bumped up to the ceiling shown, no further.
                           fee_ceiling=TxFees.from_dict(preview.fees).replacement_ceiling)
    req.result = {**(req.result or {}), "cancelTxHash": result.tx_hash,
                  "cancelPreview": preview.to_dict()}
    if result.mined:
        req.fail("DENIED", TxCancelled(f"Cancelled: replaced by {result.tx_hash}."))
    log.save(req)
    return req
