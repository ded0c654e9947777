"""Human approval of flagged requests (contract §7): the notice, and the decision.

``ApprovalOpener.open`` (``jobs/approval.py``) stores an approval (secret hashed) and calls
``ApprovalNotifier``: it mails the account a single-use link ``/approvals/{id}?t=<secret>``
and, if the operator set a webhook for the account, pushes the same link there.

``ApprovalService`` checks a link and decides. The secret is the only credential: an agent's
Bearer token is never looked at, so no agent credential can approve anything. On the
authenticator channel a current, unused TOTP code is required too. Deciding is one
conditional UPDATE (``WHERE status='open'``), so two submits cannot both decide. The pages
themselves are ``routes/approvals.py``.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from sqlalchemy import and_, select, update

from mm_agent.errors import (
    AccountNotFound,
    ApprovalClosed,
    ApprovalNotFound,
    Forbidden,
    InvalidOtp,
    InvalidUrl,
    MMError,
    ValidationError,
)
from mm_agent.security.agent_note import AGENT_NOTE_LABEL, sanitize_agent_note

from ..db.store import Store, accounts, approvals, jobs, now, sha256, wallets
from ..html import e
from ..settings import ServerSettings
from . import webhooks
from .jobs.records import iso
from .jobs.runner import JobRunner
from .keys import MasterKey
from .mailer import Mailer

__all__ = ["ApprovalNotifier", "ApprovalService", "Decided", "Viewed", "agent_note",
           "approval_link", "chain_label", "change_lines", "fee_lines", "set_webhook"]

log = logging.getLogger("mm_agent.server.services.approvals")


def approval_link(base_url: str, approval_id: str, secret: str) -> str:
    return f"{base_url}/approvals/{approval_id}?{urlencode({'t': secret})}"


def _one_line(text: str, limit: int = 120) -> str:
    # Mail subjects must not carry line breaks (header injection), and stay short.
    flat = re.sub(r"\s+", " ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def chain_label(chain_id: int | None) -> str:
    if chain_id is None:
        return "no chain"
    from mm_agent.evm.chains import get_chain

    try:
        return f"{get_chain(int(chain_id)).name} ({chain_id})"
    except MMError:
        return f"chain {chain_id}"


def agent_note(job: Any) -> str | None:
    """The agent's sanitised note (stored sanitised; sanitised again: it is shown to a human)."""
    body = job.body if isinstance(job.body, dict) else {}
    return sanitize_agent_note(body.get("agentNote"))


def change_lines(job: Any) -> list[str]:
    """For policy changes: every field that changes, ``field: old → new``."""
    body = job.body if isinstance(job.body, dict) else {}
    if job.kind == "trading-mode" and body.get("mode"):
        return [f"tradingMode: {body.get('from') or '?'} → {body['mode']}"]
    return [str(c) for c in body.get("fields") or []] if job.kind == "policy" else []


def fee_lines(job: Any) -> list[tuple[str, str]]:
    """A transaction's network fee as shown to the human: gas limit, fee caps, the ceiling a
    stuck-transaction replacement may reach, and the most it can cost (what guard mode counts
    as outflow). Empty for anything without fees."""
    from mm_agent.evm.amounts import format_units
    from mm_agent.evm.chains import get_chain
    from mm_agent.evm.fees import TxFees

    preview = job.preview if isinstance(job.preview, dict) else {}
    raw = preview.get("fees")
    if not isinstance(raw, dict) or not raw.get("maxFeePerGas"):
        return []
    try:
        fees = TxFees.from_dict({"baseFee": 0, **raw})
    except (KeyError, TypeError, ValueError):
        return []
    try:
        chain = get_chain(int(job.chain_id or 0))
        symbol, decimals = chain.native_symbol, chain.native_decimals
    except (MMError, TypeError, ValueError):
        symbol, decimals = "ETH", 18

    def gwei(wei: int) -> str:
        return f"{format_units(wei, 9)} gwei"

    return [
        ("Gas limit", str(fees.gas_limit)),
        ("Max fee per gas", f"{gwei(fees.max_fee_per_gas)} (priority tip "
                            f"{gwei(fees.max_priority_fee_per_gas)})"),
        ("Replacement ceiling", f"{gwei(fees.replacement_ceiling)} per gas: if the "
                                "transaction gets stuck it may be re-sent with higher fees, "
                                "never above this"),
        ("Most it can cost in fees", f"{format_units(fees.worst_case_fee, decimals)} {symbol} "
                                     "(gas limit x replacement ceiling)"),
    ]


