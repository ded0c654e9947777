"""The store on both backends: Alembic schema = the tables, adoption of a pre-Alembic database,
concurrent migrators, and the read-modify-writes that must hold with several writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update

from mm_agent.errors import InvalidConfigValue, RateLimited
from mm_agent.server.db import migrate
from mm_agent.server.db.migrate import MIGRATIONS, schema_migrations
from mm_agent.server.db.store import Store, allocate_nonce, metadata, nonces, rate_limits
from mm_agent.server.db.urls import normalize_url, redact_url
from mm_agent.server.services import ratelimit
from mm_agent.server.settings import Limit

from . import pg

HEAD = int(migrate.head_revision())  # the newest Alembic revision, as a number


@pytest.fixture
def empty_url(db_backend: str, tmp_path: Path,
              request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty database (no schema) on the test's backend."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'mm.sqlite'}"
        return
    cluster: pg.PgCluster = request.getfixturevalue("pg_cluster")
    name = cluster.create_database(migrated=False)
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
def stores(empty_url: str) -> Iterator[Callable[[], Store]]:
    made: list[Store] = []

    def make() -> Store:
        made.append(Store(empty_url))
        return made[-1]

    yield make
    for s in made:
        s.dispose()


def _threads(n: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_alembic_schema_matches_the_tables(stores: Callable[[], Store]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store = stores()
    assert store.migrate() == list(range(1, HEAD + 1))
    assert store.schema_version() == HEAD and store.migrate() == []
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def _legacy_database(store: Store, upto: int) -> None:
    """What the pre-Alembic code left: the schema of versions 1..upto (made by the Alembic
    revisions that reproduce them, then unstamped) + schema_migrations."""
    migrate.upgrade(store, f"{upto:04d}")
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        schema_migrations.create(conn)
        for version, name in MIGRATIONS[:upto]:
            conn.execute(insert(schema_migrations).values(version=version, name=name,
                                                          applied_at=time.time()))


@pytest.mark.parametrize("upto", [2, 3])
def test_a_pre_alembic_database_is_adopted(stores: Callable[[], Store], upto: int) -> None:
    store = stores()
    _legacy_database(store, upto)
    with store.tx() as conn:
        conn.execute(text("INSERT INTO accounts (id, email, channel, created_at) "
                          "VALUES ('a1', 'kept@example.com', 'email', 1)"))
    report = migrate.upgrade(store)
    assert report.adopted_from == upto and report.before == f"{upto:04d}"
    assert report.after == f"{HEAD:04d}"
    assert report.applied == [f"{r:04d}" for r in range(upto + 1, HEAD + 1)]
    assert store.schema_version() == HEAD
    with store.read() as conn:
        assert conn.execute(text("SELECT email FROM accounts")).scalar() == "kept@example.com"
        assert conn.execute(select(rate_limits)).all() == []  # 0003 ran (or was there)
    assert migrate.upgrade(store).adopted_from is None  # stamped once


def test_a_newer_schema_is_refused(stores: Callable[[], Store]) -> None:
    from mm_agent.errors import StateError

    store = stores()
    store.migrate()
    with store.tx() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(StateError, match="0999"):
        store.migrate()


def test_replicas_starting_at_once_migrate_once(stores: Callable[[], Store]) -> None:
    replicas = [stores() for _ in range(6)]
    applied: list[list[int]] = [[] for _ in replicas]
    barrier = threading.Barrier(len(replicas))

    def start(i: int) -> None:
        barrier.wait()
        applied[i] = replicas[i].migrate()

    _threads(len(replicas), start)
    assert sorted(map(tuple, applied)) == [(), (), (), (), (), tuple(range(1, HEAD + 1))]
    assert all(r.schema_version() == HEAD for r in replicas)
    with replicas[0].read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1


def test_nonce_allocation_is_atomic_without_the_write_lock(
        stores: Callable[[], Store]) -> None:
    """``allocate_nonce`` under ``tx(exclusive=False)`` from 8 writers (2 stores): every
    nonce once, no gap, and a chain count above the record moves it forward."""
    a, b = stores(), stores()
    a.migrate()
    taken: list[int] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        store = (a, b)[i % 2]
        for _ in range(15):
            with store.tx(exclusive=False) as conn:
                n = allocate_nonce(conn, 1, "0xabc", 5)
            with lock:
                taken.append(n)

    _threads(8, writer)
    assert sorted(taken) == list(range(5, 5 + 120))
    with a.tx(exclusive=False) as conn:
        assert allocate_nonce(conn, 1, "0xabc", 1000) == 1000
        assert allocate_nonce(conn, 1, "0xabc", 0) == 1001
        assert allocate_nonce(conn, 2, "0xabc", 0) == 0  # per chain


def test_exclusive_transactions_serialise_read_modify_write(
        stores: Callable[[], Store]) -> None:
    """The services' select-then-update sequences (``tx()``) lose no update with several
    writers on one database: the write lock (BEGIN IMMEDIATE / advisory lock) holds."""
    a, b = stores(), stores()
    a.migrate()
    with a.tx() as conn:
        conn.execute(insert(nonces).values(chain_id=7, address="0xc", next_nonce=0))

    def writer(i: int) -> None:
        store = (a, b)[i % 2]
        for _ in range(15):
            with store.tx() as conn:
                current = conn.execute(select(nonces.c.next_nonce)
                                       .where(nonces.c.chain_id == 7)).scalar_one()
                conn.execute(update(nonces).where(nonces.c.chain_id == 7)
                             .values(next_nonce=current + 1))

    _threads(6, writer)
    with a.read() as conn:
        assert conn.execute(select(nonces.c.next_nonce)).scalar() == 90


def test_rate_limit_counts_are_atomic_across_stores(stores: Callable[[], Store]) -> None:
    a, b = stores(), stores()
    a.migrate()
    limit = Limit(40, 3600)
    refused: list[int] = []

    def worker(i: int) -> None:
        for _ in range(10):
            try:
                ratelimit.hit((a, b)[i % 2], "submit", "acct", limit)
            except RateLimited:
                refused.append(1)

    _threads(6, worker)
    assert len(refused) == 60 - 40
    with a.read() as conn:
        assert conn.execute(select(rate_limits.c.count)).scalar() == 60


def test_a_failed_transaction_leaves_nothing(stores: Callable[[], Store]) -> None:
    store = stores()
    store.migrate()
    with pytest.raises(RuntimeError), store.tx() as conn:
        conn.execute(insert(nonces).values(chain_id=9, address="0xd", next_nonce=1))
        raise RuntimeError("boom")
    with store.read() as conn:
        assert conn.execute(select(nonces)).all() == []


def test_database_urls() -> None:
    assert normalize_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:////tmp/x.sqlite") == "sqlite:////tmp/x.sqlite"
    for bad in ("mysql://u@h/db", "just-a-path"):
        with pytest.raises(InvalidConfigValue):
            normalize_url(bad)
    shown = redact_url("postgresql+psycopg://mm:s3cret@db.example/mm")
    assert "s3cret" not in shown and "db.example" in shown


def test_operator_commands_take_the_database_url(pg_cluster: pg.PgCluster, tmp_path: Path,
                                                 mm_home: object) -> None:
    from helpers import run_mm

    url = pg_cluster.url(pg_cluster.create_database(migrated=False))
    plain = url.replace("postgresql+psycopg://", "postgresql://")  # what providers print
    rc, out, err = run_mm("server", "admin", "migrate", "--database-url", plain, "--json")
    assert rc == 0, (out, err)
    assert out["data"]["applied"] == [f"{r:04d}" for r in range(1, HEAD + 1)]
    assert out["data"]["to"] == f"{HEAD:04d}"
    rc, out, err = run_mm("server", "admin", "migrate", "--json", env={"MM_DATABASE_URL": url})
    assert rc == 0 and out["data"]["applied"] == [], (out, err)
    data_dir = tmp_path / "srv"
    rc, out, err = run_mm("server", "admin", "create-login", "--email", "op@example.com",
                          "--data-dir", str(data_dir), "--json", env={"MM_DATABASE_URL": url})
    assert rc != 0 and out["error"]["code"] == "NOT_INITIALIZED", (out, err)  # no master key
    rc, out, err = run_mm("server", "admin", "create-login", "--email", "op@example.com",
                          "--data-dir", str(data_dir), "--create", "--database-url", url,
                          "--json")
    assert rc == 0 and out["data"]["token"].count(":") == 1, (out, err)
    assert not (data_dir / "mm.sqlite").exists() and (data_dir / "master.key").is_file()
    store = Store(url)
    try:
        with store.read() as conn:
            assert conn.execute(text("SELECT email FROM accounts")).scalar() == "op@example.com"
    finally:
        store.dispose()
