"""Device sign-in end to end over real HTTP: magic link (browser) and authenticator (qr)."""

from __future__ import annotations

import logging
import re
import stat
import time
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from sqlalchemy import inspect, select, text, update

from mm_agent.server.db.store import accounts, device_logins
from mm_agent.server.services import signin
from mm_agent.server.services.mailer import Mailer
from mm_agent.server.settings import ServerSettings, SmtpSettings

from .conftest import Service, SmtpSink


# --- helpers ----------------------------------------------------------------------------------
def start(c: httpx.Client, method: str) -> dict[str, Any]:
    r = c.post("/v1/auth/device", json={"method": method})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"deviceCode", "verificationUrl", "expiresIn", "interval"}
    return data


def page_path(device: dict[str, Any]) -> str:
    return urlparse(device["verificationUrl"]).path


def exchange(c: httpx.Client, device: dict[str, Any]) -> httpx.Response:
    return c.post("/v1/auth/device/token", json={"deviceCode": device["deviceCode"]})


def body_of(msg: Message) -> str:
    return str(msg.get_body(("plain",)).get_content())  # type: ignore[attr-defined]


def link_in(msg: Message) -> str:
    found = re.search(r"(http://\S+/login/verify\?t=\S+)", body_of(msg))
    assert found, body_of(msg)
    return found.group(1)


def confirm_link(c: httpx.Client, link: str) -> httpx.Response:
    """What a person does with the mailed link: open it, then press Confirm."""
    shown = c.get(link)
    if shown.status_code != 200:
        return shown
    assert "Confirm sign-in" in shown.text
    return c.post("/login/verify", data={"t": link.split("t=", 1)[1]})


def totp_secret_in(html: str) -> str:
    found = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html)
    assert found, html
    return found.group(1)


def browser_login(service: Service, c: httpx.Client, email: str) -> tuple[dict[str, Any], str]:
    device = start(c, "browser")
    r = c.post(page_path(device), data={"email": email})
    assert r.status_code == 200, r.text
    return device, link_in(service.outbox_messages()[-1])


# --- browser ----------------------------------------------------------------------------------
def test_browser_flow_end_to_end(service: Service) -> None:
    with service.client() as c:
        device = start(c, "browser")
        assert device["verificationUrl"].startswith(f"{service.base_url}/login/")
        assert device["deviceCode"] not in device["verificationUrl"]
        assert device["expiresIn"] == service.settings.device_login_seconds

        r = exchange(c, device)
        assert r.status_code == 428 and r.json()["error"]["code"] == "AUTHORIZATION_PENDING"

        form = c.get(page_path(device))
        assert form.status_code == 200 and 'name="email"' in form.text
        assert 'name="viewport"' in form.text and "<script" not in form.text
        assert form.headers["x-frame-options"] == "DENY"

        r = c.post(page_path(device), data={"email": " Carol@Example.com "})
        assert r.status_code == 200 and "carol@example.com" in r.text
        assert exchange(c, device).status_code == 428  # mail sent, not clicked yet

        [msg] = service.outbox_messages()
        assert msg["To"] == "carol@example.com" and "sign-in" in msg["Subject"]
        link = link_in(msg)
        assert link.startswith(f"{service.base_url}/login/verify?t=")

        assert exchange(c, device).status_code == 428  # opening the link alone signs nobody in
        r = confirm_link(c, link)
        assert r.status_code == 200 and "Signed in as" in r.text and "carol@example.com" in r.text

        r = exchange(c, device)
        assert r.status_code == 200, r.text
        tokens = r.json()["data"]
        assert tokens["email"] == "carol@example.com" and tokens["channel"] == "email"
        status = c.get("/v1/auth/status",
                       headers={"Authorization": f"Bearer {tokens['accessToken']}"})
        assert status.json()["data"]["scope"] == "agent"

        # Single use: the device code and the link are spent.
        r = exchange(c, device)
        assert r.status_code == 409 and r.json()["error"]["code"] == "ALREADY_USED"
        r = c.get(link)
        assert r.status_code == 409 and "already used" in r.text
        r = c.get(page_path(device))
        assert "already complete" in r.text


