"""Device-style sign-in: the CLI starts a login and polls; a person finishes it in a browser.

``POST /v1/auth/device`` creates a ``device_logins`` row with two secrets of different reach:
the public id (in the page URL the person opens) and the device code (only the CLI has it, to
poll ``/v1/auth/device/token``; stored hashed). The person then either

- **browser**: enters an email on ``/login/{id}`` and follows the single-use magic link mailed
  to it (``/login/verify?t=…``, stored hashed, expiring with the login), or
- **qr**: scans a TOTP provisioning QR on ``/pair/{id}`` and enters a current code.

Taking over an account is never possible from a pairing page alone: a new email gets a new
account; an existing authenticator account is signed in only with a code from *its* seed; a
new seed for an existing account (a switch from email, or a lost phone) is adopted only after
the owner confirms a link mailed to the account's address.

TOTP codes (RFC 6238, 30 s, 6 digits, ±1 step) are accepted once: the time-step counter is
recorded in ``used_otps`` and a counter at or below the highest used one is refused, so a code
cannot be replayed on another pairing or approval.

Wrong codes are counted in the database (``ratelimit.py``), in scopes that cannot reach each
other: a pairing page closes after a few wrong codes (``pair_code``), sign-in to an existing
authenticator account from pairing pages is limited per account (``totp_signin``), and the
approval page counts per approval and per account (``approval_otp*``). Unauthenticated pairing
attempts therefore never lock an account's approvals.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pyotp
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row

from mm_agent.errors import (
    AuthorizationPending,
    InvalidEmail,
    InvalidOtp,
    LinkUsed,
    LoginExpired,
    LoginNotFound,
    MMError,
    ValidationError,
)

from ..db.store import Store, accounts, device_logins, now, sha256, used_otps
from ..settings import RateLimits, ServerSettings
from .auth import iso_time, issue_tokens
from .keys import MasterKey, unwrap_totp_secret, wrap_totp_secret
from .mailer import Mailer
from .ratelimit import check, record_failure

__all__ = [
    "ISSUER",
    "POLL_INTERVAL",
    "PairingOutcome",
    "complete_pairing",
    "exchange_device_code",
    "get_device_login",
    "new_account_seed",
    "normalize_email",
    "otp_locked",
    "pairing_secret",
    "provisioning_uri",
    "request_magic_link",
    "start_device_login",
    "verify_magic_link",
    "verify_totp",
]

log = logging.getLogger("mm_agent.server.services.signin")

ISSUER = "mm-agent"
POLL_INTERVAL = 2  # seconds between the CLI's polls
METHODS = ("browser", "qr")
_ATOM = r"[^@\s<>()\[\]\\,;:\"']"  # no spaces, no header/markup specials
_EMAIL_RE = re.compile(rf"^{_ATOM}+@{_ATOM}+\.{_ATOM}*[^@\s<>()\[\]\\,;:\"'.]$")


def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    if len(value) > 254 or not _EMAIL_RE.fullmatch(value) or ".." in value:
        raise InvalidEmail("That is not a valid email address.")
    return value


def account_owner(account_id: str) -> str:
    return f"account:{account_id}"


def _pair_owner(login_id: str) -> str:
    return f"pair:{login_id}"


def new_account_seed() -> str:
    return pyotp.random_base32()  # 32 base32 characters = 160 bits (RFC 4226 recommends it)


def provisioning_uri(secret: str, label: str) -> str:
    """``otpauth://totp/mm-agent:<label>?secret=…&issuer=mm-agent``."""
    return (f"otpauth://totp/{quote(ISSUER)}:{quote(label, safe='@')}?"
            + urlencode({"secret": secret, "issuer": ISSUER}))


