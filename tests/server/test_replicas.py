"""Two real `mm server start` replicas on one PostgreSQL database (issue 14, replicas).

Each replica has its own data dir (config, dev outbox) and they share the database and
``MM_SERVER_MASTER_KEY``; requests go round-robin as behind a load balancer. Checked: 200
concurrent transfers of one wallet (all COMPLETED, nonces contiguous, balances exact), one
Idempotency-Key used 50 times at once on both (one transaction), the outflow window under
concurrent submissions to both (exact), approval links opened on the other replica, and a
replica SIGKILLed mid-run (the other takes its jobs over after the lease, no nonce twice).
PostgreSQL only (SQLite is one process per data dir).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import approve_by_mail, free_port, mm_exe, outbox_links, wait_http_ok, wait_until
from sqlalchemy import create_engine, text

from mm_agent.server import admin
from mm_agent.server.settings import ServerSettings

from . import pg
from .test_jobs import BOB, Api, prepare_service
from .test_policy_service import policy_yaml

LEASE = "2"  # MM_JOB_LEASE_SECONDS of the replicas: a dead one's jobs move after ~2 s
TERMINAL = ("COMPLETED", "FAILED", "DENIED", "EXPIRED")


class Replica:
    def __init__(self, data_dir: Path, url: str, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [mm_exe(), "server", "start", "--data-dir", str(data_dir), "--port",
             str(self.port), "--dev", "--database-url", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    def ready(self) -> None:
        wait_http_ok(f"{self.base_url}/healthz", timeout=60, proc=self.proc,
                     what="a replica to answer /healthz")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Pair:
    """Two replicas on one fresh database, an account, and a round-robin client."""

    def __init__(self, root: Path, cluster: pg.PgCluster, anvil: Any) -> None:
        self.cluster = cluster
        self.db = cluster.create_database()
        self.url = cluster.url(self.db)
        self.anvil = anvil
        self.master = secrets.token_hex(32)
        env = {**os.environ, "MM_HOME": str(root / "home"), "MM_SERVER_MASTER_KEY": self.master,
               "MM_JOB_LEASE_SECONDS": LEASE}
        self.replicas: list[Replica] = []
        for name in ("a", "b"):
            data_dir = root / name
            data_dir.mkdir(mode=0o700)
            prepare_service(type("Svc", (), {"data_dir": data_dir})(), anvil)
            self.replicas.append(Replica(data_dir, self.url, env))
        for replica in self.replicas:
            replica.ready()
        self.engine = create_engine(self.url)
        os.environ["MM_SERVER_MASTER_KEY"] = self.master  # create_login, in this process
        a = self.replicas[0]
        login = admin.create_login(a.data_dir, "ops@example.com", "email",
                                   ServerSettings(data_dir=a.data_dir, database_url=self.url))
        self.apis = [Api(r.base_url, login["token"]) for r in self.replicas]
        for api in self.apis:
            api.http.timeout = httpx.Timeout(60)

    def api(self, i: int) -> Api:
        return self.apis[i % 2]

    def beast_wallet(self, eth: int = 1000) -> str:
        """A wallet made on replica A, switched to beast by the human through a link opened
        on replica B (approval links work on any replica)."""
        a, b = self.replicas
        seen = len(outbox_links(a.data_dir))
        status, out = self.apis[0].call("POST", "/v1/wallets", json={"tradingMode": "beast"})
        assert status == 201, out
        address = out["data"]["address"]
        approve_by_mail(a.data_dir, b.base_url, seen=seen)
        wait_until(lambda: self.apis[0].call("GET", f"/v1/wallets/{address}")[1]["data"]
                   ["tradingMode"] == "beast", timeout=15, what="beast after the approval")
        self.anvil.rpc("anvil_setBalance", [address, hex(eth * 10**18)])
        return address

    def jobs(self, address: str) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(text(
                "SELECT j.polling_id, j.status, j.nonce, j.tx_hash, j.claimed_by "
                "FROM jobs j JOIN wallets w ON w.id = j.wallet_id "
                "WHERE w.address = :a AND j.kind = 'transaction'"), {"a": address}).all()

    def close(self) -> None:
        for replica in self.replicas:
            replica.stop()
        self.engine.dispose()
        self.cluster.drop_database(self.db)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, pg_cluster: pg.PgCluster, anvil: Any
         ) -> Iterator[Pair]:
    saved = os.environ.get("MM_SERVER_MASTER_KEY")
    made = Pair(tmp_path_factory.mktemp("replicas"), pg_cluster, anvil)
    try:
        yield made
    finally:
        made.close()
        if saved is None:
            os.environ.pop("MM_SERVER_MASTER_KEY", None)
        else:
            os.environ["MM_SERVER_MASTER_KEY"] = saved


def _transfer(amount: str) -> dict[str, Any]:
    return {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": amount}


def _settle(pair: Pair, ids: list[str], timeout: float = 120) -> list[dict[str, Any]]:
    """Wait for every job through the replica that did NOT take it (long-poll wake-ups cross
    replicas: LISTEN/NOTIFY)."""
    def one(item: tuple[int, str]) -> dict[str, Any]:
        i, polling_id = item
        return pair.api(i + 1).wait(polling_id, timeout=timeout)

    with concurrent.futures.ThreadPoolExecutor(48) as pool:
        return list(pool.map(one, enumerate(ids)))


def _fees(anvil: Any, hashes: list[str]) -> int:
    total = 0
    for tx_hash in hashes:
        receipt = anvil.rpc("eth_getTransactionReceipt", [tx_hash])
        total += int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    return total


def test_two_replicas_take_200_concurrent_transfers_from_one_wallet(pair: Pair) -> None:
    anvil = pair.anvil
    address = pair.beast_wallet()
    start, bob_start = anvil.balance(address), anvil.balance(BOB)
    nonce_start = int(anvil.rpc("eth_getTransactionCount", [address, "latest"]), 16)
    amount = 10**15  # 0.001 ETH

    def submit(i: int) -> str:
        return pair.api(i).submit(address, _transfer("0.001"))["pollingId"]

    with concurrent.futures.ThreadPoolExecutor(48) as pool:
        ids = list(pool.map(submit, range(200)))
    done = _settle(pair, ids)
    assert [d["status"] for d in done] == ["COMPLETED"] * 200, [
        (d["status"], d.get("error")) for d in done if d["status"] != "COMPLETED"]
    # Nonces contiguous, one transaction each, all on chain.
    nonces = sorted(d["nonce"] for d in done)
    assert nonces == list(range(nonce_start, nonce_start + 200)), nonces
    hashes = [d["txHash"] for d in done]
    assert len(set(hashes)) == 200
    assert int(anvil.rpc("eth_getTransactionCount", [address, "latest"]), 16) == nonce_start + 200
    # Balances exact: BOB got 200 × 0.001 ETH, the wallet paid that plus each receipt's fee.
    assert anvil.balance(BOB) - bob_start == 200 * amount
    assert anvil.balance(address) == start - 200 * amount - _fees(anvil, hashes)
    # Both replicas ran jobs (each runs what it accepted).
    rows = pair.jobs(address)
    assert len({r.claimed_by for r in rows}) == 2, {r.claimed_by for r in rows}


def test_a_long_poll_on_one_replica_wakes_on_the_other_s_change(pair: Pair) -> None:
    """LISTEN/NOTIFY: a client long-polling replica B returns as soon as replica A changes
    the job, not at B's 5-second safety re-read (the LISTEN connection once never came up:
    it read the driver connection after detaching it from the pool)."""
    import time

    address = pair.beast_wallet()
    musd = pair.anvil.token("mUSD")["address"]
    risky = {"kind": "transaction", "chainId": 31337, "payload": {
        "to": musd, "value": "0x0",
        "data": "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64}}
    req = pair.apis[0].wait(pair.apis[0].submit(address, risky)["pollingId"])
    assert req["status"] == "AWAITING_MFA", req
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(pair.apis[1].call, "GET", f"/v1/requests/{req['pollingId']}/wait",
                              params={"version": req["version"], "timeout": 30})
        time.sleep(0.3)  # B's poll is parked
        status, out = pair.apis[0].call("POST", f"/v1/requests/{req['pollingId']}/cancel")
        assert status == 200, out
        status, out = waiting.result(timeout=30)
        elapsed = time.monotonic() - started
    assert status == 200 and out["data"]["status"] == "DENIED", out
    assert elapsed < 2.5, f"woken after {elapsed:.2f} s: LISTEN/NOTIFY did not cross replicas"


def test_one_idempotency_key_50_times_on_both_replicas_is_one_transaction(pair: Pair) -> None:
    anvil = pair.anvil
    address = pair.beast_wallet(eth=10)
    key = f"replicas-{secrets.token_hex(4)}"

    def submit(i: int) -> str:
        return pair.api(i).submit(address, _transfer("0.002"), key=key)["pollingId"]

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        ids = set(pool.map(submit, range(50)))
    assert len(ids) == 1, ids
    (polling_id,) = ids
    assert pair.api(1).wait(polling_id)["status"] == "COMPLETED"
    assert [r.polling_id for r in pair.jobs(address)] == [polling_id]
    assert int(anvil.rpc("eth_getTransactionCount", [address, "latest"]), 16) == 1


def test_outflow_limit_is_exact_under_concurrent_submissions_to_both(pair: Pair) -> None:
    a, b = pair.replicas
    api = pair.apis[0]
    _, out = api.call("POST", "/v1/wallets", json={"tradingMode": "guard"})
    address = out["data"]["address"]
    pair.anvil.rpc("anvil_setBalance", [address, hex(100 * 10**18)])
    seen = len(outbox_links(a.data_dir))
    status, out = api.call("PUT", f"/v1/wallets/{address}/policy",
                           json={"policy": policy_yaml(address, recipients=[BOB])})
    assert status == 200 and out["data"]["status"] == "pending_approval", out
    approve_by_mail(a.data_dir, b.base_url, seen=seen)  # a link of A opened on B
    assert pair.api(1).wait(out["data"]["pollingId"])["status"] == "COMPLETED"
    # 0.0499 ETH at the devnet's $2000 = $99.80 plus a worst-case fee of a few cents: ten fit
    # in the $1000 window, whichever replica takes them.
    def submit(i: int) -> str:
        return pair.api(i).submit(address, _transfer("0.0499"))["pollingId"]

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        ids = list(pool.map(submit, range(24)))
    statuses = [d["status"] for d in _settle(pair, ids, timeout=60)]
    assert statuses.count("COMPLETED") == 10, statuses
    assert statuses.count("AWAITING_MFA") == 14, statuses


def test_a_sigkilled_replica_s_jobs_are_finished_by_the_other(
        tmp_path: Path, pg_cluster: pg.PgCluster, anvil: Any) -> None:
    """40 transfers go to replica A; blocks stop so they wait SUBMITTED (some still PENDING)
    when A is SIGKILLed. Once A's leases lapse, B takes them over: the SUBMITTED ones with
    the bytes A stored (never re-signed), the PENDING ones from the start; no nonce twice."""
    saved = os.environ.get("MM_SERVER_MASTER_KEY")
    killed = Pair(tmp_path, pg_cluster, anvil)
    a, _b = killed.replicas
    try:
        address = killed.beast_wallet(eth=10)
        anvil.rpc("evm_setAutomine", [False])
        try:
            def submit(_i: int) -> str:
                return killed.apis[0].submit(address, _transfer("0.001"))["pollingId"]

            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                ids = list(pool.map(submit, range(40)))
            wait_until(lambda: any(r.status == "SUBMITTED" for r in killed.jobs(address)),
                       timeout=30, what="some jobs SUBMITTED on A")
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=10)
            at_kill = {r.polling_id: r for r in killed.jobs(address)}
        finally:
            anvil.rpc("evm_setAutomine", [True])
        anvil.rpc("evm_mine")
        assert not any(r.status in TERMINAL for r in at_kill.values()), at_kill
        stored = {pid: r.tx_hash for pid, r in at_kill.items() if r.status == "SUBMITTED"}
        assert stored
        done = [killed.apis[1].wait(pid, timeout=60) for pid in ids]
        assert [d["status"] for d in done] == ["COMPLETED"] * 40, [
            (d["status"], d.get("error")) for d in done if d["status"] != "COMPLETED"]
        # Exactly once: what A signed and stored is what got mined.
        assert {d["pollingId"]: d["txHash"] for d in done if d["pollingId"] in stored} == stored
        assert sorted(d["nonce"] for d in done) == list(range(40))
        assert len({d["txHash"] for d in done}) == 40
        assert int(anvil.rpc("eth_getTransactionCount", [address, "latest"]), 16) == 40
        b_id = {r.claimed_by for r in killed.jobs(address)}
        assert len(b_id) == 1 and b_id != {at_kill[ids[0]].claimed_by}  # all moved to B
    finally:
        with contextlib.suppress(Exception):
            anvil.rpc("evm_setAutomine", [True])
        killed.close()
        if saved is None:
            os.environ.pop("MM_SERVER_MASTER_KEY", None)
        else:
            os.environ["MM_SERVER_MASTER_KEY"] = saved


def test_a_stalled_replica_loses_its_job_and_cannot_touch_it(pg_cluster: pg.PgCluster,
                                                             tmp_path: Path) -> None:
    """Fencing, in process: replica A's lease lapses (a stall), B takes the job over
    (``FOR UPDATE SKIP LOCKED``); A's worker then gets ``LeaseLost`` from its next change
    and from the signing lock, and the job stays B's."""
    from sqlalchemy import insert

    from mm_agent.server.db.store import Store, accounts, jobs, now, wallets
    from mm_agent.server.services.jobs.queue import JobQueue, LeaseLost

    name = pg_cluster.create_database()
    store = Store(pg_cluster.url(name))
    try:
        ts = now()
        with store.tx() as conn:
            conn.execute(insert(accounts).values(id="acc", email="x@example.com",
                                                 channel="email", created_at=ts))
            conn.execute(insert(wallets).values(
                id="w", account_id="acc", address="0x" + "11" * 20, name="w",
                trading_mode="beast", key_enc=b"k", data_key_wrapped=b"d", created_at=ts))
            conn.execute(insert(jobs).values(
                polling_id="p1", wallet_id="w", account_id="acc", kind="transaction",
                status="PENDING", intent="t", chain_id=31337, body={}, body_hash="h",
                version=1, created_at=ts, updated_at=ts))
        queues = [JobQueue(store, ServerSettings(data_dir=tmp_path, replica_id=rid,
                                                 job_lease_seconds=30.0))
                  for rid in ("replica-a", "replica-b")]
        qa, qb = queues
        assert [r[0] for r in qa.take_over()] == ["p1"]  # never claimed: free to take
        assert qb.take_over() == [] and not qb.claim("p1")  # A holds it
        with store.tx() as conn:  # A stalls past its lease
            conn.execute(text("UPDATE jobs SET lease_until = 0"))
        assert [r[0] for r in qb.take_over()] == ["p1"]
        seen: list[str] = []

        def a_worker(polling_id: str) -> None:
            try:
                qa.update(polling_id, intent="from A")
            except LeaseLost:
                seen.append("update")
            try:
                with store.tx(exclusive=False) as conn:
                    qa.hold(conn, polling_id)
            except LeaseLost:
                seen.append("hold")
                raise

        qa._worker.polling_id = "p1"  # as _run_claimed sets it, without re-claiming
        with pytest.raises(LeaseLost):
            a_worker("p1")
        assert seen == ["update", "hold"]
        with store.read() as conn:
            row = conn.execute(text("SELECT claimed_by, intent, status FROM jobs")).one()
        assert tuple(row) == ("replica-b", "t", "PENDING")
        qb.update("p1", intent="from B")  # B's own changes go through
        for queue in queues:
            queue.shutdown()
    finally:
        store.dispose()
        pg_cluster.drop_database(name)


