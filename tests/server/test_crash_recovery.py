"""SIGKILL the real `mm server start` process mid-job; a restart finishes every job once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from helpers import approve_by_mail, free_port, mm_exe, wait_http_ok, wait_until

from mm_agent.server import admin

from .test_jobs import BOB, Api, prepare_service

WORKERS = 8  # ServerSettings.workers: the service's concurrent jobs
HANDOFF_WAIT = 6.0  # > the confirmer's hand-off (5 s at the default stuck-after of 30 s)


class _Svc:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MM_HOME": str(data_dir.parent / "home")}
    proc = subprocess.Popen(
        [mm_exe(), "server", "start", "--data-dir", str(data_dir), "--port", str(port), "--dev"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=30, proc=proc,
                     what="`mm server start` to answer /healthz")
    except BaseException:
        proc.kill()
        raise
    return proc


def _db_jobs(data_dir: Path) -> dict[str, tuple[str, int | None, bool]]:
    """polling id → (status, nonce, has signed bytes), read straight from the service's
    database (read-only), not through the API."""
    conn = sqlite3.connect(f"file:{data_dir / 'mm.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT polling_id, status, nonce, raw_tx FROM jobs").fetchall()
    finally:
        conn.close()
    return {pid: (status, nonce, raw is not None) for pid, status, nonce, raw in rows}


def _status_of(api: Api, ids: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for pid in ids:
        _, body = api.call("GET", f"/v1/requests/{pid}")
        out[pid] = body["data"]
    return out


def test_sigkill_mid_job_then_restart_finishes_each_job_once(tmp_path: Path, chain: Any) -> None:
    """At the SIGKILL some jobs are SUBMITTED (signed, broadcast, waiting for a block) and
    some still PENDING (never signed, no nonce): checked in the database just before the
    kill. After a restart every job completes, the SUBMITTED ones with the very bytes they
    stored, and no nonce is used twice."""
    data_dir = tmp_path / "server"
    data_dir.mkdir(mode=0o700)
    svc = _Svc(data_dir)
    prepare_service(svc, chain)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port)
    try:
        login = admin.create_login(data_dir, "ops@example.com", "email")
        api = Api(base_url, login["token"])
        _, out = api.call("POST", "/v1/wallets", json={"tradingMode": "beast"})
        address = out["data"]["address"]
        # An agent token's beast wallet starts in guard; the human approves beast by mail.
        approve_by_mail(data_dir, base_url)
        assert api.call("GET", f"/v1/wallets/{address}")[1]["data"]["tradingMode"] == "beast"
        chain.rpc("anvil_setBalance", [address, hex(10 * 10**18)])
        # Blocks stop: broadcast transactions wait in the mempool, and each job's worker
        # waits for its receipt. WORKERS jobs occupy every worker in SUBMITTED...
        chain.rpc("evm_setAutomine", [False])
        body = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.01"}
        submitted = [api.submit(address, body)["pollingId"] for _ in range(WORKERS)]
        wait_until(lambda: all(s["status"] == "SUBMITTED"
                               for s in _status_of(api, submitted).values()),
                   timeout=30, what="every worker's job to be SUBMITTED")
        # Workers do not wait for receipts: the confirmer polls them in batches and hands a
        # job still unmined after min(stuck-after / 2, 5 s) to the per-job path on a worker
        # (confirm.py). Once it has, every worker waits for a receipt...
        time.sleep(HANDOFF_WAIT)
        # ...so the next ones queue: accepted, PENDING, not yet signed.
        pending = [api.submit(address, body)["pollingId"] for _ in range(3)]
        ids = submitted + pending
        states = _status_of(api, ids)
        hashes_before = {pid: states[pid]["txHash"] for pid in submitted}
        in_db = _db_jobs(data_dir)
        assert all(in_db[pid][0] == "SUBMITTED" and in_db[pid][2] and in_db[pid][1] is not None
                   for pid in submitted), in_db
        assert all(in_db[pid] == ("PENDING", None, False) for pid in pending), in_db
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Still as they were at the kill: the process died before touching them again.
    at_kill = _db_jobs(data_dir)
    assert [at_kill[pid][0] for pid in ids] == ["SUBMITTED"] * WORKERS + ["PENDING"] * 3
    chain.rpc("evm_mine")
    chain.rpc("evm_setAutomine", [True])
    proc = _start(data_dir, port)
    try:
        def all_completed() -> dict[str, dict[str, Any]] | None:
            now = _status_of(api, ids)
            return now if all(s["status"] == "COMPLETED" for s in now.values()) else None

        states = wait_until(all_completed, timeout=30, interval=0.1,
                            what="every job to complete after the restart")
        # Exactly once: the same transaction each SUBMITTED job stored before the crash.
        assert {pid: states[pid]["txHash"] for pid in submitted} == hashes_before
        nonces = sorted(s["nonce"] for s in states.values())
        assert nonces == list(range(len(ids))), nonces  # no nonce twice, no gap
        assert len({s["txHash"] for s in states.values()}) == len(ids)
        assert int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16) == len(ids)
        # A new job after the restart continues the sequence without a gap.
        done = api.wait(api.submit(address, body)["pollingId"])
        assert done["status"] == "COMPLETED" and done["nonce"] == len(ids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
