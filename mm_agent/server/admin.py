"""Operator tools that work on the service's data directory directly (no HTTP, no sign-in).

``create_login`` is how a headless agent host gets CLI tokens without a browser: the operator
runs ``mm server admin create-login`` where the data dir (and master key) live.

The rest are what an operator of a money service needs (``mm server admin …``):

- ``revoke_tokens``: every token of an account (CLI and web), and its sign-ins in progress.
- ``set_frozen``: freeze / unfreeze a wallet (``keys.load_wallet_key`` refuses to unwrap a
  frozen wallet's key; submissions are ``WALLET_FROZEN``).
- ``rotate_master_key``: re-wrap everything under a new master key in one verified
  transaction; the new key file is written before the commit (``master.key.new``) and swapped
  in after it, the old one kept as ``master.key.old-<timestamp>``. A run interrupted after the
  commit is finished by running the command again.
- ``backup`` / ``restore``: SQLite's online backup API; never the master key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from mm_agent.errors import (
    AccountNotFound,
    NotInitialized,
    StateCorrupt,
    StateError,
    UnsupportedInMode,
    UsageError,
    ValidationError,
    WalletNotFound,
)
from mm_agent.local import env as env_vars

from .datadir import DB_FILE, lock_data_dir
from .db.store import Store, accounts, jobs, now, wallets
from .services.auth import issue_tokens, revoke_account
from .services.keys import (
    ENV_VAR,
    KEY_FILE,
    NEW_ENV_VAR,
    MasterKey,
    open_all,
    parse_key_text,
    read_key_file,
    rewrap_all,
    wrap_totp_secret,
    write_key_file,
)
from .services.signin import account_owner, new_account_seed, normalize_email, provisioning_uri
from .settings import ServerSettings

__all__ = ["CHANNELS", "backup", "create_login", "restore", "revoke_tokens",
           "rotate_master_key", "set_frozen"]

CHANNELS = ("email", "authenticator")


def create_login(data_dir: Path, email: str, channel: str = "email",
                 settings: ServerSettings | None = None) -> dict[str, Any]:
    """Create or update the account and issue an agent-scope token pair.

    ``{email, channel, token: "<access>:<refresh>", provisioningUri?}``; for the authenticator
    channel a new TOTP seed replaces any old one and its provisioning URI is returned once.
    """
    address = normalize_email(email)
    if channel not in CHANNELS:
        raise ValidationError("--channel must be `email` or `authenticator`.")
    data_dir = Path(data_dir)
    settings = settings or ServerSettings(data_dir=data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = (Store(settings.database_url) if settings.database_url
             else Store.for_data_dir(data_dir))
    try:
        store.migrate()
        master = MasterKey.load(data_dir)
        seed = new_account_seed() if channel == "authenticator" else None
        with store.tx() as conn:
            account_id = conn.execute(select(accounts.c.id)
                                      .where(accounts.c.email == address)).scalar()
            if account_id is None:
                account_id = uuid.uuid4().hex
                conn.execute(insert(accounts).values(id=account_id, email=address,
                                                     channel=channel, created_at=now()))
            values: dict[str, Any] = {"channel": channel}
            if seed is not None:
                values["totp_secret_enc"] = wrap_totp_secret(master, account_owner(account_id),
                                                             seed)
            # Switching to email keeps any seed: a later switch back needs no new pairing.
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
            pair = issue_tokens(store, settings, account_id, "agent", conn=conn)
    finally:
        store.dispose()
    out: dict[str, Any] = {"email": address, "channel": channel,
                           "token": f"{pair['accessToken']}:{pair['refreshToken']}"}
    if seed is not None:
        out["provisioningUri"] = provisioning_uri(seed, address)
    return out


# --- revoke, freeze ---------------------------------------------------------------------------
def revoke_tokens(store: Store, email: str) -> dict[str, Any]:
    """Revoke every token of the account: the agent's next call is ``NOT_AUTHENTICATED``
    (``mm login`` / ``create-login`` issue new ones)."""
    address = normalize_email(email)
    with store.tx() as conn:
        account_id = conn.execute(select(accounts.c.id)
                                  .where(accounts.c.email == address)).scalar()
        if account_id is None:
            raise AccountNotFound(f"No account {address} on this service.")
        counts = revoke_account(conn, account_id)
    return {"email": address, "revoked": {"cliTokens": counts["agent"],
                                          "webSessions": counts["human"],
                                          "signInsClosed": counts["signIns"]}}


def set_frozen(store: Store, address: str, frozen: bool,
               reason: str | None = None) -> dict[str, Any]:
    """Freeze (or unfreeze) a wallet. Frozen: submissions are ``WALLET_FROZEN``, and a job
    that has not signed yet fails with it when it reaches signing (an approval given after
    the freeze included); transactions signed before still confirm; reads work."""
    from mm_agent.evm.addresses import validate_address

    address = validate_address(address)
    if reason is not None:
        reason = " ".join(reason.split())[:500] or None
    with store.tx() as conn:
        row = conn.execute(select(wallets.c.id, wallets.c.frozen_at, accounts.c.email)
                           .join(accounts, accounts.c.id == wallets.c.account_id)
                           .where(wallets.c.address == address)).first()
        if row is None:
            raise WalletNotFound(f"No wallet {address} on this service.")
        was = row.frozen_at is not None
        values: dict[str, Any]
        if frozen:
            values = {"frozen_at": row.frozen_at if was else now()}
            if reason is not None or not was:
                values["frozen_reason"] = reason
        else:
            values = {"frozen_at": None, "frozen_reason": None}
        conn.execute(update(wallets).where(wallets.c.id == row.id).values(**values))
        waiting = int(conn.execute(select(func.count()).select_from(jobs).where(
            jobs.c.wallet_id == row.id,
            jobs.c.status.in_(("PENDING", "AWAITING_MFA")))).scalar_one())
    out: dict[str, Any] = {"address": address, "owner": row.email, "frozen": frozen,
                           "wasFrozen": was}
    if frozen:
        out["reason"] = values.get("frozen_reason", reason)
        # They fail with WALLET_FROZEN if they reach signing while the freeze holds.
        out["unsignedJobs"] = waiting
    return out


# --- master key rotation ----------------------------------------------------------------------
PENDING_KEY_FILE = KEY_FILE + ".new"


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _free_name(directory: Path, base: str) -> Path:
    path = directory / base
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{base}-{n}"
    return path


def _new_key(new_key_file: Path | None, env_form: bool) -> tuple[MasterKey, str]:
    if new_key_file is not None:
        from mm_agent.local.state import Home

        path = Path(new_key_file).expanduser()
        if not path.is_file():
            raise ValidationError(f"--new-key-file {path} does not exist.")
        Home.check_file(path, hint=f"`chmod 600 {path}` (it holds the new master key).")
        return MasterKey(parse_key_text(path.read_text(), f"--new-key-file {path}")), "file"
    raw = env_vars.get(NEW_ENV_VAR)
    if raw:
        return MasterKey(parse_key_text(raw, NEW_ENV_VAR)), "env"
    if env_form:
        # A generated key would have to be printed; secrets are never printed.
        raise UsageError(
            f"The service's key comes from {ENV_VAR}: give the new one in {NEW_ENV_VAR} or "
            "with --new-key-file.",
            hint="Generate one with `python -c 'import os; print(os.urandom(32).hex())'`.")
    return MasterKey.generate(), "generated"


def _swap_key_files(data_dir: Path) -> Path:
    """master.key → master.key.old-<stamp> (kept, 0600), master.key.new → master.key."""
    key_path = data_dir / KEY_FILE
    old_path = _free_name(data_dir, f"{KEY_FILE}.old-{_stamp()}")
    os.link(key_path, old_path)  # the old key stays on disk under its new name
    os.chmod(old_path, 0o600)
    os.replace(data_dir / PENDING_KEY_FILE, key_path)  # atomic: master.key is never missing
    dir_fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return old_path


def rotate_master_key(data_dir: Path, database_url: str | None = None,
                      new_key_file: Path | None = None) -> dict[str, Any]:
    """Re-wrap every wallet data key (and TOTP seed) under a new master key.

    SQLite: refused while a service holds the data dir (``DATA_DIR_LOCKED``); the lock is
    held throughout, so no service starts half-way. PostgreSQL: stop every replica first and
    start them with the new key (a replica still on the old key cannot open the wallets).
    Crash safety: with a key file, the new key is written to ``master.key.new`` (0600) BEFORE
    the database transaction commits; the transaction re-wraps and verifies everything or
    changes nothing; the files are swapped after the commit. Running the command again after
    an interruption finishes (or discards) the earlier run: whichever key opens the database
    decides."""
    data_dir = Path(data_dir)
    if database_url is None and not (data_dir / DB_FILE).is_file():
        raise NotInitialized(f"{data_dir} is not a wallet-service data dir (no {DB_FILE}).")
    env_form = env_vars.get(ENV_VAR) is not None
    key_path = data_dir / KEY_FILE
    if not env_form and not key_path.is_file():
        raise NotInitialized(f"No master key: neither {ENV_VAR} nor {key_path}.")
    lock_fd = None if database_url else lock_data_dir(data_dir)
    try:
        old = MasterKey.load(data_dir)
        store = Store.open(data_dir, database_url)
        try:
            pending = data_dir / PENDING_KEY_FILE
            if not env_form and pending.exists():
                resumed = _resume(store, data_dir, old, pending)
                if resumed is not None:
                    return resumed
            new, new_source = _new_key(new_key_file, env_form)
            if not env_form:
                write_key_file(pending, new)  # durable before the commit
            # On any failure master.key.new stays: the next run decides by which key opens
            # the database (a commit whose acknowledgement was lost is finished, not undone).
            with store.tx() as conn:
                counts = rewrap_all(conn, old, new)
        finally:
            store.dispose()
        out: dict[str, Any] = {"rotated": True, **counts,
                               "database": "postgresql" if database_url else "sqlite"}
        if env_form:
            given = (f"the content of {new_key_file}" if new_source == "file"
                     else f"the value of {NEW_ENV_VAR}")
            out["keySource"] = "env"
            out["next"] = (f"Set {ENV_VAR} to {given} wherever the service starts, then start "
                           f"it (every replica); unset {NEW_ENV_VAR}. The old {ENV_VAR} value no "
                           "longer opens anything here: keep it only with backups made before "
                           "now.")
        else:
            old_path = _swap_key_files(data_dir)
            out.update(keySource="file", keyFile=str(key_path), oldKeyFile=str(old_path),
                       next=(f"Start the service as before: {key_path} holds the new key. "
                             f"{old_path.name} is the old key: keep it with backups made before "
                             "now, it opens nothing else."))
        if database_url:
            out["replicas"] = ("Start every replica with the new key (the same master.key file "
                               f"or {ENV_VAR} value); one still on the old key cannot sign.")
        return out
    finally:
        if lock_fd is not None:
            os.close(lock_fd)


def _resume(store: Store, data_dir: Path, old: MasterKey, pending: Path
            ) -> dict[str, Any] | None:
    """A ``master.key.new`` left by an interrupted rotation: finish it if the database already
    opens with it; otherwise keep it aside (it was never committed) and return None."""
    new = read_key_file(pending)
    with store.read() as conn:
        try:
            counts = open_all(conn, new)
        except StateCorrupt:
            counts = None
        total = sum(counts.values()) if counts else 0
        if counts is None or total == 0 or new.same_as(old):
            open_all(conn, old)  # the database is still under the current key
            os.replace(pending, _free_name(data_dir, f"{KEY_FILE}.unused-{_stamp()}"))
            return None
    old_path = _swap_key_files(data_dir)
    return {"rotated": True, "resumed": True, "wallets": counts["wallets"],
            "totpSeeds": counts["accounts"], "pairingSeeds": counts["device_logins"],
            "keySource": "file", "keyFile": str(data_dir / KEY_FILE),
            "oldKeyFile": str(old_path),
            "next": "An interrupted rotation was finished: start the service as before."}


# --- backup / restore (SQLite) ----------------------------------------------------------------
_MASTER_KEY_NOTE = ("The backup holds the wallets' keys only wrapped by the master key, and "
                    "NOT the master key itself: keep master.key (or the MM_SERVER_MASTER_KEY "
                    "value) separately and safely; without it this backup opens no wallet.")
_PG_HINT = ("PostgreSQL: `pg_dump --format=custom --file mm.dump \"postgresql://…\"` (consistent "
            "while the service runs) and `pg_restore --clean --dbname \"postgresql://…\" "
            "mm.dump`; keep the master key separately.")


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, Any]:
    def count(table: str) -> int:
        try:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:  # no such table
            return 0

    try:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        version = None
    return {"schemaVersion": int(version[0]) if version and str(version[0]).isdigit() else 0,
            "accounts": count("accounts"), "wallets": count("wallets"), "jobs": count("jobs")}


def _copy_sqlite(src: Path, dest_dir: Path, journal: str) -> Path:
    """A consistent copy of ``src`` (the online backup API: safe while the service writes)
    into a new 0600 temporary file in ``dest_dir``; checked before it is returned."""
    tmp = dest_dir / f".mm-backup.{secrets.token_hex(8)}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        source = sqlite3.connect(str(src), timeout=30)
        try:
            dest = sqlite3.connect(str(tmp))
            try:
                source.backup(dest)
                dest.execute(f"PRAGMA journal_mode={journal}")
                check = dest.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise StateCorrupt(f"The copy of {src} failed its check ({check}).")
            finally:
                dest.close()
        finally:
            source.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{suffix}")
        return tmp
    except BaseException:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{suffix}")
        raise


def backup(data_dir: Path, out: Path, database_url: str | None = None) -> dict[str, Any]:
    """A consistent copy of the service's SQLite database to ``out`` (0600, a new file), taken
    with SQLite's online backup API: the service may keep running."""
    if database_url:
        raise UnsupportedInMode("`mm server admin backup` copies the SQLite database only.",
                                hint=_PG_HINT)
    src = Path(data_dir) / DB_FILE
    if not src.is_file():
        raise NotInitialized(f"{data_dir} is not a wallet-service data dir (no {DB_FILE}).")
    out = Path(out).expanduser().absolute()
    if out.exists():
        raise StateError(f"{out} already exists; a backup never overwrites a file.",
                         hint="Give a new file name with --out.")
    if not out.parent.is_dir():
        raise ValidationError(f"The folder {out.parent} does not exist.")
    tmp = _copy_sqlite(src, out.parent, "DELETE")
    try:
        os.link(tmp, out)  # never over a file that appeared meanwhile
    except FileExistsError:
        raise StateError(f"{out} already exists; a backup never overwrites a file.") from None
    finally:
        os.unlink(tmp)
    conn = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    try:
        counts = _sqlite_counts(conn)
    finally:
        conn.close()
    return {"backup": str(out), "bytes": out.stat().st_size, **counts,
            "masterKeyIncluded": False, "note": _MASTER_KEY_NOTE}


