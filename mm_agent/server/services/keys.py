"""The service master key and the envelope encryption of wallet keys and TOTP seeds.

The master key (32 bytes) comes from ``MM_SERVER_MASTER_KEY`` (hex or base64) or from
``<data-dir>/master.key``, generated on first start (mode 0600). It never encrypts a wallet key
directly: each wallet gets a fresh data key, the private key is sealed under that data key
(AES-256-GCM, AAD = the address) and only the data key is wrapped by the master key. Rotating
the master key therefore means re-wrapping data keys, never touching the key ciphertexts.

Blob format (every ciphertext here): ``version (1 byte) || nonce (12 bytes) || ciphertext+tag``.

Operator tools (``mm server admin …``, ``server/admin.py``) live on top of this module:

- freeze: :func:`load_wallet_key` is the one place a wallet key is unwrapped for signing; it
  asks the ``signing_guard`` of the master key (``frozen_guard``, wired in ``deps.py``) and a
  frozen wallet's key is never unwrapped (``WALLET_FROZEN``). Finishing a transaction that
  was already signed before the freeze (re-broadcast, fee bump, cancel of that same nonce)
  passes ``frozen_ok=True``.
- rotation: :func:`rewrap_all` re-wraps every data key and TOTP seed under a new master key
  inside the caller's transaction and checks that each one opens with the new key (and no
  longer with the old one) before the caller commits; :func:`write_key_file` writes a key file
  atomically (0600), never over an existing one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mm_agent.errors import InvalidConfigValue, StateCorrupt, WalletFrozen
from mm_agent.local import env as env_vars
from mm_agent.local.state import Home

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ..db.store import Store

__all__ = [
    "ENV_VAR",
    "KEY_FILE",
    "NEW_ENV_VAR",
    "MasterKey",
    "frozen_guard",
    "load_wallet_key",
    "new_wallet_key",
    "open_all",
    "parse_key_text",
    "read_key_file",
    "rewrap_all",
    "unwrap_totp_secret",
    "wrap_totp_secret",
    "write_key_file",
]

ENV_VAR = env_vars.SERVER_MASTER_KEY
NEW_ENV_VAR = env_vars.SERVER_NEW_MASTER_KEY  # `mm server admin rotate-master-key`
KEY_FILE = "master.key"
_VERSION = b"\x01"
_NONCE = 12
_KEY_LEN = 32
# Order of the secp256k1 group: a private key must lie in [1, n-1].
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _seal(key: bytes, data: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, data, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
        raise StateCorrupt("An encrypted value has an unknown format.",
                           hint="The service database may be damaged or from a newer version.")
    try:
        return AESGCM(key).decrypt(blob[1:1 + _NONCE], blob[1 + _NONCE:], aad)
    except InvalidTag:
        # Wrong master key, a value moved to another row (AAD), or tampering.
        raise StateCorrupt(
            "An encrypted value failed authentication.",
            hint="Check that the service runs with the master key that encrypted its data.",
        ) from None


def _parse_env_key(raw: str, name: str = ENV_VAR) -> bytes:
    raw = raw.strip()
    candidates: list[bytes] = []
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(raw))
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(decode(raw + "=" * (-len(raw) % 4)))
    for key in candidates:
        if len(key) == _KEY_LEN:
            return key
    # Never echo the value: it is (meant to be) the master key.
    raise InvalidConfigValue(
        f"{name} must be 32 bytes, given as 64 hex characters or base64.",
        hint="Generate one with `python -c 'import os; print(os.urandom(32).hex())'`.")


class MasterKey:
    """The service master key. Its bytes never appear in ``repr``/``str``."""

    __slots__ = ("__key", "signing_guard", "source")

    def __init__(self, key: bytes, source: str = "memory") -> None:
        if len(key) != _KEY_LEN:
            raise ValueError("the master key must be 32 bytes")
        self.__key = bytes(key)
        self.source = source  # "env" | "file" | "memory"
        # Called with a wallet address before its key is unwrapped for signing (freeze).
        self.signing_guard: Callable[[str], None] | None = None

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self) -> object:
        raise TypeError("MasterKey cannot be pickled")

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(_KEY_LEN))

    @classmethod
    def load(cls, data_dir: Path) -> MasterKey:
        """The key from ``MM_SERVER_MASTER_KEY``, else ``<data_dir>/master.key`` (created 0600
        if absent). A key file other users can read or that another user owns is refused."""
        env = env_vars.get(ENV_VAR)
        if env:
            return cls(_parse_env_key(env), "env")
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = data_dir / KEY_FILE
        if not path.exists():
            _create_key_file(path)
        return cls(_read_key_file(path), "file")

    def wrap(self, data: bytes, aad: bytes) -> bytes:
        return _seal(self.__key, data, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        return _open(self.__key, bytes(blob), aad)

    def same_as(self, other: MasterKey) -> bool:
        return secrets.compare_digest(self.__key, other.__key)

    def key_text(self) -> bytes:
        """The key file's content (hex + newline): only for :func:`write_key_file`."""
        return self.__key.hex().encode() + b"\n"