# --- TOTP -------------------------------------------------------------------------------------
def _matching_counter(secret: str, code: str, at: float | None = None) -> int | None:
    code = (code or "").replace(" ", "").strip()
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    base = int((now() if at is None else at) // totp.interval)
    for counter in (base - 1, base, base + 1):  # valid_window=1
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _consume_counter(conn: Connection, account_id: str, counter: int) -> bool:
    """Record a used time step; False if it (or a later one) was already used."""
    highest = conn.execute(select(func.max(used_otps.c.counter))
                           .where(used_otps.c.account_id == account_id)).scalar()
    if highest is not None and counter <= highest:
        return False
    conn.execute(insert(used_otps).values(account_id=account_id, counter=counter))
    return True


def _account_seed(conn: Connection, master: MasterKey, account_id: str) -> str | None:
    blob = conn.execute(select(accounts.c.totp_secret_enc)
                        .where(accounts.c.id == account_id)).scalar()
    return unwrap_totp_secret(master, account_owner(account_id), blob) if blob else None


def _approval_key(account_id: str, approval_id: str | None) -> str:
    return approval_id or f"account:{account_id}"


def otp_locked(store: Store, account_id: str, approval_id: str | None = None,
               limits: RateLimits | None = None) -> bool:
    """True while approvals are locked after repeated wrong codes: this approval, or every
    approval of the account (pages can say why ``verify_totp`` refuses)."""
    lim = limits or RateLimits()
    try:
        check(store, "approval_otp", _approval_key(account_id, approval_id), lim.approval_otp)
        check(store, "approval_otp_account", account_id, lim.approval_otp_account)
    except MMError:
        return True
    return False


def verify_totp(store: Store, master: MasterKey, account_id: str, code: str, *,
                approval_id: str | None = None, limits: RateLimits | None = None,
                count_failure: bool = True) -> bool:
    """True once for a current code of the account's authenticator; a replayed, stale or wrong
    code, an account without an authenticator, or a locked approval gives False. Only the
    approval page calls this (behind the mailed link secret), so only it feeds the lockout."""
    lim = limits or RateLimits()
    if otp_locked(store, account_id, approval_id, lim):
        return False
    with store.tx() as conn:
        seed = _account_seed(conn, master, account_id)
        counter = _matching_counter(seed, code) if seed else None
        ok = counter is not None and _consume_counter(conn, account_id, counter)
        if not ok and count_failure:
            record_failure(store, "approval_otp", _approval_key(account_id, approval_id),
                           lim.approval_otp, conn=conn)
            record_failure(store, "approval_otp_account", account_id,
                           lim.approval_otp_account, conn=conn)
    return ok


# --- device logins ----------------------------------------------------------------------------
def start_device_login(store: Store, settings: ServerSettings, method: str) -> dict[str, Any]:
    if method not in METHODS:
        raise ValidationError("method must be `browser` or `qr`.")
    login_id = secrets.token_urlsafe(16)
    device_code = "mmd_" + secrets.token_urlsafe(32)
    t = now()
    with store.tx() as conn:
        conn.execute(insert(device_logins).values(
            id=login_id, code_hash=sha256(device_code), method=method, status="pending",
            expires_at=t + settings.device_login_seconds, created_at=t))
    page = "login" if method == "browser" else "pair"
    return {"deviceCode": device_code, "verificationUrl": f"{settings.base_url}/{page}/{login_id}",
            "expiresIn": settings.device_login_seconds, "interval": POLL_INTERVAL}


def exchange_device_code(store: Store, settings: ServerSettings,
                         device_code: str) -> dict[str, Any]:
    """Agent-scope tokens once the person finished; the device code then stops working."""
    err: MMError | None = None
    result: dict[str, Any] | None = None
    with store.tx() as conn:
        row = conn.execute(select(device_logins).where(
            device_logins.c.code_hash == sha256(device_code or ""))).first()
        if row is None:
            err = LoginNotFound("Unknown device code.")
        elif row.status == "consumed":
            err = LinkUsed("This sign-in was already completed.")
        elif row.status == "expired" or row.expires_at <= now():
            err = LoginExpired("This sign-in request has expired.")
        elif row.status != "approved" or not row.account_id:
            err = AuthorizationPending("Waiting for the sign-in to be completed in the browser.")
        else:
            conn.execute(update(device_logins).where(device_logins.c.id == row.id)
                         .values(status="consumed"))
            result = issue_tokens(store, settings, row.account_id, "agent", conn=conn)
    if result is None:
        raise err or LoginNotFound("Unknown device code.")
    return result


def get_device_login(store: Store, login_id: str, method: str) -> Row[Any]:
    """The pending login behind a page URL, or the error the page should show."""
    with store.read() as conn:
        row = conn.execute(select(device_logins).where(device_logins.c.id == login_id,
                                                       device_logins.c.method == method)).first()
    _check_open(row)
    assert row is not None
    return row


def _check_open(row: Row[Any] | None) -> None:
    if row is None:
        raise LoginNotFound("This sign-in page does not exist.")
    if row.status in ("approved", "consumed"):
        raise LinkUsed("This sign-in is already complete. You can close this page.",
                       hint="Go back to your terminal.")
    if row.status == "expired" or row.expires_at <= now():
        raise LoginExpired("This sign-in request has expired.",
                           hint="Run `mm login` again for a new one.")


def _expire(store: Store, login_id: str) -> None:
    with store.tx() as conn:
        conn.execute(update(device_logins).where(device_logins.c.id == login_id,
                                                 device_logins.c.status == "pending")
                     .values(status="expired"))


# --- browser: magic link ----------------------------------------------------------------------
def request_magic_link(store: Store, settings: ServerSettings, mailer: Mailer, login_id: str,
                       email: str) -> str:
    """Find or create the account and mail it a single-use link; returns the email used."""
    address = normalize_email(email)
    secret = secrets.token_urlsafe(32)
    with store.tx() as conn:
        row = conn.execute(select(device_logins).where(device_logins.c.id == login_id,
                                                       device_logins.c.method == "browser")
                           ).first()
        _check_open(row)
        assert row is not None
        account_id = _find_or_create_account(conn, address, "email")
        # A second request replaces the link: only the newest one works.
        conn.execute(update(device_logins).where(device_logins.c.id == login_id).values(
            email=address, account_id=account_id, magic_hash=sha256(secret)))
        expires_at = row.expires_at
    link = f"{settings.base_url}/login/verify?{urlencode({'t': secret})}"
    _mail_link(mailer, address, "Your mm-agent sign-in link", link, expires_at,
               "sign the `mm` command-line tool in to mm-agent")
    return address


def _mail_link(mailer: Mailer, to: str, subject: str, link: str, expires_at: float,
               purpose: str) -> None:
    from html import escape

    when = iso_time(expires_at)
    text = (f"Someone (hopefully you) asked to {purpose} as {to}.\n\n"
            f"Open this link to continue:\n{link}\n\n"
            f"It works once and expires at {when}.\n"
            "If you did not run `mm login` just now, ignore this mail: nothing happens "
            "without the link.\n")
    html = (f"<p>Someone (hopefully you) asked to {escape(purpose)} as {escape(to)}.</p>"
            f'<p><a href="{escape(link)}">Continue</a></p>'
            f"<p>The link works once and expires at {escape(when)}. If you did not run "
            "<code>mm login</code> just now, ignore this mail.</p>")
    mailer.send(to, subject, text, html)


def _find_or_create_account(conn: Connection, email: str, channel: str) -> str:
    acct = conn.execute(select(accounts.c.id).where(accounts.c.email == email)).scalar()
    if acct:
        return str(acct)
    account_id = uuid.uuid4().hex
    conn.execute(insert(accounts).values(id=account_id, email=email, channel=channel,
                                         created_at=now()))
    return account_id


def _magic_link_problem(row: Any) -> MMError | None:
    if row is None:
        return LoginNotFound("This link is not valid (a newer link may have replaced it).")
    if row.status in ("approved", "consumed"):
        return LinkUsed("This link was already used.")
    if row.status == "expired" or row.expires_at <= now() or not row.account_id:
        return LoginExpired("This link has expired.", hint="Run `mm login` again.")
    return None


def check_magic_link(store: Store, secret: str) -> dict[str, Any]:
    """Whether a mailed link is usable, without using it: opening the link only shows a
    confirm button, because mail scanners open links and must not sign anybody in."""
    with store.read() as conn:
        row = conn.execute(select(device_logins).where(
            device_logins.c.magic_hash == sha256(secret or ""))).first()
    err = _magic_link_problem(row)
    if err is not None:
        raise err
    return {"email": row.email, "method": row.method}


def verify_magic_link(store: Store, master: MasterKey, secret: str) -> dict[str, Any]:
    """Confirm a mailed link: approve its device login (once). ``{email, method}``."""
    err: MMError | None = None
    out: dict[str, Any] = {}
    with store.tx() as conn:
        row = conn.execute(select(device_logins).where(
            device_logins.c.magic_hash == sha256(secret or ""))).first()
        err = _magic_link_problem(row)
        if err is None:
            if row.method == "qr":
                # Confirmation of a new authenticator for an existing account: adopt the seed.
                seed = unwrap_totp_secret(master, _pair_owner(row.id), row.totp_secret_enc)
                conn.execute(update(accounts).where(accounts.c.id == row.account_id).values(
                    channel="authenticator",
                    totp_secret_enc=wrap_totp_secret(master, account_owner(row.account_id),
                                                     seed)))
            conn.execute(update(device_logins).where(device_logins.c.id == row.id)
                         .values(status="approved"))
            out = {"email": row.email, "method": row.method}
    if err is not None:
        raise err
    return out


# --- qr: authenticator pairing ----------------------------------------------------------------
def pairing_secret(store: Store, master: MasterKey, login_id: str) -> str:
    """The pairing seed of a qr login, generated (and stored encrypted) on first view."""
    with store.tx() as conn:
        row = conn.execute(select(device_logins).where(device_logins.c.id == login_id,
                                                       device_logins.c.method == "qr")).first()
        _check_open(row)
        assert row is not None
        if row.totp_secret_enc:
            return unwrap_totp_secret(master, _pair_owner(login_id), row.totp_secret_enc)
        seed = new_account_seed()
        conn.execute(update(device_logins).where(device_logins.c.id == login_id).values(
            totp_secret_enc=wrap_totp_secret(master, _pair_owner(login_id), seed)))
        return seed


@dataclass(frozen=True)
class PairingOutcome:
    email: str
    approved: bool  # False: a confirmation link was mailed first (existing account)


def complete_pairing(store: Store, settings: ServerSettings, master: MasterKey, mailer: Mailer,
                     login_id: str, email: str, code: str) -> PairingOutcome:
    address = normalize_email(email)
    limits = settings.rate_limits
    try:
        check(store, "pair_code", login_id, limits.pair_code)
    except MMError:
        _expire(store, login_id)
        raise LoginExpired("Too many wrong codes; this sign-in request was closed.",
                           hint="Run `mm login qr` again.") from None
    err: MMError | None = None
    outcome: PairingOutcome | None = None
    mail_secret: str | None = None
    with store.tx() as conn:
        row = conn.execute(select(device_logins).where(device_logins.c.id == login_id,
                                                       device_logins.c.method == "qr")).first()
        _check_open(row)
        assert row is not None
        if not row.totp_secret_enc:
            raise ValidationError("Open the pairing page first to get the QR code.")
        pair_seed = unwrap_totp_secret(master, _pair_owner(login_id), row.totp_secret_enc)
        acct = conn.execute(select(accounts).where(accounts.c.email == address)).first()
        if acct is not None:
            # Per account too: new device logins must not buy an attacker fresh guesses. This
            # limits sign-in only; the account's approvals count on their own (verify_totp).
            check(store, "totp_signin", acct.id, limits.totp_signin, conn=conn,
                  message="Too many wrong codes for this account; try again later.")
        existing_seed = (unwrap_totp_secret(master, account_owner(acct.id), acct.totp_secret_enc)
                         if acct is not None and acct.totp_secret_enc else None)
        if existing_seed and acct.channel == "authenticator" and (
                counter := _matching_counter(existing_seed, code)) is not None:
            # Already paired: a code from the account's own authenticator signs in.
            if _consume_counter(conn, acct.id, counter):
                _approve(conn, login_id, address, acct.id)
                outcome = PairingOutcome(address, True)
            else:
                err = InvalidOtp("That code was already used; wait for the next one.")
        elif (counter := _matching_counter(pair_seed, code)) is None:
            err = InvalidOtp("Wrong or expired code.")
        elif acct is None:
            account_id = uuid.uuid4().hex
            conn.execute(insert(accounts).values(
                id=account_id, email=address, channel="authenticator", created_at=now(),
                totp_secret_enc=wrap_totp_secret(master, account_owner(account_id), pair_seed)))
            _consume_counter(conn, account_id, counter)
            _approve(conn, login_id, address, account_id)
            outcome = PairingOutcome(address, True)
        elif not _consume_counter(conn, acct.id, counter):
            err = InvalidOtp("That code was already used; wait for the next one.")
        else:
            # A new seed for an existing account: its owner confirms by mail first.
            mail_secret = secrets.token_urlsafe(32)
            conn.execute(update(device_logins).where(device_logins.c.id == login_id).values(
                email=address, account_id=acct.id, magic_hash=sha256(mail_secret)))
            outcome = PairingOutcome(address, False)
        expires_at = row.expires_at
    if err is not None:
        with store.tx() as conn:
            record_failure(store, "pair_code", login_id, limits.pair_code, conn=conn)
            if acct is not None:
                record_failure(store, "totp_signin", acct.id, limits.totp_signin, conn=conn)
        raise err
    assert outcome is not None
    if mail_secret is not None:
        link = f"{settings.base_url}/login/verify?{urlencode({'t': mail_secret})}"
        _mail_link(mailer, address, "Confirm your new mm-agent authenticator", link,
                   expires_at, "pair a new authenticator app with mm-agent and sign in")
    return outcome


def _approve(conn: Connection, login_id: str, email: str, account_id: str) -> None:
    conn.execute(update(device_logins).where(device_logins.c.id == login_id).values(
        status="approved", email=email, account_id=account_id))
