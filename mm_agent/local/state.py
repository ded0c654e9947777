"""Local state under ``MM_HOME`` (default ``~/.metamask``): contract §1.

The folder is created 0700; every file is written atomically (temp file in the same folder,
fsync, rename, fsync of the folder) with mode 0600. A file that is not valid JSON, or that
another user could read, is reported (``STATE_CORRUPT`` / ``STATE_PERMISSIONS``), never
silently overwritten: it may hold the only copy of a user's vault.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mm_agent.errors import StateCorrupt, StatePermissions

from . import env as env_vars

__all__ = ["STATE_FILES", "Home", "atomic_write_bytes"]

# Every file `mm reset` removes (contract §1).
STATE_FILES = (
    "session.json",
    "wallets.json",
    "predict.json",
    "config.json",
    "history",
    "requests.json",
    "requests.sqlite",  # the BYOK request log (local/request_log.py), with its WAL files
    "requests.sqlite-wal",
    "requests.sqlite-shm",
    "calls.json",
    "calls.sqlite",  # answered agent call ids (local/call_log.py)
    "calls.sqlite-wal",
    "calls.sqlite-shm",
    "devnet.json",
    "nonces.json",
    "devnet.log",
    "devnet-markets.log",  # the devnet market service's output (`mm devnet start`)
    "mcp-token.json",  # `mm mcp --http` bearer token (toolkits/mcp_server.http_token)
    ".session.lock",
    ".nonces.lock",
)

DIR_MODE = 0o700
FILE_MODE = 0o600


def atomic_write_bytes(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half of one."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Home:
    """The state folder. Cheap to construct; touches the disk only when used."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        if root is None:
            root = env_vars.get(env_vars.HOME) or Path.home() / ".metamask"
        self.root = Path(root).expanduser()

    @classmethod
    def from_env(cls) -> Home:
        return cls(None)

    def __repr__(self) -> str:
        return f"Home({str(self.root)!r})"

    def path(self, name: str) -> Path:
        return self.root / name

    def ensure(self) -> Path:
        """Create the folder 0700 (and tighten it if it exists but is looser)."""
        try:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            st = self.root.stat()
        except (FileExistsError, NotADirectoryError) as exc:
            raise StateCorrupt(f"MM_HOME {self.root} is not a folder.") from exc
        except PermissionError as exc:
            raise StatePermissions(f"Cannot create or read MM_HOME {self.root}.") from exc
        if st.st_uid != os.getuid():
            raise StatePermissions(f"State folder {self.root} is owned by another user.")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(self.root, DIR_MODE)
        return self.root

    @staticmethod
    def check_file(path: Path, *, hint: str | None = None) -> None:
        """Refuse files another user owns or could read: they may leak tokens or vaults."""
        st = path.stat()
        if st.st_uid != os.getuid():
            raise StatePermissions(f"{path} is owned by another user.")
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise StatePermissions(
                f"{path} has mode {oct(stat.S_IMODE(st.st_mode))}; expected 0600.",
                hint=hint or f"Run `chmod 600 {path}` if you trust its contents.",
            )

    def read_json(self, name: str, default: Any = None) -> Any:
        path = self.path(name)
        try:
            self.check_file(path)
            raw = path.read_bytes()
        except FileNotFoundError:
            return default
        except NotADirectoryError as exc:
            raise StateCorrupt(f"MM_HOME {self.root} is not a folder.") from exc
        except PermissionError as exc:
            raise StatePermissions(f"Cannot read {path}: permission denied.") from exc
        except OSError as exc:
            raise StateCorrupt(f"Cannot read {path} ({exc.__class__.__name__}).") from exc
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateCorrupt(f"{path} is not valid JSON ({exc.__class__.__name__}).") from exc

    def write_json(self, name: str, data: Any) -> None:
        self.ensure()
        payload = json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"
        atomic_write_bytes(self.path(name), payload)

    @contextlib.contextmanager
    def locked(self, name: str = ".lock") -> Iterator[None]:
        """An exclusive inter-process lock for read-modify-write of state files."""
        import fcntl

        self.ensure()
        fd = os.open(self.path(name), os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def update_json(self, name: str, default: Any, fn: Any) -> Any:
        """Read, transform with ``fn(data) -> data``, write, under the state lock."""
        with self.locked():
            data = self.read_json(name, default)
            new = fn(data)
            self.write_json(name, new)
            return new

    def reset(self) -> list[str]:
        """Delete every state file; return the names removed."""
        removed = []
        for name in (*STATE_FILES, ".lock"):
            path = self.path(name)
            if path.exists():
                path.unlink()
                removed.append(name)
        return removed
