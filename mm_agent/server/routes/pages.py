"""Server-rendered pages people open: sign-in by email and authenticator pairing (the approval
page is ``approvals.py``). Templates and escaping: ``server/html.py``.
"""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from mm_agent.errors import MMError

from ..deps import KeysDep, MailerDep, SettingsDep, StoreDep
from ..html import e, error_page, page
from ..services import signin

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# --- browser sign-in --------------------------------------------------------------------------
def _email_form(login_id: str, email: str = "", error: str | None = None) -> str:
    err = f'<p class="err">{e(error)}</p>' if error else ""
    return (
        '<div class="card"><p>Enter your email address. We will mail you a link that finishes '
        "signing in the <code>mm</code> command-line tool.</p>"
        f'{err}<form method="post" action="/login/{e(login_id)}">'
        '<label for="email">Email</label>'
        f'<input id="email" name="email" type="email" autocomplete="email" required '
        f'value="{e(email)}">'
        "<button type=\"submit\">Send me a sign-in link</button></form></div>"
        '<p class="muted">Only continue if you started <code>mm login</code> yourself.</p>'
    )


# Declared before /login/{login_id} so that "verify" is not taken for an id.
@router.get("/login/verify", response_class=HTMLResponse)
def login_verify_form(store: StoreDep, t: str = "") -> HTMLResponse:
    try:
        out = signin.check_magic_link(store, t)
    except MMError as err:
        return error_page(err, "Sign-in link not accepted")
    return page("Confirm sign-in", (
        f'<div class="card"><p>Sign in to mm-agent as <strong>{e(out.get("email"))}</strong>?'
        "</p><p>Only confirm if you just started <code>mm login</code> yourself.</p>"
        f'<form method="post" action="/login/verify"><input type="hidden" name="t" '
        f'value="{e(t)}"><button type="submit">Confirm sign-in</button></form></div>'))


@router.post("/login/verify", response_class=HTMLResponse)
def login_verify(store: StoreDep, keys: KeysDep,
                 t: Annotated[str, Form()] = "") -> HTMLResponse:
    try:
        out = signin.verify_magic_link(store, keys, t)
    except MMError as err:
        return error_page(err, "Sign-in link not accepted")
    extra = (" Your new authenticator app is now the approval channel of this account."
             if out.get("method") == "qr" else "")
    return page("You are signed in", (
        f'<div class="card"><p class="ok">Signed in as <strong>{e(out.get("email"))}</strong>.'
        f"{e(extra)}</p><p>Go back to your terminal: <code>mm</code> picks the session up by "
        "itself. You can close this page.</p></div>"))


@router.get("/login/{login_id}", response_class=HTMLResponse)
def login_form(login_id: str, store: StoreDep) -> HTMLResponse:
    try:
        signin.get_device_login(store, login_id, "browser")
    except MMError as err:
        return error_page(err, "Sign in to mm-agent")
    return page("Sign in to mm-agent", _email_form(login_id))


@router.post("/login/{login_id}", response_class=HTMLResponse)
async def login_submit(login_id: str, store: StoreDep, settings: SettingsDep,
                       mailer: MailerDep, email: Annotated[str, Form()] = "") -> HTMLResponse:
    try:
        # Blocking work (database, SMTP with retries) off the event loop.
        address = await run_in_threadpool(signin.request_magic_link, store, settings,
                                          mailer, login_id, email)
    except MMError as err:
        if err.code == "INVALID_EMAIL":
            return page("Sign in to mm-agent", _email_form(login_id, email, err.message), 400)
        return error_page(err, "Sign in to mm-agent")
    return page("Check your email", (
        f'<div class="card"><p>We sent a sign-in link to <strong>{e(address)}</strong>.</p>'
        "<p>Open it on any device; it works once and expires with this sign-in request.</p>"
        "</div>"))