# --- notification ---------------------------------------------------------------------------
class ApprovalNotifier:
    """Mail the link (always), push it to the account's webhook (if set)."""

    def __init__(self, store: Store, settings: ServerSettings, mailer: Mailer) -> None:
        self.store = store
        self.settings = settings
        self.mailer = mailer

    def __call__(self, account: Any, job: Any, approval_id: str, secret: str,
                 reason: str) -> None:
        link = approval_link(self.settings.base_url, approval_id, secret)
        with self.store.read() as conn:
            expires_at = conn.execute(select(approvals.c.expires_at)
                                      .where(approvals.c.id == approval_id)).scalar_one()
            address = conn.execute(select(wallets.c.address)
                                   .where(wallets.c.id == job.wallet_id)).scalar()
        channel = account.channel
        pushed = False
        if account.webhook_url:
            notice = {"type": "approval_required", "pollingId": job.polling_id,
                      "intent": job.intent, "reason": reason, "channel": channel,
                      "approvalUrl": link, "expiresAt": iso(expires_at)}
            note = agent_note(job)
            if note:
                notice.update(agentNote=note, agentNoteLabel=AGENT_NOTE_LABEL)
            webhooks.push(account.webhook_url, notice)
            pushed = True
        try:
            from .ratelimit import hit  # mail bombing through an agent token: cap per account

            hit(self.store, "approval_mail", account.id,
                self.settings.rate_limits.approval_mail,
                message="Too many approval mails for this account; wait before asking again.")
            self._mail(account.email, job, address, reason, channel, link, expires_at)
        except MMError:
            # With a webhook the human can still be reached; without one the job cannot be
            # approved, so let it fail with the delivery error instead of waiting in vain.
            if not pushed:
                raise
            log.warning("approval mail not delivered; the webhook carries the link")

    def _mail(self, to: str, job: Any, address: str | None, reason: str, channel: str,
              link: str, expires_at: float) -> None:
        when = iso(expires_at)
        chain = chain_label(job.chain_id)
        if channel == "authenticator":
            how = ("Open the link; the page shows the details and asks for a current code "
                   "from your authenticator app before you approve or reject.")
        else:
            how = "Open the link, check the details and approve or reject."
        note = agent_note(job)
        changes = change_lines(job)
        fees = fee_lines(job)
        text = (f"Your agent wants to: {_one_line(job.intent, 400)}\n"
                f"Wallet: {address} on {chain}\n"
                f"Why it needs you: {_one_line(reason, 2000)}\n"
                + (f"{AGENT_NOTE_LABEL}: \"{note}\"\n" if note else "")
                + ("Changes (old → new):\n" + "".join(f"  - {_one_line(c, 2000)}\n"
                                                     for c in changes) if changes else "")
                + ("Network fee:\n" + "".join(f"  - {k}: {v}\n" for k, v in fees)
                   if fees else "")
                + f"\n{how}\n{link}\n\n"
                f"The link works once and expires at {when}. If nobody approves by then, the "
                "request expires and nothing is signed.\n")
        html = (f"<p>Your agent wants to: <b>{e(job.intent)}</b></p>"
                f"<p>Wallet <code>{e(address)}</code> on {e(chain)}<br>"
                f"Why it needs you: {e(reason)}</p>"
                + (f'<p><span style="color:#57606a">{e(AGENT_NOTE_LABEL)}:</span><br>'
                   f"<i>&ldquo;{e(note)}&rdquo;</i></p>" if note else "")
                + ("<p>Changes (old → new):</p><ul>"
                   + "".join(f"<li><code>{e(c)}</code></li>" for c in changes) + "</ul>"
                   if changes else "")
                + ("<p>Network fee:</p><ul>"
                   + "".join(f"<li>{e(k)}: {e(v)}</li>" for k, v in fees) + "</ul>"
                   if fees else "")
                + f"<p>{e(how)}</p><p><a href=\"{e(link)}\">Review the request</a></p>"
                f"<p>The link works once and expires at {e(when)}. If nobody approves by "
                "then, the request expires and nothing is signed.</p>")
        self.mailer.send(to, f"Approval needed: {_one_line(job.intent, 90)}", text, html)


def set_webhook(store: Store, email: str, url: str | None) -> None:
    """Operator: set (or clear with ``None``/``""``) the approval webhook of an account."""
    from .signin import normalize_email

    address = normalize_email(email)
    value = (url or "").strip() or None
    if value is not None:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidUrl("The webhook must be an http(s) URL.")
    with store.tx() as conn:
        done = conn.execute(update(accounts).where(accounts.c.email == address)
                            .values(webhook_url=value)).rowcount
    if not done:
        raise AccountNotFound(f"No account for {address}.")


# --- checking and deciding ------------------------------------------------------------------
@dataclass(frozen=True)
class Viewed:
    """What a valid link shows: ``open`` (decide now), ``idle`` (the job moved on) or
    ``closed`` (``status``: approved, rejected, expired, cancelled)."""

    state: Literal["open", "idle", "closed"]
    status: str
    approval: Any = None
    job: Any = None
    address: str = ""


