"""Encryption at rest of the BYOK mnemonic: scrypt + AES-256-GCM.

Encrypted blob (JSON-able)::

    {"version": 1, "kdf": "scrypt",
     "kdfParams": {"n": 131072, "r": 8, "p": 1, "dkLen": 32, "salt": "<hex>"},
     "cipher": "aes-256-gcm", "nonce": "<hex>", "ciphertext": "<hex>"}

Plaintext blob (the user chose no password; the caller warns)::

    {"version": 1, "kdf": null, "plaintext": "<mnemonic>"}

The header (version, kdf, kdfParams, cipher) is bound as AES-GCM associated data, so any edit
to it makes decryption fail rather than silently changing how the key is derived. Secrets and
passwords never appear in exception messages; nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import unicodedata
from typing import Any

from mm_agent.errors import (
    AlreadyEncrypted,
    EmptyPassword,
    NotEncrypted,
    PasswordMismatch,
    PasswordRequired,
    StateCorrupt,
    WrongPassword,
)

__all__ = [
    "CURRENT_KDF_PARAMS",
    "VERSION",
    "change_password",
    "decrypt",
    "encrypt",
    "is_encrypted",
    "needs_upgrade",
    "plain",
    "remove_password",
    "set_password",
    "unlock",
]

VERSION = 1
KDF = "scrypt"
CIPHER = "aes-256-gcm"
# Cost of new blobs. Raising these makes older blobs report needs_upgrade() and get
# re-encrypted on the next unlock.
CURRENT_KDF_PARAMS: dict[str, int] = {"n": 2**17, "r": 8, "p": 1}

_DK_LEN = 32  # AES-256 key
_SALT_LEN = 16
_NONCE_LEN = 12  # the AES-GCM standard nonce size
_TAG_LEN = 16
# Upper bounds on stored params: a tampered blob must not make us burn gigabytes or minutes
# before the (failing) authentication check.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAX_SCRYPT_MEM = 2**30


# --- helpers ----------------------------------------------------------------------------------
def _corrupt(what: str) -> StateCorrupt:
    return StateCorrupt(f"The wallet vault is malformed: {what}.")


def _is_int(value: Any) -> bool:
    # bool is an int subclass; JSON true must not pass for 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _password_bytes(password: str) -> bytes:
    # NFKC so the same password typed through different input methods derives the same key.
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _check_new_password(password: str, confirm: str) -> None:
    if not isinstance(password, str) or not password.strip():
        raise EmptyPassword("The password must not be empty.")
    if not isinstance(confirm, str) or not hmac.compare_digest(
        _password_bytes(password), _password_bytes(confirm)
    ):
        raise PasswordMismatch("The password and its confirmation differ.")


def _unhex(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise _corrupt(f"{field} is not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise _corrupt(f"{field} is not a hex string") from None


def _check_params(params: Any, *, need_salt: bool) -> dict[str, Any]:
    """Validate n/r/p (and dkLen/salt for stored params); return them untouched."""
    if not isinstance(params, dict):
        raise _corrupt("kdfParams is not an object")
    for key in ("n", "r", "p"):
        if not _is_int(params.get(key)):
            raise _corrupt(f"kdfParams.{key} is not an integer")
    n, r, p = params["n"], params["r"], params["p"]
    # scrypt needs n to be a power of two greater than 1.
    if n < 2 or n & (n - 1) or n > _MAX_N:
        raise _corrupt("kdfParams.n is out of range")
    if not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P or 128 * n * r > _MAX_SCRYPT_MEM:
        raise _corrupt("kdfParams.r or kdfParams.p is out of range")
    if need_salt:
        if params.get("dkLen") != _DK_LEN or not _is_int(params.get("dkLen")):
            raise _corrupt("kdfParams.dkLen must be 32")
        if len(_unhex(params.get("salt"), "kdfParams.salt")) < _SALT_LEN:
            raise _corrupt("kdfParams.salt is too short")
        if set(params) != {"n", "r", "p", "dkLen", "salt"}:
            raise _corrupt("kdfParams has unexpected fields")
    return params


def _check_blob(blob: Any) -> bool:
    """Check the blob's shape; return True if encrypted, False if plaintext."""
    if not isinstance(blob, dict):
        raise _corrupt("not an object")
    if not _is_int(blob.get("version")) or blob["version"] != VERSION:
        raise _corrupt("unsupported version")
    kdf = blob.get("kdf", ...)
    if kdf is None:
        if not isinstance(blob.get("plaintext"), str):
            raise _corrupt("plaintext is missing")
        return False
    if kdf != KDF:
        raise _corrupt("unsupported kdf")
    if blob.get("cipher") != CIPHER:
        raise _corrupt("unsupported cipher")
    _check_params(blob.get("kdfParams"), need_salt=True)
    if len(_unhex(blob.get("nonce"), "nonce")) != _NONCE_LEN:
        raise _corrupt("nonce has the wrong length")
    if len(_unhex(blob.get("ciphertext"), "ciphertext")) < _TAG_LEN:
        raise _corrupt("ciphertext is too short")
    return True


