"""The approval page (contract §7): ``GET /approvals/{id}?t=`` shows what the agent asked for
(intent, chain, balance changes, exposures, scan verdict, network fee with the replacement
ceiling, policy violations, expiry) with
Approve / Reject; ``POST`` decides. Checking the link and deciding: ``services/approvals.py``.
Server-rendered, without JavaScript (``server/html.py``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from mm_agent.errors import MMError
from mm_agent.evm.amounts import format_units
from mm_agent.security.agent_note import AGENT_NOTE_LABEL

from ..deps import ApprovalsDep
from ..html import e, error_page, page
from ..services.approvals import (
    ApprovalService,
    agent_note,
    chain_label,
    change_lines,
    fee_lines,
)
from ..services.jobs.records import iso

__all__ = ["render_approval", "router"]

router = APIRouter(include_in_schema=False)

_PRE = "white-space:pre-wrap;word-break:break-all;font-size:.85rem"
_CLOSED_WORDS = {"approved": "already approved", "rejected": "already rejected",
                 "expired": "expired"}


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
            ("Chain", e(chain_label(job.chain_id))),
            ("Link expires", f"{e(iso(approval.expires_at))} (UTC)")]
    body = job.body or {}
    if body.get("kind") == "transfer" and body.get("to"):
        head.insert(3, ("Recipient", f'<span class="mono">{e(body["to"])}</span>'))
    elif isinstance(body.get("payload"), dict) and body["payload"].get("to"):
        head.insert(3, ("Calls", f'<span class="mono">{e(body["payload"]["to"])}</span>'))
    note = agent_note(job)
    if note:
        head.insert(1, (AGENT_NOTE_LABEL, f"<i>&ldquo;{e(note)}&rdquo;</i>"))
    out = [_section("Request", _rows(head))]
    changes = change_lines(job)
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
            expiry = (iso(float(ex["expiration"])) if ex.get("expiration") else "never")
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

    fees = fee_lines(job)
    if fees:
        out.append(_section("Network fee", _rows([(k, e(v)) for k, v in fees])))

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


def _closed_page(status: str) -> HTMLResponse:
    word = _CLOSED_WORDS.get(status, status)
    code = 410 if status == "expired" else 409
    body = (f'<div class="card"><p class="err">This request was <b>{e(word)}</b>. '
            "Nothing was changed.</p>"
            + ('<p class="muted">The approval window has passed; ask the agent to submit the '
               "request again if it is still wanted.</p>" if status == "expired" else "")
            + "</div>")
    return _page(word.capitalize(), body, code)


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    # Intents and addresses are long unbroken strings: let them wrap on a phone screen.
    return page(title, f'<div style="overflow-wrap:anywhere">{body}</div>', status_code)


# --- routes ---------------------------------------------------------------------------------
def _show(approvals: ApprovalService, approval_id: str, secret: str,
          has_bearer: bool) -> HTMLResponse:
    seen = approvals.view(approval_id, secret, has_bearer=has_bearer)
    if seen.state == "closed":
        return _closed_page(seen.status)
    details = render_approval(seen.job, seen.approval, seen.address)
    if seen.state == "idle":
        return _page("No longer waiting", f'{details}<div class="card"><p class="err">This '
                     f"request is {e(seen.status)}; it no longer needs a decision.</p></div>",
                     409)
    return _page("Approve this request?",
                 details + _form(approval_id, secret, seen.approval.channel))


@router.get("/approvals/{approval_id}", response_class=HTMLResponse)
async def approval_page(request: Request, approval_id: str, approvals: ApprovalsDep,
                        t: str = "") -> HTMLResponse:
    has_bearer = bool(request.headers.get("authorization"))
    try:
        return await run_in_threadpool(_show, approvals, approval_id, t, has_bearer)
    except MMError as err:
        return error_page(err, "Approval")


def _decide(approvals: ApprovalService, approval_id: str, secret: str, decision: str,
            otp: str, has_bearer: bool) -> HTMLResponse:
    out = approvals.decide(approval_id, secret, decision, otp, has_bearer=has_bearer)
    if out.state == "closed":
        return _closed_page(out.status)
    if out.state == "approved":
        return _page("Approved", '<div class="card"><p class="ok">Approved. The wallet signs '
                     "and sends the request now; the agent sees the result.</p>"
                     f"<p><b>{e(out.job.intent)}</b></p></div>")
    return _page("Rejected", '<div class="card"><p class="ok">Rejected. Nothing was signed; '
                 f"the agent is told the request was denied.</p><p><b>{e(out.job.intent)}</b>"
                 "</p></div>")


@router.post("/approvals/{approval_id}", response_class=HTMLResponse)
async def approval_decide(request: Request, approval_id: str, approvals: ApprovalsDep,
                          t: Annotated[str, Form()] = "", decision: Annotated[str, Form()] = "",
                          otp: Annotated[str, Form()] = "") -> HTMLResponse:
    # Only whether a bearer header was sent matters (to explain the refusal): it is never
    # looked up, so no agent credential can approve.
    has_bearer = bool(request.headers.get("authorization"))
    try:
        return await run_in_threadpool(_decide, approvals, approval_id, t, decision, otp,
                                       has_bearer)
    except MMError as err:
        return error_page(err, "Approval")
