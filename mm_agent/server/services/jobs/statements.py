"""The job queue's SQL that runs on every request or job, built once (building a SQLAlchemy
statement costs more than running it on SQLite), and the PostgreSQL wake-up ``NOTIFY``."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update

from mm_agent.local.request_log import TERMINAL_STATUSES

from ...db.store import jobs, upsert_insert, wallets

__all__ = ["ACCOUNT_JOB", "CHANNEL", "COUNTERPARTIES", "insert_job", "pg_notify",
           "update_statement"]

# The PostgreSQL LISTEN/NOTIFY channel of job changes; the payload is the polling id.
CHANNEL = "mm_jobs"

# The `to` and `effectiveRecipient` of the wallet's last 500 completed transaction jobs, read
# out of the JSON in SQL (decoding each whole result in Python cost ~2 µs a row) and made
# distinct there; built once (bound by address) instead of per job.
_RECENT_RESULTS = (
    select(jobs.c.result["to"].as_string().label("to"),
           jobs.c.result["effectiveRecipient"].as_string().label("recipient"))
    .join(wallets, wallets.c.id == jobs.c.wallet_id)
    .where(and_(wallets.c.address == bindparam("address"), jobs.c.status == "COMPLETED",
                jobs.c.kind == "transaction"))
    .order_by(jobs.c.created_at.desc()).limit(500)
).subquery()
COUNTERPARTIES = select(_RECENT_RESULTS.c.to, _RECENT_RESULTS.c.recipient).distinct()
# A long poll reads this on every wake-up: built once.
ACCOUNT_JOB = (select(jobs, wallets.c.address).join(wallets, wallets.c.id == jobs.c.wallet_id)
                .where(and_(jobs.c.polling_id == bindparam("polling_id"),
                            jobs.c.account_id == bindparam("account_id"))))


_INSERTS: dict[tuple[str, bool], Any] = {}


@functools.lru_cache(maxsize=32)
def update_statement(columns: tuple[str, ...]) -> Any:
    """``update_many``'s UPDATE for one set of columns, built once (the confirmer's group
    commit runs it for every completed job): bound parameters ``u_<column>``, ``u_id``,
    ``u_ts``; a final status is final."""
    where = jobs.c.polling_id == bindparam("u_id")
    if "status" in columns:
        where = and_(where, jobs.c.status.notin_(tuple(TERMINAL_STATUSES)))
    return update(jobs).where(where).values({
        **{c: bindparam(f"u_{c}", type_=jobs.c[c].type) for c in columns},
        "version": jobs.c.version + 1, "updated_at": bindparam("u_ts")})


def insert_job(conn: Any, *, keyed: bool) -> Any:
    """The job INSERT … RETURNING, built once per dialect (every submission runs it); with an
    idempotency key, ``ON CONFLICT (account, key) DO NOTHING``."""
    stmt = _INSERTS.get((conn.dialect.name, keyed))
    if stmt is None:
        stmt = upsert_insert(conn)(jobs)
        if keyed:
            stmt = stmt.on_conflict_do_nothing(
                index_elements=[jobs.c.account_id, jobs.c.idempotency_key])
        stmt = _INSERTS[(conn.dialect.name, keyed)] = stmt.returning(*jobs.c)
    return stmt


def pg_notify(conn: Any, polling_ids: Iterable[str]) -> None:
    """``NOTIFY mm_jobs`` for each job, delivered when ``conn``'s transaction commits."""
    for polling_id in polling_ids:
        conn.execute(select(func.pg_notify(CHANNEL, polling_id)))
