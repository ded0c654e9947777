"""Human approval over plain HTTP form posts: links, expiry, OTP, races, agent tokens, webhooks.

Real service (uvicorn), real anvil; mail goes to the dev outbox here (SMTP and a real browser
are covered by ``test_approval_browser.py``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from helpers import wait_until
from sqlalchemy import select

from mm_agent.errors import AccountNotFound, InvalidUrl
from mm_agent.local.state import Home
from mm_agent.server.db.store import approvals
from mm_agent.server.services.approvals import set_webhook

from .test_jobs import BOB, Api, prepare_service

LINK_RE = re.compile(r"(https?://[^\s\"'<>]+/approvals/([0-9a-f]+)\?t=([A-Za-z0-9_\-]+))")
TERMINAL = ("COMPLETED", "FAILED", "DENIED", "EXPIRED")


@dataclass
class Setup:
    svc: Any
    api: Api
    address: str
    chain: Any
    login: dict[str, Any]


def setup_account(svc: Any, chain: Any, email: str, channel: str = "email",
                  tmp_path: Path | None = None) -> Setup:
    """A login, a funded wallet; with ``tmp_path`` BOB is on the service's denylist too."""
    prepare_service(svc, chain)
    if tmp_path is not None:
        deny = tmp_path / f"deny-{svc.settings.port}.json"
        deny.write_text(json.dumps([BOB.lower()]))
        data = Home(svc.data_dir)
        data.write_json("config.json", {**data.read_json("config.json", {}),
                                        "security.denylist": str(deny)})
    svc.state.config._stored = None  # re-read the config written above
    login = svc.create_login(email, channel)
    api = Api(svc.base_url, login["token"])
    status, out = api.call("POST", "/v1/wallets", json={"name": "main"})
    assert status == 201, out
    address = out["data"]["address"]
    chain.rpc("anvil_setBalance", [address, hex(100 * 10**18)])
    return Setup(svc, api, address, chain, login)


def flag_approve(s: Setup) -> dict[str, Any]:
    """An unlimited mUSD approve to an EOA: scanned Malicious → AWAITING_MFA."""
    musd = s.chain.token("mUSD")["address"]
    data = "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64
    req = s.api.wait(s.api.submit(s.address, {"kind": "transaction", "chainId": 31337,
                                              "payload": {"to": musd, "value": "0x0",
                                                          "data": data}})["pollingId"])
    assert req["status"] == "AWAITING_MFA", req
    return req


def flag_transfer(s: Setup, amount: str = "1.5") -> dict[str, Any]:
    """ETH to a denylisted recipient (``known_malicious``) → AWAITING_MFA."""
    req = s.api.wait(s.api.submit(s.address, {"kind": "transfer", "chainId": 31337, "to": BOB,
                                              "amount": amount})["pollingId"])
    assert req["status"] == "AWAITING_MFA", req
    return req


def wait_for_links(messages: Callable[[], list[Any]], count: int,
                   timeout: float = 15) -> list[tuple[str, str, str]]:
    """(link, approval id, secret) of every approval mail, once ``count`` have arrived.
    The job turns AWAITING_MFA just before its mail is sent, so mail may lag a moment."""
    def found() -> list[tuple[str, str, str]] | None:
        links = []
        for msg in messages():
            if not str(msg["Subject"]).startswith("Approval needed"):
                continue
            text = msg.get_body(preferencelist=("plain",)).get_content()
            match = LINK_RE.search(text)
            assert match, text
            links.append(match.groups())
        return links if len(links) >= count else None

    return wait_until(found, timeout=timeout, what=f"{count} approval mail(s)")


def wait_terminal(api: Api, polling_id: str, timeout: float = 30) -> dict[str, Any]:
    def terminal() -> dict[str, Any] | None:
        req = api.wait(polling_id, timeout)
        return req if req["status"] in TERMINAL else None

    return wait_until(terminal, timeout=timeout, what=f"request {polling_id} to finish")


def post(svc: Any, approval_id: str, **form: str) -> httpx.Response:
    return httpx.post(f"{svc.base_url}/approvals/{approval_id}", data=form, timeout=30)


