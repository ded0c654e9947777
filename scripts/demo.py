"""`make demo`: the main job on the embedded default, from a fresh clone.

Starts a local devnet (anvil + demo tokens) in a throw-away MM_HOME, shows the chains and the
deployed tokens, sets up a BYOK wallet with the well-known test mnemonic, previews and sends a
transfer of ETH and of the demo stablecoin through the security pipeline, shows that a risky
approval is held for a human, then stops the devnet cleanly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MM = str(ROOT / ".venv" / "bin" / "mm")
TEST_MNEMONIC = "test test test test test test test test test test test junk"
BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def mm(*args: str, check: bool = True) -> dict:
    proc = subprocess.run([MM, *args, "--json"], capture_output=True, text=True, env=ENV)
    out = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if check and proc.returncode != 0:
        sys.exit(f"mm {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
    return out


def show(title: str, *args: str) -> None:
    print(f"\n$ mm {' '.join(args)}", flush=True)
    subprocess.run([MM, *args, "-f", "text"], env=ENV, check=False)
    del title


home = tempfile.mkdtemp(prefix="mm-demo-")
ENV = {**os.environ, "MM_HOME": home, "MM_MNEMONIC": TEST_MNEMONIC}
DEVNET_ENV = ENV
ENV.pop("MM_PASSWORD", None)

port = "18545"
import socket  # noqa: E402

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = str(s.getsockname()[1])

def server_wallet_demo(devnet_status: dict) -> None:
    """The server wallet on the embedded default: local service, SQLite, dev outbox."""
    global ENV, server
    data_dir = Path(home) / "server"
    data_dir.mkdir(mode=0o700)
    # The service's engine reads chain settings from its data dir.
    (data_dir / "config.json").write_text(json.dumps({"rpc.31337": devnet_status["rpcUrl"]}))
    (data_dir / "config.json").chmod(0o600)
    (data_dir / "devnet.json").write_text(json.dumps(devnet_status))
    (data_dir / "devnet.json").chmod(0o600)
    with socket.socket() as s2:
        s2.bind(("127.0.0.1", 0))
        svc_port = str(s2.getsockname()[1])
    url = f"http://127.0.0.1:{svc_port}"
    print(f"\n--- server wallet: mm server start --dev on {url} (SQLite + dev outbox) ---")
    server = subprocess.Popen([MM, "server", "start", "--data-dir", str(data_dir), "--port",
                               svc_port, "--dev"], env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    import time

    import httpx

    for _ in range(100):
        try:
            httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    agent_home = Path(home) / "agent"
    ENV = {**ENV, "MM_HOME": str(agent_home), "MM_SERVICE_URL": url}
    ENV.pop("MM_MNEMONIC", None)
    token = mm("server", "admin", "create-login", "--email", "demo@example.com",
               "--data-dir", str(data_dir))["data"]["token"]
    mm("login", "--token", token)
    show("auth", "auth", "status")
    addr = mm("init", "--wallet", "server-wallet", "--mode", "beast")["data"]["address"]
    # Fund the new server wallet from the devnet's deployer.
    httpx.post(devnet_status["rpcUrl"], json={"jsonrpc": "2.0", "id": 1,
                                              "method": "anvil_setBalance",
                                              "params": [addr, hex(5 * 10**18)]})
    show("transfer", "transfer", "--to", BOB, "--amount", "0.25", "--chain-id", "31337",
         "--token", "ETH", "--wait")
    musd = next(t for t in devnet_status["tokens"] if t["symbol"] == "mUSD")["address"]
    risky = json.dumps({"to": musd, "value": "0x0",
                        "data": "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64})
    held = mm("wallet", "send-transaction", "--chain-id", "31337", "--payload", risky)["data"]
    print(f"\nA risky request waits for the human: pollingId {held['pollingId']}")
    time.sleep(1.0)
    mails = sorted((data_dir / "outbox").glob("*.eml"))
    import email
    import email.policy
    import re

    body = email.message_from_bytes(mails[-1].read_bytes(), policy=email.policy.default)
    text = body.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http\S+/approvals/\S+", text)
    if link:
        print(f"approval mail in the dev outbox: {mails[-1].name}; the human rejects it there")
        approval_id, secret = re.match(r".*/approvals/([^?]+)\?t=(\S+)", link.group(0)).groups()
        httpx.post(f"{url}/approvals/{approval_id}", data={"t": secret, "decision": "reject"})
    show("watch", "wallet", "requests", "watch", held["pollingId"], "--wallet-timeout", "10")
    show("requests", "wallet", "requests", "list")


print(f"MM_HOME={home}")
server = None
started = False
try:
    status = mm("devnet", "start", "--detach", "--port", port)["data"]
    started = True
    print(f"devnet up at {status['rpcUrl']} (pid {status['pid']})")
    show("chains", "chains", "list")
    show("devnet", "devnet", "status")
    mm("init", "--wallet", "byok")
    show("init", "init", "show")
    show("balance", "wallet", "balance")
    show("dry run", "transfer", "--to", BOB, "--amount", "0.5", "--chain-id", "31337",
         "--token", "ETH", "--dry-run")
    show("transfer ETH", "transfer", "--to", BOB, "--amount", "0.5", "--chain-id", "31337",
         "--token", "ETH")
    show("transfer mUSD", "transfer", "--to", BOB, "--amount", "125.5", "--token", "mUSD",
         "--chain-id", "31337")
    musd = next(t for t in status["tokens"] if t["symbol"] == "mUSD")["address"]
    unlimited = "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64
    payload = json.dumps({"to": musd, "value": "0x0", "data": unlimited})
    print("\nAn unlimited approval to an externally owned account is held for a human:")
    show("risky", "wallet", "send-transaction", "--chain-id", "31337", "--payload", payload)
    show("history", "tx", "history")
    server_wallet_demo(status)
finally:
    if server is not None:
        server.terminate()
        server.wait(timeout=10)
        print("\nwallet service stopped")
    if started:
        print("\n$ mm devnet stop")
        ENV = DEVNET_ENV
        print(json.dumps(mm("devnet", "stop", check=False).get("data"), indent=2))
