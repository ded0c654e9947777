"""Per-transaction cost of the full security pipeline against plain web3.py.

Starts its own anvil (automine), then sends N native transfers two ways, interleaved so both
see the same chain conditions:

- pipeline: ``Wallet.transfer(...)`` in a temporary BYOK MM_HOME (test mnemonic, no password):
  decode, ``eth_simulateV1``, threat scan, nonce reservation, fees from ``eth_feeHistory``,
  signing, broadcast and receipt polling, plus the request log on disk;
- plain: web3.py 8 with nonce, gas (``eth_estimateGas``) and EIP-1559 fees from web3, signed with
  eth_account, ``send_raw_transaction`` and ``wait_for_transaction_receipt`` (poll latency set to
  the pipeline's 50 ms receipt poll, so neither side waits longer than the other).

Each side uses its own sender (HD accounts 0 and 1 of the test mnemonic). Prints per-transaction
medians, means and p90s, and the ratio pipeline/plain against the 1.5× target.

Usage: ``.venv/bin/python bench/pipeline.py [-n 50] [--warmup 3] [--profile]``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mm_agent import devnet  # noqa: E402

TEST_MNEMONIC = "test test test test test test test test test test test junk"
TARGET = 1.5
RECEIPT_POLL = 0.05  # the pipeline's Submitter.poll_interval default


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def anvil() -> Iterator[str]:
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [devnet.find_anvil(), "--port", str(port), "--chain-id", "31337", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                      "params": []}, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("anvil did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def pipeline_sender(url: str, home_dir: str) -> tuple[Callable[[str], None], Any]:
    from mm_agent import Wallet
    from mm_agent.local.state import Home
    from mm_agent.wallets.byok.keyring import ByokKeyring

    home = Home(home_dir)
    home.write_json("devnet.json", {"rpcUrl": url, "chainId": 31337, "tokens": [],
                                    "contracts": {}})
    with contextlib.redirect_stderr(io.StringIO()):  # the "no password" warning
        home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    wallet = Wallet.from_env(home=home)

    def send(to: str) -> None:
        req = wallet.transfer(to=to, amount="0.001", chain_id=31337)
        if req.status != "COMPLETED":
            raise RuntimeError(f"pipeline transfer ended {req.status}: {req.error}")

    return send, wallet


def plain_sender(url: str) -> Callable[[str], None]:
    from eth_account import Account
    from web3 import Web3

    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(TEST_MNEMONIC, account_path="m/44'/60'/0'/0/1")
    w3 = Web3(Web3.HTTPProvider(url))

    def send(to: str) -> None:
        tx: dict[str, Any] = {
            "from": account.address, "to": Web3.to_checksum_address(to), "value": 10**15,
            "chainId": 31337, "type": 2,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        }
        tx["gas"] = w3.eth.estimate_gas(tx)
        base = w3.eth.get_block("latest")["baseFeePerGas"]
        tip = w3.eth.max_priority_fee
        tx["maxPriorityFeePerGas"] = tip
        tx["maxFeePerGas"] = 2 * base + tip
        signed = Account.sign_transaction(tx, account.key)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30,
                                                      poll_latency=RECEIPT_POLL)
        if receipt["status"] != 1:
            raise RuntimeError("plain transfer reverted")

    return send


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered) * 1e3, "mean": statistics.fmean(ordered) * 1e3,
            "p90": ordered[int(0.9 * (len(ordered) - 1))] * 1e3, "min": ordered[0] * 1e3}


def _timed(fn: Callable[[str], None], to: str) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) for one transfer."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn(to)
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="transfers per side (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed transfers per side")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the pipeline side and print the top costs")
    args = parser.parse_args(argv)

    with anvil() as url, tempfile.TemporaryDirectory() as tmp:
        os.environ["MM_HOME"] = os.path.join(tmp, "mmhome")
        pipe, wallet = pipeline_sender(url, os.environ["MM_HOME"])
        plain = plain_sender(url)
        recipients = [f"0x{0xbe7c0000 + i:040x}" for i in range(args.n + args.warmup)]
        for to in recipients[: args.warmup]:
            pipe(to)
            plain(to)
        profiler = cProfile.Profile() if args.profile else None
        t_pipe: list[tuple[float, float]] = []
        t_plain: list[tuple[float, float]] = []
        for i, to in enumerate(recipients[args.warmup :]):
            # Alternate which side goes first so neither always follows the other.
            order = ((pipe, t_pipe), (plain, t_plain))
            for fn, out in order if i % 2 == 0 else order[::-1]:
                if profiler is not None and fn is pipe:
                    profiler.enable()
                    out.append(_timed(fn, to))
                    profiler.disable()
                else:
                    out.append(_timed(fn, to))
        wallet.close()

    rows = []
    for name, samples in (("pipeline (Wallet.transfer)", t_pipe), ("plain web3.py 8", t_plain)):
        rows.append((name, _stats([w for w, _ in samples]), _stats([c for _, c in samples])))
    ratio = rows[0][1]["median"] / rows[1][1]["median"]
    cpu_ratio = rows[0][2]["median"] / rows[1][2]["median"]
    print(f"native transfers on anvil (automine), N={args.n} per side, "
          f"warm-up {args.warmup}, receipt poll {RECEIPT_POLL * 1e3:.0f} ms, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'ms per tx':<28}{'median':>9}{'mean':>9}{'p90':>9}{'min':>9}{'cpu med':>9}")
    for name, s, c in rows:
        print(f"{name:<28}{s['median']:>9.2f}{s['mean']:>9.2f}{s['p90']:>9.2f}{s['min']:>9.2f}"
              f"{c['median']:>9.2f}")
    verdict = "OK" if ratio <= TARGET else "ABOVE TARGET"
    print(f"ratio pipeline/plain (wall medians): {ratio:.2f}x  (target <= {TARGET}x: {verdict})")
    print(f"ratio pipeline/plain (client CPU medians): {cpu_ratio:.2f}x")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
