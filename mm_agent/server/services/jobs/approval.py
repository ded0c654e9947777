"""Opening a human approval for a job (``AWAITING_MFA``).

An approval holds a single-use secret, stored hashed, on the account's channel; the secret is
handed once to ``notify`` (the approval mail and webhook, ``services/approvals.py``) and never
stored in clear. Used by the job pipeline (flagged requests) and the policy service
(broadening changes).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Protocol

from sqlalchemy import insert, select

from mm_agent.local.request_log import TERMINAL_STATUSES

from ...db.store import Store, accounts, approvals, now, sha256
from ...settings import ServerSettings
from .queue import JobQueue
from .records import iso

__all__ = ["ApprovalOpener", "Notify"]


class Notify(Protocol):
    """Deliver an approval link: ``(account row, job row, approval id, secret, reason)``."""

    def __call__(self, account: Any, job: Any, approval_id: str, secret: str,
                 reason: str) -> None: ...


class ApprovalOpener:
    def __init__(self, queue: JobQueue, store: Store, settings: ServerSettings,
                 notify: Notify | None) -> None:
        self.queue = queue
        self.store = store
        self.settings = settings
        self.notify = notify

    def open(self, polling_id: str, reason: str, shown: dict[str, Any] | None = None) -> str:
        """Move the job to AWAITING_MFA with a fresh approval and notify the human. Returns
        the secret ("" when the job already ended); delivery errors propagate."""
        job, _wallet = self.queue.load(polling_id)
        if job.status in TERMINAL_STATUSES:
            return ""  # cancelled while previewed: no approval to open
        secret = secrets.token_urlsafe(32)
        approval_id = uuid.uuid4().hex
        expires = now() + self.settings.approval_window_seconds
        with self.store.read() as conn:
            account = conn.execute(select(accounts).where(
                accounts.c.id == job.account_id)).one()
        with self.store.tx() as conn:
            conn.execute(insert(approvals).values(
                id=approval_id, polling_id=polling_id, secret_hash=sha256(secret),
                channel=account.channel, status="open", expires_at=expires, created_at=now()))
        approval: dict[str, Any] = {"channel": account.channel, "reason": reason,
                                    "expiresAt": iso(expires)}
        if shown:
            approval["shown"] = shown  # the signable tx + digest the human is shown
        self.queue.update(polling_id, status="AWAITING_MFA", approval=approval)
        if self.notify is not None:
            self.notify(account, job, approval_id, secret, reason)
        return secret
