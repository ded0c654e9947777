"""Stopping the service does not wait for open long polls: they end at once with
SERVICE_STOPPING (503) and a retry hint, and `mm server start` exits promptly."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from helpers import free_port, mm_exe, wait_http_ok

from mm_agent.server import admin


def test_sigint_ends_open_long_polls(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "srv", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_SMTP_", "MM_SERVER_"))}
    env["MM_HOME"] = str(tmp_path / "home")
    proc = subprocess.Popen([mm_exe(), "server", "start", "--port", str(port), "--data-dir",
                             str(data_dir), "--dev", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/healthz", timeout=20, proc=proc)
        token = admin.create_login(data_dir, "ops@example.com")["token"].split(":")[0]
        api = httpx.Client(base_url=url, timeout=90,
                           headers={"Authorization": f"Bearer {token}"})
        address = api.post("/v1/wallets", json={}).json()["data"]["address"]
        # A bare 32-byte hash: Malicious → AWAITING_MFA, a job that stays open.
        req = api.post(f"/v1/wallets/{address}/requests",
                       json={"kind": "message", "chainId": 31337,
                             "message": "0x" + "ab" * 32}).json()["data"]
        got: dict[str, Any] = {}

        def long_poll() -> None:
            r = api.get(f"/v1/requests/{req['pollingId']}/wait",
                        params={"version": 10**6, "timeout": 60})
            got.update(status=r.status_code, body=r.json(), at=time.monotonic())

        t = threading.Thread(target=long_poll)
        t.start()
        # The long poll must be open (parked on the server) before the signal; nothing the
        # client can observe says so, hence a short settle time (the behaviour under test).
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        t.join(timeout=15)
        assert got, "the long poll was still open"
        assert got["status"] == 503 and got["body"]["error"]["code"] == "SERVICE_STOPPING"
        assert "retry" in got["body"]["error"]["hint"].lower()
        assert got["at"] - sent < 5
        proc.wait(timeout=15)
        assert time.monotonic() - sent < 15
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
