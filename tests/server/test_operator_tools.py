"""Operator tools (`mm server admin …`): revoke tokens, freeze/unfreeze, rotate the master key,
backup and restore. Real service (uvicorn) and, where something is signed, a real anvil."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from helpers import run_mm
from sqlalchemy import select

from mm_agent.errors import (
    AccountNotFound,
    DataDirLocked,
    NotInitialized,
    StateCorrupt,
    StateError,
    UnsupportedInMode,
    WalletNotFound,
)
from mm_agent.local.state import Home
from mm_agent.server import admin
from mm_agent.server.datadir import lock_data_dir
from mm_agent.server.db.store import Store, wallets
from mm_agent.server.services.keys import load_wallet_key, read_key_file

from .test_approvals import BOB, flag_approve, post, setup_account, wait_for_links, wait_terminal
from .test_jobs import Api, prepare_service


def _sign(api: Api, address: str, text: str = "hello operator") -> dict[str, Any]:
    return api.wait(api.submit(address, {"kind": "message", "chainId": 31337,
                                         "message": text})["pollingId"])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _where(service: Any) -> list[str]:
    """The service's data dir (and database URL on PostgreSQL) as CLI flags."""
    url = service.settings.database_url
    return ["--data-dir", str(service.data_dir), *(["--database-url", url] if url else [])]


@pytest.fixture
def sqlite_service(service_factory: Any, tmp_path: Path) -> Any:
    """Backup, restore and the lock-guarded rotation are about the SQLite data dir."""
    return service_factory(data_dir=tmp_path / "sq", database_url=None)


