"""The README quickstart, walked as a new user would, with one MM_HOME and the real `mm`:
devnet → BYOK wallet → transfer → `mm server start` from the same MM_HOME (it serves that
devnet: no copied files) → create-login → login → server wallet → balance (31337, mUSD) →
transfer --token mUSD → approve by the mailed link → watch → stop everything."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ACCOUNT1, TEST_MNEMONIC, free_port, run_mm

from mm_agent import devnet
from mm_agent.local.state import Home

LINK_RE = re.compile(r"(http://\S+/approvals/([0-9a-f]+)\?t=([\w-]+))")


def _ok(result: tuple[int, Any, str]) -> dict[str, Any]:
    rc, out, err = result
    assert rc == 0 and isinstance(out, dict) and out["ok"], (out, err)
    return dict(out["data"])


def _mm_exe() -> str:
    exe = Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "mm"
    return str(exe if exe.exists() else Path(__file__).resolve().parents[2] / ".venv/bin/mm")


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
            [_mm_exe(), "server", "start", "--port", str(svc_port), "--dev", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{svc_port}"
        deadline = time.monotonic() + 30
        while True:
            assert service.poll() is None, service.communicate()
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
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
        deadline = time.monotonic() + 15
        while True:
            mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                     for p in sorted((data_dir / "outbox").glob("*.eml"))]
            links = [LINK_RE.search(m.get_body(preferencelist=("plain",)).get_content())
                     for m in mails if str(m["Subject"]).startswith("Approval needed")]
            if links and links[-1]:
                break
            assert time.monotonic() < deadline, "no approval mail"
            time.sleep(0.1)
        _link, approval_id, secret = links[-1].groups()
        r = httpx.post(f"{url}/approvals/{approval_id}", data={"t": secret,
                                                               "decision": "approve"})
        assert r.status_code == 200, r.text
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
            devnet._terminate(int(status["pid"]))
