"""Tokens: issue, verify, expiry, rotation, reuse detection, logout, scopes."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select

from mm_agent.errors import Forbidden, NotAuthenticated
from mm_agent.server.db.store import Store, accounts, now, sha256, tokens
from mm_agent.server.services import auth
from mm_agent.server.settings import ServerSettings

from .conftest import Service


@pytest.fixture
def db(tmp_path: Path) -> tuple[Store, ServerSettings, str]:
    store = Store.for_data_dir(tmp_path)
    store.migrate()
    account_id = uuid.uuid4().hex
    with store.tx() as conn:
        conn.execute(insert(accounts).values(id=account_id, email="ann@example.com",
                                             channel="email", created_at=now()))
    yield store, ServerSettings(data_dir=tmp_path), account_id
    store.dispose()


def test_issue_and_authenticate(db: tuple[Store, ServerSettings, str]) -> None:
    store, settings, account_id = db
    pair = auth.issue_tokens(store, settings, account_id, "agent")
    assert pair["accessToken"].startswith("mma_") and pair["refreshToken"].startswith("mmr_")
    assert pair["expiresIn"] == settings.access_token_seconds
    assert (pair["email"], pair["channel"]) == ("ann@example.com", "email")
    p = auth.authenticate(store, pair["accessToken"])
    assert (p.account_id, p.email, p.channel, p.scope) == (account_id, "ann@example.com",
                                                           "email", "agent")
    # Only hashes are stored.
    with store.read() as conn:
        rows = conn.execute(select(tokens)).all()
    assert {r.token_hash for r in rows} == {sha256(pair["accessToken"]),
                                           sha256(pair["refreshToken"])}
    assert all(pair["accessToken"] not in str(tuple(r)) for r in rows)
    # A refresh token is not an access token, and unknown tokens fail.
    for bad in (pair["refreshToken"], "mma_nope", ""):
        with pytest.raises(NotAuthenticated):
            auth.authenticate(store, bad)


def test_expired_access_token(db: tuple[Store, ServerSettings, str], tmp_path: Path) -> None:
    store, _settings, account_id = db
    short = ServerSettings(data_dir=tmp_path, access_token_seconds=0)
    pair = auth.issue_tokens(store, short, account_id, "agent")
    with pytest.raises(NotAuthenticated, match="expired"):
        auth.authenticate(store, pair["accessToken"])


def test_refresh_rotates_and_reuse_revokes_family(db: tuple[Store, ServerSettings, str]) -> None:
    store, settings, account_id = db
    first = auth.issue_tokens(store, settings, account_id, "agent")
    second = auth.refresh(store, settings, first["refreshToken"])
    assert second["refreshToken"] != first["refreshToken"]
    p2 = auth.authenticate(store, second["accessToken"])
    assert p2.family == auth.authenticate(store, first["accessToken"]).family
    assert p2.scope == "agent"
    third = auth.refresh(store, settings, second["refreshToken"])
    auth.authenticate(store, third["accessToken"])
    # Replaying a rotated refresh token: theft. Everything in the family dies.
    with pytest.raises(NotAuthenticated, match="already used"):
        auth.refresh(store, settings, first["refreshToken"])
    for token in (first["accessToken"], second["accessToken"], third["accessToken"]):
        with pytest.raises(NotAuthenticated):
            auth.authenticate(store, token)
    with pytest.raises(NotAuthenticated):
        auth.refresh(store, settings, third["refreshToken"])
    # Another sign-in (another family) is untouched.
    other = auth.issue_tokens(store, settings, account_id, "agent")
    auth.authenticate(store, other["accessToken"])


def test_expired_or_unknown_refresh(db: tuple[Store, ServerSettings, str],
                                    tmp_path: Path) -> None:
    store, _settings, account_id = db
    short = ServerSettings(data_dir=tmp_path, refresh_token_seconds=0)
    pair = auth.issue_tokens(store, short, account_id, "agent")
    with pytest.raises(NotAuthenticated, match="expired"):
        auth.refresh(store, short, pair["refreshToken"])
    with pytest.raises(NotAuthenticated):
        auth.refresh(store, short, "mmr_unknown")


def test_revoke_family(db: tuple[Store, ServerSettings, str]) -> None:
    store, settings, account_id = db
    pair = auth.issue_tokens(store, settings, account_id, "agent")
    p = auth.authenticate(store, pair["accessToken"])
    assert auth.revoke_family(store, p.family) == 2
    with pytest.raises(NotAuthenticated):
        auth.authenticate(store, pair["accessToken"])
    with pytest.raises(NotAuthenticated):
        auth.refresh(store, settings, pair["refreshToken"])


def test_require_human(db: tuple[Store, ServerSettings, str]) -> None:
    store, settings, account_id = db
    agent = auth.authenticate(store, auth.issue_tokens(store, settings, account_id,
                                                       "agent")["accessToken"])
    with pytest.raises(Forbidden):
        auth.require_human(agent)
    human = auth.authenticate(store, auth.issue_tokens(store, settings, account_id,
                                                       "human")["accessToken"])
    assert auth.require_human(human) is human
    with pytest.raises(ValueError):
        auth.issue_tokens(store, settings, account_id, "root")


# --- over HTTP --------------------------------------------------------------------------------
def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_http_status_refresh_logout(service: Service) -> None:
    login = service.create_login("bob@example.com")
    access, refresh = login["token"].split(":")
    with service.client() as c:
        r = c.get("/v1/auth/status", headers=_bearer(access))
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["email"] == "bob@example.com" and data["channel"] == "email"
        assert data["scope"] == "agent" and data["expiresAt"].endswith("Z")

        r = c.post("/v1/auth/refresh", json={"refreshToken": refresh})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        new = r.json()["data"]
        assert set(new) == {"accessToken", "refreshToken", "expiresIn", "email", "channel"}
        assert c.get("/v1/auth/status", headers=_bearer(new["accessToken"])).status_code == 200

        r = c.post("/v1/auth/logout", headers=_bearer(new["accessToken"]))
        assert r.json() == {"ok": True, "data": {"loggedOut": True}}
        r = c.get("/v1/auth/status", headers=_bearer(new["accessToken"]))
        assert r.status_code == 401 and r.json()["error"]["code"] == "NOT_AUTHENTICATED"
        r = c.post("/v1/auth/refresh", json={"refreshToken": new["refreshToken"]})
        assert r.status_code == 401


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"},
                                     {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer mma_forged"}])
def test_http_rejects_missing_or_bad_tokens(service: Service, headers: dict[str, str]) -> None:
    r = httpx.get(f"{service.base_url}/v1/auth/status", headers=headers)
    assert r.status_code == 401
    assert r.json()["ok"] is False and r.json()["error"]["code"] == "NOT_AUTHENTICATED"


def test_http_refresh_validation(service: Service) -> None:
    r = httpx.post(f"{service.base_url}/v1/auth/refresh", json={})
    assert r.status_code == 400 and r.json()["error"]["code"] == "MISSING_FLAG"
