"""Rate limits and wrong-code lockouts, counted in the service database.

Fixed windows: a row per ``(scope, key, window_start)`` whose ``count`` is bumped by one atomic
upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING count``), so concurrent requests, service
restarts and several replicas on one database all see the same counts.

Scopes and their defaults (each overridable with ``MM_RATE_LIMIT_<SCOPE>=<count>/<window>``,
e.g. ``MM_RATE_LIMIT_WALLET_CREATE=10/h``; windows ``s``, ``min``, ``h``, ``d`` with an
optional multiplier such as ``15min``; ``0/h`` or ``off`` disables one):

============================  ===========  ==================================================
scope                         default      counts
============================  ===========  ==================================================
``wallet_create``             10/h         wallets created, per account
``approval_mail``             20/h         approval mails sent, per account
``submit``                    6000/min     signing requests submitted, per account
``signin_ip``                 60/15min     unauthenticated sign-in posts, per client address
``pair_code``                 5/5min       wrong codes on one pairing page (then it closes)
``totp_signin``               10/h         wrong codes signing in to one existing
                                           authenticator account from pairing pages
``approval_otp``              5/5min       wrong codes on one approval (then it locks)
``approval_otp_account``      20/h         wrong codes on all approvals of one account
============================  ===========  ==================================================

The approval scopes are fed only by the approval page, which needs the mailed link secret:
nobody without the link can lock an account's approvals, and pairing attempts (scopes
``pair_code``/``totp_signin``) never touch them. A Reject needs no code and counts nothing.
"""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection

from mm_agent.errors import RateLimited

from ..db.store import Store, rate_limits
from ..settings import Limit, RateLimits

__all__ = ["Limit", "RateLimits", "check", "hit", "record_failure"]

def _window(limit: Limit, t: float) -> int:
    return int(t // limit.seconds) * limit.seconds


def _retry_after(limit: Limit, t: float) -> int:
    return max(1, math.ceil(_window(limit, t) + limit.seconds - t))


def _refuse(scope: str, limit: Limit, t: float, message: str | None) -> RateLimited:
    wait = _retry_after(limit, t)
    return RateLimited(message or "Too many requests.",
                       hint=f"Try again in {wait} s.",
                       details={"retryAfterSeconds": wait, "scope": scope,
                                "limit": limit.count, "windowSeconds": limit.seconds})


def _upsert_insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


_last_sweep = 0.0


def _sweep(conn: Connection, t: float) -> None:
    # Old windows are useless; drop them now and then (once a minute per process).
    global _last_sweep
    if t - _last_sweep >= 60:
        _last_sweep = t
        conn.execute(delete(rate_limits).where(rate_limits.c.expires_at < t))


_BUMPS: dict[str, Any] = {}  # dialect name → the upsert, built once (a submission runs it)


def _bump_statement(conn: Connection) -> Any:
    stmt = _BUMPS.get(conn.dialect.name)
    if stmt is None:
        insert = _upsert_insert(conn)
        stmt = insert(rate_limits).values(
            scope=bindparam("scope"), key=bindparam("key"), window_start=bindparam("start"),
            count=1, expires_at=bindparam("expires")).on_conflict_do_update(
            index_elements=[rate_limits.c.scope, rate_limits.c.key,
                            rate_limits.c.window_start],
            set_={"count": rate_limits.c.count + 1}).returning(rate_limits.c.count)
        _BUMPS[conn.dialect.name] = stmt
    return stmt


def _bump(conn: Connection, scope: str, key: str, limit: Limit, t: float) -> int:
    start = _window(limit, t)
    count = int(conn.execute(_bump_statement(conn), {
        "scope": scope, "key": key[:128], "start": start,
        "expires": start + limit.seconds}).scalar_one())
    _sweep(conn, t)
    return count


def hit(store: Store, scope: str, key: str, limit: Limit, *, message: str | None = None,
        conn: Connection | None = None) -> None:
    """Count one event; ``RateLimited`` (with ``retryAfterSeconds``) once over the limit.
    Refused events count too, so hammering does not reopen the window early."""
    if not limit.enabled:
        return
    t = time.time()
    if conn is not None:
        count = _bump(conn, scope, key, limit, t)
    else:
        with store.tx(exclusive=False) as c:  # one upsert: atomic alone
            count = _bump(c, scope, key, limit, t)
    if count > limit.count:
        raise _refuse(scope, limit, t, message)


def record_failure(store: Store, scope: str, key: str, limit: Limit, *,
                   conn: Connection | None = None) -> int:
    """Count a failure (a wrong code) without refusing; returns the window's count."""
    if not limit.enabled:
        return 0
    t = time.time()
    if conn is not None:
        return _bump(conn, scope, key, limit, t)
    with store.tx(exclusive=False) as c:
        return _bump(c, scope, key, limit, t)


def check(store: Store, scope: str, key: str, limit: Limit, *, message: str | None = None,
          conn: Connection | None = None) -> None:
    """``RateLimited`` if the window already holds ``limit.count`` events; counts nothing."""
    if not limit.enabled:
        return
    t = time.time()
    query = select(rate_limits.c.count).where(
        rate_limits.c.scope == scope, rate_limits.c.key == key[:128],
        rate_limits.c.window_start == _window(limit, t))
    if conn is not None:
        count = conn.execute(query).scalar()
    else:
        with store.read() as c:
            count = c.execute(query).scalar()
    if count is not None and int(count) >= limit.count:
        raise _refuse(scope, limit, t, message)