def approval_status(svc: Any, approval_id: str) -> str:
    with svc.state.store.read() as conn:
        return str(conn.execute(select(approvals.c.status)
                                .where(approvals.c.id == approval_id)).scalar_one())


# --- tests ------------------------------------------------------------------------------------
def test_email_link_approves_once_and_the_agent_never_sees_it(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "ann@example.com")
    req = flag_approve(s)
    ((link, approval_id, secret),) = wait_for_links(service.outbox_messages, 1)
    assert link == f"{service.base_url}/approvals/{approval_id}?t={secret}"
    msg = service.outbox_messages()[-1]
    assert msg["To"] == "ann@example.com"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert req["intent"] in text and "approve" in text.lower()

    # The agent-facing API never carries the link secret.
    for path in (f"/v1/requests/{req['pollingId']}", "/v1/requests"):
        status, out = s.api.call("GET", path)
        assert status == 200 and secret not in json.dumps(out) and "t=" not in json.dumps(out)

    page = httpx.get(link, timeout=10)
    assert page.status_code == 200
    assert req["intent"] in page.text and "Malicious" in page.text
    assert "UNLIMITED" in page.text and BOB in page.text  # the exposure
    assert 'name="otp"' not in page.text  # email channel: the link is the factor
    assert page.headers["cache-control"] == "no-store"

    done = post(service, approval_id, t=secret, decision="approve")
    assert done.status_code == 200 and "Approved" in done.text and secret not in done.text
    final = wait_terminal(s.api, req["pollingId"])
    assert final["status"] == "COMPLETED" and final["txHash"].startswith("0x")
    assert secret not in json.dumps(final)

    # A used link changes nothing, whether re-opened or re-posted.
    again = httpx.get(link, timeout=10)
    assert again.status_code == 409 and "already approved" in again.text
    assert secret not in again.text
    for decision in ("approve", "reject"):
        resp = post(service, approval_id, t=secret, decision=decision)
        assert resp.status_code == 409 and "already approved" in resp.text
    _, after = s.api.call("GET", f"/v1/requests/{req['pollingId']}")
    assert after["data"]["status"] == "COMPLETED"
    assert after["data"]["version"] == final["version"]


def test_reject_denies(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "rey@example.com")
    req = flag_approve(s)
    ((_link, approval_id, secret),) = wait_for_links(service.outbox_messages, 1)
    resp = post(service, approval_id, t=secret, decision="reject")
    assert resp.status_code == 200 and "Rejected" in resp.text
    final = wait_terminal(s.api, req["pollingId"])
    assert final["status"] == "DENIED" and final["error"]["code"] == "TX_DENIED"
    assert "already rejected" in post(service, approval_id, t=secret, decision="approve").text
    assert approval_status(service, approval_id) == "rejected"


def test_unused_link_expires(service_factory: Any, chain: Any) -> None:
    svc = service_factory(approval_window_seconds=1)
    s = setup_account(svc, chain, "exp@example.com")
    req = flag_approve(s)
    ((link, approval_id, secret),) = wait_for_links(svc.outbox_messages, 1)
    final = wait_terminal(s.api, req["pollingId"], 20)
    assert final["status"] == "EXPIRED" and final["error"]["code"] == "TX_EXPIRED"
    resp = post(svc, approval_id, t=secret, decision="approve")
    assert resp.status_code == 410 and "expired" in resp.text.lower()
    assert httpx.get(link, timeout=10).status_code == 410
    _, after = s.api.call("GET", f"/v1/requests/{req['pollingId']}")
    assert after["data"]["status"] == "EXPIRED" and approval_status(svc, approval_id) == "expired"


def test_post_after_the_window_expires_the_job_itself(service_factory: Any, chain: Any) -> None:
    """The page does not rely on the sweeper: a late POST closes the approval itself."""
    svc = service_factory(approval_window_seconds=2)
    s = setup_account(svc, chain, "late@example.com")
    svc.state.jobs.expire_due = _late_expire(svc.state.jobs.expire_due)  # sweeper off...
    req = flag_approve(s)
    ((_link, approval_id, secret),) = wait_for_links(svc.outbox_messages, 1)
    time.sleep(2.2)  # the behaviour under test: the 2 s approval window runs out
    svc.state.jobs.expire_due = svc.state.jobs.expire_due.original  # ...the page calls it
    resp = post(svc, approval_id, t=secret, decision="approve")
    assert resp.status_code == 410 and "expired" in resp.text.lower()
    final = wait_terminal(s.api, req["pollingId"])
    assert final["status"] == "EXPIRED" and final["error"]["code"] == "TX_EXPIRED"