@dataclass(frozen=True)
class Decided:
    """``approved`` / ``rejected`` (this submit decided), or ``closed`` (``status``)."""

    state: Literal["approved", "rejected", "closed"]
    status: str
    job: Any = None


class ApprovalService:
    def __init__(self, store: Store, settings: ServerSettings, keys: MasterKey,
                 jobs: JobRunner) -> None:
        self.store = store
        self.settings = settings
        self.keys = keys
        self.jobs = jobs

    def _load(self, approval_id: str) -> tuple[Any, Any, str]:
        with self.store.read() as conn:
            approval = conn.execute(select(approvals)
                                    .where(approvals.c.id == approval_id)).first()
            if approval is None:
                raise ApprovalNotFound("This approval link is not valid.")
            found = conn.execute(
                select(jobs, wallets.c.address).join(wallets, wallets.c.id == jobs.c.wallet_id)
                .where(jobs.c.polling_id == approval.polling_id)).one()
        return approval, found, found.address

    @staticmethod
    def _check_secret(approval: Any, secret: str, has_bearer: bool) -> None:
        if not secret:
            if has_bearer:
                raise Forbidden("Agent credentials cannot approve requests.",
                                hint="Only the person who receives the approval link can "
                                     "decide.")
            raise Forbidden("This page needs the link from the approval mail.")
        # Constant time over the hashes: the comparison reveals nothing about the secret.
        if not hmac.compare_digest(sha256(secret), approval.secret_hash):
            raise Forbidden("This approval link is not valid.")

    def _expire_if_due(self, approval: Any) -> bool:
        """Past its window: close it the same way the sweeper does (job → EXPIRED)."""
        if approval.status == "open" and now() > approval.expires_at:
            self.jobs.expire_due()
            return True
        return False

    def view(self, approval_id: str, secret: str, *, has_bearer: bool) -> Viewed:
        approval, job, address = self._load(approval_id)
        self._check_secret(approval, secret, has_bearer)
        if self._expire_if_due(approval):
            return Viewed("closed", "expired")
        if approval.status != "open":
            return Viewed("closed", approval.status)
        state: Literal["open", "idle"] = "open" if job.status == "AWAITING_MFA" else "idle"
        return Viewed(state, job.status, approval, job, address)

    def decide(self, approval_id: str, secret: str, decision: str, otp: str, *,
               has_bearer: bool) -> Decided:
        from .signin import otp_locked, verify_totp

        approval, job, _address = self._load(approval_id)
        self._check_secret(approval, secret, has_bearer)
        if approval.status != "open":
            return Decided("closed", approval.status)
        if self._expire_if_due(approval):
            return Decided("closed", "expired")
        if decision not in ("approve", "reject"):
            raise ValidationError("Choose Approve or Reject.")
        if job.status != "AWAITING_MFA":
            raise ApprovalClosed(f"This request is {job.status}; it no longer needs a decision.")
        if approval.channel == "authenticator":
            limits = self.settings.rate_limits
            if otp_locked(self.store, job.account_id, approval_id, limits):
                raise InvalidOtp("Too many wrong codes: approvals are locked for a few minutes.",
                                 hint="Wait a few minutes, then open the link again.")
            # A Reject (which signs nothing; its button skips the browser's `required` check)
            # still needs a code, but a missing or wrong one never counts towards the lockout.
            if not verify_totp(self.store, self.keys, job.account_id, otp,
                               approval_id=approval_id, limits=limits,
                               count_failure=decision == "approve"):
                if otp_locked(self.store, job.account_id, approval_id, limits):
                    raise InvalidOtp("Too many wrong codes: approvals are locked for a few "
                                     "minutes.",
                                     hint="Wait a few minutes, then open the link again.")
                raise InvalidOtp("Wrong, expired or already used code. Nothing was changed.",
                                 hint="Open the link from the mail again and enter the next "
                                      "code your authenticator app shows.")
        status = "approved" if decision == "approve" else "rejected"
        with self.store.tx() as conn:
            # Only an open, unexpired approval changes: two submits cannot both decide.
            won = conn.execute(update(approvals).where(and_(
                approvals.c.id == approval_id, approvals.c.status == "open",
                approvals.c.expires_at >= now())).values(status=status,
                                                         decided_at=now())).rowcount
            current = conn.execute(select(approvals.c.status, approvals.c.expires_at)
                                   .where(approvals.c.id == approval_id)).one()
        if not won:
            if current.status == "open":  # lost to the clock between the checks and UPDATE
                self.jobs.expire_due()
                return Decided("closed", "expired")
            return Decided("closed", current.status)
        if status == "approved":
            self.jobs.approve(job.polling_id)
            return Decided("approved", status, job)
        self.jobs.deny(job.polling_id)
        return Decided("rejected", status, job)
