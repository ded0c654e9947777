"""`mm wallet policy …` and `mm wallet trading-mode …` through the CLI against the service."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import Anvil
from helpers import CliRunner

from mm_agent.local.state import Home

from .test_cli_server_wallet import cli_home, error, logged_in, ok  # noqa: F401  (fixtures)
from .test_client import attach_chain
from .test_policy_service import policy_yaml


@pytest.fixture
def guard_wallet(service: Any, chain: Anvil, logged_in: Home,  # noqa: F811
                 mm_cli: CliRunner) -> str:
    attach_chain(service, chain)
    return str(ok(mm_cli, "init", "--wallet", "server-wallet", "--mode", "guard")["address"])


def test_policy_get_template_and_tightening(service: Any, guard_wallet: str,
                                            mm_cli: CliRunner) -> None:
    got = ok(mm_cli, "wallet", "policy", "get")
    assert got["address"] == guard_wallet and "schema_version: 1" in got["policy"]
    assert "schema_version" in ok(mm_cli, "wallet", "policy", "template")["policy"]
    out = ok(mm_cli, "wallet", "policy", "set", "--policy", policy_yaml(guard_wallet, limit="10"))
    assert out["status"] == "confirmed"
    assert "rolling_24h: 10" in ok(mm_cli, "wallet", "policy", "get")["policy"]
    err, _ = error(mm_cli, "wallet", "policy", "set", "--policy", "- not\n- a mapping\n")
    assert err["code"] == "INVALID_POLICY_YAML"


def test_trading_mode_guard_to_beast_waits_for_approval(service: Any, guard_wallet: str,
                                                        mm_cli: CliRunner) -> None:
    assert ok(mm_cli, "wallet", "trading-mode", "get")["tradingMode"] == "guard"
    pending = ok(mm_cli, "wallet", "trading-mode", "set", "beast")
    assert pending["status"] == "pending_approval"
    assert ok(mm_cli, "wallet", "trading-mode", "get")["tradingMode"] == "guard"
    requests = ok(mm_cli, "wallet", "requests", "list")["requests"]
    assert any(r["pollingId"] == pending["pollingId"] for r in requests)

    # --wait blocks until the human approves (the approval's effect, applied by the service).
    def approve_later() -> None:
        time.sleep(1.0)  # the behaviour under test: approval arrives while --wait blocks
        for job in service.state.jobs.list(service.state.jobs._load(pending["pollingId"])[0]
                                           .account_id):
            if job["status"] == "AWAITING_MFA":
                service.state.jobs.approve(job["pollingId"])

    # Contract §7: the current mode again → ALREADY_SET_TRADING_MODE; a second broadening
    # while one awaits approval → TRADING_MODE_APPROVAL_IN_PROGRESS.
    err, _ = error(mm_cli, "wallet", "trading-mode", "set", "guard")
    assert err["code"] == "ALREADY_SET_TRADING_MODE"
    err, _ = error(mm_cli, "wallet", "trading-mode", "set", "beast")
    assert err["code"] == "TRADING_MODE_APPROVAL_IN_PROGRESS"
    threading.Thread(target=approve_later, daemon=True).start()
    done = ok(mm_cli, "wallet", "requests", "watch", pending["pollingId"],
              "--wallet-timeout", "20")
    assert done["status"] == "COMPLETED"
    assert ok(mm_cli, "wallet", "trading-mode", "get")["tradingMode"] == "beast"
    back = ok(mm_cli, "wallet", "trading-mode", "set", "guard")
    assert back["status"] == "confirmed"


def test_policy_commands_refuse_byok(byok_home: Home, mm_cli: CliRunner) -> None:
    err, _ = error(mm_cli, "wallet", "policy", "get")
    assert err["code"] == "UNSUPPORTED_IN_MODE"
