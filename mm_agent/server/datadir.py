"""The service's data directory: is it one, who holds it, can we listen.

- :func:`lock_data_dir`: with SQLite, one service per data dir (an ``flock`` on
  ``<data-dir>/.server.lock`` held for the life of the process; the kernel drops it when the
  process dies, so a crash never leaves a stale lock). Two services on one SQLite file would
  hand out the same nonces and double-spend outflow windows. Replicas on PostgreSQL
  (``database_url``) are the scale-out path and are not locked.
- :func:`check_port`: a busy port is ``PORT_IN_USE`` (exit 2) before uvicorn starts, instead
  of uvicorn's log lines and exit 1.
- :func:`is_initialised`: ``mm server admin create-login --data-dir X`` refuses an ``X`` that
  no service ever used (a typo would silently create a second master key).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from mm_agent.errors import DatabaseCorrupt, DataDirLocked, PortInUse
from mm_agent.local import env as env_vars

__all__ = [
    "DB_FILE",
    "LOCK_FILE",
    "check_port",
    "corrupt_database_guard",
    "database_corrupt",
    "is_initialised",
    "lock_data_dir",
]

LOCK_FILE = ".server.lock"
DB_FILE = "mm.sqlite"


def is_initialised(data_dir: Path, database_url: str | None = None) -> bool:
    """True if a service has set this folder up: its SQLite database exists, or, with a
    database URL (PostgreSQL), its master key file does (or MM_SERVER_MASTER_KEY is set)."""
    if database_url:
        return (data_dir / "master.key").is_file() or env_vars.get(
            env_vars.SERVER_MASTER_KEY) is not None
    return (data_dir / DB_FILE).is_file()


def lock_data_dir(data_dir: Path) -> int:
    """Take the data dir's exclusive lock; return the fd to keep open. ``DATA_DIR_LOCKED`` if
    another live process holds it."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = os.pread(fd, 64, 0).decode().strip()
        os.close(fd)
        raise DataDirLocked(
            f"The data dir {data_dir} is in use by another `mm server start`"
            + (f" (pid {holder})." if holder else "."),
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def check_port(host: str, port: int) -> None:
    """``PORT_IN_USE`` unless ``host:port`` can be bound now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Same option uvicorn's listener sets: a TIME_WAIT leftover is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"Cannot listen on {host}:{port}: {exc.strerror or 'address in use'}.",
                hint="Pick another port with --port, or stop whatever listens there.",
            ) from None


# SQLite's words for a file that is not (or no longer) a database.
_CORRUPT_MARKERS = ("file is not a database", "database disk image is malformed",
                    "file is encrypted or is not a database")


def database_corrupt(exc: BaseException, where: str = "the service database"
                     ) -> DatabaseCorrupt | None:
    """``DATABASE_CORRUPT`` for a driver error that says the file is damaged, else None."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    if any(marker in text for marker in _CORRUPT_MARKERS):
        return DatabaseCorrupt(f"{where} is damaged ({text[:80]}).")
    return None


@contextlib.contextmanager
def corrupt_database_guard(where: str = "the service database") -> Iterator[None]:
    """Turn SQLite's "not a database" errors into ``DATABASE_CORRUPT`` (a stable code)."""
    from sqlalchemy.exc import DatabaseError

    try:
        yield
    except DatabaseError as exc:
        err = database_corrupt(exc, where)
        if err is None:
            raise
        raise err from exc
