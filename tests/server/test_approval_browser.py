"""The approval page in a real Chromium: link from a real SMTP message, Approve / Reject clicks,
an authenticator code typed into the form, and a waiting agent client seeing the outcome."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from helpers import mm_exe, run_mm, skip_or_fail

from mm_agent.server.settings import SmtpSettings

from .test_approvals import (
    BOB,
    Api,
    approval_status,
    flag_approve,
    flag_transfer,
    setup_account,
    wait_for_links,
    wait_terminal,
)

CHROMIUM = Path("/usr/bin/chromium")



@pytest.fixture(autouse=True, scope="module")
def _chromium_present() -> None:
    """Skipped without Chromium on a developer's machine; with CI=true, a failure."""
    if not CHROMIUM.exists():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (`make chromium`, as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")

PHONE = {"width": 390, "height": 844}
# Elements sticking out past the right edge of the screen (for the failure message).
WIDE_ELEMENTS = """[...document.querySelectorAll('main *')]
  .filter(n => n.getBoundingClientRect().right > window.innerWidth)
  .map(n => n.tagName + ': ' + n.textContent.slice(0, 60))"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized page: the approval page must be usable there."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def smtp_service(service_factory: Any, smtp_server: Any) -> Any:
    return service_factory(smtp=SmtpSettings(host="127.0.0.1", port=smtp_server.port,
                                             starttls=False), dev=False)


class Waiter:
    """An agent client long-polling /wait in the background until the request ends."""

    def __init__(self, base_url: str, token: str, polling_id: str) -> None:
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.api = Api(base_url, token)  # its own connection, as a separate client would have
        self.thread = threading.Thread(target=self._run, args=(polling_id,), daemon=True)
        self.thread.start()

    def _run(self, polling_id: str) -> None:
        try:
            self.result = wait_terminal(self.api, polling_id, 60)
        except BaseException as exc:  # reported by join(), not as a stray thread error
            self.error = exc

    def join(self) -> dict[str, Any]:
        self.thread.join(60)
        assert self.result is not None, f"the waiting client did not return ({self.error!r})"
        return self.result


def test_email_channel_approve_and_reject_in_chromium(
        smtp_service: Any, smtp_server: Any, chain: Any, phone: Any, tmp_path: Path) -> None:
    svc = smtp_service
    s = setup_account(svc, chain, "carol@example.com", tmp_path=tmp_path)
    req = flag_transfer(s, "1.5")
    waiter = Waiter(svc.base_url, s.login["token"], req["pollingId"])
    ((link, approval_id, secret),) = wait_for_links(lambda: smtp_server.messages, 1)
    assert not svc.settings.outbox.exists()  # it really went over SMTP
    assert smtp_server.envelopes[-1][1] == ["carol@example.com"]

    response = phone.goto(link)
    assert response is not None and response.status == 200
    text = phone.inner_text("main")
    assert req["intent"] in text
    assert "Malicious" in text and "known_malicious" in text  # the scan verdict
    assert "-1.5 ETH" in text and "+1.5 ETH" in text and BOB in text
    assert "Local devnet (31337)" in text
    assert phone.locator('input[name="otp"]').count() == 0
    # Readable on a phone: nothing wider than the screen.
    wide = phone.evaluate(WIDE_ELEMENTS)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], wide
    shot = tmp_path / "approval.png"
    phone.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"

    phone.get_by_role("button", name="Approve").click()
    phone.wait_for_load_state()
    assert "Approved" in phone.inner_text("h1")
    assert secret not in phone.content()
    done = waiter.join()
    assert done["status"] == "COMPLETED" and done["txHash"].startswith("0x")

    # The used link: says so, offers no buttons, changes nothing.
    response = phone.goto(link)
    assert response is not None and response.status == 409
    assert "already approved" in phone.inner_text("main")
    assert phone.get_by_role("button").count() == 0
    _, out = s.api.call("GET", f"/v1/requests/{req['pollingId']}")
    assert out["data"]["status"] == "COMPLETED" and out["data"]["version"] == done["version"]

    second = flag_transfer(s, "0.25")
    waiter = Waiter(svc.base_url, s.login["token"], second["pollingId"])
    (_, (link2, approval2, _secret2)) = wait_for_links(lambda: smtp_server.messages, 2)
    phone.goto(link2)
    assert second["intent"] in phone.inner_text("main")
    phone.get_by_role("button", name="Reject").click()
    phone.wait_for_load_state()
    assert "Rejected" in phone.inner_text("h1")
    denied = waiter.join()
    assert denied["status"] == "DENIED" and denied["error"]["code"] == "TX_DENIED"
    assert approval_status(svc, approval2) == "rejected"
    assert approval_status(svc, approval_id) == "approved"


def test_authenticator_channel_in_chromium(
        smtp_service: Any, smtp_server: Any, chain: Any, phone: Any) -> None:
    svc = smtp_service
    s = setup_account(svc, chain, "dave@example.com", "authenticator")
    totp = pyotp.parse_uri(s.login["provisioningUri"])
    first = flag_approve(s)
    second = flag_approve(s)
    waiter = Waiter(svc.base_url, s.login["token"], first["pollingId"])
    (one, two) = wait_for_links(lambda: smtp_server.messages, 2)

    phone.goto(one[0])
    assert "Malicious" in phone.inner_text("main") and "UNLIMITED" in phone.inner_text("main")
    code = totp.now()
    phone.fill('input[name="otp"]', code)
    phone.get_by_role("button", name="Approve").click()
    phone.wait_for_load_state()
    assert "Approved" in phone.inner_text("h1")
    done = waiter.join()
    assert done["status"] == "COMPLETED" and done["txHash"].startswith("0x")

    # The same code on the other approval is refused and nothing changes.
    phone.goto(two[0])
    phone.fill('input[name="otp"]', code)
    phone.get_by_role("button", name="Approve").click()
    phone.wait_for_load_state()
    assert "already used" in phone.inner_text("main")
    _, out = s.api.call("GET", f"/v1/requests/{second['pollingId']}")
    assert out["data"]["status"] == "AWAITING_MFA"
    assert approval_status(svc, two[1]) == "open"


def test_waiting_cli_returns_completed_after_approval_in_chromium(
        smtp_service: Any, smtp_server: Any, chain: Any, phone: Any, tmp_path: Path) -> None:
    """The issue's scenario end to end: `mm transfer --wait` (the real executable) blocks on
    AWAITING_MFA, says once how to approve, and returns COMPLETED when the human clicks
    Approve on the page the SMTP mail links to."""
    import json
    import os
    import subprocess

    svc = smtp_service
    s = setup_account(svc, chain, "dora@example.com", tmp_path=tmp_path)
    env = {"MM_HOME": str(tmp_path / "cli"), "MM_SERVICE_URL": svc.base_url}
    assert run_mm("login", "--token", s.login["token"], "--json", env=env)[0] == 0
    rc, out, err = run_mm("init", "--wallet", "server-wallet", "--mode", "guard", "--json",
                          env=env)
    assert rc == 0 and out["data"]["address"] == s.address, (out, err)
    proc = subprocess.Popen(
        [mm_exe(), "transfer", "--token", "ETH",
             "--to", BOB, "--amount", "0.5", "--chain-id", "31337",
         "--wait", "--wallet-timeout", "90", "--json"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ((link, _approval_id, _secret),) = wait_for_links(lambda: smtp_server.messages, 1, 30)
        assert proc.poll() is None  # still waiting for the human
        phone.goto(link)
        phone.get_by_role("button", name="Approve").click()
        phone.wait_for_load_state()
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (stdout, stderr)
    result = json.loads(stdout)["data"]
    assert result["status"] == "COMPLETED" and result["txHash"].startswith("0x")
    assert stderr.count("Approval needed") == 1 and "Check your email" in stderr
    assert "t=" not in stdout + stderr  # the CLI never holds the approval secret
