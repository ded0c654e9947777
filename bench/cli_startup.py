"""Start-up time of the `mm` CLI against a bare interpreter, and of a write against a read.

Runs each command N times (after warm-ups) in a fresh process and prints the median wall time,
its ratio to ``python -c pass`` and to ``mm --version`` (measured in the same run), and whether
each targeted command meets its budget:

- ``mm --version``, ``mm chains list``: ≤150 ms (no network, empty temporary MM_HOME);
- ``mm wallet balance``: ≤250 ms and ``mm transfer`` (BYOK, unencrypted vault, 0.001 ETH):
  ≤400 ms, against a devnet this script starts (``mm devnet start --detach`` on a free port,
  in a second temporary MM_HOME holding a BYOK wallet from the test mnemonic) and stops.
  ``mm transfer (encrypted)`` is the same with a scrypt vault: the KDF's own time comes on top.
  ``mm transfer (500 logged)`` is ``mm transfer`` once the BYOK request log holds its 500
  records (copies of a real one): a write must not cost more as history grows.

``--no-devnet`` skips the devnet rows. Usage:
``.venv/bin/python bench/cli_startup.py [-n 15] [--warmup 2] [--no-devnet]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
TARGET_MS = 150.0
# Commands held to a budget (median wall ms): the ones agents call most.
TARGETS = {"mm --version": TARGET_MS, "mm chains list": TARGET_MS,
           "mm wallet balance": 250.0, "mm transfer": 400.0}
TEST_MNEMONIC = "test test test test test test test test test test test junk"
RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PASSWORD = "bench-password"
LOG_RECORDS = 500  # the BYOK request log's cap (mm_agent.local.request_log)


def _mm() -> str:
    return str(BIN / "mm")


def _commands() -> list[tuple[str, list[str]]]:
    python = str(BIN / "python") if (BIN / "python").exists() else sys.executable
    mm = _mm()
    return [
        ("python -c pass", [python, "-c", "pass"]),
        ("mm --version", [mm, "--version"]),
        ("mm --help", [mm, "--help"]),
        ("mm config get", [mm, "config", "get"]),
        ("mm chains list", [mm, "chains", "list"]),
        ("mm init show", [mm, "init", "show"]),
    ]


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_once(argv: list[str], env: dict[str, str], *, check: bool = False
               ) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run. CPU time is shown too: on a busy machine wall time
    mostly measures waiting for a core."""
    cpu0, start = _cpu_children(), time.perf_counter()
    # Output to DEVNULL: measures start-up, not the terminal (json format, as agents see it).
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                          check=False)
    wall, cpu = (time.perf_counter() - start) * 1000.0, (_cpu_children() - cpu0) * 1000.0
    if check and proc.returncode != 0:  # a failing write would look fast
        raise RuntimeError(f"{' '.join(argv[1:])} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-500:]}")
    return wall, cpu


def _measure_one(label: str, argv: list[str], env: dict[str, str], n: int, warmup: int,
                 check: bool = False) -> tuple[str, float, float, float]:
    for _ in range(warmup):  # warm the page cache and .pyc files
        _time_once(argv, env, check=check)
    runs = [_time_once(argv, env, check=check) for _ in range(n)]
    wall = [w for w, _ in runs]
    return (label, statistics.median(wall), statistics.pstdev(wall),
            statistics.median(c for _, c in runs))


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env["MM_HOME"] = str(home)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def devnet_home(tmp: Path, password: str | None) -> Iterator[dict[str, str]]:
    """A MM_HOME with a running devnet and a BYOK wallet (test mnemonic); stopped on exit."""
    env = _clean_env(tmp / ("devnet-enc" if password else "devnet-plain"))
    mm = _mm()
    subprocess.run([mm, "devnet", "start", "--detach", "--port", str(_free_port()), "--json"],
                   env=env, check=True, capture_output=True, timeout=120)
    try:
        init_env = {**env, "MM_MNEMONIC": TEST_MNEMONIC}
        if password:
            init_env["MM_PASSWORD"] = password
        subprocess.run([mm, "init", "--wallet", "byok", "--json"], env=init_env, check=True,
                       capture_output=True, timeout=120)
        yield {**env, "MM_PASSWORD": password} if password else env
    finally:
        subprocess.run([mm, "devnet", "stop", "--json"], env=env, check=False,
                       capture_output=True, timeout=60)


