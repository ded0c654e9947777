"""The wallet service's database: SQLAlchemy 2 Core tables, versioned migrations, connections.

SQLite by default (``<data-dir>/mm.sqlite``, WAL mode); the logic speaks SQLAlchemy Core only,
so PostgreSQL needs a URL and nothing else. Migrations are an ordered list of functions, each
applied once inside a transaction and recorded in ``schema_migrations``.

Secrets are never stored in the clear: tokens, approval links and magic links are stored as
SHA-256 hashes; wallet keys are AES-GCM ciphertexts under a per-wallet data key that is itself
wrapped by the service master key (see ``keys.py``); TOTP seeds are encrypted the same way.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
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
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "MIGRATIONS",
    "Store",
    "accounts",
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
    UniqueConstraint("account_id", "idempotency_key", name="uq_job_idempotency"),
)
Index("ix_jobs_wallet_created", jobs.c.wallet_id, jobs.c.created_at)
Index("ix_jobs_status", jobs.c.status)

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


def _m1_initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=[accounts, tokens, device_logins, wallets, jobs, nonces,
                                      approvals, used_otps])


def _m2_policies(conn: Connection) -> None:
    metadata.create_all(conn, tables=[policies, outflows])


def _m3_rate_limits(conn: Connection) -> None:
    metadata.create_all(conn, tables=[rate_limits])


# Append only: a released schema never changes, later versions add steps.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "accounts, tokens, device logins, wallets, jobs, nonces, approvals", _m1_initial),
    (2, "policies and outflow reservations", _m2_policies),
    (3, "rate limit counters", _m3_rate_limits),
]

schema_migrations = Table(
    "schema_migrations", MetaData(),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)


class Store:
    """Connections to the service database."""

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Store:
        path = data_dir / "mm.sqlite"
        # SQLite creates its files 0644 & ~umask, and gives -wal/-shm the main file's mode:
        # create the database 0600 first, whatever the umask or the directory's mode.
        private_db_files(path, create=True)
        store = cls(f"sqlite:///{path}")
        event.listen(store.engine, "connect", lambda *_: private_db_files(path))
        return store

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied. A damaged database file is
        ``DATABASE_CORRUPT`` (datadir.py), not a driver traceback."""
        from ..datadir import corrupt_database_guard

        with corrupt_database_guard(f"The service database {self.engine.url.database}"):
            return self._migrate()

    def _migrate(self) -> list[int]:
        applied: list[int] = []
        with self.engine.begin() as conn:
            schema_migrations.create(conn, checkfirst=True)
            done = set(conn.execute(select(schema_migrations.c.version)).scalars())
        for version, name, step in MIGRATIONS:
            if version in done:
                continue
            with self.engine.begin() as conn:
                step(conn)
                conn.execute(insert(schema_migrations).values(
                    version=version, name=name, applied_at=now()))
            applied.append(version)
        return applied

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            versions = list(conn.execute(select(schema_migrations.c.version)).scalars())
        return max(versions, default=0)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE) so
        read-modify-write sequences (nonces, outflow windows) cannot interleave."""
        with self.engine.connect() as conn:
            if self.url.startswith("sqlite"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.begin()
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


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
