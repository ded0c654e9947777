"""Small SQLite logs under ``MM_HOME``: the BYOK request log (``requests.sqlite``) and the agent
call log (``calls.sqlite``).

A JSON file must be rewritten whole on every change, so a write cost grew with history (1 MB
at the 500-record cap, twice per transfer); a row costs the same at 5 or 500 records.

- Modes: the file is created 0600 before SQLite opens it, and SQLite gives its ``-wal`` and
  ``-shm`` files the database's mode. An existing file is checked like every state file
  (``STATE_PERMISSIONS``) and opened read-write, never created, by SQLite.
- Concurrency: WAL journal (readers never wait for a writer); writers take the write lock at
  ``BEGIN IMMEDIATE`` and wait up to ``BUSY_SECONDS`` for another ``mm`` process.
  ``synchronous=FULL``: a record is on disk when ``save`` returns (a broadcast transaction's
  record is what ``cancel`` needs).
- Creation: under the state lock, the database is built in a temporary file and renamed, so an
  existing file always has its schema. The legacy JSON file, if any, is imported then, once,
  and kept as ``<legacy>.migrated-<UTC time>`` (0600, never deleted). A legacy file that is not
  valid JSON, or a database SQLite cannot read, is ``STATE_CORRUPT``: reported, never
  overwritten or recreated.
- One connection per operation: nothing is held across a fork or an ``mm reset``.
- Cost: a ``LogDB`` is cheap to make; ``sqlite3`` is imported only when a log is read or
  written (commands that never touch a log do not pay for it).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mm_agent.errors import MMError, StateCorrupt, StateError, StatePermissions

from .state import FILE_MODE, Home

if TYPE_CHECKING:
    import sqlite3

__all__ = ["BUSY_SECONDS", "LogDB"]

T = TypeVar("T")
BUSY_SECONDS = 30.0  # how long a writer waits for another process's write


class LogDB:
    """One SQLite file of ``home``: ``schema`` (executed once, at creation) and the import of
    its ``legacy`` JSON file (``load(conn, data)``, ``data`` as ``Home.read_json`` gives it).
    Both logs are capped tables: ``put`` writes one row and keeps the newest ones."""

    def __init__(self, home: Home, name: str, schema: str, legacy: str,
                 load: Callable[[sqlite3.Connection, Any], None]) -> None:
        self.home = home
        self.name = name
        self.schema = schema
        self.legacy = legacy
        self.load = load
        self._lock = threading.Lock()  # one operation at a time per object (threads share it)

    @property
    def path(self) -> Path:
        return self.home.path(self.name)

    def read(self, fn: Callable[[sqlite3.Connection], T], empty: T) -> T:
        """``fn(conn)``; ``empty`` when there is no log yet (nothing created then)."""
        if not self.path.exists() and not self.home.path(self.legacy).exists():
            return empty
        return self._run(fn, write=False)

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` in one write transaction (all or nothing)."""
        return self._run(fn, write=True)

    def put(self, upsert: str, row: tuple[Any, ...], prune: str, keep: int) -> None:
        """``upsert`` one row (``INSERT OR REPLACE`` deletes the old row: the new one gets the
        highest ``seq``, newest last), then ``prune`` to the newest ``keep``; one transaction."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(upsert, row)
            conn.execute(prune, (keep,))

        self.write(write)

    # -- internals -------------------------------------------------------------------------------
    def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        import sqlite3

        with self._lock:
            conn = self._connect()
            try:
                if not write:
                    return fn(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return out
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            finally:
                conn.close()

    def _connect(self) -> sqlite3.Connection:
        import sqlite3

        path = self.path
        if not path.exists():
            self._create(path)
        try:
            self.home.check_file(path)
        except FileNotFoundError as exc:  # `mm reset` in between
            raise StateError(f"{path} was removed while in use.", hint="Retry.") from exc
        try:
            # mode=rw: SQLite never creates the file (a missing one would come back 0644,
            # without its schema).
            conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=BUSY_SECONDS,
                                   isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return conn

    def _create(self, path: Path) -> None:
        import sqlite3

        with self.home.locked():
            if path.exists():
                return  # another process made it while we waited
            legacy = self.home.path(self.legacy)
            data = self.home.read_json(self.legacy, None)  # STATE_CORRUPT: nothing created
            tmp = path.with_name(f".{path.name}.tmp")
            _unlink(tmp)
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            try:
                conn = sqlite3.connect(tmp, isolation_level=None)
                try:
                    conn.executescript(self.schema)
                    conn.execute("BEGIN")
                    self.load(conn, data)
                    conn.execute("COMMIT")
                    conn.execute("PRAGMA journal_mode=WAL")  # kept in the file's header
                finally:
                    conn.close()
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                _unlink(tmp)
                raise
            if data is not None:
                stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
                kept = legacy.with_name(f"{legacy.name}.migrated-{stamp}")
                n = 1
                while kept.exists():
                    n += 1
                    kept = legacy.with_name(f"{legacy.name}.migrated-{stamp}-{n}")
                os.replace(legacy, kept)  # the same inode: still 0600
            _fsync_dir(path.parent)

    def _error(self, exc: sqlite3.Error) -> MMError:
        name = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
        path = self.path
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StateError(f"{path} stayed locked by another mm process for "
                              f"{BUSY_SECONDS:.0f} s.", hint="Retry when it has finished.")
        if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")):
            return StatePermissions(f"Cannot write {path} ({name}).")
        if name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_NOMEM")):
            return StateError(f"Cannot write {path} ({name}).")
        return StateCorrupt(f"{path} is not a readable log ({name}: {exc}).",
                            hint=f"Keep the file: check it with `sqlite3 {path} "
                                 "'PRAGMA integrity_check'`, or move it aside to start a new "
                                 "log.")


def _unlink(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
