"""A BYOK write through the security pipeline: check, preview, gate, record, sign, submit.

What can be known to fail before a request exists fails before anything is written to the
request log, with the code the service gives at submission: ``PASSWORD_REQUIRED`` /
``WRONG_PASSWORD`` (the vault is unlocked first), ``NONCE_TOO_LOW`` (a payload nonce the chain
has already used), ``INSUFFICIENT_FUNDS`` (value above the balance, or value + worst-case fee
above it once the preview knows the fee). A request that the verdict refuses, whose simulation
reverts or whose submission fails is recorded ``FAILED``/``DENIED`` and returned.

The agent's ``intent`` is never the headline: the engine decodes what will be signed and the
agent's words are kept as ``agentNote`` (``mm_agent.security.agent_note``), shown labelled as
the agent's in the terminal confirmation.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, Protocol

from mm_agent.errors import (
    ApprovalRequired,
    InsufficientFunds,
    MMError,
    NonceTooLow,
    PolicyDenied,
    TxDenied,
)
from mm_agent.evm.amounts import format_units
from mm_agent.evm.chains import get_chain
from mm_agent.evm.fees import TxFees
from mm_agent.evm.rpc import hex_to_int
from mm_agent.local.config import Config
from mm_agent.local.request_log import RequestLog, WalletRequest, new_polling_id
from mm_agent.security.agent_note import AGENT_NOTE_LABEL, sanitize_agent_note
from mm_agent.security.pipeline import Engine, Preview, gate

from ..base import ApprovalHook, WriteResult
from .keyring import ByokKeyring

__all__ = ["ByokParts", "precheck_transaction", "run_signature", "run_transaction"]


class ByokParts(Protocol):
    """What a write needs of ``ByokWallet`` (typed here, so this module does not import it)."""

    config: Config
    keyring: ByokKeyring
    engine: Engine
    approval_hook: ApprovalHook | None
    _confirm: str | None
    _log: RequestLog

    @property
    def address(self) -> str: ...


def precheck_transaction(wallet: ByokParts, chain_id: int, tx: dict[str, Any]) -> None:
    """Before the preview of a write: the vault unlocks, a payload nonce is not used yet, the
    value is not above the balance. Nothing is recorded when one fails."""
    wallet.keyring.unlock()
    sender = wallet.address
    rpc = wallet.engine.rpc(chain_id)
    if tx.get("nonce") is not None:
        used = hex_to_int(rpc.call("eth_getTransactionCount", [sender, "latest"]))
        if int(tx["nonce"]) < used:
            raise NonceTooLow(f"Nonce {int(tx['nonce'])} is already used on chain {chain_id} "
                              f"(next is {used}). Nothing was recorded.",
                              hint="Leave out `nonce`: the wallet picks the next one.")
    value = int(tx.get("value") or 0)
    if value:
        have = hex_to_int(rpc.call("eth_getBalance", [sender, "latest"]))
        if have < value:
            chain = get_chain(chain_id)
            raise InsufficientFunds(
                f"Needs {format_units(value, chain.native_decimals)} {chain.native_symbol} "
                f"plus gas, has {format_units(have, chain.native_decimals)}. Nothing was "
                "recorded.")


def run_transaction(wallet: ByokParts, chain_id: int, tx: dict[str, Any],
                    intent: str | None, agent_note: str | None, *, dry_run: bool,
                    timeout: int | None, recipient: str | None = None) -> WriteResult:
    """A transaction: ``intent`` is the engine's own headline (transfers), ``agent_note`` the
    agent's words. Returns the preview (``dry_run``) or the request."""
    engine, sender = wallet.engine, wallet.address
    note = sanitize_agent_note(agent_note)
    if not dry_run:
        precheck_transaction(wallet, chain_id, tx)
    # INSUFFICIENT_FUNDS from a node that refuses to simulate propagates: nothing recorded.
    preview = engine.preview_transaction(chain_id, sender, tx, intent=intent)
    if dry_run:
        return preview.to_dict()
    prepared: dict[str, Any] | None = None
    refusal: MMError | None = None
    try:
        prepared = engine.prepare_transaction(chain_id, sender, tx, preview)
    except InsufficientFunds:
        raise  # value + worst-case fee above the balance: before anything is recorded
    except MMError as err:
        refusal = err  # TX_REVERTED: recorded below, after the verdict, as before
    req = _new_request(wallet, "transaction", preview, note)
    if not _gate(wallet, req, preview, note):
        return req
    if refusal is not None:
        req.fail("FAILED", refusal)
        wallet._log.save(req)
        return req
    assert prepared is not None

    def on_broadcast(nonce: int, tx_hash: str) -> None:
        req.nonce, req.tx_hash = nonce, tx_hash
        req.set_status("SUBMITTED")
        wallet._log.save(req)

    try:
        result = engine.submit(
            chain_id, sender, prepared,
            lambda t: wallet.keyring.sign_transaction(sender, t),
            # A payload nonce was checked in the preview (only the next one passes): the
            # nonce manager reserves it as for any other transaction.
            timeout=float(timeout or wallet.config.wallet_timeout),
            on_broadcast=on_broadcast,
            # Replacements stop at the ceiling the preview disclosed (and the guard counted).
            fee_ceiling=TxFees.from_dict(preview.fees or {}).replacement_ceiling
            if preview.fees else None,
        )
    except MMError as err:
        req.fail("FAILED", err)
        wallet._log.save(req)
        return req
    req.tx_hash = result.tx_hash
    req.result = {"to": recipient or tx.get("to"),
                  "effectiveRecipient": recipient or preview.effective_recipient,
                  "replacements": result.replacements}
    if result.mined:
        assert result.receipt is not None
        req.result.update(blockNumber=hex_to_int(result.receipt.get("blockNumber")),
                          gasUsed=str(hex_to_int(result.receipt.get("gasUsed"))))
        req.set_status("COMPLETED")
    wallet._log.save(req)
    return req


