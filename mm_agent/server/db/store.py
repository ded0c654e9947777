"""The wallet service's database: SQLAlchemy 2 Core tables, Alembic migrations, connections.

Two backends, one code path (SQLAlchemy Core only):

- SQLite, the embedded default: ``<data-dir>/mm.sqlite`` (WAL, 0600 files, one service per
  data dir; see ``datadir.py``).
- PostgreSQL (``--database-url postgresql+psycopg://…`` / ``MM_DATABASE_URL``, psycopg 3):
  the scale-out path, several replicas on one database.

Migrations are Alembic revisions in ``migrations/versions`` (``migrate.py`` runs them under a
lock, and adopts a database made by the old ``schema_migrations`` list).

Concurrency: :meth:`Store.tx` is by default the single-writer transaction the services were
written for (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on
PostgreSQL), so a read-modify-write never interleaves on either backend. The hot paths are
atomic on their own rows and pass ``exclusive=False`` (run concurrently on PostgreSQL, across
replicas): job submission (``INSERT … ON CONFLICT`` on the idempotency key), job updates,
claims and leases (``jobs/queue.py``), nonces (:func:`allocate_nonce`, the job row locked
``FOR UPDATE``), outflow reservations (the wallet row locked ``FOR UPDATE``), rate limits.

Secrets are never stored in the clear: tokens, approval links and magic links are stored as
SHA-256 hashes; wallet keys are AES-GCM ciphertexts under a per-wallet data key that is itself
wrapped by the service master key (see ``keys.py``); TOTP seeds are encrypted the same way.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Connection, Engine

from .migrate import MIGRATIONS
from .urls import is_sqlite_url, normalize_url

__all__ = [
    "MIGRATIONS",
    "Store",
    "accounts",
    "allocate_nonce",
    "approvals",
    "device_logins",
    "jobs",
    "metadata",
    "nonces",
    "now",
    "outflows",
    "policies",
    "rate_limits",
    "sha256",
    "tokens",
    "upsert_insert",
    "used_otps",
    "wallets",
]

metadata = MetaData()


def now() -> float:
    return time.time()


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


accounts = Table(
    "accounts", metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),  # email | authenticator
    Column("totp_secret_enc", LargeBinary, nullable=True),  # wrapped by the master key
    Column("webhook_url", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)

tokens = Table(
    "tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # access | refresh
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("family", String(32), nullable=False),  # rotation family; logout revokes it all
    Column("scope", String(16), nullable=False),  # agent (CLI tokens) | human (web sessions)
    Column("expires_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

device_logins = Table(
    "device_logins", metadata,
    Column("id", String(32), primary_key=True),  # the device code's public id
    Column("code_hash", String(64), nullable=False, unique=True),  # CLI's polling secret
    Column("method", String(16), nullable=False),  # browser | qr
    Column("status", String(16), nullable=False),  # pending | approved | consumed | expired
    Column("email", String(320), nullable=True),
    Column("account_id", String(32), nullable=True),
    Column("magic_hash", String(64), nullable=True),  # emailed link secret (browser)
    Column("totp_secret_enc", LargeBinary, nullable=True),  # pairing seed (qr)
    Column("expires_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
)

wallets = Table(
    "wallets", metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("address", String(42), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("trading_mode", String(8), nullable=False),  # guard | beast
    Column("key_enc", LargeBinary, nullable=False),  # private key under the data key
    Column("data_key_wrapped", LargeBinary, nullable=False),  # data key under the master key
    Column("created_at", Float, nullable=False),
    # Operator freeze (0005, `mm server admin freeze`): while set, the key is never unwrapped
    # for a new signature (keys.load_wallet_key) and submissions are WALLET_FROZEN.
    Column("frozen_at", Float, nullable=True),
    Column("frozen_reason", Text, nullable=True),
    UniqueConstraint("account_id", "name", name="uq_wallet_name"),
)

jobs = Table(
    "jobs", metadata,
    Column("polling_id", String(32), primary_key=True),
    Column("wallet_id", String(32), ForeignKey("wallets.id"), nullable=False),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("intent", Text, nullable=False),
    Column("chain_id", BigInteger, nullable=True),
    Column("body", JSON, nullable=False),  # the submitted request, as validated
    Column("body_hash", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("preview", JSON, nullable=True),
    Column("prepared", JSON, nullable=True),  # unsigned tx (gas, fees) once prepared
    Column("nonce", BigInteger, nullable=True),
    Column("raw_tx", Text, nullable=True),  # stored BEFORE broadcast (crash safety)
    Column("tx_hash", String(66), nullable=True),
    Column("signature", Text, nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", JSON, nullable=True),
    Column("approval", JSON, nullable=True),  # {channel, reason, expiresAt} - no secret
    Column("version", Integer, nullable=False, default=0),  # bumps on every change
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Replicas (0004): the service process running the job and until when its claim holds;
    # renewed while it runs, taken over by another replica once it lapses (jobs/queue.py).
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    UniqueConstraint("account_id", "idempotency_key", name="uq_job_idempotency"),
)
Index("ix_jobs_wallet_created", jobs.c.wallet_id, jobs.c.created_at)
Index("ix_jobs_status", jobs.c.status)
Index("ix_jobs_status_lease", jobs.c.status, jobs.c.lease_until)

nonces = Table(
    "nonces", metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("address", String(42), primary_key=True),
    Column("next_nonce", BigInteger, nullable=False),
)

approvals = Table(
    "approvals", metadata,
    Column("id", String(32), primary_key=True),
    Column("polling_id", String(32), ForeignKey("jobs.polling_id"), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # open | approved | rejected | expired
    Column("expires_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("decided_at", Float, nullable=True),
)

used_otps = Table(
    "used_otps", metadata,
    Column("account_id", String(32), primary_key=True),
    Column("counter", BigInteger, primary_key=True),  # TOTP time step, never accepted twice
)

policies = Table(
    "policies", metadata,
    Column("wallet_id", String(32), ForeignKey("wallets.id"), primary_key=True),
    Column("document", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

outflows = Table(
    "outflows", metadata,
    Column("polling_id", String(32), ForeignKey("jobs.polling_id"), primary_key=True),
    Column("wallet_id", String(32), ForeignKey("wallets.id"), nullable=False),
    Column("usd_cents", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # reserved | committed | released
    Column("created_at", Float, nullable=False),
)


# Fixed-window counters for rate limits and wrong-code lockouts (``ratelimit.py``). Kept in the
# database, not in process memory, so limits hold across restarts and replicas.
rate_limits = Table(
    "rate_limits", metadata,
    Column("scope", String(32), primary_key=True),  # e.g. submit, wallet_create, pair_ip
    Column("key", String(128), primary_key=True),  # account id, client address, pairing id
    Column("window_start", BigInteger, primary_key=True),  # epoch seconds, multiple of window
    Column("count", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),  # when the row may be swept
)
Index("ix_rate_limits_expires", rate_limits.c.expires_at)


# pg_advisory_xact_lock key of Store.tx(exclusive=True): the whole-database write lock that
# stands in for SQLite's BEGIN IMMEDIATE. Advisory locks are per database.
WRITE_LOCK_KEY = 0x6D6D_6167_5752_4954  # "mmagWRIT"


class Store:
    """Connections to the service database."""

    def __init__(self, url: str) -> None:
        url = normalize_url(url)
        self.url = url
        self.dialect = "sqlite" if is_sqlite_url(url) else "postgresql"
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            # Job workers (8 by default) and request handlers share the pool.
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True,
                          connect_args={"application_name": "mm-agent"})
        self.engine: Engine = create_engine(url, **kwargs)
        # Reads: on PostgreSQL without BEGIN/ROLLBACK (two round trips each read saved). Under
        # READ COMMITTED a transaction gives each statement its own snapshot anyway, so a
        # read-only connection in autocommit sees exactly what it would have seen.
        self._reader: Engine = (self.engine if self.dialect == "sqlite" else
                                self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._sqlite_writer = threading.RLock()  # see tx()
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Store:
        path = data_dir / "mm.sqlite"
        # SQLite creates its files 0644 & ~umask, and gives -wal/-shm the main file's mode:
        # create the database 0600 first, whatever the umask or the directory's mode.
        private_db_files(path, create=True)
        store = cls(f"sqlite:///{path}")
        event.listen(store.engine, "connect", lambda *_: private_db_files(path))
        return store

    @classmethod
    def open(cls, data_dir: Path, database_url: str | None = None) -> Store:
        """The service's store: ``database_url`` if given, else SQLite in ``data_dir``."""
        return cls(database_url) if database_url else cls.for_data_dir(data_dir)

    def migrate(self) -> list[int]:
        """Apply pending migrations (under the migration lock); return the revisions applied,
        as integers. A damaged database file is ``DATABASE_CORRUPT`` (datadir.py), not a
        driver traceback."""
        from .migrate import upgrade

        return [int(r) for r in upgrade(self).applied]

    def schema_version(self) -> int:
        from .migrate import current_revision

        with self.engine.connect() as conn:
            revision = current_revision(conn)
        return int(revision) if revision and revision.isdigit() else 0

    @contextmanager
    def tx(self, *, exclusive: bool = True) -> Iterator[Connection]:
        """One transaction, committed on success, rolled back on any exception.

        ``exclusive`` (the default): the database's single writer for its duration, so
        read-modify-write sequences cannot interleave: ``BEGIN IMMEDIATE`` on SQLite, a
        transaction-scoped advisory lock on PostgreSQL (released at commit/rollback, also
        across replicas). ``exclusive=False`` on PostgreSQL: a plain READ COMMITTED
        transaction for code made atomic by its own statements (``ON CONFLICT``, row locks);
        SQLite has one writer anyway and always takes the write lock."""
        if self.dialect == "sqlite":
            # This process's writers queue on a lock instead of in SQLite's busy handler,
            # which sleeps with back-off (up to 100 ms a try) while another thread writes.
            with self._sqlite_writer, self.engine.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
            return
        with self.engine.connect() as conn:
            conn.begin()
            if exclusive:
                conn.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK_KEY)))
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (no writes through it: on PostgreSQL it autocommits)."""
        with self._reader.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def upsert_insert(conn: Connection) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_update/nothing``) for ``conn``."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def allocate_nonce(conn: Connection, chain_id: int, address: str, floor: int,
                   count: int = 1) -> int:
    """Take the next ``count`` nonces of ``address`` on ``chain_id`` in one atomic statement
    (returns the first; the others follow it without a gap): from the stored next nonce, or
    ``floor`` (the chain's count) if that is higher; the record moves past them. Correct
    under concurrency on both backends without the exclusive lock (the upsert locks the row
    on PostgreSQL). Rolled back with ``conn``'s transaction."""
    if count < 1:
        raise ValueError("count must be at least 1")
    insert_ = upsert_insert(conn)
    greatest = func.greatest if conn.dialect.name == "postgresql" else func.max
    stmt = insert_(nonces).values(chain_id=chain_id, address=address, next_nonce=floor + count)
    stmt = stmt.on_conflict_do_update(
        index_elements=[nonces.c.chain_id, nonces.c.address],
        set_={"next_nonce": greatest(nonces.c.next_nonce, floor) + count},
    ).returning(nonces.c.next_nonce)
    return int(conn.execute(stmt).scalar_one()) - count


def private_db_files(path: Path, *, create: bool = False) -> None:
    """Make the SQLite database and its -wal/-shm/-journal companions 0600 (owner only).
    Accounts, token hashes and wrapped keys live there."""
    import os
    import stat

    if create and not path.exists():
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:  # another process created it first; tightened below
            pass
        else:
            os.close(fd)
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        try:
            st = candidate.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != 0o600:
            os.chmod(candidate, 0o600)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The pysqlite driver's own transaction handling is off so that BEGIN IMMEDIATE works.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
