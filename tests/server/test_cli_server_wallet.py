"""`mm` in server-wallet mode against the real service: login/auth/logout, `mm init --wallet
server-wallet`, the wallet commands through ``RemoteWallet``, and the --wait semantics of
contract §4. Most commands run in-process (``run_argv``); the login by MM_CLI_TOKEN and a
transfer also run through the real ``mm`` executable.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ACCOUNT1, Anvil
from helpers import CliRunner, free_port, run_mm, wait_until
from mm_agent.cli.app import run_argv

from mm_agent.local.request_log import RequestLog
from mm_agent.local.session import SessionStore
from mm_agent.local.state import Home

from .test_client import EMAIL, attach_chain, denylist, fund, mail_typed_data
from .test_jobs import approve_mode_changes

Capsys = pytest.CaptureFixture[str]


def ok(cli: CliRunner, *argv: str) -> dict[str, Any]:
    rc, out, err = cli(*argv)
    assert rc == 0 and isinstance(out, dict) and out["ok"] is True, (out, err)
    return dict(out["data"])


def error(cli: CliRunner, *argv: str) -> tuple[dict[str, Any], str]:
    rc, out, err = cli(*argv)
    assert rc != 0 and isinstance(out, dict) and out["ok"] is False, (out, err)
    return dict(out["error"]), err


def no_secrets(*texts: str) -> None:
    for text in texts:
        assert not re.search(r"mm[ard]_[A-Za-z0-9_\-]{8}", text), text


@pytest.fixture
def cli_home(service: Any, mm_home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("MM_SERVICE_URL", service.base_url)
    monkeypatch.delenv("MM_CLI_TOKEN", raising=False)
    return mm_home


@pytest.fixture
def logged_in(service: Any, cli_home: Home, mm_cli: CliRunner) -> Home:
    token = service.create_login(EMAIL, "email")["token"]
    ok(mm_cli, "login", "--token", token)
    return cli_home


@pytest.fixture
def beast(service: Any, chain: Anvil, logged_in: Home, mm_cli: CliRunner) -> str:
    """`mm init --wallet server-wallet --mode beast`, funded with 10 ETH and 1000 mUSD."""
    attach_chain(service, chain)
    address = ok(mm_cli, "init", "--wallet", "server-wallet", "--mode", "beast")["address"]
    approve_mode_changes(service)  # an agent token's beast wallet waits for the human
    fund(chain, address, musd=1000)
    return str(address)


# --- login / auth status / logout ---------------------------------------------------------------
def test_login_with_mm_cli_token_subprocess(service: Any, cli_home: Home) -> None:
    token = service.create_login(EMAIL, "email")["token"]
    rc, out, err = run_mm("login", "--json", env={"MM_CLI_TOKEN": token})
    assert rc == 0, (out, err)
    assert out["data"] == {"authenticated": True, "email": EMAIL, "channel": "email",
                           "method": "token", "serviceUrl": service.base_url,
                           "expiresAt": out["data"]["expiresAt"]}
    no_secrets(json.dumps(out), err)
    rc, out, err = run_mm("auth", "status", "--json")
    assert rc == 0 and out["data"]["authenticated"] is True and out["data"]["email"] == EMAIL
    session = json.loads(cli_home.path("session.json").read_text())
    assert session["accessToken"].startswith("mma_") and session["method"] == "token"


def test_login_token_flag_and_auth_status(service: Any, cli_home: Home,
                                          mm_cli: CliRunner) -> None:
    token = service.create_login(EMAIL, "authenticator")["token"]
    data = ok(mm_cli, "login", "--token", token)
    assert data["channel"] == "authenticator" and data["method"] == "token"
    status = ok(mm_cli, "auth", "status")
    assert set(status) == {"authenticated", "email", "channel", "method", "serviceUrl",
                           "expiresAt"}
    assert status["email"] == EMAIL and status["serviceUrl"] == service.base_url


def test_bad_token_shapes_are_refused_without_echo(cli_home: Home, mm_cli: CliRunner) -> None:
    err, stderr = error(mm_cli, "login", "--token", "mma_only-one-half")
    assert err["code"] == "INVALID_ARGUMENT"
    assert "mma_only" not in json.dumps(err) + stderr
    assert not cli_home.path("session.json").exists()


def test_auth_status_without_session(cli_home: Home, mm_cli: CliRunner) -> None:
    err, _ = error(mm_cli, "auth", "status")
    assert err["code"] == "NOT_AUTHENTICATED" and "mm login" in err["hint"]


def test_logout_needs_yes_headless_then_revokes(service: Any, logged_in: Home,
                                                mm_cli: CliRunner) -> None:
    err, _ = error(mm_cli, "logout")
    assert err["code"] == "CONFIRMATION_REQUIRED"
    assert logged_in.path("session.json").exists()
    old = SessionStore(logged_in).require()
    data = ok(mm_cli, "logout", "--yes")
    assert data == {"loggedOut": True, "revoked": True, "serviceUrl": service.base_url}
    assert not logged_in.path("session.json").exists()
    err, _ = error(mm_cli, "auth", "status")
    assert err["code"] == "NOT_AUTHENTICATED"
    r = httpx.get(f"{service.base_url}/v1/auth/status",
                  headers={"Authorization": f"Bearer {old.access_token}"})
    assert r.status_code == 401


def test_refresh_is_transparent_to_the_cli(service: Any, logged_in: Home,
                                           mm_cli: CliRunner) -> None:
    from .test_client import expire_access_tokens

    old = SessionStore(logged_in).require()
    expire_access_tokens(service)
    assert ok(mm_cli, "auth", "status")["email"] == EMAIL
    assert SessionStore(logged_in).require().access_token != old.access_token


def _finish_browser_login(service: Any, url: str) -> None:
    """What the person does: enter the email on the page, follow the mailed link."""
    with httpx.Client(timeout=10) as http:
        page = http.post(url, data={"email": EMAIL})
        assert page.status_code == 200, page.text
        body = service.outbox_messages()[-1].get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"http\S+/login/verify\?t=\S+", body)
        assert link, body
        assert http.get(link.group(0)).status_code == 200  # the confirm page
        token = link.group(0).split("t=", 1)[1]
        assert http.post(url.split("/login/")[0] + "/login/verify",
                         data={"t": token}).status_code == 200


def test_login_browser_no_wait_then_resume(service: Any, cli_home: Home, mm_cli: CliRunner,
                                           capsys: Capsys) -> None:
    data = ok(mm_cli, "login", "browser", "--no-wait")
    assert data["status"] == "pending" and data["method"] == "browser"
    assert data["verificationUrl"].startswith(f"{service.base_url}/login/")
    assert "deviceCode" not in data
    # Text mode never shows the device code either.
    rc = run_argv(["login", "browser", "--no-wait", "-f", "text"])
    out, err = capsys.readouterr()
    assert rc == 0 and data["verificationUrl"] in out
    no_secrets(out, err)
    _finish_browser_login(service, data["verificationUrl"])
    # `mm login browser` picks the pending sign-in up (same page, no new one).
    done = ok(mm_cli, "login", "browser", "--timeout", "10")
    assert done["authenticated"] is True and done["method"] == "browser"
    assert done["email"] == EMAIL and done["channel"] == "email"
    session = SessionStore(cli_home).require()
    assert session.pending_device is None and session.method == "browser"
    assert ok(mm_cli, "auth", "status")["email"] == EMAIL


def test_login_browser_waits_for_the_person(service: Any, cli_home: Home,
                                            mm_cli: CliRunner) -> None:
    def person() -> None:
        session = wait_until(
            lambda: (s := SessionStore(cli_home).load()) and s.pending_device and s,
            timeout=20, interval=0.1, what="the CLI's pending device login")
        _finish_browser_login(service, session.pending_device["verificationUrl"])

    helper = threading.Thread(target=person)
    helper.start()
    rc, out, err = mm_cli("login", "browser", "--timeout", "30")
    helper.join()
    assert rc == 0, (out, err)
    assert out["data"]["method"] == "browser" and out["data"]["email"] == EMAIL
    assert "/login/" in err  # the page was shown on stderr
    no_secrets(json.dumps(out), err)


def test_login_times_out(service: Any, cli_home: Home, mm_cli: CliRunner) -> None:
    err, stderr = error(mm_cli, "login", "browser", "--timeout", "1")
    assert err["code"] == "JOB_TIMEOUT" and "mm login browser" in err["hint"]
    assert "/login/" in stderr


def test_login_qr_no_wait_shows_a_qr_code(service: Any, cli_home: Home, capsys: Capsys) -> None:
    rc = run_argv(["login", "qr", "--no-wait", "-f", "text"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "/pair/" in out and "/pair/" in err
    assert "█" in err or "▀" in err or "▄" in err  # segno's terminal QR
    no_secrets(out, err)


def test_service_down_is_network_unreachable(cli_home: Home, mm_cli: CliRunner,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_SERVICE_URL", f"http://127.0.0.1:{free_port()}")
    err, _ = error(mm_cli, "login", "browser", "--no-wait")
    assert err["code"] == "NETWORK_UNREACHABLE" and "mm server start" in err["hint"]


# --- init and wallets ---------------------------------------------------------------------------
def test_init_needs_login_and_mode(cli_home: Home, mm_cli: CliRunner) -> None:
    err, _ = error(mm_cli, "init", "--wallet", "server-wallet")
    assert err["code"] == "MISSING_FLAG"
    err, _ = error(mm_cli, "init", "--wallet", "server-wallet", "--mode", "guard")
    assert err["code"] == "NOT_AUTHENTICATED"
    assert not cli_home.path("wallets.json").exists()


def test_init_guard_and_wallet_commands(service: Any, chain: Anvil, logged_in: Home,
                                        mm_cli: CliRunner) -> None:
    attach_chain(service, chain)
    init = ok(mm_cli, "init", "--wallet", "server-wallet", "--mode", "guard")
    address = init["address"]
    assert init == {"walletMode": "server-wallet", "tradingMode": "guard", "address": address,
                    "serviceUrl": service.base_url}
    # init show reads the trading mode from the service, and says so (issue 11)
    assert ok(mm_cli, "init", "show") == {**init, "tradingModeSource": "service"}
    # Re-running with a mode switches it under the trading-mode rules (contract §3).
    # Setting the current mode again is refused (contract §7: ALREADY_SET_TRADING_MODE).
    err, _ = error(mm_cli, "init", "--wallet", "server-wallet", "--mode", "guard")
    assert err["code"] == "ALREADY_SET_TRADING_MODE"
    to_beast = ok(mm_cli, "init", "--wallet", "server-wallet", "--mode", "beast")
    assert to_beast["status"] == "pending_approval" and to_beast["tradingMode"] == "guard"
    err, _ = error(mm_cli, "init", "--wallet", "byok")
    assert err["code"] == "ALREADY_INITIALIZED"
    assert ok(mm_cli, "wallet", "address") == {"address": address}

    created = ok(mm_cli, "wallet", "create", "--name", "second")
    assert created["name"] == "second" and created["address"] != address
    listed = ok(mm_cli, "wallet", "list")["accounts"]
    assert [(a["address"], a["active"]) for a in listed] == [(address, True),
                                                             (created["address"], False)]
    ok(mm_cli, "wallet", "select", created["address"])
    assert ok(mm_cli, "wallet", "address") == {"address": created["address"]}
    shown = ok(mm_cli, "wallet", "show")
    assert shown["address"] == created["address"] and shown["active"] is True
    assert ok(mm_cli, "wallet", "show", "--name", "Wallet 1")["address"] == address
    err, _ = error(mm_cli, "wallet", "select", ACCOUNT1)
    assert err["code"] == "WALLET_NOT_FOUND"

    fund(chain, created["address"], eth=3, musd=5)
    bal = ok(mm_cli, "wallet", "balance", "--chain-ids", "31337")
    assert bal["address"] == created["address"]
    amounts = {t["symbol"]: t["amount"] for t in bal["chains"][0]["tokens"]}
    assert amounts["ETH"] == "3" and amounts["mUSD"] == "5"


def test_wallet_create_with_trading_mode(service: Any, logged_in: Home, mm_cli: CliRunner) -> None:
    ok(mm_cli, "init", "--wallet", "server-wallet", "--mode", "guard")
    created = ok(mm_cli, "wallet", "create", "--name", "fast", "--trading-mode", "beast")
    # An agent token's wallet starts in guard; beast waits for the human (contract §7).
    assert created["tradingMode"] == "guard"
    assert created["tradingModeChange"]["status"] == "pending_approval"


# --- requests and --wait ------------------------------------------------------------------------
def test_transfer_without_wait_then_watch(beast: str, chain: Anvil, mm_cli: CliRunner) -> None:
    before = chain.balance(ACCOUNT1)
    t0 = time.monotonic()
    data = ok(mm_cli, "transfer", "--token", "ETH",
              "--to", ACCOUNT1, "--amount", "0.5", "--chain-id", "31337")
    assert time.monotonic() - t0 < 5
    assert data["pollingId"] and data["status"] in ("PENDING", "SUBMITTED", "COMPLETED")
    watched = ok(mm_cli, "wallet", "requests", "watch", data["pollingId"],
                 "--wallet-timeout", "60")
    assert watched["status"] == "COMPLETED" and watched["txHash"]
    assert watched["pollingId"] == data["pollingId"]
    assert chain.balance(ACCOUNT1) - before == 5 * 10**17


def test_transfer_wait_returns_completed(beast: str, chain: Anvil, mm_cli: CliRunner) -> None:
    token = chain.token("mUSD")["address"]
    before = chain.erc20_balance(token, ACCOUNT1)
    data = ok(mm_cli, "transfer", "--to", ACCOUNT1, "--amount", "2", "--chain-id", "31337",
              "--token", "mUSD", "--wait")
    assert data["status"] == "COMPLETED" and data["txHash"].startswith("0x")
    assert data["intent"].startswith("Transfer 2 mUSD")
    assert chain.erc20_balance(token, ACCOUNT1) - before == 2 * 10**6
    tx = ok(mm_cli, "tx", "history", "--chain-ids", "31337")["transactions"]
    assert tx[0]["txHash"] == data["txHash"]


def test_transfer_subprocess(beast: str, chain: Anvil) -> None:
    rc, out, err = run_mm("transfer", "--token", "ETH",
                          "--to", ACCOUNT1, "--amount", "0.1", "--chain-id",
                          "31337", "--wait", "--json")
    assert rc == 0, (out, err)
    assert out["data"]["status"] == "COMPLETED"


def test_dry_run_and_send_transaction(beast: str, chain: Anvil, mm_cli: CliRunner) -> None:
    payload = json.dumps({"to": ACCOUNT1, "value": hex(10**17)})
    preview = ok(mm_cli, "wallet", "send-transaction", "--chain-id", "31337", "--payload",
                 payload, "--dry-run")
    assert preview["simulation"]["success"] is True and "pollingId" not in preview
    data = ok(mm_cli, "wallet", "send-transaction", "--chain-id", "31337", "--payload",
              payload, "--intent", "Pay Bob", "--wait")
    assert data["status"] == "COMPLETED" and data["txHash"]
    err, _ = error(mm_cli, "wallet", "send-transaction", "--chain-id", "31337", "--payload",
                   '{"value": "0x1"}')
    assert err["code"] == "INVALID_TRANSACTION_PAYLOAD"


def test_wallet_timeout_is_job_timeout_and_the_job_goes_on(
        service: Any, chain: Anvil, logged_in: Home, mm_cli: CliRunner, tmp_path: Path) -> None:
    attach_chain(service, chain)
    denylist(service, tmp_path, ACCOUNT1)
    address = ok(mm_cli, "init", "--wallet", "server-wallet", "--mode", "guard")["address"]
    fund(chain, address)
    t0 = time.monotonic()
    err, stderr = error(mm_cli, "transfer", "--token", "ETH", "--to", ACCOUNT1, "--amount", "0.1",
                        "--chain-id", "31337", "--wait", "--wallet-timeout", "1")
    assert time.monotonic() - t0 < 10
    assert err["code"] == "JOB_TIMEOUT"
    request = err["details"]["request"]
    assert request["status"] == "AWAITING_MFA" and request["pollingId"]
    assert stderr.count("Check your email") == 1  # how to approve, printed once
    no_secrets(stderr, json.dumps(err))
    # Watching again times out the same way; the job is still waiting for the human.
    err, _ = error(mm_cli, "wallet", "requests", "watch", request["pollingId"],
                   "--wallet-timeout", "1")
    assert err["code"] == "JOB_TIMEOUT"
    listed = ok(mm_cli, "wallet", "requests", "list")["requests"]
    assert [(r["pollingId"], r["status"]) for r in listed] == [(request["pollingId"],
                                                               "AWAITING_MFA")]


def test_requests_list_syncs_and_caches(service: Any, beast: str, mm_cli: CliRunner) -> None:
    first = ok(mm_cli, "transfer", "--token", "ETH",
               "--to", ACCOUNT1, "--amount", "0.01", "--chain-id", "31337",
               "--wait")
    second = ok(mm_cli, "wallet", "sign-message", "--message", "hi", "--chain-id", "31337",
                "--wait")
    # Finished requests are history: --all (issue 11; pending only by default).
    # (the beast fixture's approved trading-mode change is history too)
    listed = [r for r in ok(mm_cli, "wallet", "requests", "list", "--all")["requests"]
              if r["kind"] != "trading-mode"]
    assert [r["pollingId"] for r in listed] == [second["pollingId"], first["pollingId"]]
    assert ok(mm_cli, "wallet", "requests", "list")["requests"] == []
    assert listed[1]["status"] == "COMPLETED" and listed[1]["txHash"] == first["txHash"]
    cached = RequestLog(Home()).all()  # MM_HOME of this test: the local mirror
    assert {r.polling_id for r in cached if r.kind != "trading-mode"} == \
        {first["pollingId"], second["pollingId"]}
    assert not Home().path("requests.json").exists()  # no whole-file rewrite per command


def test_requests_list_no_sync_reads_the_cache_only(service: Any, beast: str,
                                                    mm_cli: CliRunner) -> None:
    first = ok(mm_cli, "transfer", "--token", "ETH",
               "--to", ACCOUNT1, "--amount", "0.01", "--chain-id", "31337",
               "--wait")
    ok(mm_cli, "wallet", "requests", "list")
    service.stop()  # --no-sync must not need the service
    listed = ok(mm_cli, "wallet", "requests", "list", "--no-sync", "--all")["requests"]
    assert [r["pollingId"] for r in listed if r["kind"] != "trading-mode"] == \
        [first["pollingId"]]
    err, _ = error(mm_cli, "wallet", "requests", "list")
    assert err["code"] == "NETWORK_UNREACHABLE"


def test_signatures_recover_to_the_wallet(beast: str, mm_cli: CliRunner) -> None:
    from eth_account import Account
    from eth_account.messages import encode_defunct, encode_typed_data

    data = ok(mm_cli, "wallet", "sign-message", "--message", "gm", "--chain-id", "31337",
              "--wait")
    assert data["status"] == "COMPLETED"
    assert Account.recover_message(encode_defunct(text="gm"),
                                   signature=data["signature"]) == beast
    typed = mail_typed_data(31337)
    data = ok(mm_cli, "wallet", "sign-typed-data", "--chain-id", "31337", "--payload",
              json.dumps(typed), "--wait")
    assert data["status"] == "COMPLETED"
    assert Account.recover_message(encode_typed_data(full_message=typed),
                                   signature=data["signature"]) == beast
    err, _ = error(mm_cli, "wallet", "sign-typed-data", "--chain-id", "1", "--payload",
                   json.dumps(typed))
    assert err["code"] == "CHAIN_ID_MISMATCH"