def run_signature(wallet: ByokParts, kind: str, preview: Preview, sign: Callable[[], str],
                  result: dict[str, Any], agent_note: str | None = None) -> WalletRequest:
    """A message or typed-data signature (the vault is already unlocked by the caller)."""
    note = sanitize_agent_note(agent_note)
    req = _new_request(wallet, kind, preview, note)
    if not _gate(wallet, req, preview, note):
        return req
    req.signature = sign()
    req.result = {**result, "signature": req.signature, "address": wallet.address}
    req.set_status("COMPLETED")
    wallet._log.save(req)
    return req


def _new_request(wallet: ByokParts, kind: str, preview: Preview,
                 note: str | None) -> WalletRequest:
    return WalletRequest(polling_id=new_polling_id(), kind=kind,  # type: ignore[arg-type]
                         status="PENDING", intent=preview.intent, chain_id=preview.chain_id,
                         address=wallet.address, preview=preview.to_dict(), agent_note=note)


def _gate(wallet: ByokParts, req: WalletRequest, preview: Preview, note: str | None) -> bool:
    """Apply the verdict; on refusal record the request and say so (False)."""
    from mm_agent.security.confirmation import preview_digest

    digest = preview_digest(preview)
    hook = wallet.approval_hook
    if wallet._confirm is not None:
        hook = _confirmed(wallet._confirm, digest)
    try:
        gate(preview, _with_note(hook, note))
    except ApprovalRequired as err:
        # The digest a human's approval must name (``bound(confirm=…)``), and the agent's
        # words, labelled, for whoever shows it to the human.
        extra: dict[str, Any] = {"digest": digest}
        if note:
            extra.update(agentNote=note, agentNoteLabel=AGENT_NOTE_LABEL)
        err.details = {**(err.details or {}), **extra}
        req.fail("FAILED", err)
        wallet._log.save(req)
        raise
    except TxDenied as err:
        req.fail("DENIED", err)
        wallet._log.save(req)
        return False
    except PolicyDenied as err:
        req.fail("FAILED", err)
        wallet._log.save(req)
        return False
    return True


def _with_note(hook: ApprovalHook | None, note: str | None) -> ApprovalHook | None:
    """The hook sees the preview plus the agent's note and its label (the terminal
    confirmation shows both); the preview itself keeps the contract's shape."""
    if hook is None or not note:
        return hook
    inner = hook

    def with_note(preview: dict[str, Any], reason: str) -> bool:
        return inner({**preview, "agentNote": note, "agentNoteLabel": AGENT_NOTE_LABEL}, reason)

    return with_note


def _confirmed(approved: str, digest: str) -> ApprovalHook:
    """The approval hook of ``bound(confirm=approved)``: yes for exactly that digest."""

    def hook(preview: dict[str, Any], reason: str) -> bool:
        if hmac.compare_digest(approved, digest):
            return True
        raise ApprovalRequired(
            f"Approval required: {reason}. The human's approval was for another request "
            f"(digest {approved[:12]}…), not this one (digest {digest[:12]}…). Nothing was "
            "signed.", details={"preview": {k: v for k, v in preview.items()
                                            if k not in ("agentNote", "agentNoteLabel")}})

    return hook