def _fill_request_log(home: Path, total: int) -> None:
    """Copies of the newest BYOK request record until the log holds ``total`` (its cap)."""
    import dataclasses
    import uuid

    sys.path.insert(0, str(REPO))
    from mm_agent.local.request_log import RequestLog
    from mm_agent.local.state import Home

    log = RequestLog(Home(home))
    records = log.all()
    for _ in range(max(0, total - len(records))):
        log.save(dataclasses.replace(records[-1], polling_id=uuid.uuid4().hex))


def measure(n: int, warmup: int, devnet: bool = True) -> list[tuple[str, float, float, float]]:
    """(label, median wall ms, stdev wall ms, median CPU ms) per command."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = _clean_env(Path(tmp) / "mmhome")
        for label, argv in _commands():
            results.append(_measure_one(label, argv, env, n, warmup))
        if devnet:
            mm = _mm()
            transfer = [mm, "transfer", "--to", RECIPIENT, "--amount", "0.001", "--token", "ETH",
                        "--chain-id", "31337", "--json"]
            with devnet_home(Path(tmp), None) as denv:
                results.append(_measure_one("mm wallet balance", [mm, "wallet", "balance",
                                                                  "--json"],
                                            denv, n, warmup, check=True))
                results.append(_measure_one("mm transfer", transfer, denv, n, warmup,
                                            check=True))
                _fill_request_log(Path(denv["MM_HOME"]), LOG_RECORDS)
                results.append(_measure_one(f"mm transfer ({LOG_RECORDS} logged)", transfer,
                                            denv, n, warmup, check=True))
            with devnet_home(Path(tmp), PASSWORD) as denv:
                results.append(_measure_one("mm transfer (encrypted)", transfer, denv, n,
                                            warmup, check=True))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    parser.add_argument("--no-devnet", action="store_true",
                        help="skip `mm wallet balance` and `mm transfer` (they need anvil)")
    parser.add_argument("--json-out", help="also write the results to this JSON file")
    args = parser.parse_args()

    results = measure(args.n, args.warmup, devnet=not args.no_devnet)
    base = results[0][1]
    version = next(r[1] for r in results if r[0] == "mm --version")
    print(f"CLI start-up, median of {args.n} runs after {args.warmup} warm-ups "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
    w = 24
    print(f"{'command':<{w}} {'median ms':>10} {'stdev':>7} {'x python':>9} {'x version':>10}"
          f" {'cpu ms':>7}  target")
    print(f"{'-' * w} {'-' * 10} {'-' * 7} {'-' * 9} {'-' * 10} {'-' * 7}  ------")
    all_ok = True
    missed = []
    for label, median, stdev, cpu in results:
        target = ""
        if label in TARGETS:
            ok = median <= TARGETS[label]
            all_ok &= ok
            if not ok:
                missed.append(label)
            target = f"{'ok' if ok else 'OVER'} (≤{TARGETS[label]:.0f})"
        print(f"{label:<{w}} {median:>10.1f} {stdev:>7.1f} {median / base:>9.2f}"
              f" {median / version:>10.2f} {cpu:>7.1f}  {target}")
    print(f"\n{'all targeted commands meet their budgets' if all_ok else 'budget missed by: '}"
          f"{'' if all_ok else ', '.join(missed)} (median wall); "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(
            [{"command": label, "medianMs": round(m, 1), "stdevMs": round(sd, 1),
              "cpuMs": round(c, 1)} for label, m, sd, c in results], indent=2))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