def test_new_link_replaces_old_and_unknown_links(service: Service) -> None:
    with service.client() as c:
        device, first = browser_login(service, c, "dan@example.com")
        c.post(page_path(device), data={"email": "dan@example.com"})
        second = link_in(service.outbox_messages()[-1])
        assert first != second
        r = c.get(first)
        assert r.status_code == 404 and "not valid" in r.text
        assert exchange(c, device).status_code == 428
        assert confirm_link(c, second).status_code == 200
        assert exchange(c, device).status_code == 200
        assert c.get("/login/verify?t=nothing").status_code == 404
        assert c.get("/login/verify").status_code == 404


def test_expired_device_login(service: Service) -> None:
    with service.client() as c:
        device, link = browser_login(service, c, "erin@example.com")
        with service.state.store.tx() as conn:
            conn.execute(update(device_logins).values(expires_at=time.time() - 1))
        r = c.get(link)
        assert r.status_code == 410 and "expired" in r.text
        r = exchange(c, device)
        assert r.status_code == 410 and r.json()["error"]["code"] == "EXPIRED"
        r = c.get(page_path(device))
        assert r.status_code == 410 and "expired" in r.text
        r = c.post(page_path(device), data={"email": "erin@example.com"})
        assert r.status_code == 410
        assert len(service.outbox_messages()) == 1  # no new mail for an expired login


