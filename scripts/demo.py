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
ENV.pop("MM_PASSWORD", None)

port = "18545"
import socket  # noqa: E402

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = str(s.getsockname()[1])

print(f"MM_HOME={home}")
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
         "--dry-run")
    show("transfer ETH", "transfer", "--to", BOB, "--amount", "0.5", "--chain-id", "31337")
    show("transfer mUSD", "transfer", "--to", BOB, "--amount", "125.5", "--token", "mUSD",
         "--chain-id", "31337")
    musd = next(t for t in status["tokens"] if t["symbol"] == "mUSD")["address"]
    unlimited = "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64
    payload = json.dumps({"to": musd, "value": "0x0", "data": unlimited})
    print("\nAn unlimited approval to an externally owned account is held for a human:")
    show("risky", "wallet", "send-transaction", "--chain-id", "31337", "--payload", payload)
    show("history", "tx", "history")
finally:
    if started:
        print("\n$ mm devnet stop")
        print(json.dumps(mm("devnet", "stop", check=False).get("data"), indent=2))