def restore(data_dir: Path, src: Path, *, force: bool = False,
            database_url: str | None = None) -> dict[str, Any]:
    """Put a backup in place as the data dir's database. Refused while a service holds the
    data dir, when the backup's wallets do not open with this data dir's master key, and over
    a database with accounts, wallets or jobs unless ``force`` (which moves it aside as
    ``mm.sqlite.before-restore-<timestamp>``, never deletes it). Older backups are migrated."""
    from .db.migrate import upgrade

    if database_url:
        raise UnsupportedInMode("`mm server admin restore` restores a SQLite backup only.",
                                hint=_PG_HINT)
    data_dir = Path(data_dir)
    src = Path(src).expanduser().absolute()
    if not src.is_file():
        raise ValidationError(f"--from {src} does not exist.")
    try:
        conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise StateCorrupt(f"{src} is damaged (PRAGMA quick_check).")
            backed = _sqlite_counts(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StateCorrupt(f"{src} is not a SQLite database ({exc}).") from None
    if not backed["schemaVersion"]:
        raise StateCorrupt(f"{src} is not a wallet-service backup (no schema version).")
    env_form = env_vars.get(ENV_VAR) is not None
    if not env_form and not (data_dir / KEY_FILE).is_file():
        raise NotInitialized(
            f"No master key in {data_dir}: put the master key of the backup there first "
            f"({data_dir / KEY_FILE}, mode 0600) or set {ENV_VAR}.")
    lock_fd = lock_data_dir(data_dir)  # DATA_DIR_LOCKED while a service runs here
    try:
        master = MasterKey.load(data_dir)
        staged = _copy_sqlite(src, data_dir, "DELETE")
        try:
            check = Store(f"sqlite:///{staged}")
            try:
                upgrade(check)  # an older backup is brought to the current schema
                with check.read() as c:
                    open_all(c, master)  # wallets that would not open are refused now
            finally:
                check.dispose()
            # Back to one self-contained file (WAL folded in) before it is renamed; the
            # service turns WAL on again when it opens it.
            single = sqlite3.connect(str(staged))
            try:
                single.execute("PRAGMA journal_mode=DELETE")
            finally:
                single.close()
            target = data_dir / DB_FILE
            aside = _move_aside(target, force)
            os.replace(staged, target)
        except BaseException:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{staged}{suffix}")
            raise
        with contextlib.suppress(FileNotFoundError):  # the staged copy's, empty by now
            os.unlink(f"{staged}-shm")
        dir_fd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        os.close(lock_fd)
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        counts = _sqlite_counts(conn)
    finally:
        conn.close()
    return {"restored": str(target), "from": str(src), "movedAside": str(aside) if aside else None,
            **counts}


def _move_aside(target: Path, force: bool) -> Path | None:
    if not target.exists():
        return None
    try:
        conn = sqlite3.connect(str(target), timeout=30)
        try:
            counts = _sqlite_counts(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # its -wal content into the file
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        counts = {"accounts": 1}  # unreadable: treat as holding data
    if (counts["accounts"] or counts["wallets"] or counts["jobs"]) and not force:
        raise StateError(
            f"{target} is not empty ({counts['accounts']} account(s), {counts['wallets']} "
            f"wallet(s), {counts['jobs']} job(s)).",
            hint="Add --force to move it aside (kept as mm.sqlite.before-restore-<time>) and "
                 "restore over it.")
    aside = _free_name(target.parent, f"{target.name}.before-restore-{_stamp()}")
    os.replace(target, aside)
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{target}{suffix}")
        if companion.exists():
            os.replace(companion, Path(f"{aside}{suffix}"))
    return aside
