"""SIGKILL the real `mm server start` process mid-job; a restart finishes every job once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from conftest import free_port

from mm_agent.server import admin

from .test_jobs import BOB, Api, prepare_service

ROOT = Path(__file__).resolve().parents[2]


class _Svc:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MM_HOME": str(data_dir.parent / "home")}
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "mm"), "server", "start", "--data-dir", str(data_dir),
         "--port", str(port), "--dev"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("service did not start")


def _approve_by_mail(data_dir: Path, base_url: str) -> None:
    import email
    import email.policy

    from .test_approvals import LINK_RE

    deadline = time.monotonic() + 15
    while True:
        mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                 for p in sorted((data_dir / "outbox").glob("*.eml"))]
        links = [m for msg in mails if (m := LINK_RE.search(
            msg.get_body(preferencelist=("plain",)).get_content()))]
        if links:
            break
        assert time.monotonic() < deadline, "no approval mail"
        time.sleep(0.05)
    _link, approval_id, secret = links[-1].groups()
    resp = httpx.post(f"{base_url}/approvals/{approval_id}",
                      data={"t": secret, "decision": "approve"}, timeout=30)
    assert resp.status_code == 200, resp.text


def _status_of(api: Api, ids: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for pid in ids:
        _, body = api.call("GET", f"/v1/requests/{pid}")
        out[pid] = body["data"]
    return out


def test_sigkill_mid_job_then_restart_finishes_each_job_once(tmp_path: Path, chain: Any) -> None:
    data_dir = tmp_path / "server"
    data_dir.mkdir(mode=0o700)
    svc = _Svc(data_dir)
    prepare_service(svc, chain)
    port = free_port()
    proc = _start(data_dir, port)
    try:
        login = admin.create_login(data_dir, "ops@example.com", "email")
        api = Api(f"http://127.0.0.1:{port}", login["token"])
        _, out = api.call("POST", "/v1/wallets", json={"tradingMode": "beast"})
        address = out["data"]["address"]
        # An agent token's beast wallet starts in guard; the human approves beast by mail.
        _approve_by_mail(data_dir, f"http://127.0.0.1:{port}")
        assert api.call("GET", f"/v1/wallets/{address}")[1]["data"]["tradingMode"] == "beast"
        chain.rpc("anvil_setBalance", [address, hex(10 * 10**18)])
        # Blocks stop: broadcast transactions wait in the mempool, jobs sit in SUBMITTED.
        chain.rpc("evm_setAutomine", [False])
        body = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.01"}
        ids = [api.submit(address, body)["pollingId"] for _ in range(8)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = _status_of(api, ids)
            if all(s["status"] == "SUBMITTED" for s in states.values()):
                break
            time.sleep(0.05)
        assert all(s["status"] == "SUBMITTED" for s in states.values()), states
        hashes_before = {pid: s["txHash"] for pid, s in states.items()}
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # Two more requests arrive while nobody runs them: submitted just before the crash.
    finally:
        if proc.poll() is None:
            proc.kill()
    chain.rpc("evm_mine")
    chain.rpc("evm_setAutomine", [True])
    proc = _start(data_dir, port)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = _status_of(api, ids)
            if all(s["status"] == "COMPLETED" for s in states.values()):
                break
            time.sleep(0.1)
        assert all(s["status"] == "COMPLETED" for s in states.values()), states
        # Exactly once: the same transaction each job stored before the crash, no other.
        assert {pid: s["txHash"] for pid, s in states.items()} == hashes_before
        nonces = sorted(s["nonce"] for s in states.values())
        assert nonces == list(range(nonces[0], nonces[0] + len(ids)))
        assert int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16) == len(ids)
        # A new job after the restart continues the sequence without a gap.
        done = api.wait(api.submit(address, body)["pollingId"])
        assert done["status"] == "COMPLETED" and done["nonce"] == len(ids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
