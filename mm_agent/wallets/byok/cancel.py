"""Cancelling a BYOK request (``wallet.requests.cancel``).

BYOK requests finish before their method returns, so only a stuck ``SUBMITTED`` transaction
is left to cancel: a 0-value self-transfer with the same nonce and higher fees goes through
the pipeline (preview, gate, sign, submit), and the request ends ``DENIED`` / ``TX_CANCELLED``
once the replacement is mined. A ``PENDING`` request left by a process that died before it
signed is just closed.
"""

from __future__ import annotations

from mm_agent.errors import ApprovalClosed, TxCancelled
from mm_agent.local.request_log import WalletRequest

from .runner import ByokParts

__all__ = ["cancel_request"]

_BUMPS = 4  # above the original and any automatic replacement of it


def cancel_request(wallet: ByokParts, polling_id: str) -> WalletRequest:
    """Cancel ``polling_id`` (see the module docstring). ALREADY_DECIDED when it is final or
    its transaction is already mined; REQUEST_NOT_FOUND."""
    from mm_agent.evm.fees import bump, estimate_fees
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
    sent = rpc.call("eth_getTransactionByHash", [req.tx_hash]) or {}
    max_fee = hex_to_int(sent.get("maxFeePerGas") or sent.get("gasPrice") or 0)
    tip = hex_to_int(sent.get("maxPriorityFeePerGas") or 0)
    for _ in range(_BUMPS):
        max_fee, tip = bump(max_fee), bump(tip)
    current = estimate_fees(rpc)
    max_fee = max(max_fee, current.max_fee_per_gas)
    tip = max(tip, min(current.max_priority_fee_per_gas, max_fee))
    tx = {"to": sender, "value": 0, "data": "0x"}
    preview = engine.preview_transaction(
        chain_id, sender, tx, intent=f"Cancel request {polling_id} (replace nonce {req.nonce})")
    gate(preview, wallet.approval_hook)
    prepared = {"type": 2, "chainId": chain_id, **tx, "gas": 21_000, "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip}
    result = engine.submit(chain_id, sender, prepared,
                           lambda t: wallet.keyring.sign_transaction(sender, t),
                           nonce=int(req.nonce), timeout=float(wallet.config.wallet_timeout))
    req.result = {**(req.result or {}), "cancelTxHash": result.tx_hash}
    if result.mined:
        req.fail("DENIED", TxCancelled(f"Cancelled: replaced by {result.tx_hash}."))
    log.save(req)
    return req