def _late_expire(original: Callable[[], int]) -> Any:
    def idle() -> int:
        return 0

    idle.original = original  # type: ignore[attr-defined]
    return idle


def test_wrong_or_missing_secret_is_403(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "sec@example.com")
    req = flag_approve(s)
    ((_link, approval_id, secret),) = wait_for_links(service.outbox_messages, 1)
    base = f"{service.base_url}/approvals/{approval_id}"
    assert httpx.get(base, params={"t": secret[:-1] + "x"}, timeout=10).status_code == 403
    assert httpx.get(base, timeout=10).status_code == 403
    bad = post(service, approval_id, t="nope", decision="approve")
    assert bad.status_code == 403 and "nope" not in bad.text
    assert post(service, approval_id, decision="approve").status_code == 403
    assert httpx.get(f"{service.base_url}/approvals/{'0' * 32}", params={"t": secret},
                     timeout=10).status_code == 404
    _, out = s.api.call("GET", f"/v1/requests/{req['pollingId']}")
    assert out["data"]["status"] == "AWAITING_MFA" and approval_status(service, approval_id) \
        == "open"


def test_agent_token_can_never_approve(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "agent@example.com")
    req = flag_approve(s)
    ((_link, approval_id, _secret),) = wait_for_links(service.outbox_messages, 1)
    bearer = s.api.http.headers["Authorization"]
    resp = httpx.get(f"{service.base_url}/approvals/{approval_id}", timeout=10,
                     headers={"Authorization": bearer})
    assert resp.status_code == 403 and "Agent credentials cannot approve" in resp.text
    resp = httpx.post(f"{service.base_url}/approvals/{approval_id}", timeout=10,
                      data={"decision": "approve"}, headers={"Authorization": bearer})
    assert resp.status_code == 403
    # No API route takes a token to approve: the only approval route is the secret-link page.
    paths = _route_paths(service.app.routes)
    assert "/v1/requests/{polling_id}" in paths or any(p.startswith("/v1/") for p in paths)
    assert {p for p in paths if "approv" in p.lower()} == {"/approvals/{approval_id}"}
    for method, path in (("POST", f"/v1/requests/{req['pollingId']}/approve"),
                         ("POST", f"/v1/requests/{req['pollingId']}/approval")):
        status, _ = s.api.call(method, path)
        assert status in (404, 405)
    _, out = s.api.call("GET", f"/v1/requests/{req['pollingId']}")
    assert out["data"]["status"] == "AWAITING_MFA"
    assert approval_status(service, approval_id) == "open"


def _route_paths(routes: list[Any]) -> set[str]:
    """Every path, including routers FastAPI keeps as lazily included sub-routers."""
    out: set[str] = set()
    for route in routes:
        if hasattr(route, "path"):
            out.add(route.path)
        inner = getattr(route, "original_router", None) or getattr(route, "routes", None)
        if inner is not None:
            out |= _route_paths(list(getattr(inner, "routes", inner)))
    return out


def test_concurrent_double_approve_decides_once(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "race@example.com")
    req = flag_approve(s)
    ((_link, approval_id, secret),) = wait_for_links(service.outbox_messages, 1)
    nonce = int(chain.rpc("eth_getTransactionCount", [s.address, "latest"]), 16)
    barrier = threading.Barrier(4)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def go(decision: str) -> None:
        barrier.wait()
        resp = post(service, approval_id, t=secret, decision=decision)
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=go, args=(d,))
               for d in ("approve", "approve", "reject", "approve")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409], [r.text[-300:] for r in results]
    winner = next(r for r in results if r.status_code == 200)
    final = wait_terminal(s.api, req["pollingId"])
    if "Approved" in winner.text:
        assert final["status"] == "COMPLETED"
        assert int(chain.rpc("eth_getTransactionCount", [s.address, "latest"]), 16) == nonce + 1
    else:
        assert final["status"] == "DENIED"
        assert int(chain.rpc("eth_getTransactionCount", [s.address, "latest"]), 16) == nonce
    assert approval_status(service, approval_id) in ("approved", "rejected")