def test_browser_form_errors(service: Service) -> None:
    with service.client() as c:
        device = start(c, "browser")
        r = c.post(page_path(device), data={"email": "not-an-email<script>"})
        assert r.status_code == 400 and "not a valid email" in r.text
        assert "<script>" not in r.text and "&lt;script&gt;" in r.text  # escaped
        assert service.outbox_messages() == []
        assert c.get("/login/doesnotexist").status_code == 404
        # A qr login has no email page, and vice versa.
        qr = start(c, "qr")
        assert c.get(page_path(qr).replace("/pair/", "/login/")).status_code == 404
        assert c.get(page_path(device).replace("/login/", "/pair/")).status_code == 404
        r = c.post("/v1/auth/device", json={"method": "carrier-pigeon"})
        assert r.status_code == 400
        r = c.post("/v1/auth/device/token", json={"deviceCode": "mmd_unknown"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "LOGIN_NOT_FOUND"


def test_existing_account_keeps_its_channel(service: Service) -> None:
    service.create_login("fay@example.com", "authenticator")
    with service.client() as c:
        device, link = browser_login(service, c, "fay@example.com")
        confirm_link(c, link)
        tokens = exchange(c, device).json()["data"]
        assert tokens["channel"] == "authenticator"


# --- qr ---------------------------------------------------------------------------------------
def pair_page(c: httpx.Client, device: dict[str, Any], **params: str) -> tuple[str, str]:
    r = c.get(page_path(device), params=params)
    assert r.status_code == 200, r.text
    return r.text, totp_secret_in(r.text)


def test_qr_flow_end_to_end(service: Service) -> None:
    with service.client() as c:
        device = start(c, "qr")
        assert device["verificationUrl"].startswith(f"{service.base_url}/pair/")
        html, secret = pair_page(c, device)
        assert "<svg" in html and 'name="code"' in html and 'name="email"' in html
        assert "<script" not in html
        # The same seed on every view, whatever the label.
        html2, secret2 = pair_page(c, device, email="gil@example.com")
        assert secret2 == secret and "gil@example.com" in html2
        uri = signin.provisioning_uri(secret, "gil@example.com")
        assert uri.startswith("otpauth://totp/mm-agent:gil@example.com?")
        assert parse_qs(urlparse(uri).query) == {"secret": [secret], "issuer": ["mm-agent"]}
        assert exchange(c, device).status_code == 428

        totp = pyotp.TOTP(secret)
        r = c.post(page_path(device), data={"email": "gil@example.com", "code": "000000"
                                            if totp.now() != "000000" else "111111"})
        assert r.status_code == 400 and "Wrong or expired code" in r.text
        assert totp_secret_in(r.text) == secret  # the form comes back with the same QR

        code = totp.now()
        r = c.post(page_path(device), data={"email": "gil@example.com", "code": code})
        assert r.status_code == 200 and "Authenticator paired" in r.text, r.text
        r = exchange(c, device)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["channel"] == "authenticator"
        assert exchange(c, device).status_code == 409

        with service.state.store.read() as conn:
            acct = conn.execute(select(accounts).where(accounts.c.email == "gil@example.com")
                                ).first()
        assert acct.channel == "authenticator" and secret.encode() not in acct.totp_secret_enc
        state = service.state
        # The used code is refused everywhere after: approvals (verify_totp) and new pairings.
        assert not signin.verify_totp(state.store, state.keys, acct.id, code)
        again = start(c, "qr")
        pair_page(c, again)
        r = c.post(page_path(again), data={"email": "gil@example.com", "code": code})
        assert r.status_code == 400 and "already used" in r.text
        assert exchange(c, again).status_code == 428
        # The next time step's code is fresh: a paired account signs in with its own app.
        later = totp.at(time.time() + totp.interval)
        r = c.post(page_path(again), data={"email": "gil@example.com", "code": later})
        assert r.status_code == 200, r.text
        assert exchange(c, again).status_code == 200
        # ... and then that code cannot approve anything either.
        assert not signin.verify_totp(state.store, state.keys, acct.id, later)


def test_verify_totp(service: Service) -> None:
    login = service.create_login("hal@example.com", "authenticator")
    secret = parse_qs(urlparse(login["provisioningUri"]).query)["secret"][0]
    state = service.state
    with state.store.read() as conn:
        account_id = conn.execute(select(accounts.c.id)
                                  .where(accounts.c.email == "hal@example.com")).scalar()
    totp = pyotp.TOTP(secret)
    code = totp.now()
    assert signin.verify_totp(state.store, state.keys, account_id, code)
    assert not signin.verify_totp(state.store, state.keys, account_id, code)  # replay
    # An older step after a newer one was used is stale.
    assert not signin.verify_totp(state.store, state.keys, account_id,
                                  totp.at(time.time() - totp.interval))
    assert not signin.verify_totp(state.store, state.keys, account_id, "12345")
    assert not signin.verify_totp(state.store, state.keys, "no-such-account", code)
    # An email-channel account has no authenticator.
    service.create_login("ivy@example.com", "email")
    with state.store.read() as conn:
        ivy = conn.execute(select(accounts.c.id)
                           .where(accounts.c.email == "ivy@example.com")).scalar()
    assert not signin.verify_totp(state.store, state.keys, ivy, code)
    # Repeated wrong codes lock the account for a while, even against a right code.
    assert not signin.otp_locked(state.store, account_id)
    for _ in range(3):
        signin.verify_totp(state.store, state.keys, account_id, "000000")
    assert signin.otp_locked(state.store, account_id)
    assert not signin.verify_totp(state.store, state.keys, account_id,
                                  totp.at(time.time() + totp.interval))


def test_pairing_existing_email_account_needs_mail_confirmation(service: Service) -> None:
    service.create_login("jo@example.com", "email")
    with service.client() as c:
        device = start(c, "qr")
        _html, secret = pair_page(c, device)
        r = c.post(page_path(device), data={"email": "jo@example.com",
                                            "code": pyotp.TOTP(secret).now()})
        assert r.status_code == 200 and "Confirm by email" in r.text
        assert exchange(c, device).status_code == 428  # not before the owner confirms
        [msg] = service.outbox_messages()
        assert msg["To"] == "jo@example.com" and "authenticator" in msg["Subject"]
        r = confirm_link(c, link_in(msg))
        assert r.status_code == 200 and "authenticator app is now" in r.text
        tokens = exchange(c, device).json()["data"]
        assert tokens["channel"] == "authenticator"
    with service.state.store.read() as conn:
        acct_id = conn.execute(select(accounts.c.id)
                               .where(accounts.c.email == "jo@example.com")).scalar()
    later = pyotp.TOTP(secret).at(time.time() + 30)
    assert signin.verify_totp(service.state.store, service.state.keys, acct_id, later)


def test_wrong_codes_are_throttled(service: Service) -> None:
    with service.client() as c:
        device = start(c, "qr")
        _html, secret = pair_page(c, device)
        good = pyotp.TOTP(secret).now()
        wrong = f"{(int(good) + 500_000) % 1_000_000:06d}"
        for _ in range(5):
            r = c.post(page_path(device), data={"email": "kim@example.com", "code": wrong})
            assert r.status_code == 400
        r = c.post(page_path(device), data={"email": "kim@example.com", "code": good})
        assert r.status_code == 410 and "Too many" in r.text
        assert exchange(c, device).status_code == 410


def test_pair_errors(service: Service) -> None:
    with service.client() as c:
        device = start(c, "qr")
        # Posting before the page was shown: there is no seed yet.
        r = c.post(page_path(device), data={"email": "lee@example.com", "code": "123456"})
        assert r.status_code == 400
        _html, secret = pair_page(c, device)
        r = c.post(page_path(device), data={"email": "nope", "code": pyotp.TOTP(secret).now()})
        assert r.status_code == 400 and "not a valid email" in r.text
        assert c.get("/pair/unknown").status_code == 404


# --- mail delivery ----------------------------------------------------------------------------
def test_outbox_files(service: Service) -> None:
    with service.client() as c:
        browser_login(service, c, "max@example.com")
    outbox = service.settings.outbox
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    [path] = list(outbox.iterdir())
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{32}\.eml", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    msg = service.outbox_messages()[0]
    assert msg["From"] and msg["Date"] and msg["Message-ID"]
    assert msg.get_body(("html",)) is not None  # type: ignore[attr-defined]


def test_smtp_delivery(service_factory: Any, smtp_server: SmtpSink) -> None:
    smtp = SmtpSettings(host=smtp_server.host, port=smtp_server.port, starttls=False,
                        sender="Wallet <wallet@example.org>")
    service = service_factory(dev=False, smtp=smtp)
    smtp_server.fail_next = 1  # a transient 451 is retried
    with service.client() as c:
        device = start(c, "browser")
        r = c.post(page_path(device), data={"email": "ned@example.com"})
        assert r.status_code == 200, r.text
        [msg] = smtp_server.messages
        assert smtp_server.envelopes == [("wallet@example.org", ["ned@example.com"])]
        assert msg["From"] == "Wallet <wallet@example.org>"
        assert confirm_link(c, link_in(msg)).status_code == 200
        assert exchange(c, device).status_code == 200
    assert service.outbox_messages() == []


def test_smtp_permanent_failure_is_reported(tmp_path: Any, smtp_server: SmtpSink) -> None:
    from mm_agent.errors import ServiceError

    smtp_server.fail_next = 5  # more than the retries
    settings = ServerSettings(data_dir=tmp_path, smtp=SmtpSettings(
        host=smtp_server.host, port=smtp_server.port, starttls=False))
    with pytest.raises(ServiceError) as exc:
        Mailer(settings).send("x@example.com", "Subject", "body with https://secret-link")
    assert "secret-link" not in str(exc.value)
    assert smtp_server.messages == []


# --- no secret in logs or database -------------------------------------------------------------
def test_no_secrets_in_logs_or_database(service: Service,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_seen: list[str] = []
    with service.client() as c:
        device, link = browser_login(service, c, "olga@example.com")
        confirm_link(c, link)
        tokens = exchange(c, device).json()["data"]
        secrets_seen += [device["deviceCode"], parse_qs(urlparse(link).query)["t"][0],
                         tokens["accessToken"], tokens["refreshToken"]]
        refreshed = c.post("/v1/auth/refresh",
                           json={"refreshToken": tokens["refreshToken"]}).json()["data"]
        secrets_seen += [refreshed["accessToken"], refreshed["refreshToken"]]

        qr = start(c, "qr")
        _html, seed = pair_page(c, qr)
        c.post(page_path(qr), data={"email": "pat@example.com", "code": pyotp.TOTP(seed).now()})
        qr_tokens = exchange(c, qr).json()["data"]
        secrets_seen += [qr["deviceCode"], seed, qr_tokens["accessToken"],
                         qr_tokens["refreshToken"]]
    admin = service.create_login("quinn@example.com", "authenticator")
    admin_seed = parse_qs(urlparse(admin["provisioningUri"]).query)["secret"][0]
    secrets_seen += [*admin["token"].split(":"), admin_seed]

    # The service's records (the test's own HTTP client logs the URLs it fetches).
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
                     if not r.name.startswith(("httpx", "httpcore")))
    assert "mail written to outbox" in logs  # the subject is logged ...
    for secret in secrets_seen:
        assert secret not in logs  # ... never a secret
    # Nothing in any column of any table, nor anywhere in the database files.
    with service.state.store.read() as conn:
        names = inspect(conn).get_table_names()  # SQLite or PostgreSQL
        dump = "".join(repr(tuple(row)) for name in names
                       for row in conn.execute(text(f'SELECT * FROM "{name}"')))
    raw = b"".join(p.read_bytes() for p in service.data_dir.glob("mm.sqlite*"))
    for secret in secrets_seen:
        assert secret not in dump
        assert secret.encode() not in raw
