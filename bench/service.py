"""Wallet-service figures on one anvil, measured in one run, as ratios to the chain's own limit.

The service runs in its own process (as `mm server start` does), so the load generator does not
share its GIL. Every figure is printed next to the chain's limit measured in the same run:

(raw) the chain's own rate: N pre-signed transfers sent with ``eth_sendRawTransaction`` and
      their receipts fetched, on the same anvil (transactions/s);
(a)   submit → COMPLETED latency with a waiting client (p50/p99, sequential transfers);
(n)   how fast a long-polling client learns of a status change (p50/p99, measured from the
      job row's ``updated_at`` to the client's return);
(b)   jobs/s for N concurrent transfers from one wallet, and for W wallets × M transfers each,
      checking that all complete with contiguous nonces;
(c)   the same with two replicas on PostgreSQL (only when the service supports replicas).

Targets on a 2-core machine: (a) p50 ≤ 25 ms, (n) p99 ≤ 20 ms, (b) ≥ 100 jobs/s from one wallet
(≥ 25 % of the raw chain rate), (c) two replicas ≥ 0.8× one.
Usage: python bench/service.py [--seq 40] [--notify 30] [--concurrent 200] [--wallets 20x20]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import email
import email.policy
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
LINK_RE = re.compile(r"https?://[^\s\"'<>]+/approvals/([0-9a-f]+)\?t=([A-Za-z0-9_\-]+)")
TERMINAL = ("COMPLETED", "FAILED", "DENIED", "EXPIRED")
# The bench creates 20+ wallets and opens many approvals: no rate limit in its way.
NO_LIMITS = {f"MM_RATE_LIMIT_{n}": "off" for n in ("WALLET_CREATE", "APPROVAL_MAIL")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rpc(url: str, method: str, params: list[Any]) -> Any:
    out = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                     timeout=30).json()
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


# --- the service process ------------------------------------------------------------------------
def serve(data_dir: Path, port: int, database_url: str | None, workers: int) -> None:
    """``--serve``: run the service in this process (what `mm server start` runs)."""
    import uvicorn

    from mm_agent.server.app import create_app
    from mm_agent.server.settings import ServerSettings

    settings = ServerSettings(data_dir=data_dir, port=port, dev=True, workers=workers,
                              database_url=database_url)
    if os.environ.get("MM_BENCH_PROFILE"):
        start_sampler(Path(os.environ["MM_BENCH_PROFILE"]))
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def start_sampler(out: Path, interval: float = 0.002) -> None:
    """``MM_BENCH_PROFILE=<file>``: sample every thread's stack; at exit write, per thread
    group, the share of samples each function was on the stack (inclusive) and on top."""
    import atexit
    import collections
    import threading

    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(
        collections.Counter)
    top: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    me = threading.get_ident()

    def sample() -> None:
        while True:
            time.sleep(interval)
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                group = re.sub(r"[_\-]?\d+$", "", names.get(ident, "?"))
                totals[group] += 1
                seen = set()
                f: Any = frame
                first = True
                while f is not None:
                    code = f.f_code
                    key = f"{Path(code.co_filename).name}:{code.co_name}"
                    if first:
                        top[group][key] += 1
                        first = False
                    if key not in seen:
                        inclusive[group][key] += 1
                        seen.add(key)
                    f = f.f_back

    def dump() -> None:
        with out.open("w") as fh:
            for group, total in totals.most_common():
                fh.write(f"== {group}: {total} samples\n")
                for key, count in inclusive[group].most_common(60):
                    fh.write(f"  {100 * count / total:5.1f}%  incl  {key}\n")
                for key, count in top[group].most_common(25):
                    fh.write(f"  {100 * count / total:5.1f}%  top   {key}\n")

    threading.Thread(target=sample, daemon=True, name="sampler").start()
    atexit.register(dump)


class Service:
    def __init__(self, data_dir: Path, database_url: str | None = None, workers: int = 8,
                 env: dict[str, str] | None = None):
        self.data_dir, self.port = data_dir, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # MM_BENCH_SERVE_WITH: another script that runs this one's --serve (profiling).
        script = os.environ.get("MM_BENCH_SERVE_WITH") or str(Path(__file__).resolve())
        cmd = [sys.executable, script, "--serve", str(data_dir),
               "--port", str(self.port), "--workers", str(workers)]
        if database_url:
            cmd += ["--database-url", database_url]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **NO_LIMITS, **(env or {})})
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the service process used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def approve_all(self, seen: set[str]) -> int:
        """Approve every approval mailed so far (the human clicking the link)."""
        done = 0
        for path in sorted((self.data_dir / "outbox").glob("*.eml")):
            if path.name in seen:
                continue
            seen.add(path.name)
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if not str(msg["Subject"]).startswith("Approval needed"):
                continue
            text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            match = LINK_RE.search(text)
            if match:
                httpx.post(f"{self.base}/approvals/{match.group(1)}",
                           data={"t": match.group(2), "decision": "approve"}, timeout=30)
                done += 1
        return done


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=120, limits=httpx.Limits(
            max_connections=256, max_keepalive_connections=256),
            headers={"Authorization": "Bearer " + token.split(":")[0]})

    def wait(self, req: dict[str, Any], *, until: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
        version, deadline = req["version"], time.monotonic() + 120
        while req["status"] not in until and req["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise RuntimeError(f"request stuck: {req}")
            req = self.client.get(f"/v1/requests/{req['pollingId']}/wait", params={
                "version": version, "timeout": 30, "until": "final"}).json()["data"]
            version = req["version"]
        return req

    def submit(self, address: str, body: dict[str, Any]) -> dict[str, Any]:
        out = self.client.post(f"/v1/wallets/{address}/requests", json=body).json()
        if "data" not in out:
            raise RuntimeError(f"submit failed: {out}")
        return out["data"]

    def transfer(self, address: str, to: str = BOB) -> dict[str, Any]:
        return self.wait(self.submit(address, {"kind": "transfer", "chainId": 31337, "to": to,
                                               "amount": "0.0001"}))


def policy_yaml(address: str) -> str:
    return (f'schema_version: 1\nwallet_address: "{address}"\naddresses:\n  allowlist: []\n'
            f"  blocklist: []\nevm:\n  allowed_chains: [31337]\n"
            f'  token_recipients:\n    allowlist: ["{BOB}"]\n'
            f"  outflow_limits_usd:\n    rolling_24h: 100000000\n")


def make_wallets(svc: Service, api: Api, rpc_url: str, count: int) -> list[str]:
    """Beast-mode wallets that may pay BOB without approval (each broadening approved by the
    'human' through the mailed link), funded on anvil."""
    seen: set[str] = set()
    addresses = []
    for _ in range(count):
        address = api.client.post("/v1/wallets", json={"tradingMode": "beast"}).json()[
            "data"]["address"]
        rpc(rpc_url, "anvil_setBalance", [address, hex(10**24)])
        out = api.client.put(f"/v1/wallets/{address}/policy",
                             json={"policy": policy_yaml(address)}).json()["data"]
        if out["status"] == "pending_approval":
            pending = {"pollingId": out["pollingId"], "status": "AWAITING_MFA", "version": 0}
            deadline = time.monotonic() + 30
            while not svc.approve_all(seen):
                if time.monotonic() > deadline:
                    raise RuntimeError("no approval mail for the policy change")
                time.sleep(0.05)
            assert api.wait(pending)["status"] == "COMPLETED"
        addresses.append(address)
    return addresses


def nonce_of(rpc_url: str, address: str) -> int:
    return int(rpc(rpc_url, "eth_getTransactionCount", [address, "latest"]), 16)


def throughput(apis: list[Api], rpc_url: str, addresses: list[str], per_wallet: int,
               threads: int) -> tuple[float, bool, bool]:
    """jobs/s for ``per_wallet`` concurrent transfers from each address, the requests going
    round-robin to ``apis`` (replicas); (rate, all COMPLETED, nonces contiguous per wallet)."""
    starts = {a: nonce_of(rpc_url, a) for a in addresses}
    work = [(i, a) for i, a in enumerate(a for _ in range(per_wallet) for a in addresses)]
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda w: apis[w[0] % len(apis)].transfer(w[1]), work))
    elapsed = time.perf_counter() - t0
    ok = all(r["status"] == "COMPLETED" for r in results)
    contiguous = True
    for a in addresses:
        got = sorted(r["nonce"] for r in results if r.get("address") == a and "nonce" in r)
        contiguous &= got == list(range(starts[a], starts[a] + per_wallet))
        contiguous &= nonce_of(rpc_url, a) == starts[a] + per_wallet
    if not ok:
        bad = [r for r in results if r["status"] != "COMPLETED"][:2]
        print("    not completed:", bad)
    return len(work) / elapsed, ok, contiguous


def raw_chain_rate(rpc_url: str, n: int) -> float:
    """Pre-signed transfers: send them all, then fetch every receipt (transactions/s)."""
    from mm_agent.evm.hd import address_of_key
    from mm_agent.evm.signing import sign_transaction

    key = secrets.token_bytes(32)
    sender = address_of_key(key)
    rpc(rpc_url, "anvil_setBalance", [sender, hex(10**24)])
    nonce = nonce_of(rpc_url, sender)
    fee = int(rpc(rpc_url, "eth_gasPrice", []), 16) * 3
    raws, hashes = [], []
    for i in range(n):
        raw, h = sign_transaction(key, {
            "type": 2, "chainId": 31337, "to": BOB, "value": 10**14, "data": "0x",
            "gas": 21_000, "nonce": nonce + i, "maxFeePerGas": fee,
            "maxPriorityFeePerGas": 10**9})
        raws.append(raw)
        hashes.append(h)
    with httpx.Client(timeout=30) as client:
        t0 = time.perf_counter()
        for raw in raws:
            out = client.post(rpc_url, json={"jsonrpc": "2.0", "id": 1,
                                             "method": "eth_sendRawTransaction",
                                             "params": [raw]}).json()
            assert "result" in out, out
        pending = list(hashes)
        while pending:
            batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionReceipt",
                      "params": [h]} for i, h in enumerate(pending)]
            outs = client.post(rpc_url, json=batch).json()
            pending = [pending[o["id"]] for o in outs if not o.get("result")]
        elapsed = time.perf_counter() - t0
    return n / elapsed


def notification_latency(svc: Service, api: Api, address: str, musd: str,
                         n: int) -> list[float]:
    """Jobs waiting for a human (an unlimited approval to a plain account); a client long-polls
    each while another cancels it: from the row's ``updated_at`` to the client's return."""
    risky = {"kind": "transaction", "chainId": 31337, "payload": {
        "to": musd, "value": "0x0",
        "data": "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64}}
    out = []
    for _ in range(n):
        req = api.wait(api.submit(address, risky), until=("AWAITING_MFA",))
        assert req["status"] == "AWAITING_MFA", req
        pid = req["pollingId"]
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            fut = pool.submit(lambda p=pid, v=req["version"]: (api.client.get(
                f"/v1/requests/{p}/wait", params={"version": v, "timeout": 10}).json()["data"],
                time.time()))
            time.sleep(0.02)  # let the waiter park on the event
            api.client.post(f"/v1/requests/{pid}/cancel")
            final, returned = fut.result()
        # updated_at has one-second resolution in the API: read the row's float instead.
        out.append(returned)
        out[-1] = (returned - row_updated_at(svc, pid)) * 1000
        assert final["status"] != "AWAITING_MFA", final
    return out


def row_updated_at(svc: Service, polling_id: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{svc.data_dir / 'mm.sqlite'}")
    with engine.connect() as conn:
        value = conn.execute(text("SELECT updated_at FROM jobs WHERE polling_id = :p"),
                             {"p": polling_id}).scalar_one()
    engine.dispose()
    return float(value)


def login(data_dir: Path, email_address: str) -> str:
    from mm_agent.server import admin

    return str(admin.create_login(data_dir, email_address, "email")["token"])


def replicas_supported() -> str | None:
    """None when the service can run as several replicas on one database, else why not."""
    from mm_agent.server.db import store

    if "lease_until" not in store.jobs.c and "claimed_by" not in store.jobs.c:
        return "job leases (several replicas on one database) are not in this tree yet"
    return None


def postgres_replicas(root: Path, rpc_url: str, deployed: dict[str, Any], n: int,
                      wallets: tuple[int, int], workers: int) -> list[str]:
    """(c): one replica, then two (round-robin), on one fresh PostgreSQL database each;
    200 concurrent transfers from one wallet and W wallets x M. Returns the report lines."""
    from mm_agent.local.state import Home
    from mm_agent.server import admin
    from mm_agent.server.settings import ServerSettings
    sys.path.insert(0, str(ROOT / "tests" / "server"))
    import pg  # the tests' throwaway cluster (initdb/pg_ctl as the postgres user)

    cluster = pg.start_cluster()
    if isinstance(cluster, str):
        return [f"(c) two replicas on PostgreSQL: not available ({cluster})"]
    lines, rates = [], {}
    try:
        for replicas in (1, 2):
            db = cluster.create_database()
            url = cluster.url(db)
            env = {"MM_SERVER_MASTER_KEY": secrets.token_hex(32)}
            services = []
            try:
                for i in range(replicas):
                    data_dir = root / f"pg{replicas}-{i}"
                    data_dir.mkdir(mode=0o700)
                    home = Home(data_dir)
                    home.write_json("config.json", {"rpc.31337": rpc_url})
                    home.write_json("devnet.json", {"rpcUrl": rpc_url, "chainId": 31337,
                                                    **deployed})
                    services.append(Service(data_dir, url, workers=workers, env=env))
                saved = os.environ.get("MM_SERVER_MASTER_KEY")
                os.environ["MM_SERVER_MASTER_KEY"] = env["MM_SERVER_MASTER_KEY"]
                try:
                    token = str(admin.create_login(services[0].data_dir, "pg@example.com",
                                                   "email", ServerSettings(
                                                       data_dir=services[0].data_dir,
                                                       database_url=url))["token"])
                finally:
                    if saved is None:
                        os.environ.pop("MM_SERVER_MASTER_KEY", None)
                    else:
                        os.environ["MM_SERVER_MASTER_KEY"] = saved
                apis = [Api(svc.base, token) for svc in services]
                addresses = make_wallets(services[0], apis[0], rpc_url, 1 + wallets[0])
                for _ in range(3):
                    apis[0].transfer(addresses[0])
                one = throughput(apis, rpc_url, addresses[:1], n, 64)
                many = throughput(apis, rpc_url, addresses[1:], wallets[1], 64)
                rates[replicas] = (one[0], many[0])
                lines.append(
                    f"    {replicas} replica(s): one wallet {one[0]:.1f} jobs/s (all COMPLETED: "
                    f"{one[1]}, nonces contiguous: {one[2]}); {wallets[0]} wallets × "
                    f"{wallets[1]} {many[0]:.1f} jobs/s (all COMPLETED: {many[1]}, "
                    f"contiguous: {many[2]})")
            finally:
                for svc in services:
                    svc.stop()
                cluster.drop_database(db)
    finally:
        cluster.stop()
    r_one, r_many = rates[2][0] / rates[1][0], rates[2][1] / rates[1][1]
    head = (f"(c) PostgreSQL, two replicas vs one: one wallet {r_one:.2f}×, {wallets[0]} "
            f"wallets {r_many:.2f}× (target ≥ 0.8×: "
            f"{'OK' if min(r_one, r_many) >= .8 else 'MISSED'})")
    return [head, *lines]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database-url")
    parser.add_argument("--workers", type=int, default=8, help="the service's (default 8)")
    parser.add_argument("--seq", type=int, default=40)
    parser.add_argument("--notify", type=int, default=30)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--wallets", default="20x20")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false",
                        help="skip (c), the PostgreSQL replicas")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database_url, args.workers)
        return

    from mm_agent.devnet import deploy_demo_contracts, find_anvil
    from mm_agent.local.state import Home

    anvil_port = free_port()
    anvil = subprocess.Popen([find_anvil(), "--port", str(anvil_port), "--silent"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rpc_url = f"http://127.0.0.1:{anvil_port}"
    svc = None
    try:
        for _ in range(200):
            try:
                rpc(rpc_url, "eth_chainId", [])
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        deployed = deploy_demo_contracts(rpc_url)
        data_dir = Path(tempfile.mkdtemp(prefix="mm-bench-")) / "server"
        data_dir.mkdir(mode=0o700)
        home = Home(data_dir)
        home.write_json("config.json", {"rpc.31337": rpc_url})
        home.write_json("devnet.json", {"rpcUrl": rpc_url, "chainId": 31337, **deployed})
        # The service creates its database on start; logins are made once it has.
        svc = Service(data_dir, workers=args.workers)
        api = Api(svc.base, login(data_dir, "bench@example.com"))
        n_wallets, per_wallet = (int(x) for x in args.wallets.split("x"))
        addresses = make_wallets(svc, api, rpc_url, 1 + n_wallets)
        one = addresses[0]
        for _ in range(5):  # warm-up
            assert api.transfer(one)["status"] == "COMPLETED"
        load0 = os.getloadavg()[0]
        raw_rate = raw_chain_rate(rpc_url, args.concurrent)
        # (a) sequential latency
        lat = []
        for _ in range(args.seq):
            t0 = time.perf_counter()
            req = api.transfer(one)
            lat.append((time.perf_counter() - t0) * 1000)
            assert req["status"] == "COMPLETED", req
        musd = next(t for t in deployed["tokens"] if t["symbol"] == "mUSD")["address"]
        notify = notification_latency(svc, api, one, musd, args.notify) if args.notify else [0.0]
        # (b) throughput: one wallet, then W wallets x M, each right after the chain's own
        # rate (anvil slows down as its history grows: compare at the same chain length)
        raw_1 = raw_chain_rate(rpc_url, args.concurrent)
        cpu0 = svc.cpu_seconds()
        rate1, ok1, cont1 = throughput([api], rpc_url, [one], args.concurrent, 64)
        cpu1 = svc.cpu_seconds()
        raw_w = raw_chain_rate(rpc_url, args.concurrent)
        cpu1 = svc.cpu_seconds()
        rate_w, ok_w, cont_w = throughput([api], rpc_url, addresses[1:], per_wallet, 64)
        cpu2 = svc.cpu_seconds()
        load1 = os.getloadavg()[0]

        print(f"wallet service on anvil, {os.cpu_count()} CPUs, load average (1 min) "
              f"{load0:.1f} before / {load1:.1f} after")
        print(f"(raw) anvil, {args.concurrent} pre-signed transfers sent + receipts: "
              f"{raw_rate:.0f} tx/s before (a), {raw_1:.0f} before (b) one wallet, "
              f"{raw_w:.0f} before (b) {n_wallets} wallets")
        p50 = pct(lat, .5)
        print(f"(a) submit→COMPLETED, sequential, N={args.seq}: p50 {p50:.1f} ms, "
              f"p99 {pct(lat, .99):.1f} ms, mean {statistics.mean(lat):.1f} ms "
              f"(one raw tx {1000 / raw_rate:.1f} ms: {p50 * raw_rate / 1000:.1f}×) "
              f"(target p50 ≤ 25 ms: {'OK' if p50 <= 25 else 'MISSED'})")
        print(f"(n) long-poll notification, N={len(notify)}: p50 {pct(notify, .5):.2f} ms, "
              f"p99 {pct(notify, .99):.2f} ms (target p99 ≤ 20 ms: "
              f"{'OK' if pct(notify, .99) <= 20 else 'MISSED'})")
        print(f"(b) {args.concurrent} concurrent transfers, one wallet: {rate1:.1f} jobs/s = "
              f"{rate1 / raw_1:.1%} of raw, all COMPLETED: {ok1}, nonces contiguous: "
              f"{cont1} (target ≥ 100 jobs/s and ≥ 25 %: "
              f"{'OK' if rate1 >= 100 and rate1 >= .25 * raw_1 else 'MISSED'}); "
              f"service CPU {1000 * (cpu1 - cpu0) / args.concurrent:.1f} ms/job")
        print(f"    {n_wallets} wallets × {per_wallet}: {rate_w:.1f} jobs/s = "
              f"{rate_w / raw_w:.1%} of raw, all COMPLETED: {ok_w}, nonces contiguous: "
              f"{cont_w}; service CPU {1000 * (cpu2 - cpu1) / (n_wallets * per_wallet):.1f} "
              "ms/job")
        why = replicas_supported()
        if why or not args.postgres:
            print(f"(c) two replicas on PostgreSQL: not available "
                  f"({why or 'skipped: --no-postgres'})")
        else:
            svc.stop()
            svc = None
            for line in postgres_replicas(data_dir.parent, rpc_url, deployed, args.concurrent,
                                          (n_wallets, per_wallet), args.workers):
                print(line, flush=True)
    finally:
        if svc is not None:
            svc.stop()
        anvil.terminate()


if __name__ == "__main__":
    main()
