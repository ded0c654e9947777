"""Human approval of flagged requests (contract §7): the mail/push notice and the approval page.

``JobRunner.open_approval`` stores an approval (secret hashed) and calls the callback made by
``notify_approval``: it mails the account a single-use link ``/approvals/{id}?t=<secret>`` and,
if the operator set a webhook for the account, pushes the same link there.

``GET /approvals/{id}?t=`` shows what the agent asked for (intent, chain, balance changes,
exposures, scan verdict, policy violations, expiry) with Approve / Reject; ``POST`` decides.
The secret is the only credential: an agent's Bearer token is never looked at, so no agent
credential can approve anything. On the authenticator channel a current, unused TOTP code is
required too. Deciding is one conditional UPDATE (``WHERE status='open'``), so two submits
cannot both decide. Pages are server-rendered, without JavaScript, via ``pages.layout``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
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
from mm_agent.evm.amounts import format_units
from mm_agent.security.agent_note import AGENT_NOTE_LABEL, sanitize_agent_note

from ..db.store import Store, accounts, approvals, jobs, now, sha256, wallets
from ..routes.pages import e, error_page, page
from . import webhooks

__all__ = ["approval_link", "notify_approval", "render_approval", "router", "set_webhook"]

log = logging.getLogger("mm_agent.server.services.approvals")

router = APIRouter(include_in_schema=False)

NotifyApproval = Callable[[Any, Any, str, str, str], None]

_PRE = "white-space:pre-wrap;word-break:break-all;font-size:.85rem"
_CLOSED_WORDS = {"approved": "already approved", "rejected": "already rejected",
                 "expired": "expired"}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def approval_link(base_url: str, approval_id: str, secret: str) -> str:
    return f"{base_url}/approvals/{approval_id}?{urlencode({'t': secret})}"


def _one_line(text: str, limit: int = 120) -> str:
    # Mail subjects must not carry line breaks (header injection), and stay short.
    flat = re.sub(r"\s+", " ", text or "").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _chain_label(chain_id: int | None) -> str:
    if chain_id is None:
        return "no chain"
    from mm_agent.evm.chains import get_chain

    try:
        return f"{get_chain(int(chain_id)).name} ({chain_id})"
    except MMError:
        return f"chain {chain_id}"


# --- notification ---------------------------------------------------------------------------
def notify_approval(state: Any) -> NotifyApproval:
    """The ``state.notify_approval`` callback: mail the link (always), push it (if set)."""

    def notify(account: Any, job: Any, approval_id: str, secret: str, reason: str) -> None:
        settings = state.settings
        link = approval_link(settings.base_url, approval_id, secret)
        with state.store.read() as conn:
            expires_at = conn.execute(select(approvals.c.expires_at)
                                      .where(approvals.c.id == approval_id)).scalar_one()
            address = conn.execute(select(wallets.c.address)
                                   .where(wallets.c.id == job.wallet_id)).scalar()
        channel = account.channel
        pushed = False
        if account.webhook_url:
            notice = {"type": "approval_required", "pollingId": job.polling_id,
                      "intent": job.intent, "reason": reason, "channel": channel,
                      "approvalUrl": link, "expiresAt": _iso(expires_at)}
            note = _agent_note(job)
            if note:
                notice.update(agentNote=note, agentNoteLabel=AGENT_NOTE_LABEL)
            webhooks.push(account.webhook_url, notice)
            pushed = True
        try:
            from .ratelimit import hit  # mail bombing through an agent token: cap per account

            hit(state.store, "approval_mail", account.id, state.settings.rate_limits.approval_mail,
                message="Too many approval mails for this account; wait before asking again.")
            _mail(state.mailer, account.email, job, address, reason, channel, link, expires_at)
        except MMError:
            # With a webhook the human can still be reached; without one the job cannot be
            # approved, so let it fail with the delivery error instead of waiting in vain.
            if not pushed:
                raise
            log.warning("approval mail not delivered; the webhook carries the link")

    return notify


def _mail(mailer: Any, to: str, job: Any, address: str | None, reason: str, channel: str,
          link: str, expires_at: float) -> None:
    when = _iso(expires_at)
    chain = _chain_label(job.chain_id)
    if channel == "authenticator":
        how = ("Open the link; the page shows the details and asks for a current code from "
               "your authenticator app before you approve or reject.")
    else:
        how = "Open the link, check the details and approve or reject."
    note = _agent_note(job)
    changes = _changes(job)
    text = (f"Your agent wants to: {_one_line(job.intent, 400)}\n"
            f"Wallet: {address} on {chain}\n"
            f"Why it needs you: {_one_line(reason, 2000)}\n"
            + (f"{AGENT_NOTE_LABEL}: \"{note}\"\n" if note else "")
            + ("Changes (old → new):\n" + "".join(f"  - {_one_line(c, 2000)}\n"
                                                 for c in changes) if changes else "")
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
            + f"<p>{e(how)}</p><p><a href=\"{e(link)}\">Review the request</a></p>"
            f"<p>The link works once and expires at {e(when)}. If nobody approves by then, "
            "the request expires and nothing is signed.</p>")
    mailer.send(to, f"Approval needed: {_one_line(job.intent, 90)}", text, html)


def _agent_note(job: Any) -> str | None:
    """The agent's sanitised note (stored sanitised; sanitised again: it is shown to a human)."""
    body = job.body if isinstance(job.body, dict) else {}
    return sanitize_agent_note(body.get("agentNote"))


