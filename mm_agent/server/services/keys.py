"""The service master key and the envelope encryption of wallet keys and TOTP seeds.

The master key (32 bytes) comes from ``MM_SERVER_MASTER_KEY`` (hex or base64) or from
``<data-dir>/master.key``, generated on first start (mode 0600). It never encrypts a wallet key
directly: each wallet gets a fresh data key, the private key is sealed under that data key
(AES-256-GCM, AAD = the address) and only the data key is wrapped by the master key. Rotating
the master key therefore means re-wrapping data keys, never touching the key ciphertexts.

Blob format (every ciphertext here): ``version (1 byte) || nonce (12 bytes) || ciphertext+tag``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mm_agent.errors import InvalidConfigValue, StateCorrupt
from mm_agent.local.state import Home

__all__ = [
    "ENV_VAR",
    "KEY_FILE",
    "MasterKey",
    "load_wallet_key",
    "new_wallet_key",
    "unwrap_totp_secret",
    "wrap_totp_secret",
]

ENV_VAR = "MM_SERVER_MASTER_KEY"
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


def _parse_env_key(raw: str) -> bytes:
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
        f"{ENV_VAR} must be 32 bytes, given as 64 hex characters or base64.",
        hint="Generate one with `python -c 'import os; print(os.urandom(32).hex())'`.")


class MasterKey:
    """The service master key. Its bytes never appear in ``repr``/``str``."""

    __slots__ = ("__key", "source")

    def __init__(self, key: bytes, source: str = "memory") -> None:
        if len(key) != _KEY_LEN:
            raise ValueError("the master key must be 32 bytes")
        self.__key = bytes(key)
        self.source = source  # "env" | "file" | "memory"

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
        env = os.environ.get(ENV_VAR)
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
    from eth_keys import keys

    return str(keys.PrivateKey(private_key).public_key.to_checksum_address())


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
                    data_key_wrapped: bytes) -> bytes:
    """The private key of ``address`` (in-process use by the signer only)."""
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
