"""Wallet-service figures on one anvil, measured in one run.

(a) submit → COMPLETED latency with a waiting client (p50/p99, sequential transfers);
(b) how fast a long-polling client learns of a status change (p50/p99);
(c) throughput of N transfer jobs from one wallet submitted concurrently (jobs/s), checking
    that all complete with contiguous nonces.

Targets on a 2-core machine: (a) p50 ≤ 30 ms, (b) p99 ≤ 20 ms, (c) ≥ 100 jobs/s.
Usage: python bench/service.py [--seq 40] [--notify 100] [--concurrent 200]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seq", type=int, default=40)
    parser.add_argument("--notify", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=200)
    args = parser.parse_args()

    import uvicorn

    from mm_agent.devnet import deploy_demo_contracts, find_anvil
    from mm_agent.local.state import Home
    from mm_agent.server import admin
    from mm_agent.server.app import create_app
    from mm_agent.server.settings import ServerSettings

    anvil_port = free_port()
    anvil = subprocess.Popen([find_anvil(), "--port", str(anvil_port), "--silent"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rpc_url = f"http://127.0.0.1:{anvil_port}"
    for _ in range(100):
        try:
            httpx.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                      "params": []}, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    deployed = deploy_demo_contracts(rpc_url)
    data_dir = Path(tempfile.mkdtemp(prefix="mm-bench-")) / "server"
    data_dir.mkdir(mode=0o700)
    home = Home(data_dir)
    home.write_json("config.json", {"rpc.31337": rpc_url})
    home.write_json("devnet.json", {"rpcUrl": rpc_url, "chainId": 31337, **deployed})
    port = free_port()
    settings = ServerSettings(data_dir=data_dir, port=port, dev=True, workers=16)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        token = admin.create_login(data_dir, "bench@example.com", "email")["token"]
        client = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(
            max_connections=256, max_keepalive_connections=256),
            headers={"Authorization": "Bearer " + token.split(":")[0]})
        # Beast mode: the figures are about the job machinery, not about human approvals.
        address = client.post("/v1/wallets", json={"tradingMode": "beast"}).json()["data"][
            "address"]
        httpx.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance",
                                  "params": [address, hex(10**24)]})
        body = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.0001"}

        def submit_and_wait() -> dict[str, Any]:
            req = client.post(f"/v1/wallets/{address}/requests", json=body).json()["data"]
            version = req["version"]
            deadline = time.monotonic() + 120
            while req["status"] not in ("COMPLETED", "FAILED", "DENIED", "EXPIRED",
                                        "AWAITING_MFA"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"request stuck: {req}")
                req = client.get(f"/v1/requests/{req['pollingId']}/wait",
                                 params={"version": version, "timeout": 30,
                                         "until": "final"}).json()["data"]
                version = req["version"]
            return req

        for _ in range(3):  # warm-up
            submit_and_wait()
        # (a) sequential latency
        lat = []
        for _ in range(args.seq):
            t0 = time.perf_counter()
            req = submit_and_wait()
            lat.append((time.perf_counter() - t0) * 1000)
            assert req["status"] == "COMPLETED", req
        # (b) notification latency: bump a job's version from the server side while a client
        # long-polls it; measure from the change to the client's return.
        jobs = app.state.mm.jobs
        # A job that stays open (AWAITING_MFA): an unlimited approval to a plain account.
        musd = next(t for t in deployed["tokens"] if t["symbol"] == "mUSD")["address"]
        risky = {"kind": "transaction", "chainId": 31337, "payload": {
            "to": musd, "value": "0x0",
            "data": "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64}}
        pid = client.post(f"/v1/wallets/{address}/requests", json=risky).json()["data"][
            "pollingId"]
        while jobs._load(pid)[0].status != "AWAITING_MFA":
            time.sleep(0.01)
        account_id = jobs._load(pid)[0].account_id
        notify = []
        for _ in range(args.notify):
            row, _addr = jobs.get(account_id, pid)
            version = row.version
            marks: dict[str, float] = {}

            def waiter(v: int = version, m: dict[str, float] = marks) -> None:
                client.get(f"/v1/requests/{pid}/wait", params={"version": v, "timeout": 10})
                m["returned"] = time.perf_counter()

            w = threading.Thread(target=waiter)
            w.start()
            time.sleep(0.02)  # let the waiter park on the event
            marks["changed"] = time.perf_counter()
            jobs.queue.update(pid, intent=row.intent)  # a change: bumps version, wakes waiters
            w.join()
            notify.append((marks["returned"] - marks["changed"]) * 1000)
        # (c) throughput
        n = args.concurrent
        start_nonce = int(httpx.post(rpc_url, json={
            "jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
            "params": [address, "latest"]}).json()["result"], 16)
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            results = list(pool.map(lambda _i: submit_and_wait(), range(n)))
        elapsed = time.perf_counter() - t0
        ok = all(r["status"] == "COMPLETED" for r in results)
        nonces = sorted(r["nonce"] for r in results if "nonce" in r)
        contiguous = nonces == list(range(start_nonce, start_nonce + n))

        print(f"wallet service on anvil, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"(a) submit→COMPLETED, sequential, N={args.seq}: p50 {pct(lat, .5):.1f} ms, "
              f"p99 {pct(lat, .99):.1f} ms (target p50 ≤ 30 ms: "
              f"{'OK' if pct(lat, .5) <= 30 else 'MISSED'})")
        print(f"(b) long-poll notification, N={args.notify}: p50 {pct(notify, .5):.2f} ms, "
              f"p99 {pct(notify, .99):.2f} ms (target p99 ≤ 20 ms: "
              f"{'OK' if pct(notify, .99) <= 20 else 'MISSED'})")
        print(f"(c) {n} concurrent transfers: {n / elapsed:.1f} jobs/s in {elapsed:.2f} s, "
              f"all COMPLETED: {ok}, nonces contiguous: {contiguous} (target ≥ 100 jobs/s: "
              f"{'OK' if n / elapsed >= 100 else 'MISSED'})")
        print(f"    mean of (a) {statistics.mean(lat):.1f} ms")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        anvil.terminate()


if __name__ == "__main__":
    main()