def _changes(job: Any) -> list[str]:
    """For policy changes: every field that changes, ``field: old → new``."""
    body = job.body if isinstance(job.body, dict) else {}
    if job.kind == "trading-mode" and body.get("mode"):
        return [f"tradingMode: {body.get('from') or '?'} → {body['mode']}"]
    return [str(c) for c in body.get("fields") or []] if job.kind == "policy" else []


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


# --- page rendering -------------------------------------------------------------------------
def _asset_label(asset: dict[str, Any] | None, native_symbol: str) -> str:
    asset = asset or {}
    if asset.get("type") == "native":
        return asset.get("symbol") or native_symbol
    label = asset.get("symbol") or asset.get("address") or "unknown asset"
    if asset.get("tokenId") is not None:
        label = f"{label} #{asset['tokenId']}"
    return str(label)


def _amount(raw: object, asset: dict[str, Any] | None, signed: bool = False) -> str:
    try:
        units = int(str(raw))
    except (TypeError, ValueError):
        return str(raw)
    decimals = int((asset or {}).get("decimals") or 0)
    text = format_units(units, decimals)
    return f"+{text}" if signed and units > 0 else text


def _native_symbol(chain_id: int | None) -> str:
    from mm_agent.evm.chains import get_chain

    try:
        return get_chain(int(chain_id or 0)).native_symbol
    except MMError:
        return "ETH"


def _rows(pairs: list[tuple[str, str]]) -> str:
    """Label/value lines; values are already-escaped HTML."""
    return "".join(f'<p><span class="muted">{e(k)}</span><br>{v}</p>' for k, v in pairs)


def _section(title: str, inner: str) -> str:
    return f'<div class="card"><h2 style="font-size:1.1rem;margin:0 0 .5rem">{e(title)}</h2>' \
           f"{inner}</div>"


