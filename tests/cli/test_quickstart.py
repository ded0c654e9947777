"""The README quickstart, walked as a new user would, with one MM_HOME and the real `mm`:
devnet → BYOK wallet → transfer → `mm server start` from the same MM_HOME (it serves that
devnet: no copied files) → create-login → login → server wallet → balance (31337, mUSD) →
transfer --token mUSD → approve by the mailed link → watch → stop everything."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT1, TEST_MNEMONIC
from helpers import approve_by_mail, free_port, mm_exe, run_mm, wait_http_ok

from mm_agent import devnet
from mm_agent.local.state import Home


def _ok(result: tuple[int, Any, str]) -> dict[str, Any]:
    rc, out, err = result
    assert rc == 0 and isinstance(out, dict) and out["ok"], (out, err)
    return dict(out["data"])


def test_readme_quickstart(mm_home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [k for k in os.environ if k.startswith(("MM_SMTP_", "MM_SERVER_", "MM_RPC_"))]:
        monkeypatch.delenv(var)
    dev_port, svc_port = free_port(), free_port()
    service: subprocess.Popen[str] | None = None
    try:
        started = _ok(run_mm("devnet", "start", "--port", str(dev_port), "--detach", "--json"))
        assert started["rpcUrl"] == f"http://127.0.0.1:{dev_port}"
        byok = {"MM_MNEMONIC": TEST_MNEMONIC, "MM_PASSWORD": ""}
        _ok(run_mm("init", "--wallet", "byok", "--json", env=byok))
        sent = _ok(run_mm("transfer", "--to", ACCOUNT1, "--amount", "0.5", "--token", "ETH",
                          "--chain-id", "31337", "--json"))
        assert sent["status"] == "COMPLETED", sent

        # The service, from the same MM_HOME: it follows MM_HOME/devnet.json.
        data_dir = mm_home.root / "server"
        service = subprocess.Popen(
            [mm_exe(), "server", "start", "--port", str(svc_port), "--dev", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{svc_port}"
        wait_http_ok(f"{url}/healthz", timeout=30, proc=service)
        token = _ok(run_mm("server", "admin", "create-login", "--email", "me@example.com",
                           "--json"))["token"]
        _ok(run_mm("config", "set", "serviceUrl", url, "--json"))
        _ok(run_mm("login", "--token", token, "--json"))
        # This MM_HOME holds the BYOK wallet: --force keeps it as wallets.json.bak-<ts>.
        wallet = _ok(run_mm("init", "--wallet", "server-wallet", "--mode", "guard", "--force",
                            "--json"))
        address = wallet["address"]
        assert Path(wallet["previousWalletFile"]).exists()

        # Fund it from the devnet's deployer (the test mnemonic's account 0) with the BYOK CLI
        # of a second home, as a user with two terminals would.
        other = {"MM_HOME": str(mm_home.root.parent / "byok"), **byok}
        Home(other["MM_HOME"]).write_json("devnet.json", mm_home.read_json("devnet.json"))
        _ok(run_mm("init", "--wallet", "byok", "--json", env=other))
        for amount, token in (("1", "ETH"), ("100", "mUSD")):
            done = _ok(run_mm("transfer", "--to", address, "--amount", amount, "--token", token,
                              "--chain-id", "31337", "--json", env=other))
            assert done["status"] == "COMPLETED", done

        balance = _ok(run_mm("wallet", "balance", "--json"))
        chains = {c["chainId"]: c for c in balance["chains"]}
        tokens = {t["symbol"]: t["amount"] for t in chains[31337]["tokens"]}
        assert tokens["mUSD"] == "100" and tokens["ETH"] == "1", balance

        req = _ok(run_mm("transfer", "--to", ACCOUNT1, "--amount", "12.5", "--token", "mUSD",
                         "--chain-id", "31337", "--json"))
        unknown = run_mm("transfer", "--to", ACCOUNT1, "--amount", "1", "--token", "mXYZ",
                         "--chain-id", "31337", "--json")
        assert unknown[1]["error"]["code"] == "UNKNOWN_TOKEN"
        waiting = run_mm("wallet", "requests", "watch", req["pollingId"], "--wallet-timeout",
                         "5", "--json")[1]
        assert (waiting.get("data") or waiting["error"].get("details", {}).get("request", {})
                ).get("status", "AWAITING_MFA") == "AWAITING_MFA"
        # Guard mode, empty allowlists: the human approves by the mailed link.
        approve_by_mail(data_dir, url)
        final = _ok(run_mm("wallet", "requests", "watch", req["pollingId"], "--json"))
        assert final["status"] == "COMPLETED" and final["intent"].startswith(
            "Transfer 12.5 mUSD"), final
    finally:
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGINT)
            try:
                service.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                service.kill()
                service.communicate()
        run_mm("devnet", "stop", "--json")
        status = devnet.status(mm_home)
        if status["running"]:
            devnet.process._terminate(int(status["pid"]))
