"""Start-up time of the `mm` CLI against a bare interpreter.

Runs each command N times (after warm-ups) in a fresh process with a temporary MM_HOME and
prints the median wall time, its ratio to ``python -c pass``, and whether the fast commands
meet the ≤150 ms target. Usage: ``.venv/bin/python bench/cli_startup.py [-n 15] [--warmup 2]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
TARGET_MS = 150.0
# Commands held to the target: the ones agents call most and that need no network.
TARGETED = ("mm --version", "mm chains list")


def _commands() -> list[tuple[str, list[str]]]:
    python = str(BIN / "python") if (BIN / "python").exists() else sys.executable
    mm = str(BIN / "mm")
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


def _time_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run. CPU time is shown too: on a busy machine wall time
    mostly measures waiting for a core."""
    cpu0, start = _cpu_children(), time.perf_counter()
    # Output to DEVNULL: measures start-up, not the terminal (json format, as agents see it).
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   check=False)
    return (time.perf_counter() - start) * 1000.0, (_cpu_children() - cpu0) * 1000.0


def measure(n: int, warmup: int) -> list[tuple[str, float, float, float]]:
    """(label, median wall ms, stdev wall ms, median CPU ms) per command."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
        env["MM_HOME"] = str(Path(tmp) / "mmhome")
        for label, argv in _commands():
            for _ in range(warmup):  # warm the page cache and .pyc files
                _time_once(argv, env)
            runs = [_time_once(argv, env) for _ in range(n)]
            wall = [w for w, _ in runs]
            results.append((label, statistics.median(wall), statistics.pstdev(wall),
                            statistics.median(c for _, c in runs)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    args = parser.parse_args()

    results = measure(args.n, args.warmup)
    base = results[0][1]
    print(f"CLI start-up, median of {args.n} runs after {args.warmup} warm-ups "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
    print(f"{'command':<18} {'median ms':>10} {'stdev':>7} {'x python':>9} {'cpu ms':>7}  target")
    print(f"{'-' * 18} {'-' * 10} {'-' * 7} {'-' * 9} {'-' * 7}  ------")
    all_ok = True
    for label, median, stdev, cpu in results:
        target = ""
        if label in TARGETED:
            ok = median <= TARGET_MS
            all_ok &= ok
            target = f"{'ok' if ok else 'OVER'} (≤{TARGET_MS:.0f})"
        print(f"{label:<18} {median:>10.1f} {stdev:>7.1f} {median / base:>9.2f} {cpu:>7.1f}"
              f"  {target}")
    print(f"\n{'all targeted commands meet' if all_ok else 'target missed:'} "
          f"≤{TARGET_MS:.0f} ms (median wall) for {', '.join(TARGETED)}; "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
