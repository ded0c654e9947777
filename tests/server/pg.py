"""A throwaway PostgreSQL cluster for the tests (one per pytest process / xdist worker).

``initdb`` + ``pg_ctl`` from Debian's ``postgresql`` package (``make setup`` installs it when
run as root, as CI does). ``initdb`` refuses to run as root, so as root the cluster runs as the
``postgres`` system user in a directory it owns; it listens on a unix socket only (no port
clash with anything), fsync off. Every test database is ``CREATE DATABASE … TEMPLATE`` of one
migrated template (milliseconds).

Cleanup: the cluster is stopped at session end (and by ``atexit``); a test process killed
outright leaves its cluster running, so every start first stops and removes clusters whose
owner process (``owner.pid``) is gone.

``MM_TEST_DB``: unset = the store-heavy modules run on both backends; ``sqlite`` = no
PostgreSQL; ``postgres`` = every service test on PostgreSQL only (the full parity run).
"PostgreSQL not installed" skips locally and fails with ``CI=true`` (or
``MM_TEST_PG_REQUIRED=1``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(tempfile.gettempdir()) / "mm-agent-test-pg"
TEMPLATE = "mm_template"
_PG_BINDIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
               "/usr/lib/postgresql/15/bin")

# Test modules whose service tests run on SQLite and on PostgreSQL (they exercise the store:
# jobs, idempotency, nonces, policy windows, approvals, sign-in, rate limits, cancel).
BOTH_BACKENDS = frozenset({
    "test_jobs", "test_approvals", "test_signin", "test_rate_limits", "test_cancel",
    "test_policy_service", "test_policy_races", "test_auth", "test_crash_recovery",
    "test_postgres",
})


def backends_for(module: str) -> list[str]:
    mode = os.environ.get("MM_TEST_DB", "").strip().lower()
    if mode == "sqlite":
        return ["sqlite"]
    if mode in ("postgres", "postgresql", "pg"):
        return ["postgres"]
    return ["sqlite", "postgres"] if module in BOTH_BACKENDS else ["sqlite"]


def find_bindir() -> Path | None:
    for candidate in _PG_BINDIRS:
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(bindir: Path) -> None:
    """Stop and delete clusters left by test processes that died without cleaning up."""
    if not ROOT.is_dir():
        return
    for cluster in ROOT.iterdir():
        try:
            owner = int((cluster / "owner.pid").read_text().strip())
        except (OSError, ValueError):
            owner = 0
        if owner and _alive(owner):
            continue
        if (cluster / "data" / "postmaster.pid").exists():
            subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(cluster / "data"),
                                      "-m", "immediate", "-w", "stop"]),
                           capture_output=True, timeout=30, check=False)
        shutil.rmtree(cluster, ignore_errors=True)


class PgCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        ROOT.mkdir(mode=0o755, exist_ok=True)
        with contextlib.suppress(PermissionError):
            os.chmod(ROOT, 0o1777)  # like /tmp: several users may run the tests
        self.dir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=ROOT))
        (self.dir / "owner.pid").write_text(f"{os.getpid()}\n")
        self.data = self.dir / "data"
        self.socket_dir = self.dir
        self.port = 5432
        self.user = "postgres"
        self._started = False
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        os.chmod(self.dir, 0o755)

    def start(self) -> None:
        subprocess.run(_as_owner([str(self.bindir / "initdb"), "-D", str(self.data), "-A",
                                  "trust", "-U", self.user, "-E", "UTF8", "--no-sync",
                                  "--locale=C"]),
                       check=True, capture_output=True, timeout=120)
        options = (f"-k {self.socket_dir} -c listen_addresses='' -p {self.port} -F "
                   "-c full_page_writes=off -c synchronous_commit=off -c max_connections=300 "
                   "-c shared_buffers=32MB")
        subprocess.run(_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o",
                                  options, "-l", str(self.dir / "server.log"), "-w", "-t",
                                  "60", "start"]),
                       check=True, capture_output=True, timeout=90)
        self._started = True
        atexit.register(self.stop)

    def stop(self) -> None:
        if self._started:
            self._started = False
            subprocess.run(_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                                      "immediate", "-w", "stop"]),
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str) -> str:
        return (f"postgresql+psycopg://{self.user}@/{database}"
                f"?host={self.socket_dir}&port={self.port}")

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=self.user,
                               dbname="postgres", autocommit=True)

    def execute(self, sql: str) -> None:
        with self._admin() as conn:
            conn.execute(sql)

    def make_template(self) -> None:
        from mm_agent.server.db.store import Store

        self.execute(f'CREATE DATABASE "{TEMPLATE}"')
        store = Store(self.url(TEMPLATE))
        try:
            store.migrate()
        finally:
            store.dispose()

    def create_database(self, *, migrated: bool = True) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        template = f' TEMPLATE "{TEMPLATE}"' if migrated else ""
        for attempt in range(50):  # the template is busy while another copy is taken
            try:
                self.execute(f'CREATE DATABASE "{name}"{template}')
                break
            except Exception as exc:  # ObjectInUse: "source database is being accessed"
                if "being accessed" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_cluster() -> PgCluster | str:
    """A running cluster with a migrated template, or the reason there is none."""
    bindir = find_bindir()
    if bindir is None:
        return "PostgreSQL is not installed (make setup installs it as root)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "no `postgres` system user to run initdb as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    reap_stale(bindir)
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        cluster.make_template()
    except BaseException:
        cluster.stop()
        raise
    return cluster
