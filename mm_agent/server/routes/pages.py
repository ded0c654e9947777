"""Server-rendered pages people open: sign-in by email, authenticator pairing (and, later, the
approval page, which reuses ``layout``/``page``/``error_page``).

Plain string templates: every interpolated value goes through ``html.escape`` (``e``). No
JavaScript. Responses forbid framing, referrers (URLs carry link secrets) and caching.
"""

from __future__ import annotations

from html import escape
from typing import Any

import segno
from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from mm_agent.errors import MMError

from ..services import signin

__all__ = ["e", "error_page", "layout", "page", "router"]

router = APIRouter(include_in_schema=False)

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f6f6f4;color:#1d1d1b;line-height:1.5}
main{max-width:34rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:10px;padding:1rem 1.2rem;margin:1rem 0}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}
input[type=email],input[type=text]{width:100%;box-sizing:border-box;font-size:1.1rem;
padding:.6rem;border:1px solid #aaa;border-radius:6px}
button{font-size:1.05rem;padding:.6rem 1.2rem;margin-top:1rem;border:0;border-radius:6px;
background:#1f6feb;color:#fff;cursor:pointer}
button.secondary{background:#6e7781}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.ok{color:#1a7f37}.err{color:#cf222e}.muted{color:#57606a;font-size:.9rem}
.qr svg{width:100%;max-width:260px;height:auto;display:block;margin:.5rem auto}
""".strip()


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def layout(title: str, body: str) -> str:
    """A whole page. ``title`` is escaped here; ``body`` must already be safe HTML."""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        f"<title>{e(title)} · mm-agent</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{e(title)}</h1>\n{body}\n</main></body></html>"
    )


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(layout(title, body), status_code=status_code, headers=SECURITY_HEADERS)


def error_page(err: MMError, title: str = "Something went wrong") -> HTMLResponse:
    from ..app import status_for

    hint = f'<p class="muted">{e(err.hint)}</p>' if err.hint else ""
    body = f'<div class="card"><p class="err">{e(err.message)}</p>{hint}</div>'
    return page(title, body, status_for(err))


def _state(request: Request) -> Any:
    return request.app.state.mm


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
def login_verify_form(request: Request, t: str = "") -> HTMLResponse:
    try:
        out = signin.check_magic_link(_state(request).store, t)
    except MMError as err:
        return error_page(err, "Sign-in link not accepted")
    return page("Confirm sign-in", (
        f'<div class="card"><p>Sign in to mm-agent as <strong>{e(out.get("email"))}</strong>?'
        "</p><p>Only confirm if you just started <code>mm login</code> yourself.</p>"
        f'<form method="post" action="/login/verify"><input type="hidden" name="t" '
        f'value="{e(t)}"><button type="submit">Confirm sign-in</button></form></div>'))


@router.post("/login/verify", response_class=HTMLResponse)
async def login_verify(request: Request) -> HTMLResponse:
    st = _state(request)
    form = await request.form()
    t = str(form.get("t") or "")
    try:
        out = signin.verify_magic_link(st.store, st.keys, t)
    except MMError as err:
        return error_page(err, "Sign-in link not accepted")
    extra = (" Your new authenticator app is now the approval channel of this account."
             if out.get("method") == "qr" else "")
    return page("You are signed in", (
        f'<div class="card"><p class="ok">Signed in as <strong>{e(out.get("email"))}</strong>.'
        f"{e(extra)}</p><p>Go back to your terminal: <code>mm</code> picks the session up by "
        "itself. You can close this page.</p></div>"))


@router.get("/login/{login_id}", response_class=HTMLResponse)
def login_form(request: Request, login_id: str) -> HTMLResponse:
    try:
        signin.get_device_login(_state(request).store, login_id, "browser")
    except MMError as err:
        return error_page(err, "Sign in to mm-agent")
    return page("Sign in to mm-agent", _email_form(login_id))


@router.post("/login/{login_id}", response_class=HTMLResponse)
async def login_submit(request: Request, login_id: str,
                       email: str = Form("")) -> HTMLResponse:
    st = _state(request)
    try:
        # Blocking work (database, SMTP with retries) off the event loop.
        address = await run_in_threadpool(signin.request_magic_link, st.store, st.settings,
                                          st.mailer, login_id, email)
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
def pair_form(request: Request, login_id: str, email: str = "") -> HTMLResponse:
    st = _state(request)
    try:
        secret = signin.pairing_secret(st.store, st.keys, login_id)
    except MMError as err:
        return error_page(err, "Pair an authenticator")
    return page("Pair an authenticator", _pair_body(login_id, secret, _label_email(email)))


@router.post("/pair/{login_id}", response_class=HTMLResponse)
async def pair_submit(request: Request, login_id: str, email: str = Form(""),
                      code: str = Form("")) -> HTMLResponse:
    st = _state(request)
    try:
        outcome = await run_in_threadpool(signin.complete_pairing, st.store, st.settings,
                                          st.keys, st.mailer, login_id, email, code)
    except MMError as err:
        if err.code in ("INVALID_EMAIL", "INVALID_OTP", "INVALID_ARGUMENT"):
            try:
                secret = await run_in_threadpool(signin.pairing_secret, st.store, st.keys,
                                                 login_id)
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
