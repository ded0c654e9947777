"""Opaque bearer tokens and their rotation (the FastAPI dependency that reads the caller is
``deps.current_principal``).

Tokens are random strings (``mma_…`` access, ``mmr_…`` refresh); only their SHA-256 hashes are
stored. Each sign-in starts a token *family*: a refresh returns a new pair in the same family
and revokes the refresh token it used. Presenting a refresh token that was already rotated
means two parties hold it (one of them stole it), so the whole family is revoked.

Scopes: ``agent`` (CLI tokens: submit, read, tighten) and ``human`` (web sessions that may
approve and broaden). ``require_human`` guards the latter.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from mm_agent.errors import Forbidden, NotAuthenticated

from ..db.store import Store, accounts, device_logins, now, sha256, tokens
from ..settings import ServerSettings

__all__ = [
    "Principal",
    "authenticate",
    "iso_time",
    "issue_tokens",
    "refresh",
    "require_human",
    "revoke_account",
    "revoke_family",
]

SCOPES = ("agent", "human")


@dataclass(frozen=True)
class Principal:
    account_id: str
    email: str
    channel: str
    scope: str
    token_id: str
    family: str


def iso_time(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _issue(conn: Connection, settings: ServerSettings, account_id: str, scope: str,
           family: str) -> dict[str, Any]:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    acct = conn.execute(select(accounts.c.email, accounts.c.channel)
                        .where(accounts.c.id == account_id)).first()
    if acct is None:
        raise NotAuthenticated("The account no longer exists.")
    t = now()
    access = "mma_" + secrets.token_urlsafe(32)
    refresh_token = "mmr_" + secrets.token_urlsafe(32)
    for kind, secret, ttl in (("access", access, settings.access_token_seconds),
                              ("refresh", refresh_token, settings.refresh_token_seconds)):
        conn.execute(insert(tokens).values(
            id=uuid.uuid4().hex, account_id=account_id, kind=kind, token_hash=sha256(secret),
            family=family, scope=scope, expires_at=t + ttl, revoked=False, created_at=t))
    return {"accessToken": access, "refreshToken": refresh_token,
            "expiresIn": settings.access_token_seconds, "email": acct.email,
            "channel": acct.channel}


def issue_tokens(store: Store, settings: ServerSettings, account_id: str, scope: str,
                 family: str | None = None, *, conn: Connection | None = None) -> dict[str, Any]:
    """A new access/refresh pair (in a new family unless ``family`` is given). Pass ``conn``
    to issue inside a transaction the caller already holds."""
    fam = family or uuid.uuid4().hex
    if conn is not None:
        return _issue(conn, settings, account_id, scope, fam)
    with store.tx() as c:
        return _issue(c, settings, account_id, scope, fam)


def _revoke_family(conn: Connection, family: str) -> int:
    res = conn.execute(update(tokens).where(tokens.c.family == family,
                                            tokens.c.revoked.is_(False)).values(revoked=True))
    return int(res.rowcount or 0)


def revoke_family(store: Store, family: str) -> int:
    """Revoke every token of a family (logout, theft); returns how many were live."""
    with store.tx() as conn:
        return _revoke_family(conn, family)


def revoke_account(conn: Connection, account_id: str) -> dict[str, int]:
    """Revoke every live token of the account (access and refresh, CLI and web sessions) and
    close its sign-ins still in progress (a pending or approved device login would otherwise
    mint a fresh pair later). Operator tool: ``mm server admin revoke-tokens``."""
    t = now()
    counts: dict[str, int] = {}
    for scope in SCOPES:
        res = conn.execute(update(tokens).where(
            tokens.c.account_id == account_id, tokens.c.scope == scope,
            tokens.c.revoked.is_(False), tokens.c.expires_at > t).values(revoked=True))
        counts[scope] = int(res.rowcount or 0)
    # Expired-but-unrevoked rows too, so nothing of the account is left unrevoked.
    conn.execute(update(tokens).where(tokens.c.account_id == account_id,
                                      tokens.c.revoked.is_(False)).values(revoked=True))
    email = conn.execute(select(accounts.c.email).where(accounts.c.id == account_id)).scalar()
    res = conn.execute(update(device_logins).where(
        (device_logins.c.account_id == account_id) | (device_logins.c.email == email),
        device_logins.c.status.in_(("pending", "approved"))).values(status="expired"))
    counts["signIns"] = int(res.rowcount or 0)
    return counts


def refresh(store: Store, settings: ServerSettings, refresh_token: str) -> dict[str, Any]:
    """Rotate: a new pair in the same family; the used refresh token is revoked."""
    failure: str | None = None
    result: dict[str, Any] | None = None
    with store.tx() as conn:
        row = conn.execute(select(tokens).where(tokens.c.token_hash == sha256(refresh_token),
                                                tokens.c.kind == "refresh")).first()
        if row is None:
            failure = "Unknown refresh token."
        elif row.revoked:
            # Reuse of a rotated token: whoever holds the current one may be a thief.
            _revoke_family(conn, row.family)
            failure = "This refresh token was already used; the session has been revoked."
        elif row.expires_at <= now():
            failure = "The session has expired."
        else:
            conn.execute(update(tokens).where(tokens.c.id == row.id).values(revoked=True))
            result = _issue(conn, settings, row.account_id, row.scope, row.family)
    # Raised after the commit: the family revocation above must stick.
    if result is None:
        raise NotAuthenticated(failure or "Not signed in.")
    return result


# Built once: every API request runs it (building a statement costs more than running it).
_LIVE_TOKEN = (
    select(tokens.c.id, tokens.c.account_id, tokens.c.scope, tokens.c.family,
           tokens.c.expires_at, tokens.c.revoked, accounts.c.email, accounts.c.channel)
    .join(accounts, accounts.c.id == tokens.c.account_id)
    .where(tokens.c.token_hash == bindparam("token_hash"), tokens.c.kind == "access"))


def authenticate(store: Store, access_token: str) -> Principal:
    """The principal behind a live access token, or NotAuthenticated."""
    with store.read() as conn:
        row = conn.execute(_LIVE_TOKEN, {"token_hash": sha256(access_token)}).first()
    if row is None or row.revoked:
        raise NotAuthenticated("Not signed in (unknown or revoked token).")
    if row.expires_at <= now():
        raise NotAuthenticated("The access token has expired.",
                               hint="Refresh it, or run `mm login`.")
    return Principal(account_id=row.account_id, email=row.email, channel=row.channel,
                     scope=row.scope, token_id=row.id, family=row.family)


def require_human(p: Principal) -> Principal:
    """Only human sessions may approve, broaden policies or touch keys; CLI tokens never."""
    if p.scope != "human":
        raise Forbidden("Agent credentials cannot do this; a person must, on the approval page.")
    return p
