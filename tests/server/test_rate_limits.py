"""Rate limits and wrong-code lockouts kept in the database (real service, real SQLite)."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select

from mm_agent.errors import InvalidConfigValue, RateLimited
from mm_agent.server.db.store import Store, accounts, rate_limits
from mm_agent.server.services import ratelimit, signin
from mm_agent.server.settings import Limit, RateLimits

from .conftest import Service


def _token(service: Service, email: str) -> str:
    return str(service.create_login(email)["token"].split(":")[0])


def test_limit_parsing_and_env() -> None:
    assert Limit.parse("10/h") == Limit(10, 3600)
    assert Limit.parse("6000/min") == Limit(6000, 60)
    assert Limit.parse("5/15min") == Limit(5, 900)
    assert not Limit.parse("off").enabled
    for bad in ("ten/h", "5/fortnight", "5", "1/0s"):
        with pytest.raises(InvalidConfigValue):
            Limit.parse(bad)
    limits = RateLimits.from_env({"MM_RATE_LIMIT_WALLET_CREATE": "2/min"})
    assert limits.wallet_create == Limit(2, 60) and limits.submit == Limit(6000, 60)


def test_counts_are_atomic_across_threads_and_stores(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'rl.sqlite'}"
    stores = [Store(url), Store(url)]  # two "replicas" on one database
    stores[0].migrate()
    limit = Limit(40, 3600)
    refused: list[int] = []

    def worker(i: int) -> None:
        for _ in range(10):
            try:
                ratelimit.hit(stores[i % 2], "submit", "acct", limit)
            except RateLimited:
                refused.append(1)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(refused) == 60 - 40
    with stores[0].read() as conn:
        assert conn.execute(select(rate_limits.c.count)).scalar() == 60
    for s in stores:
        s.dispose()


def test_wallet_creation_limit_answers_429_with_retry_hint(service_factory: Any) -> None:
    svc = service_factory(rate_limits=RateLimits(wallet_create=Limit(2, 3600)))
    token = _token(svc, "rl@example.com")
    with svc.client(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.post("/v1/wallets", json={}).status_code == 201
        assert c.post("/v1/wallets", json={}).status_code == 201
        r = c.post("/v1/wallets", json={})
        assert r.status_code == 429
        err = r.json()["error"]
        assert err["code"] == "RATE_LIMITED" and err["hint"]
        wait = err["details"]["retryAfterSeconds"]
        assert 0 < wait <= 3600 and r.headers["retry-after"] == str(wait)
    # Another account is not affected; the count lives in the database (a restarted service
    # on the same data dir still refuses).
    other = _token(svc, "other@example.com")
    with svc.client(headers={"Authorization": f"Bearer {other}"}) as c:
        assert c.post("/v1/wallets", json={}).status_code == 201
    svc.stop()
    again = service_factory(data_dir=svc.data_dir,
                            rate_limits=RateLimits(wallet_create=Limit(2, 3600)))
    with again.client(headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.post("/v1/wallets", json={}).status_code == 429


def test_submit_limit(service_factory: Any) -> None:
    svc = service_factory(rate_limits=RateLimits(submit=Limit(3, 60)))
    token = _token(svc, "sub@example.com")
    with svc.client(headers={"Authorization": f"Bearer {token}"}) as c:
        address = c.post("/v1/wallets", json={}).json()["data"]["address"]
        codes = [c.post(f"/v1/wallets/{address}/requests",
                        json={"kind": "message", "chainId": 31337, "message": "hi",
                              "dryRun": True}).status_code for _ in range(4)]
    assert codes[-1] == 429 and 429 not in codes[:3]


def test_signin_posts_limited_per_client_address(service_factory: Any) -> None:
    svc = service_factory(rate_limits=RateLimits(signin_ip=Limit(3, 900)))
    with svc.client() as c:
        codes = [c.post("/v1/auth/device", json={"method": "qr"}).status_code
                 for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def _pair(c: Any) -> tuple[str, str]:
    device = c.post("/v1/auth/device", json={"method": "qr"}).json()["data"]
    login_id = device["verificationUrl"].rsplit("/", 1)[1]
    html = c.get(f"/pair/{login_id}").text
    secret = html.split('id="totp-secret">')[1].split("<")[0]
    return login_id, secret


def test_pairing_attempts_never_lock_the_owners_approvals(service: Service) -> None:
    login = service.create_login("own@example.com", "authenticator")
    seed = parse_qs(urlparse(login["provisioningUri"]).query)["secret"][0]
    state = service.state
    with state.store.read() as conn:
        account_id = conn.execute(select(accounts.c.id)
                                  .where(accounts.c.email == "own@example.com")).scalar()
    # An attacker hammers pairing pages with the owner's email and wrong codes.
    with service.client() as c:
        for _ in range(4):
            login_id, _secret = _pair(c)
            for _ in range(5):
                c.post(f"/pair/{login_id}", data={"email": "own@example.com", "code": "000000"})
    # Sign-in to that account from pairing pages is now throttled ...
    assert state.store is not None
    with pytest.raises(RateLimited):
        ratelimit.check(state.store, "totp_signin", account_id,
                        state.settings.rate_limits.totp_signin)
    # ... but the owner's approvals are not locked: a right code still approves.
    assert not signin.otp_locked(state.store, account_id, "approval-1")
    assert signin.verify_totp(state.store, state.keys, account_id, pyotp.TOTP(seed).now(),
                              approval_id="approval-1")


def test_approval_lockout_is_per_approval(service: Service) -> None:
    login = service.create_login("per@example.com", "authenticator")
    seed = parse_qs(urlparse(login["provisioningUri"]).query)["secret"][0]
    state = service.state
    with state.store.read() as conn:
        account_id = conn.execute(select(accounts.c.id)
                                  .where(accounts.c.email == "per@example.com")).scalar()
    for _ in range(5):
        assert not signin.verify_totp(state.store, state.keys, account_id, "000000",
                                      approval_id="a1")
    assert signin.otp_locked(state.store, account_id, "a1")
    assert not signin.verify_totp(state.store, state.keys, account_id,
                                  pyotp.TOTP(seed).now(), approval_id="a1")
    # Another approval of the same account still works.
    assert not signin.otp_locked(state.store, account_id, "a2")
    later = pyotp.TOTP(seed).at(time.time() + 30)
    assert signin.verify_totp(state.store, state.keys, account_id, later, approval_id="a2")


def test_reject_attempts_never_count_as_wrong_codes(service: Service) -> None:
    service.create_login("rej@example.com", "authenticator")
    state = service.state
    with state.store.read() as conn:
        account_id = conn.execute(select(accounts.c.id)
                                  .where(accounts.c.email == "rej@example.com")).scalar()
    # What the approval page does for Reject: the code is checked but failures are not counted.
    for code in ("", "000000", "123456") * 4:
        assert not signin.verify_totp(state.store, state.keys, account_id, code,
                                      approval_id="r1", count_failure=False)
    assert not signin.otp_locked(state.store, account_id, "r1")