# --- revoke -----------------------------------------------------------------------------------
def test_revoke_tokens_signs_the_agent_out(service: Any) -> None:
    login = service.create_login("rev@example.com")
    access, refresh = login["token"].split(":")
    api = Api(service.base_url, login["token"])
    assert api.call("GET", "/v1/wallets")[0] == 200

    out = admin.revoke_tokens(service.state.store, "REV@example.com")
    assert out["email"] == "rev@example.com" and out["revoked"]["cliTokens"] == 2

    status, body = api.call("GET", "/v1/wallets")
    assert status == 401 and body["error"]["code"] == "NOT_AUTHENTICATED"
    r = httpx.post(f"{service.base_url}/v1/auth/refresh", json={"refreshToken": refresh},
                   timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "NOT_AUTHENTICATED"
    # A new login works again; an unknown account is a clear error.
    assert Api(service.base_url, service.create_login("rev@example.com")["token"]).call(
        "GET", "/v1/wallets")[0] == 200
    with pytest.raises(AccountNotFound):
        admin.revoke_tokens(service.state.store, "nobody@example.com")
    assert access


def test_revoke_tokens_cli(service: Any, mm_home: Home) -> None:
    api = Api(service.base_url, service.create_login("cli@example.com")["token"])
    code, out, err = run_mm("server", "admin", "revoke-tokens", "--email", "cli@example.com",
                            *_where(service), "--json")
    assert code == 0, (out, err)
    assert out["data"]["revoked"]["cliTokens"] == 2
    assert api.call("GET", "/v1/wallets")[0] == 401


# --- freeze -----------------------------------------------------------------------------------
def test_freeze_refuses_submissions_and_unsigned_jobs(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "frz@example.com")
    store = service.state.store
    waiting = flag_approve(s)  # AWAITING_MFA, not signed
    ((_link, approval_id, secret),) = wait_for_links(service.outbox_messages, 1)
    nonce = int(chain.rpc("eth_getTransactionCount", [s.address, "latest"]), 16)

    out = admin.set_frozen(store, s.address.lower(), True, reason="incident  42")
    assert out["frozen"] and out["reason"] == "incident 42" and out["unsignedJobs"] == 1

    # Reads work and show the freeze; a new signing request is refused before anything runs.
    status, body = s.api.call("GET", f"/v1/wallets/{s.address}")
    assert status == 200 and body["data"]["frozen"] is True
    assert body["data"]["frozenReason"] == "incident 42"
    status, body = s.api.call("GET", "/v1/wallets")
    assert body["data"]["wallets"][0]["frozen"] is True
    status, body = s.api.call("POST", f"/v1/wallets/{s.address}/requests",
                              json={"kind": "message", "chainId": 31337, "message": "hi"})
    assert status == 409 and body["error"]["code"] == "WALLET_FROZEN", body
    assert "incident 42" in body["error"]["message"] and body["error"]["hint"]

    # The human approves after the freeze: nothing is signed, the job fails with the code.
    resp = post(service, approval_id, t=secret, decision="approve")
    assert resp.status_code == 200
    final = wait_terminal(s.api, waiting["pollingId"])
    assert final["status"] == "FAILED" and final["error"]["code"] == "WALLET_FROZEN", final
    assert not final.get("txHash")
    assert int(chain.rpc("eth_getTransactionCount", [s.address, "latest"]), 16) == nonce

    # Unfreeze: signing works again.
    out = admin.set_frozen(store, s.address, False)
    assert out == {"address": s.address, "owner": "frz@example.com", "frozen": False,
                   "wasFrozen": True}
    assert s.api.call("GET", f"/v1/wallets/{s.address}")[1]["data"]["frozen"] is False
    req = _sign(s.api, s.address)
    assert req["status"] == "COMPLETED", req
    req = s.api.wait(s.api.submit(s.address, {"kind": "transfer", "chainId": 31337,
                                              "to": BOB, "amount": "0.01"})["pollingId"])
    assert req["status"] in ("COMPLETED", "AWAITING_MFA"), req
    with pytest.raises(WalletNotFound):
        admin.set_frozen(store, "0x" + "12" * 20, True)


def test_freeze_fails_a_pending_job_at_signing(service: Any, chain: Any) -> None:
    """A job already queued when the freeze lands fails at the key unwrap, not after."""
    prepare_service(service, chain)
    api = Api(service.base_url, service.create_login("q@example.com")["token"])
    address = api.call("POST", "/v1/wallets", json={"name": "w"})[1]["data"]["address"]
    admin.set_frozen(service.state.store, address, True)
    # Straight into the pipeline, as a job queued before the freeze would be.
    with service.state.store.read() as conn:
        row = conn.execute(select(wallets).where(wallets.c.address == address)).one()
    with pytest.raises(Exception) as exc:
        load_wallet_key(service.state.keys, address, row.key_enc, row.data_key_wrapped)
    assert getattr(exc.value, "code", "") == "WALLET_FROZEN"
    # Finishing something signed before the freeze may still unwrap it.
    assert load_wallet_key(service.state.keys, address, row.key_enc, row.data_key_wrapped,
                           frozen_ok=True)


def test_freeze_cli(service: Any, mm_home: Home) -> None:
    api = Api(service.base_url, service.create_login("fc@example.com")["token"])
    address = api.call("POST", "/v1/wallets", json={"name": "w"})[1]["data"]["address"]
    code, out, err = run_mm("server", "admin", "freeze", "--address", address, "--reason",
                            "audit", *_where(service), "--json")
    assert code == 0 and out["data"]["frozen"] is True, (out, err)
    assert api.call("GET", f"/v1/wallets/{address}")[1]["data"]["frozen"] is True
    code, out, err = run_mm("server", "admin", "unfreeze", "--address", address,
                            *_where(service), "--json")
    assert code == 0 and out["data"]["frozen"] is False, (out, err)


# --- master key rotation ----------------------------------------------------------------------
def test_rotate_master_key(service_factory: Any, chain: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "rot"
    svc = service_factory(data_dir=data_dir, database_url=None)
    prepare_service(svc, chain)
    login = svc.create_login("rot@example.com", "authenticator")  # a TOTP seed to re-wrap
    api = Api(svc.base_url, login["token"])
    address = api.call("POST", "/v1/wallets", json={"name": "w"})[1]["data"]["address"]
    assert _sign(api, address)["status"] == "COMPLETED"
    svc.stop()
    old_text = (data_dir / "master.key").read_bytes()

    # Refused while a service holds the data dir (the SQLite lock of `mm server start`).
    fd = lock_data_dir(data_dir)
    try:
        with pytest.raises(DataDirLocked):
            admin.rotate_master_key(data_dir)
    finally:
        os.close(fd)
    assert (data_dir / "master.key").read_bytes() == old_text

    out = admin.rotate_master_key(data_dir)
    assert out["rotated"] and out["wallets"] == 1 and out["totpSeeds"] == 1
    old_file = Path(out["oldKeyFile"])
    assert old_file.name.startswith("master.key.old-") and old_file.read_bytes() == old_text
    assert _mode(old_file) == 0o600 and _mode(data_dir / "master.key") == 0o600
    assert (data_dir / "master.key").read_bytes() != old_text
    assert not (data_dir / "master.key.new").exists()

    # The old key alone no longer opens the wallet; the new one does.
    store = Store.for_data_dir(data_dir)
    try:
        with store.read() as conn:
            row = conn.execute(select(wallets)).one()
    finally:
        store.dispose()
    with pytest.raises(StateCorrupt):
        load_wallet_key(read_key_file(old_file), row.address, row.key_enc,
                        row.data_key_wrapped)
    load_wallet_key(read_key_file(data_dir / "master.key"), row.address, row.key_enc,
                    row.data_key_wrapped)

    # The service signs with the new key.
    svc2 = service_factory(data_dir=data_dir, database_url=None)
    api2 = Api(svc2.base_url, login["token"])
    req = _sign(api2, address, "after rotation")
    assert req["status"] == "COMPLETED", req
    assert Account.recover_message(encode_defunct(text="after rotation"),
                                   signature=req["signature"]) == address


def test_rotate_resumes_after_a_crash_after_commit(sqlite_service: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed between the commit and the file swap: the database is under the new key and
    master.key is still the old one; running the command again finishes the swap."""
    service = sqlite_service
    api = Api(service.base_url, service.create_login("crash@example.com")["token"])
    api.call("POST", "/v1/wallets", json={"name": "w"})
    service.stop()
    data_dir = service.data_dir
    old_text = (data_dir / "master.key").read_bytes()

    def crash(_data_dir: Path) -> Path:
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(admin, "_swap_key_files", crash)
    with pytest.raises(KeyboardInterrupt):
        admin.rotate_master_key(data_dir)
    monkeypatch.undo()
    assert (data_dir / "master.key").read_bytes() == old_text
    assert (data_dir / "master.key.new").exists()

    out = admin.rotate_master_key(data_dir)
    assert out["resumed"] and out["wallets"] == 1
    assert (data_dir / "master.key").read_bytes() != old_text
    assert Path(out["oldKeyFile"]).read_bytes() == old_text


def test_rotate_with_env_key_needs_the_new_key_given(sqlite_service: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    service = sqlite_service
    service.stop()
    old = read_key_file(service.data_dir / "master.key")
    monkeypatch.setenv("MM_SERVER_MASTER_KEY", old.key_text().decode().strip())
    monkeypatch.delenv("MM_SERVER_NEW_MASTER_KEY", raising=False)
    with pytest.raises(Exception) as exc:
        admin.rotate_master_key(service.data_dir)
    assert "MM_SERVER_NEW_MASTER_KEY" in str(exc.value)
    monkeypatch.setenv("MM_SERVER_NEW_MASTER_KEY", os.urandom(32).hex())
    out = admin.rotate_master_key(service.data_dir)
    assert out["keySource"] == "env" and "MM_SERVER_MASTER_KEY" in out["next"]
    assert not list(service.data_dir.glob("master.key.*"))  # the file form is untouched


# --- backup / restore -------------------------------------------------------------------------
def test_backup_restore_round_trip(service_factory: Any, chain: Any, tmp_path: Path) -> None:
    svc = service_factory(data_dir=tmp_path / "a", database_url=None)
    prepare_service(svc, chain)
    login = svc.create_login("bk@example.com")
    api = Api(svc.base_url, login["token"])
    address = api.call("POST", "/v1/wallets", json={"name": "w"})[1]["data"]["address"]
    job = _sign(api, address)
    assert job["status"] == "COMPLETED"

    out_file = tmp_path / "backups" / "mm-backup.sqlite"
    out_file.parent.mkdir()
    out = admin.backup(svc.data_dir, out_file)  # while the service runs
    assert out["masterKeyIncluded"] is False and "master key" in out["note"]
    assert out["wallets"] == 1 and out["jobs"] == 1 and _mode(out_file) == 0o600
    with pytest.raises(StateError):
        admin.backup(svc.data_dir, out_file)  # never overwritten
    svc.stop()

    target = tmp_path / "b"
    with pytest.raises(NotInitialized):  # no master key there yet
        admin.restore(target, out_file)
    target.mkdir(mode=0o700)
    (target / "master.key").write_bytes((svc.data_dir / "master.key").read_bytes())
    os.chmod(target / "master.key", 0o600)
    done = admin.restore(target, out_file)
    assert done["wallets"] == 1 and done["jobs"] == 1 and done["movedAside"] is None
    assert _mode(target / "mm.sqlite") == 0o600

    svc2 = service_factory(data_dir=target, database_url=None)
    prepare_service(svc2, chain)
    api2 = Api(svc2.base_url, login["token"])
    status, body = api2.call("GET", "/v1/requests")
    assert status == 200, body
    assert [r["pollingId"] for r in body["data"]["requests"]] == [job["pollingId"]]
    assert _sign(api2, address, "restored")["status"] == "COMPLETED"
    svc2.stop()

    # Over a database with data: refused without --force; with it, the old one is kept aside.
    with pytest.raises(StateError) as exc:
        admin.restore(target, out_file)
    assert "--force" in (exc.value.hint or "")
    done = admin.restore(target, out_file, force=True)
    assert done["movedAside"] and Path(done["movedAside"]).exists()
    assert done["jobs"] == 1


def test_restore_refuses_a_backup_of_another_master_key(sqlite_service: Any,
                                                        tmp_path: Path) -> None:
    service = sqlite_service
    Api(service.base_url, service.create_login("mk@example.com")["token"]).call(
        "POST", "/v1/wallets", json={"name": "w"})
    out_file = tmp_path / "b.sqlite"
    admin.backup(service.data_dir, out_file)
    service.stop()
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    (other / "master.key").write_text(os.urandom(32).hex() + "\n")
    os.chmod(other / "master.key", 0o600)
    with pytest.raises(StateCorrupt):
        admin.restore(other, out_file)
    assert not (other / "mm.sqlite").exists()
    assert not [p for p in other.iterdir() if p.name.endswith(".tmp")]


def test_backup_refuses_postgresql_naming_pg_dump(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedInMode) as exc:
        admin.backup(tmp_path, tmp_path / "x", "postgresql+psycopg://u@/db")
    assert "pg_dump" in (exc.value.hint or "")
    with pytest.raises(UnsupportedInMode) as exc:
        admin.restore(tmp_path, tmp_path / "x", database_url="postgresql+psycopg://u@/db")
    assert "pg_restore" in (exc.value.hint or "")
