"""Encryption at rest of the mnemonic (mm_agent.wallets.byok.vault).

Strong-KDF (scrypt n=2**17, ~0.3-0.7 s each) calls are kept to 8 in this file; everything
else runs on WEAK params.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mm_agent.errors import (
    AlreadyEncrypted,
    EmptyPassword,
    NotEncrypted,
    PasswordMismatch,
    PasswordRequired,
    StateCorrupt,
    WrongPassword,
)
from mm_agent.wallets.byok import vault

SECRET = "legal winner thank year wave sausage worth useful legal winner thank yellow"
PASSWORD = "correct horse battery staple"
WEAK = {"n": 2**14, "r": 8, "p": 1}


@pytest.fixture
def weak_blob() -> dict[str, Any]:
    return vault.encrypt(SECRET, PASSWORD, params=WEAK)


def _flip_hex(value: str) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[0] ^= 0x01
    return raw.hex()


def _assert_no_secret(exc: Exception, *secrets: str) -> None:
    for text in (str(exc), repr(exc)):
        for secret in secrets:
            assert secret not in text


# --- format and round trip --------------------------------------------------------------------
def test_round_trip_current_params() -> None:  # 2 strong calls
    blob = vault.encrypt(SECRET, PASSWORD)
    assert blob["version"] == 1
    assert blob["kdf"] == "scrypt"
    assert blob["cipher"] == "aes-256-gcm"
    params = blob["kdfParams"]
    assert (params["n"], params["r"], params["p"], params["dkLen"]) == (2**17, 8, 1, 32)
    assert len(bytes.fromhex(params["salt"])) == 16
    assert len(bytes.fromhex(blob["nonce"])) == 12
    assert SECRET not in str(blob)
    assert vault.is_encrypted(blob)
    assert not vault.needs_upgrade(blob)
    assert vault.decrypt(blob, PASSWORD) == SECRET


def test_fresh_salt_and_nonce_each_time() -> None:
    a = vault.encrypt(SECRET, PASSWORD, params=WEAK)
    b = vault.encrypt(SECRET, PASSWORD, params=WEAK)
    assert a["kdfParams"]["salt"] != b["kdfParams"]["salt"]
    assert a["nonce"] != b["nonce"]
    assert a["ciphertext"] != b["ciphertext"]


def test_weak_round_trip(weak_blob: dict[str, Any]) -> None:
    assert vault.decrypt(weak_blob, PASSWORD) == SECRET


def test_plain_blob() -> None:
    blob = vault.plain(SECRET)
    assert blob == {"version": 1, "kdf": None, "plaintext": SECRET}
    assert not vault.is_encrypted(blob)
    assert not vault.needs_upgrade(blob)
    assert vault.decrypt(blob, None) == SECRET
    assert vault.unlock(blob, None) == (SECRET, None)


def test_wrong_password(weak_blob: dict[str, Any]) -> None:
    with pytest.raises(WrongPassword) as info:
        vault.decrypt(weak_blob, "not the password")
    assert info.value.code == "WRONG_PASSWORD"
    _assert_no_secret(info.value, SECRET, PASSWORD, "not the password")


def test_password_required(weak_blob: dict[str, Any]) -> None:
    with pytest.raises(PasswordRequired) as info:
        vault.decrypt(weak_blob, None)
    assert info.value.code == "PASSWORD_REQUIRED"
    with pytest.raises(PasswordRequired):
        vault.unlock(weak_blob, None)


def test_encrypt_refuses_empty_password() -> None:
    with pytest.raises(EmptyPassword):
        vault.encrypt(SECRET, "", params=WEAK)


# --- tampering --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: b.update(ciphertext=_flip_hex(b["ciphertext"])), id="ciphertext"),
        pytest.param(lambda b: b.update(nonce=_flip_hex(b["nonce"])), id="nonce"),
        pytest.param(lambda b: b["kdfParams"].update(n=2**13), id="kdfParams.n"),
        pytest.param(lambda b: b["kdfParams"].update(r=4), id="kdfParams.r"),
        pytest.param(
            lambda b: b["kdfParams"].update(salt=_flip_hex(b["kdfParams"]["salt"])),
            id="kdfParams.salt",
        ),
    ],
)
def test_tampering_fails_authentication(weak_blob: dict[str, Any], tamper: Any) -> None:
    blob = copy.deepcopy(weak_blob)
    tamper(blob)
    with pytest.raises(WrongPassword):
        vault.decrypt(blob, PASSWORD)


def test_header_is_associated_data(
    weak_blob: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the key pinned, only the AES-GCM associated data can catch a header edit.
    monkeypatch.setattr(vault, "_derive_key", lambda password, params: b"\x00" * 32)
    blob = vault.encrypt(SECRET, PASSWORD, params=WEAK)
    assert vault.decrypt(blob, PASSWORD) == SECRET
    blob["kdfParams"]["n"] = 2**15
    with pytest.raises(WrongPassword):
        vault.decrypt(blob, PASSWORD)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: b.update(version=2), id="version"),
        pytest.param(lambda b: b.update(version=True), id="version-bool"),
        pytest.param(lambda b: b.update(kdf="pbkdf2"), id="kdf"),
        pytest.param(lambda b: b.update(cipher="aes-128-gcm"), id="cipher"),
        pytest.param(lambda b: b.pop("nonce"), id="no-nonce"),
        pytest.param(lambda b: b.update(nonce="zz"), id="bad-hex"),
        pytest.param(lambda b: b.update(nonce="00" * 8), id="short-nonce"),
        pytest.param(lambda b: b.update(ciphertext=""), id="short-ciphertext"),
        pytest.param(lambda b: b["kdfParams"].update(n=3), id="n-not-power-of-2"),
        pytest.param(lambda b: b["kdfParams"].update(n=2**30), id="n-too-big"),
        pytest.param(lambda b: b["kdfParams"].update(p=0), id="p-zero"),
        pytest.param(lambda b: b["kdfParams"].update(dkLen=16), id="dkLen"),
        pytest.param(lambda b: b["kdfParams"].update(salt="00"), id="short-salt"),
        pytest.param(lambda b: b["kdfParams"].pop("salt"), id="no-salt"),
        pytest.param(lambda b: b.update(kdfParams=[]), id="params-not-object"),
    ],
)
def test_malformed_blob_is_state_corrupt(weak_blob: dict[str, Any], tamper: Any) -> None:
    blob = copy.deepcopy(weak_blob)
    tamper(blob)
    with pytest.raises(StateCorrupt) as info:
        vault.decrypt(blob, PASSWORD)
    assert info.value.code == "STATE_CORRUPT"


@pytest.mark.parametrize(
    "blob",
    [
        None,
        "x",
        {},
        {"version": 1},
        {"version": 1, "kdf": None},
        {"version": 1, "kdf": None, "plaintext": 5},
    ],
)
def test_malformed_shapes(blob: Any) -> None:
    with pytest.raises(StateCorrupt):
        vault.is_encrypted(blob)


# --- KDF upgrade ------------------------------------------------------------------------------
def test_upgrade_from_weak_params(weak_blob: dict[str, Any]) -> None:  # 2 strong calls
    assert vault.needs_upgrade(weak_blob)
    secret, upgraded = vault.unlock(weak_blob, PASSWORD)
    assert secret == SECRET
    assert upgraded is not None
    assert upgraded["kdfParams"]["n"] == 2**17
    assert not vault.needs_upgrade(upgraded)
    assert vault.decrypt(upgraded, PASSWORD) == SECRET


def test_unlock_current_params_needs_no_upgrade(
    weak_blob: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vault, "CURRENT_KDF_PARAMS", dict(WEAK))
    assert not vault.needs_upgrade(weak_blob)
    assert vault.unlock(weak_blob, PASSWORD) == (SECRET, None)


# --- password rules ---------------------------------------------------------------------------
def test_password_lifecycle() -> None:  # 4 strong calls: set, change (decrypt+encrypt), remove
    encrypted = vault.set_password(vault.plain(SECRET), "first pw", "first pw")
    assert vault.is_encrypted(encrypted)
    assert encrypted["kdfParams"]["n"] == 2**17
    changed = vault.change_password(encrypted, "first pw", "second pw", "second pw")
    assert changed["kdfParams"]["salt"] != encrypted["kdfParams"]["salt"]
    assert vault.remove_password(changed, "second pw") == vault.plain(SECRET)


def test_remove_password_weak(weak_blob: dict[str, Any]) -> None:
    assert vault.remove_password(weak_blob, PASSWORD) == vault.plain(SECRET)


@pytest.mark.parametrize(
    ("new", "confirm", "error", "code"),
    [
        ("", "", EmptyPassword, "EMPTY_PASSWORD"),
        ("   ", "   ", EmptyPassword, "EMPTY_PASSWORD"),
        ("pw one", "pw two", PasswordMismatch, "PASSWORD_MISMATCH"),
    ],
)
def test_set_password_rules(new: str, confirm: str, error: type[Exception], code: str) -> None:
    with pytest.raises(error) as info:
        vault.set_password(vault.plain(SECRET), new, confirm)
    assert info.value.code == code  # type: ignore[attr-defined]
    _assert_no_secret(info.value, SECRET, "pw one", "pw two")


def test_set_password_already_encrypted(weak_blob: dict[str, Any]) -> None:
    with pytest.raises(AlreadyEncrypted) as info:
        vault.set_password(weak_blob, "new pw", "new pw")
    assert info.value.code == "ALREADY_ENCRYPTED"


def test_change_password_not_encrypted() -> None:
    with pytest.raises(NotEncrypted) as info:
        vault.change_password(vault.plain(SECRET), "old", "new pw", "new pw")
    assert info.value.code == "NOT_ENCRYPTED"


@pytest.mark.parametrize(
    ("old", "new", "confirm", "error", "code"),
    [
        ("wrong", "new pw", "new pw", WrongPassword, "WRONG_PASSWORD"),
        (PASSWORD, "", "", EmptyPassword, "EMPTY_PASSWORD"),
        (PASSWORD, "new pw", "new pw!", PasswordMismatch, "PASSWORD_MISMATCH"),
    ],
)
def test_change_password_rules(
    weak_blob: dict[str, Any],
    old: str,
    new: str,
    confirm: str,
    error: type[Exception],
    code: str,
) -> None:
    with pytest.raises(error) as info:
        vault.change_password(weak_blob, old, new, confirm)
    assert info.value.code == code  # type: ignore[attr-defined]
    _assert_no_secret(info.value, SECRET, PASSWORD, "new pw")


def test_remove_password_rules(weak_blob: dict[str, Any]) -> None:
    with pytest.raises(NotEncrypted) as not_enc:
        vault.remove_password(vault.plain(SECRET), PASSWORD)
    assert not_enc.value.code == "NOT_ENCRYPTED"
    with pytest.raises(WrongPassword) as wrong:
        vault.remove_password(weak_blob, "wrong")
    assert wrong.value.code == "WRONG_PASSWORD"
