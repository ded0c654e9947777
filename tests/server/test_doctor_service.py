"""`mm doctor` and `mm init show` against the real service (issue 11): the service answers, the
token is checked by an authenticated call (not the cached flag), the trading mode comes from the
service."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Anvil
from helpers import CliRunner

from mm_agent.local.session import SessionStore
from mm_agent.local.state import Home

from .test_client import EMAIL, attach_chain


def ok(cli: CliRunner, *argv: str) -> Any:
    rc, data, err = cli(*argv)
    assert rc == 0 and data["ok"], (data, err)
    return data["data"]


@pytest.fixture
def server_home(service: Any, chain: Anvil, mm_home: Home, monkeypatch: pytest.MonkeyPatch,
                mm_cli: CliRunner) -> Home:
    monkeypatch.setenv("MM_SERVICE_URL", service.base_url)
    monkeypatch.delenv("MM_CLI_TOKEN", raising=False)
    attach_chain(service, chain)
    ok(mm_cli, "login", "--token", service.create_login(EMAIL, "email")["token"])
    ok(mm_cli, "init", "--wallet", "server-wallet", "--mode", "guard")
    return mm_home


def test_doctor_checks_service_and_token(service: Any, server_home: Home,
                                         mm_cli: CliRunner) -> None:
    data = ok(mm_cli, "doctor")
    assert data["serviceReachable"] is True and data["authenticated"] is True
    assert data["walletMode"] == "server-wallet" and data["tradingMode"] == "guard"
    assert not any("mm login" in h for h in data["hints"])

    # A token the service no longer accepts: the cached session still "looks" signed in.
    SessionStore(server_home).update(access_token="mma_revoked", refresh_token="mmr_revoked")
    data = ok(mm_cli, "doctor")
    assert data["serviceReachable"] is True and data["authenticated"] is False
    assert any("no longer accepted" in h and "mm login" in h for h in data["hints"])

    service.stop()
    data = ok(mm_cli, "doctor")
    assert data["serviceReachable"] is False and data["authenticated"] is False
    assert any("does not answer" in h for h in data["hints"])


def test_init_show_reads_the_trading_mode_from_the_service(service: Any, server_home: Home,
                                                           mm_cli: CliRunner) -> None:
    def stale(data: Any) -> Any:
        for acct in data["accounts"]:
            acct["tradingMode"] = "beast"  # a cache that disagrees with the service
        return data

    server_home.update_json("wallets.json", {}, stale)
    shown = ok(mm_cli, "init", "show")
    assert shown["tradingMode"] == "guard" and shown["tradingModeSource"] == "service"
    assert server_home.read_json("wallets.json")["accounts"][0]["tradingMode"] == "guard"

    service.stop()  # unreachable: the cached value, labelled as such
    shown = ok(mm_cli, "init", "show")
    assert shown["tradingMode"] == "guard" and shown["tradingModeSource"] == "cache"