def render_approval(job: Any, approval: Any, address: str) -> str:
    """The details a human needs to decide, as safe HTML (no form)."""
    preview = job.preview or {}
    native = _native_symbol(job.chain_id)
    reason = (job.approval or {}).get("reason") or "approval required"
    head = [("The agent wants to", f"<b>{e(job.intent)}</b>"),
            ("Why you are asked", e(reason)),
            ("Wallet", f'<span class="mono">{e(address)}</span>'),
            ("Chain", e(_chain_label(job.chain_id))),
            ("Link expires", f"{e(_iso(approval.expires_at))} (UTC)")]
    body = job.body or {}
    if body.get("kind") == "transfer" and body.get("to"):
        head.insert(3, ("Recipient", f'<span class="mono">{e(body["to"])}</span>'))
    elif isinstance(body.get("payload"), dict) and body["payload"].get("to"):
        head.insert(3, ("Calls", f'<span class="mono">{e(body["payload"]["to"])}</span>'))
    note = _agent_note(job)
    if note:
        head.insert(1, (AGENT_NOTE_LABEL, f"<i>&ldquo;{e(note)}&rdquo;</i>"))
    out = [_section("Request", _rows(head))]
    changes = _changes(job)
    if changes:
        lis = "".join(f'<li><code>{e(c)}</code></li>' for c in changes)
        out.append(_section("Changes (old → new)", f"<ul>{lis}</ul>"))

    decoded = preview.get("decoded") or {}
    if decoded.get("functionName") or decoded.get("effectiveRecipient"):
        pairs = []
        if decoded.get("functionName"):
            pairs.append(("Function", f"<code>{e(decoded['functionName'])}</code>"))
        if decoded.get("effectiveRecipient"):
            pairs.append(("Effective recipient",
                          f'<span class="mono">{e(decoded["effectiveRecipient"])}</span>'))
        out.append(_section("Decoded", _rows(pairs)))

    sim = preview.get("simulation") or {}
    changes = sim.get("balanceChanges") or []
    if changes:
        items = []
        for ch in changes:
            asset = ch.get("asset") or {}
            own = str(ch.get("address", "")).lower() == address.lower()
            who = "this wallet" if own else ch.get("address")
            amount = _amount(ch.get("delta"), asset, signed=True)
            cls = "err" if amount.startswith("-") else "ok"
            items.append(f'<li><b class="{cls}">{e(amount)} {e(_asset_label(asset, native))}'
                         f'</b> <span class="mono muted">{e(who)}</span></li>')
        out.append(_section("Balance changes", f"<ul>{''.join(items)}</ul>"))
    exposures = sim.get("exposures") or []
    if exposures:
        items = []
        for ex in exposures:
            asset = ex.get("asset") or {}
            amount = ("UNLIMITED" if ex.get("unlimited") else
                      _amount(ex.get("amount"), asset) if ex.get("amount") is not None else "all")
            expiry = (_iso(float(ex["expiration"])) if ex.get("expiration") else "never")
            items.append(f'<li><b class="{"err" if ex.get("unlimited") else ""}">{e(amount)} '
                         f'{e(_asset_label(asset, native))}</b> may be spent by '
                         f'<span class="mono">{e(ex.get("spender"))}</span>'
                         f'<br><span class="muted">expires: {e(expiry)}</span></li>')
        out.append(_section("Exposures (allowances granted)", f"<ul>{''.join(items)}</ul>"))
    if sim and sim.get("success") is False:
        out.append(_section("Simulation", f'<p class="err">Reverts: '
                                          f'{e(sim.get("revertReason"))}</p>'))

    scan = preview.get("scan") or {}
    if scan:
        verdict = scan.get("resultType") or "unknown"
        cls = "ok" if verdict == "Benign" else "err"
        lines = [f'<p>Verdict: <b class="{cls}">{e(verdict)}</b>'
                 + (f" — {e(scan.get('reason'))}" if scan.get("reason") else "") + "</p>"]
        if scan.get("description"):
            lines.append(f"<p>{e(scan['description'])}</p>")
        feats = scan.get("features") or []
        if feats:
            lis = "".join(
                f"<li><b>{e(f.get('type'))}</b> {e(f.get('description') or f.get('featureId'))}"
                + (f' <span class="mono muted">{e(f["address"])}</span>'
                   if f.get("address") else "") + "</li>" for f in feats)
            lines.append(f"<ul>{lis}</ul>")
        out.append(_section("Threat scan", "".join(lines)))

    violations = (preview.get("policy") or {}).get("violations") or []
    if violations:
        lis = "".join(f"<li><b>{e(v.get('rule'))}</b>: {e(v.get('message'))}</li>"
                      for v in violations)
        out.append(_section("Policy violations", f"<ul>{lis}</ul>"))

    kind = body.get("kind")
    if kind == "message" and body.get("message") is not None:
        text = str(body["message"])[:4000]
        out.append(_section("Message to sign", f'<pre style="{_PRE}">{e(text)}</pre>'))
    elif kind in ("typed-data", "policy", "trading-mode"):
        shown = body.get("payload") if kind == "typed-data" else {
            k: v for k, v in body.items() if k not in ("kind",)}
        text = json.dumps(shown, indent=2, sort_keys=True, default=str)[:6000]
        out.append(_section("Details", f'<pre style="{_PRE}">{e(text)}</pre>'))
    return "\n".join(out)