def _create_key_file(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(_KEY_LEN).hex().encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        # link() fails if the name exists, so two services starting at once cannot end up
        # with different keys (the loser reads the winner's file).
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def parse_key_text(raw: str, name: str) -> bytes:
    """A 32-byte key given as hex or base64 (``name`` says where, never the value)."""
    return _parse_env_key(raw, name)


def read_key_file(path: Path) -> MasterKey:
    """A key file (``master.key`` or an operator's new key file), permissions checked."""
    return MasterKey(_read_key_file(path), "file")


def write_key_file(path: Path, key: MasterKey) -> None:
    """Write ``key`` to ``path`` (0600, fsynced, directory fsynced); never over an existing
    file (``FileExistsError``): no key file is ever overwritten."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.key_text())
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # FileExistsError if the name is taken
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_key_file(path: Path) -> bytes:
    Home.check_file(path, hint=f"Others may have read the master key: rotate it, then "
                               f"`chmod 600 {path}`.")
    text = path.read_bytes().strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != _KEY_LEN:
        raise StateCorrupt(f"{path} does not hold a 32-byte hex key.")
    return key


# --- wallet keys ------------------------------------------------------------------------------
def _address_aad(address: str) -> bytes:
    # Lower-cased so checksum/non-checksum spellings of one address decrypt alike.
    return address.lower().encode()


def _wrap_aad(address: str) -> bytes:
    return b"wallet-data-key:" + _address_aad(address)


def _address_of(private_key: bytes) -> str:
    from mm_agent.evm.hd import address_of_key  # coincurve: ~6x eth_keys' time per job

    return address_of_key(private_key)


def new_wallet_key(master: MasterKey) -> tuple[str, bytes, bytes]:
    """A fresh secp256k1 key: ``(checksum address, key_enc, data_key_wrapped)``."""
    while True:
        private_key = secrets.token_bytes(32)
        if 0 < int.from_bytes(private_key, "big") < _SECP256K1_N:
            break
    address = _address_of(private_key)
    data_key = AESGCM.generate_key(bit_length=256)
    key_enc = _seal(data_key, private_key, _address_aad(address))
    return address, key_enc, master.wrap(data_key, _wrap_aad(address))


def load_wallet_key(master: MasterKey, address: str, key_enc: bytes,
                    data_key_wrapped: bytes, *, frozen_ok: bool = False) -> bytes:
    """The private key of ``address`` (in-process use by the signer only).

    Unless ``frozen_ok`` (finishing a transaction signed before a freeze), the master key's
    ``signing_guard`` is asked first: a frozen wallet raises ``WALLET_FROZEN`` here, so a job
    that has not signed yet fails instead of signing."""
    if not frozen_ok and master.signing_guard is not None:
        master.signing_guard(address)
    data_key = master.unwrap(data_key_wrapped, _wrap_aad(address))
    private_key = _open(data_key, bytes(key_enc), _address_aad(address))
    if _address_of(private_key).lower() != address.lower():
        raise StateCorrupt("A wallet key does not match its address.")
    return private_key


# --- TOTP seeds -------------------------------------------------------------------------------
def wrap_totp_secret(master: MasterKey, owner: str, secret: str) -> bytes:
    """Encrypt a base32 TOTP seed bound to ``owner`` (``account:<id>`` or ``pair:<id>``)."""
    return master.wrap(secret.encode(), b"totp:" + owner.encode())


def unwrap_totp_secret(master: MasterKey, owner: str, blob: bytes) -> str:
    return master.unwrap(blob, b"totp:" + owner.encode()).decode()


# --- freeze -----------------------------------------------------------------------------------
def frozen_guard(store: Store) -> Callable[[str], None]:
    """A ``signing_guard`` reading the wallet's freeze from the database at unwrap time (not
    from a row loaded earlier), so a freeze stops every job that has not signed yet."""
    from sqlalchemy import select

    from ..db.store import wallets

    def guard(address: str) -> None:
        with store.read() as conn:  # callers pass the row's (checksum) address
            row = conn.execute(select(wallets.c.frozen_at, wallets.c.frozen_reason)
                               .where(wallets.c.address == address)).first()
        if row is not None and row.frozen_at is not None:
            raise WalletFrozen(f"Wallet {address} is frozen by the service's operator"
                               + (f": {row.frozen_reason}" if row.frozen_reason else "")
                               + "; nothing was signed.")

    return guard


# --- rotation ---------------------------------------------------------------------------------
def _wrapped_columns() -> list[tuple[Any, Any, Callable[[Any], bytes]]]:
    """Every (table, column, row → AAD) the master key wraps."""
    from ..db.store import accounts, device_logins, wallets

    return [
        (wallets, wallets.c.data_key_wrapped, lambda r: _wrap_aad(r.address)),
        (accounts, accounts.c.totp_secret_enc, lambda r: b"totp:account:" + r.id.encode()),
        (device_logins, device_logins.c.totp_secret_enc,
         lambda r: b"totp:pair:" + r.id.encode()),
    ]


def _wrapped_rows(conn: Connection, table: Any, column: Any) -> list[Any]:
    from sqlalchemy import select

    extra = [table.c.address, table.c.key_enc] if table.name == "wallets" else []
    return list(conn.execute(select(table.c.id, column, *extra)
                             .where(column.is_not(None))).all())


def open_all(conn: Connection, key: MasterKey) -> dict[str, int]:
    """Check that every value the master key protects opens with ``key`` (wallet keys: to
    the key of their address); ``STATE_CORRUPT`` naming the first that does not. Counts."""
    counts: dict[str, int] = {}
    for table, column, aad_of in _wrapped_columns():
        rows = _wrapped_rows(conn, table, column)
        for row in rows:
            blob = row._mapping[column.name]
            try:
                if table.name == "wallets":
                    load_wallet_key(key, row.address, row.key_enc, blob, frozen_ok=True)
                else:
                    key.unwrap(blob, aad_of(row))
            except StateCorrupt:
                raise StateCorrupt(
                    f"{table.name} row {row.id} does not open with this master key.",
                    hint="Use the master key the data was encrypted with (MM_SERVER_MASTER_KEY "
                         "or <data-dir>/master.key).") from None
        counts[table.name] = len(rows)
    return counts


def rewrap_all(conn: Connection, old: MasterKey, new: MasterKey) -> dict[str, int]:
    """Re-wrap, inside the caller's transaction, every value the master key protects: wallet
    data keys, account TOTP seeds, pairing seeds. Then read everything back and check that it
    opens with ``new`` to the same bytes (wallet keys: to the key of their address) and no
    longer opens with ``old``. Raises (so the caller rolls back) on any failure; commits
    nothing itself. Returns the counts."""
    from sqlalchemy import update

    if old.same_as(new):
        raise InvalidConfigValue("The new master key is the same as the current one.")
    open_all(conn, old)  # everything opens with the current key, or nothing is touched
    plain: dict[tuple[str, str], bytes] = {}
    for table, column, aad_of in _wrapped_columns():
        for row in _wrapped_rows(conn, table, column):
            value = old.unwrap(row._mapping[column.name], aad_of(row))
            plain[(table.name, row.id)] = value
            conn.execute(update(table).where(table.c.id == row.id)
                         .values({column.name: new.wrap(value, aad_of(row))}))
    # Verification, from what the transaction now holds.
    counts = open_all(conn, new)
    for table, column, aad_of in _wrapped_columns():
        for row in _wrapped_rows(conn, table, column):
            blob = row._mapping[column.name]
            if new.unwrap(blob, aad_of(row)) != plain.get((table.name, row.id)):
                raise StateCorrupt(f"Verification failed for {table.name} row {row.id}; "
                                   "nothing was changed.")
            try:
                old.unwrap(blob, aad_of(row))
            except StateCorrupt:
                continue
            raise StateCorrupt("The old master key still opens a re-wrapped value; nothing "
                               "was changed.")
    return {"wallets": counts["wallets"], "totpSeeds": counts["accounts"],
            "pairingSeeds": counts["device_logins"]}
