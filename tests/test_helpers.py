"""The shared test helpers themselves (tests/helpers.py): ports that cannot race, the
deadline-bounded poller, skip-or-fail for prerequisites."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import PORT_HIGH, PORT_LOW, WaitTimeout, free_port, skip_or_fail, wait_until

TESTS = Path(__file__).resolve().parent

CLAIM = """
import json, sys
sys.path.insert(0, sys.argv[1])
from helpers import free_port
print(json.dumps([free_port() for _ in range(20)]), flush=True)
sys.stdin.read()  # hold the claims until told to exit
"""


def test_free_port_is_bindable_outside_the_ephemeral_range_and_never_repeats() -> None:
    ports = [free_port() for _ in range(10)]
    assert len(set(ports)) == 10
    assert all(PORT_LOW <= p < PORT_HIGH for p in ports)
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert max(ports) < low  # neither bind(0) nor connect() is ever handed one
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[0]))  # nobody else has it


def test_free_port_claims_are_exclusive_across_processes() -> None:
    """Two processes claiming at once (as two xdist workers do) never share a port."""
    procs = [subprocess.Popen([sys.executable, "-c", CLAIM, str(TESTS)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        claimed = [json.loads(p.stdout.readline()) for p in procs if p.stdout]
        mine = free_port()
    finally:
        for p in procs:
            p.communicate("", timeout=10)
    a, b = (set(c) for c in claimed)
    assert len(a) == len(b) == 20 and not a & b and mine not in a | b


def test_wait_until_returns_the_value_and_names_what_timed_out() -> None:
    calls = iter([None, 0, "ready"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.001) == "ready"
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"timed out after 0.2s waiting for the thing.*last: 0"):
        wait_until(lambda: 0, timeout=0.2, interval=0.01, what="the thing")
    assert time.monotonic() - t0 < 2


def test_wait_until_ignores_listed_errors_and_stops_when_the_process_died() -> None:
    with pytest.raises(WaitTimeout, match="last error: ConnectionError"):
        wait_until(lambda: (_ for _ in ()).throw(ConnectionError("down")), timeout=0.1,
                   interval=0.01, ignore=(ConnectionError,))
    with pytest.raises(WaitTimeout, match="exited"):
        wait_until(lambda: False, timeout=30, alive=lambda: False)
    with pytest.raises(KeyError):  # anything not ignored propagates at once
        wait_until(lambda: {}["x"], timeout=30)


def test_skip_or_fail_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        skip_or_fail("Chromium is not installed")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail("Chromium is not installed")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail("Chromium is not installed")