def _form(approval_id: str, secret: str, channel: str) -> str:
    otp = ""
    if channel == "authenticator":
        otp = ('<label for="otp">Current code from your authenticator app</label>'
               '<input id="otp" name="otp" type="text" inputmode="numeric" '
               'autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required>')
    return (f'<div class="card"><form method="post" action="/approvals/{e(approval_id)}">'
            f'<input type="hidden" name="t" value="{e(secret)}">{otp}'
            '<button type="submit" name="decision" value="approve">Approve</button> '
            '<button type="submit" name="decision" value="reject" class="secondary" '
            'formnovalidate>Reject</button></form>'
            '<p class="muted">Only approve if you expected this request. Rejecting means '
            "nothing is signed.</p></div>")


# --- lookups and checks ---------------------------------------------------------------------
def _load(store: Store, approval_id: str) -> tuple[Any, Any, str]:
    with store.read() as conn:
        approval = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
        if approval is None:
            raise ApprovalNotFound("This approval link is not valid.")
        found = conn.execute(
            select(jobs, wallets.c.address).join(wallets, wallets.c.id == jobs.c.wallet_id)
            .where(jobs.c.polling_id == approval.polling_id)).one()
    return approval, found, found.address


def _check_secret(approval: Any, secret: str, request: Request) -> None:
    if not secret:
        if request.headers.get("authorization"):
            raise Forbidden("Agent credentials cannot approve requests.",
                            hint="Only the person who receives the approval link can decide.")
        raise Forbidden("This page needs the link from the approval mail.")
    # Constant time over the hashes: the comparison reveals nothing about the secret.
    if not hmac.compare_digest(sha256(secret), approval.secret_hash):
        raise Forbidden("This approval link is not valid.")


def _closed_page(status: str) -> HTMLResponse:
    word = _CLOSED_WORDS.get(status, status)
    code = 410 if status == "expired" else 409
    body = (f'<div class="card"><p class="err">This request was <b>{e(word)}</b>. '
            "Nothing was changed.</p>"
            + ('<p class="muted">The approval window has passed; ask the agent to submit the '
               "request again if it is still wanted.</p>" if status == "expired" else "")
            + "</div>")
    return _page(word.capitalize(), body, code)


def _expire_if_due(state: Any, approval: Any) -> bool:
    """Past its window: close it the same way the sweeper does (job → EXPIRED)."""
    if approval.status == "open" and now() > approval.expires_at:
        state.jobs.expire_due()
        return True
    return False


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    # Intents and addresses are long unbroken strings: let them wrap on a phone screen.
    return page(title, f'<div style="overflow-wrap:anywhere">{body}</div>', status_code)


def _state(request: Request) -> Any:
    return request.app.state.mm