def _derive_key(password: str, params: dict[str, Any]) -> bytes:
    n, r, p = params["n"], params["r"], params["p"]
    # OpenSSL needs about 128*r*(n+p+2) bytes; the default maxmem (32 MiB) is below 2**17 cost.
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(
        _password_bytes(password),
        salt=bytes.fromhex(params["salt"]),
        n=n,
        r=r,
        p=p,
        dklen=_DK_LEN,
        maxmem=maxmem,
    )


def _associated_data(blob: dict[str, Any]) -> bytes:
    # Canonical JSON of the header, so tampering with any KDF parameter fails authentication.
    header = {
        "version": blob["version"],
        "kdf": blob["kdf"],
        "kdfParams": blob["kdfParams"],
        "cipher": blob["cipher"],
    }
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


# --- public API -------------------------------------------------------------------------------
def plain(secret: str) -> dict[str, Any]:
    """The unencrypted form, stored when the user sets no password."""
    return {"version": VERSION, "kdf": None, "plaintext": secret}


def encrypt(secret: str, password: str, *, params: dict[str, int] | None = None) -> dict[str, Any]:
    """Encrypt ``secret`` under ``password`` (scrypt ``params``, default CURRENT_KDF_PARAMS)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: CLI start-up time

    if not isinstance(password, str) or not password.strip():
        raise EmptyPassword("The password must not be empty.")
    chosen = CURRENT_KDF_PARAMS if params is None else params
    _check_params(chosen, need_salt=False)
    kdf_params: dict[str, Any] = {
        "n": chosen["n"],
        "r": chosen["r"],
        "p": chosen["p"],
        "dkLen": _DK_LEN,
        "salt": os.urandom(_SALT_LEN).hex(),  # fresh salt: no two blobs share a key
    }
    blob: dict[str, Any] = {
        "version": VERSION,
        "kdf": KDF,
        "kdfParams": kdf_params,
        "cipher": CIPHER,
    }
    nonce = os.urandom(_NONCE_LEN)  # random nonce is safe: each key encrypts exactly once
    ciphertext = AESGCM(_derive_key(password, kdf_params)).encrypt(
        nonce, secret.encode("utf-8"), _associated_data(blob)
    )
    blob["nonce"] = nonce.hex()
    blob["ciphertext"] = ciphertext.hex()
    return blob


def decrypt(blob: dict[str, Any], password: str | None) -> str:
    """The secret in ``blob``. A plaintext blob ignores ``password``.

    Raises ``PasswordRequired`` (encrypted, no password), ``WrongPassword`` (authentication
    failed: wrong password or a modified blob) or ``StateCorrupt`` (malformed blob).
    """
    if not _check_blob(blob):
        return str(blob["plaintext"])
    if password is None:
        raise PasswordRequired("The wallet is encrypted; a password is required.")
    if not isinstance(password, str):
        raise WrongPassword("The password is wrong.")
    from cryptography.exceptions import InvalidTag  # lazy: CLI start-up time
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = _derive_key(password, blob["kdfParams"])
    try:
        data = AESGCM(key).decrypt(
            bytes.fromhex(blob["nonce"]),
            bytes.fromhex(blob["ciphertext"]),
            _associated_data(blob),
        )
    except InvalidTag:
        # GCM cannot tell a wrong password from a modified blob; both mean "not this key".
        raise WrongPassword("The password is wrong (or the vault was modified).") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _corrupt("the decrypted secret is not UTF-8") from None


def is_encrypted(blob: dict[str, Any]) -> bool:
    """True for a password-protected blob, False for a plaintext one; StateCorrupt otherwise."""
    return _check_blob(blob)


def needs_upgrade(blob: dict[str, Any]) -> bool:
    """True when an encrypted blob's scrypt n, r or p is below CURRENT_KDF_PARAMS."""
    if not _check_blob(blob):
        return False
    stored = blob["kdfParams"]
    return any(stored[k] < CURRENT_KDF_PARAMS[k] for k in ("n", "r", "p"))


def unlock(blob: dict[str, Any], password: str | None) -> tuple[str, dict[str, Any] | None]:
    """Decrypt, and when the blob's KDF is weaker than current, also re-encrypt it.

    Returns ``(secret, upgraded_blob_or_None)``; the caller persists the upgraded blob.
    """
    secret = decrypt(blob, password)
    if password is not None and needs_upgrade(blob):
        return secret, encrypt(secret, password)
    return secret, None


def set_password(blob: dict[str, Any], new_password: str, confirm: str) -> dict[str, Any]:
    """Encrypt a plaintext blob (``mm wallet password set``)."""
    if _check_blob(blob):
        raise AlreadyEncrypted("The wallet already has a password.")
    _check_new_password(new_password, confirm)
    return encrypt(blob["plaintext"], new_password)


def change_password(
    blob: dict[str, Any], old_password: str, new_password: str, confirm: str
) -> dict[str, Any]:
    """Re-encrypt under a new password (``mm wallet password change``)."""
    if not _check_blob(blob):
        raise NotEncrypted("The wallet has no password.")
    secret = decrypt(blob, old_password)
    _check_new_password(new_password, confirm)
    return encrypt(secret, new_password)


def remove_password(blob: dict[str, Any], old_password: str) -> dict[str, Any]:
    """Decrypt to the plaintext form (``mm wallet password remove``)."""
    if not _check_blob(blob):
        raise NotEncrypted("The wallet has no password.")
    return plain(decrypt(blob, old_password))