# --- qr: authenticator pairing ----------------------------------------------------------------
def _qr_svg(data: str) -> str:
    # segno renders only modules (paths), never the data as text; a white background keeps the
    # code scannable on dark screens.
    return str(segno.make(data, error="m").svg_inline(scale=5, border=4, light="#fff"))


def _pair_body(login_id: str, secret: str, email: str, error: str | None = None) -> str:
    label = email or "sign-in"
    uri = signin.provisioning_uri(secret, label)
    err = f'<p class="err">{e(error)}</p>' if error else ""
    relabel = (
        f'<form method="get" action="/pair/{e(login_id)}" class="muted">'
        '<label for="label-email">Name the entry after your email (optional)</label>'
        f'<input id="label-email" name="email" type="email" value="{e(email)}">'
        '<button class="secondary" type="submit">Update QR code</button></form>')
    return (
        '<div class="card"><p>1. Scan this code with an authenticator app (Google '
        "Authenticator, Aegis, 1Password, …). Approvals of this account will ask for its "
        "codes.</p>"
        f'<div class="qr" role="img" aria-label="QR code for the authenticator app">'
        f"{_qr_svg(uri)}</div>"
        "<p>Or enter this key by hand (time-based, 6 digits):</p>"
        f'<p><code id="totp-secret">{e(secret)}</code></p>'
        f"{relabel}</div>"
        '<div class="card"><p>2. Enter your email and the current code from the app.</p>'
        f'{err}<form method="post" action="/pair/{e(login_id)}">'
        '<label for="email">Email</label>'
        f'<input id="email" name="email" type="email" autocomplete="email" required '
        f'value="{e(email)}">'
        '<label for="code">Code</label>'
        '<input id="code" name="code" type="text" inputmode="numeric" pattern="[0-9 ]{6,7}" '
        'autocomplete="one-time-code" required>'
        '<button type="submit">Pair and sign in</button></form>'
        '<p class="muted">Already paired this email before? Enter a code from that entry; '
        "this key is then not needed.</p></div>"
    )


def _label_email(email: str) -> str:
    try:
        return signin.normalize_email(email) if email else ""
    except MMError:
        return ""


@router.get("/pair/{login_id}", response_class=HTMLResponse)
def pair_form(login_id: str, store: StoreDep, keys: KeysDep, email: str = "") -> HTMLResponse:
    try:
        secret = signin.pairing_secret(store, keys, login_id)
    except MMError as err:
        return error_page(err, "Pair an authenticator")
    return page("Pair an authenticator", _pair_body(login_id, secret, _label_email(email)))


@router.post("/pair/{login_id}", response_class=HTMLResponse)
async def pair_submit(login_id: str, store: StoreDep, settings: SettingsDep, keys: KeysDep,
                      mailer: MailerDep, email: Annotated[str, Form()] = "",
                      code: Annotated[str, Form()] = "") -> HTMLResponse:
    try:
        outcome = await run_in_threadpool(signin.complete_pairing, store, settings,
                                          keys, mailer, login_id, email, code)
    except MMError as err:
        if err.code in ("INVALID_EMAIL", "INVALID_OTP", "INVALID_ARGUMENT"):
            try:
                secret = await run_in_threadpool(signin.pairing_secret, store, keys, login_id)
            except MMError as closed:
                return error_page(closed, "Pair an authenticator")
            body = _pair_body(login_id, secret, _label_email(email), err.message)
            return page("Pair an authenticator", body, 400)
        return error_page(err, "Pair an authenticator")
    if not outcome.approved:
        return page("Confirm by email", (
            f'<div class="card"><p><strong>{e(outcome.email)}</strong> already has an '
            "mm-agent account. To make this authenticator its approval channel, open the "
            "confirmation link we just mailed to it.</p></div>"))
    return page("You are signed in", (
        f'<div class="card"><p class="ok">Authenticator paired for '
        f"<strong>{e(outcome.email)}</strong>.</p><p>Go back to your terminal: <code>mm</code> "
        "picks the session up by itself. You can close this page.</p></div>"))
