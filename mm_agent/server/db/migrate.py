"""Run the Alembic migrations of the service database, safely when several replicas start.

- One migrator at a time: on PostgreSQL the whole upgrade runs in one transaction holding a
  transaction-scoped advisory lock (``MIGRATION_LOCK_KEY``; DDL is transactional there); on
  SQLite it runs inside ``BEGIN IMMEDIATE`` (SQLite's write lock; its DDL is transactional
  too). A replica that starts while another migrates waits, then finds the schema at head and
  does nothing. A failed migration leaves the database as it was.
- Adoption: a database made by the pre-Alembic code has a ``schema_migrations`` table
  (versions 1..3) and no ``alembic_version``: it is stamped at the matching revision
  (``000N``) and upgraded from there, in the same locked transaction. ``schema_migrations``
  stays (untouched) for an old binary's sake.

Revision ids are zero-padded integers; ``/healthz`` reports ``int(revision)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from mm_agent.errors import StateError

from .urls import redact_url

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = ["MIGRATIONS", "MIGRATION_LOCK_KEY", "MigrationReport", "current_revision",
           "head_revision", "schema_migrations", "upgrade"]

# The migration list before Alembic (schema_migrations versions). Kept for reference and for
# adopting such a database: version N is Alembic revision "000N" (migrate.py).
MIGRATIONS: list[tuple[int, str]] = [
    (1, "accounts, tokens, device logins, wallets, jobs, nonces, approvals"),
    (2, "policies and outflow reservations"),
    (3, "rate limit counters"),
]

schema_migrations = Table(
    "schema_migrations", MetaData(),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)

SCRIPT_LOCATION = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key held by the migrator ("mmagMIGR").
MIGRATION_LOCK_KEY = 0x6D6D_6167_4D49_4752
# schema_migrations version -> Alembic revision (adoption of a pre-Alembic database).
LEGACY_REVISIONS = {version: f"{version:04d}" for version, _name in MIGRATIONS}


@dataclass
class MigrationReport:
    before: str | None  # revision found (after adoption), None for an empty database
    after: str | None
    applied: list[str] = field(default_factory=list)  # revisions applied, oldest first
    adopted_from: int | None = None  # the schema_migrations version that was stamped

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.before, "to": self.after, "applied": self.applied,
                "adoptedFrom": self.adopted_from}


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def _known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def current_revision(conn: Connection) -> str | None:
    """The database's Alembic revision, None if it has none (empty, or pre-Alembic). Plain
    SQL (no Alembic context, no log line): ``/healthz`` asks on every call."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(select(_alembic_version.c.version_num)).scalars().all()
    return rows[0] if len(rows) == 1 else None


_alembic_version = Table("alembic_version", MetaData(),
                         Column("version_num", String(32), primary_key=True))


def legacy_version(conn: Connection) -> int | None:
    """The highest ``schema_migrations`` version of a pre-Alembic database, else None."""
    if not inspect(conn).has_table("schema_migrations"):
        return None
    return conn.execute(select(func.max(schema_migrations.c.version))).scalar()


def upgrade(store: Any, target: str = "head") -> MigrationReport:
    """Bring ``store``'s schema (a ``store.Store``) to ``target``, adopting a pre-Alembic
    database first."""
    from ..datadir import corrupt_database_guard

    where = (f"The service database {store.engine.url.database}" if store.is_sqlite
             else f"The service database {redact_url(store.url)}")
    deadline = time.monotonic() + 30.0
    while True:
        try:
            with corrupt_database_guard(where), store.engine.connect() as conn:
                _lock(conn, store.is_sqlite)
                try:
                    report = _upgrade_locked(conn, target)
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
            return report
        except OperationalError as exc:
            # Several processes opening a new SQLite file at once can get "database is
            # locked" without the busy handler (switching it to WAL); the migrator that won
            # holds the lock only briefly, so try again until the deadline.
            if not (store.is_sqlite and "locked" in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _lock(conn: Connection, sqlite: bool) -> None:
    if sqlite:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.begin()
        conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))


def _upgrade_locked(conn: Connection, target: str) -> MigrationReport:
    from alembic import command

    before = current_revision(conn)
    adopted: int | None = None
    if before is None:
        legacy = legacy_version(conn)
        if legacy:  # a pre-Alembic database: stamp it where its schema is
            revision = LEGACY_REVISIONS.get(int(legacy))
            if revision is None:
                raise StateError(
                    f"The database's schema_migrations version {legacy} is newer than this "
                    "mm-agent knows (it knows 1 to "
                    f"{max(LEGACY_REVISIONS)}).",
                    hint="Run the mm-agent version that created it, or a newer one.")
            command.stamp(_config(conn), revision)
            before, adopted = revision, int(legacy)
    if before is not None and not _known(before):
        raise StateError(
            f"The database is at schema revision {before}, which this mm-agent does not know "
            "(a newer version migrated it).",
            hint="Upgrade mm-agent on every replica before starting it on this database.")
    wanted = head_revision() if target == "head" else target
    if before != wanted:
        command.upgrade(_config(conn), target)
    after = current_revision(conn)
    applied = [s.revision for s in _script().iterate_revisions(after, before)] if (
        after and after != before) else []
    return MigrationReport(before=before, after=after, applied=list(reversed(applied)),
                           adopted_from=adopted)