@pytest.mark.parametrize("everything", [False, True], ids=["lease-sweep", "sqlite-restart"])
def test_pending_policy_changes_are_never_taken_over(pg_cluster: pg.PgCluster, tmp_path: Path,
                                                     everything: bool) -> None:
    """A policy or trading-mode change waits for the human as a PENDING row that no worker
    runs: neither a lease sweep nor a restart's take-over may claim it (a worker would fail
    it, and the human's link would then say the request is FAILED)."""
    from sqlalchemy import insert

    from mm_agent.server.db.store import Store, accounts, jobs, now, wallets
    from mm_agent.server.services.jobs.queue import JobQueue

    store = Store(pg_cluster.url(pg_cluster.create_database()))
    try:
        ts = now()
        with store.tx() as conn:
            conn.execute(insert(accounts).values(id="acc", email="x@example.com",
                                                 channel="email", created_at=ts))
            conn.execute(insert(wallets).values(
                id="w", account_id="acc", address="0x" + "22" * 20, name="w",
                trading_mode="guard", key_enc=b"k", data_key_wrapped=b"d", created_at=ts))
            for pid, kind in (("pol", "policy"), ("mode", "trading-mode"),
                              ("tx", "transaction")):
                conn.execute(insert(jobs).values(
                    polling_id=pid, wallet_id="w", account_id="acc", kind=kind,
                    status="PENDING", intent="t", chain_id=None, body={}, body_hash=pid,
                    version=1, created_at=ts, updated_at=ts))
        queue = JobQueue(store, ServerSettings(data_dir=tmp_path, replica_id="replica-a",
                                               job_lease_seconds=30.0))
        assert [r[0] for r in queue.take_over(everything=everything)] == ["tx"]
    finally:
        store.engine.dispose()