# --- routes ---------------------------------------------------------------------------------
def _show(state: Any, request: Request, approval_id: str, secret: str) -> HTMLResponse:
    approval, job, address = _load(state.store, approval_id)
    _check_secret(approval, secret, request)
    if _expire_if_due(state, approval):
        return _closed_page("expired")
    if approval.status != "open":
        return _closed_page(approval.status)
    details = render_approval(job, approval, address)
    if job.status != "AWAITING_MFA":
        return _page("No longer waiting", f'{details}<div class="card"><p class="err">This '
                     f"request is {e(job.status)}; it no longer needs a decision.</p></div>", 409)
    return _page("Approve this request?", details + _form(approval_id, secret, approval.channel))


@router.get("/approvals/{approval_id}", response_class=HTMLResponse)
async def approval_page(request: Request, approval_id: str, t: str = "") -> HTMLResponse:
    st = _state(request)
    try:
        return await run_in_threadpool(_show, st, request, approval_id, t)
    except MMError as err:
        return error_page(err, "Approval")


def _decide(state: Any, request: Request, approval_id: str, secret: str, decision: str,
            otp: str) -> HTMLResponse:
    from .signin import otp_locked, verify_totp

    approval, job, _address = _load(state.store, approval_id)
    _check_secret(approval, secret, request)
    if approval.status != "open":
        return _closed_page(approval.status)
    if _expire_if_due(state, approval):
        return _closed_page("expired")
    if decision not in ("approve", "reject"):
        raise ValidationError("Choose Approve or Reject.")
    if job.status != "AWAITING_MFA":
        raise ApprovalClosed(f"This request is {job.status}; it no longer needs a decision.")
    if approval.channel == "authenticator":
        limits = state.settings.rate_limits
        if otp_locked(state.store, job.account_id, approval_id, limits):
            raise InvalidOtp("Too many wrong codes: approvals are locked for a few minutes.",
                             hint="Wait a few minutes, then open the link again.")
        # A Reject (which signs nothing; its button skips the browser's `required` check)
        # still needs a code, but a missing or wrong one never counts towards the lockout.
        if not verify_totp(state.store, state.keys, job.account_id, otp,
                           approval_id=approval_id, limits=limits,
                           count_failure=decision == "approve"):
            if otp_locked(state.store, job.account_id, approval_id, limits):
                raise InvalidOtp("Too many wrong codes: approvals are locked for a few minutes.",
                                 hint="Wait a few minutes, then open the link again.")
            raise InvalidOtp("Wrong, expired or already used code. Nothing was changed.",
                             hint="Open the link from the mail again and enter the next code "
                                  "your authenticator app shows.")
    status = "approved" if decision == "approve" else "rejected"
    with state.store.tx() as conn:
        # Only an open, unexpired approval changes: two submits cannot both decide.
        won = conn.execute(update(approvals).where(and_(
            approvals.c.id == approval_id, approvals.c.status == "open",
            approvals.c.expires_at >= now())).values(status=status, decided_at=now())).rowcount
        current = conn.execute(select(approvals.c.status, approvals.c.expires_at)
                               .where(approvals.c.id == approval_id)).one()
    if not won:
        if current.status == "open":  # lost to the clock between the checks and the UPDATE
            state.jobs.expire_due()
            return _closed_page("expired")
        return _closed_page(current.status)
    if status == "approved":
        state.jobs.approve(job.polling_id)
        return _page("Approved", '<div class="card"><p class="ok">Approved. The wallet signs '
                     "and sends the request now; the agent sees the result.</p>"
                     f"<p><b>{e(job.intent)}</b></p></div>")
    state.jobs.deny(job.polling_id)
    return _page("Rejected", '<div class="card"><p class="ok">Rejected. Nothing was signed; '
                 f"the agent is told the request was denied.</p><p><b>{e(job.intent)}</b></p>"
                 "</div>")


@router.post("/approvals/{approval_id}", response_class=HTMLResponse)
async def approval_decide(request: Request, approval_id: str, t: str = Form(""),
                          decision: str = Form(""), otp: str = Form("")) -> HTMLResponse:
    st = _state(request)
    try:
        return await run_in_threadpool(_decide, st, request, approval_id, t, decision, otp)
    except MMError as err:
        return error_page(err, "Approval")