def test_authenticator_needs_a_fresh_code(service: Any, chain: Any) -> None:
    s = setup_account(service, chain, "otp@example.com", "authenticator")
    totp = pyotp.parse_uri(s.login["provisioningUri"])
    first = flag_approve(s)
    second = flag_approve(s)
    (one, two) = wait_for_links(service.outbox_messages, 2)
    page = httpx.get(one[0], timeout=10)
    assert page.status_code == 200 and 'name="otp"' in page.text
    mail = service.outbox_messages()[0].get_body(preferencelist=("plain",)).get_content()
    assert "authenticator" in mail

    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    resp = post(service, one[1], t=one[2], decision="approve", otp=wrong)
    assert resp.status_code == 401 and "Wrong" in resp.text and one[2] not in resp.text
    resp = post(service, one[1], t=one[2], decision="approve")  # no code at all
    assert resp.status_code == 401
    _, out = s.api.call("GET", f"/v1/requests/{first['pollingId']}")
    assert out["data"]["status"] == "AWAITING_MFA" and approval_status(service, one[1]) == "open"

    code = totp.now()
    resp = post(service, one[1], t=one[2], decision="approve", otp=code)
    assert resp.status_code == 200 and "Approved" in resp.text
    assert wait_terminal(s.api, first["pollingId"])["status"] == "COMPLETED"
    # The same code cannot approve a second request.
    resp = post(service, two[1], t=two[2], decision="approve", otp=code)
    assert resp.status_code == 401 and "already used" in resp.text
    _, out = s.api.call("GET", f"/v1/requests/{second['pollingId']}")
    assert out["data"]["status"] == "AWAITING_MFA" and approval_status(service, two[1]) == "open"
    # Rejecting needs a code too on this channel (it is a decision).
    assert post(service, two[1], t=two[2], decision="reject").status_code == 401


class _Hook(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]]
    statuses: list[int]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        status = self.statuses.pop(0) if self.statuses else 200
        self.bodies.append({"status": status, "json": body,
                            "type": self.headers.get("Content-Type")})
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Any:
    handler = type("Hook", (_Hook,), {"bodies": [], "statuses": [500]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"  # type: ignore[attr-defined]
    server.bodies = handler.bodies  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


def test_webhook_push_is_retried_after_500(service: Any, chain: Any, hook_server: Any) -> None:
    s = setup_account(service, chain, "hook@example.com")
    set_webhook(service.state.store, "Hook@Example.com", hook_server.url)
    req = flag_approve(s)
    ((link, _approval_id, secret),) = wait_for_links(service.outbox_messages, 1)
    wait_until(lambda: len(hook_server.bodies) >= 2, timeout=10, what="the webhook retry")
    first, second = hook_server.bodies[:2]
    assert (first["status"], second["status"]) == (500, 200)
    assert first["json"] == second["json"] and second["type"] == "application/json"
    body = second["json"]
    assert body["type"] == "approval_required" and body["pollingId"] == req["pollingId"]
    assert body["approvalUrl"] == link and body["channel"] == "email"
    assert body["intent"] == req["intent"] and body["reason"] and body["expiresAt"]
    _, out = s.api.call("GET", f"/v1/requests/{req['pollingId']}")
    assert secret not in json.dumps(out)
    time.sleep(0.8)  # proving an absence: a retry after the 200 would have come by now
    assert len(hook_server.bodies) == 2  # no retry after the 200


def test_set_webhook_validates(service: Any) -> None:
    service.create_login("w@example.com")
    with pytest.raises(InvalidUrl):
        set_webhook(service.state.store, "w@example.com", "ftp://example.com/x")
    with pytest.raises(AccountNotFound):
        set_webhook(service.state.store, "nobody@example.com", "https://example.com/x")
    set_webhook(service.state.store, "w@example.com", "https://example.com/x")
    set_webhook(service.state.store, "w@example.com", None)  # clears
