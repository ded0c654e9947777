"""`mm server admin create-login` and `mm server start` through the real `mm` executable."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from helpers import free_port, mm_exe, run_mm, wait_http_ok
from sqlalchemy import select

from mm_agent.errors import InvalidEmail
from mm_agent.local.state import Home
from mm_agent.server import admin
from mm_agent.server.db.store import accounts
from mm_agent.server.services import signin

from .conftest import Service


def _status(service: Service, access: str) -> httpx.Response:
    return httpx.get(f"{service.base_url}/v1/auth/status",
                     headers={"Authorization": f"Bearer {access}"})


def test_create_login_cli_token_works(service: Service, mm_home: Home) -> None:
    code, out, err = run_mm("server", "admin", "create-login", "--email", "Ops@Example.com",
                            "--data-dir", str(service.data_dir), "--json")
    assert code == 0, (out, err)
    data = out["data"]
    assert data["email"] == "ops@example.com" and data["channel"] == "email"
    assert "provisioningUri" not in data
    access, refresh = data["token"].split(":")
    assert access.startswith("mma_") and refresh.startswith("mmr_")
    r = _status(service, access)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {**r.json()["data"], "email": "ops@example.com",
                                "channel": "email", "scope": "agent"}
    # The refresh half works too.
    r = httpx.post(f"{service.base_url}/v1/auth/refresh", json={"refreshToken": refresh})
    assert r.status_code == 200


def test_create_login_authenticator(service: Service, mm_home: Home) -> None:
    code, out, err = run_mm("server", "admin", "create-login", "--email", "bot@example.com",
                            "--channel", "authenticator", "--data-dir", str(service.data_dir),
                            "--json")
    assert code == 0, (out, err)
    data = out["data"]
    assert data["channel"] == "authenticator"
    uri = data["provisioningUri"]
    assert uri.startswith("otpauth://totp/mm-agent:bot@example.com?")
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    assert parse_qs(urlparse(uri).query)["issuer"] == ["mm-agent"]
    assert _status(service, data["token"].split(":")[0]).json()["data"]["channel"] == \
        "authenticator"
    state = service.state
    with state.store.read() as conn:
        acct = conn.execute(select(accounts).where(accounts.c.email == "bot@example.com")
                            ).first()
    assert secret.encode() not in acct.totp_secret_enc
    assert signin.verify_totp(state.store, state.keys, acct.id, pyotp.TOTP(secret).now())
    # Switching an existing account back to email keeps one account.
    again = service.create_login("bot@example.com", "email")
    assert again["channel"] == "email"
    with state.store.read() as conn:
        assert len(conn.execute(select(accounts).where(
            accounts.c.email == "bot@example.com")).all()) == 1


@pytest.mark.parametrize("email", ["nope", "a@b", "two words@example.com", ""])
def test_create_login_rejects_invalid_email(tmp_path: Path, mm_home: Home, email: str) -> None:
    code, out, _err = run_mm("server", "admin", "create-login", "--email", email,
                             "--data-dir", str(tmp_path / "srv"), "--json")
    assert code == 2
    assert out["error"]["code"] == "INVALID_EMAIL"
    with pytest.raises(InvalidEmail):
        admin.create_login(tmp_path / "srv", email)


def test_create_login_validates_flags(tmp_path: Path, mm_home: Home) -> None:
    code, out, _ = run_mm("server", "admin", "create-login", "--email", "a@example.com",
                          "--channel", "sms", "--data-dir", str(tmp_path), "--json")
    assert code == 2 and out["error"]["code"] == "INVALID_ARGUMENT"
    code, out, _ = run_mm("server", "admin", "create-login", "--data-dir", str(tmp_path),
                          "--json")
    assert code == 2 and out["error"]["code"] == "MISSING_FLAG"


def test_create_login_defaults_to_mm_home_server(mm_home: Home) -> None:
    code, out, err = run_mm("server", "admin", "create-login", "--email", "d@example.com",
                            "--json")
    assert code == 0, (out, err)
    assert (mm_home.root / "server" / "mm.sqlite").exists()
    assert (mm_home.root / "server" / "master.key").exists()


def test_server_start_runs_until_interrupted(tmp_path: Path, mm_home: Home) -> None:
    port = free_port()
    data_dir = tmp_path / "srv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_SMTP_",
                                                                  "MM_SERVER_MASTER"))}
    proc = subprocess.Popen([mm_exe(), "server", "start", "--port", str(port), "--data-dir",
                             str(data_dir), "--dev", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        r = wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=20, proc=proc)
        assert r.json()["data"]["status"] == "ok"
        r = httpx.post(f"http://127.0.0.1:{port}/v1/auth/device", json={"method": "browser"})
        assert r.json()["data"]["verificationUrl"].startswith(f"http://127.0.0.1:{port}/login/")
        assert (data_dir / "master.key").stat().st_mode & 0o077 == 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "mma_" not in err and "mmd_" not in err
