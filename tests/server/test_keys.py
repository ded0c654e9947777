"""Master key loading and the envelope encryption of wallet keys and TOTP seeds."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from mm_agent.errors import InvalidConfigValue, StateCorrupt, StatePermissions
from mm_agent.server.services.keys import (
    ENV_VAR,
    KEY_FILE,
    MasterKey,
    load_wallet_key,
    new_wallet_key,
    unwrap_totp_secret,
    wrap_totp_secret,
)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_wrap_round_trip_and_fresh_nonces(tmp_path: Path) -> None:
    key = MasterKey.load(tmp_path)
    blob = key.wrap(b"secret data", b"aad")
    assert key.unwrap(blob, b"aad") == b"secret data"
    assert blob[0] == 1 and b"secret data" not in blob
    assert key.wrap(b"secret data", b"aad") != blob  # random nonce each time


def test_tampering_or_wrong_aad_fails(tmp_path: Path) -> None:
    key = MasterKey.load(tmp_path)
    blob = bytearray(key.wrap(b"secret data", b"aad"))
    with pytest.raises(StateCorrupt):
        key.unwrap(blob, b"other aad")
    blob[-1] ^= 1
    with pytest.raises(StateCorrupt):
        key.unwrap(bytes(blob), b"aad")
    with pytest.raises(StateCorrupt):
        key.unwrap(b"\x02" + bytes(blob[1:]), b"aad")  # unknown version
    with pytest.raises(StateCorrupt):
        MasterKey.generate().unwrap(key.wrap(b"x", b"aad"), b"aad")


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    first = MasterKey.load(data_dir)
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) & 0o077 == 0
    assert first.source == "file"
    assert not [p for p in data_dir.iterdir() if p.name.endswith(".tmp")]
    second = MasterKey.load(data_dir)
    assert second.unwrap(first.wrap(b"x", b"a"), b"a") == b"x"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    MasterKey.load(tmp_path)
    os.chmod(tmp_path / KEY_FILE, mode)
    with pytest.raises(StatePermissions):
        MasterKey.load(tmp_path)


def test_corrupt_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("not hex")
    os.chmod(path, 0o600)
    with pytest.raises(StateCorrupt):
        MasterKey.load(tmp_path)


def test_env_key_hex_and_base64(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = os.urandom(32)
    monkeypatch.setenv(ENV_VAR, raw.hex())
    from_hex = MasterKey.load(tmp_path)
    assert from_hex.source == "env"
    assert not (tmp_path / KEY_FILE).exists()  # the env key wins; no file is written
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
                    base64.b64encode(raw).decode().rstrip("=")):
        monkeypatch.setenv(ENV_VAR, encoded)
        other = MasterKey.load(tmp_path)
        assert other.unwrap(from_hex.wrap(b"x", b"a"), b"a") == b"x"


def test_bad_env_key_is_refused_without_echo(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "abcd" * 4)  # 8 bytes
    with pytest.raises(InvalidConfigValue) as exc:
        MasterKey.load(tmp_path)
    assert "abcd" not in str(exc.value) and "abcd" not in repr(exc.value)


def test_repr_never_shows_key_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = os.urandom(32)
    monkeypatch.setenv(ENV_VAR, raw.hex())
    key = MasterKey.load(tmp_path)
    for text in (repr(key), str(key), f"{key}", repr(vars(type(key)))):
        assert raw.hex() not in text and str(raw) not in text
    assert not hasattr(key, "__dict__")
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_wallet_key_round_trip(tmp_path: Path) -> None:
    from eth_keys import keys

    master = MasterKey.load(tmp_path)
    address, key_enc, wrapped = new_wallet_key(master)
    assert address.startswith("0x") and len(address) == 42 and address != address.lower()
    private = load_wallet_key(master, address, key_enc, wrapped)
    assert len(private) == 32
    assert keys.PrivateKey(private).public_key.to_checksum_address() == address
    assert private not in key_enc and private not in wrapped
    # Any spelling of the address works (the AAD is lower-cased).
    assert load_wallet_key(master, address.lower(), key_enc, wrapped) == private
    # Fresh key every time.
    assert new_wallet_key(master)[0] != address


def test_wallet_key_bound_to_address_and_master(tmp_path: Path) -> None:
    master = MasterKey.load(tmp_path)
    address, key_enc, wrapped = new_wallet_key(master)
    other_address, other_enc, other_wrapped = new_wallet_key(master)
    with pytest.raises(StateCorrupt):
        load_wallet_key(master, other_address, key_enc, wrapped)  # swapped rows
    with pytest.raises(StateCorrupt):
        load_wallet_key(master, address, other_enc, wrapped)
    with pytest.raises(StateCorrupt):
        load_wallet_key(MasterKey.generate(), address, key_enc, wrapped)
    tampered = bytearray(key_enc)
    tampered[20] ^= 0x40
    with pytest.raises(StateCorrupt):
        load_wallet_key(master, address, bytes(tampered), wrapped)
    assert other_wrapped != wrapped


def test_totp_seed_wrapping_is_bound_to_owner(tmp_path: Path) -> None:
    master = MasterKey.load(tmp_path)
    blob = wrap_totp_secret(master, "account:a", "JBSWY3DPEHPK3PXP")
    assert b"JBSWY3DPEHPK3PXP" not in blob
    assert unwrap_totp_secret(master, "account:a", blob) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(StateCorrupt):
        unwrap_totp_secret(master, "account:b", blob)
