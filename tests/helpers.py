"""Shared test helpers, in one place: ports, deadline-bounded waits, the ``mm`` executable.

Import them as ``from helpers import free_port, wait_until, run_mm`` (tests/ is on sys.path
through the root conftest). Fixtures built on them live in tests/conftest.py.

Ports: ``free_port()`` cannot race, neither between xdist workers nor between two pytest
sessions on the same machine (helpers run the suite side by side). Binding port 0 and closing
the socket before a child binds it is racy: the kernel may hand the same ephemeral port to
someone else's ``bind(0)`` or to an outgoing connection in between. Instead ports come from a
fixed range *below* the kernel's ephemeral range (so neither ``bind(0)`` nor ``connect()`` is
ever given one), and each port is claimed with an exclusive ``flock`` on a per-port lock file
that stays held until the claiming process exits: two processes can never hold the same port.
A claimed port is also probed with a plain ``bind`` so that a port some unrelated program uses
(or one still in TIME_WAIT) is skipped. Ports are never handed out twice within a process.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import errno
import fcntl
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]

T = TypeVar("T")
CliRunner = Callable[..., tuple[int, Any, str]]


# ---------------------------------------------------------------------------------------------
# Prerequisites: skip locally, fail in CI
# ---------------------------------------------------------------------------------------------

def in_ci() -> bool:
    """CI=true (or any value but empty/0/false/no): how .ci/run is run."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """A missing prerequisite (Chromium...) skips on a developer's machine and fails in CI,
    where the Makefile installs everything: a silently skipped suite proves nothing."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: a missing prerequisite is a failure, not a skip)",
                    pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------

def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


PORT_LOW = 20000
PORT_HIGH = min(32000, _ephemeral_low())  # exclusive; below the ephemeral range
_LOCK_DIR = Path(tempfile.gettempdir()) / f"mm-agent-test-ports-{os.getuid()}"
_held: dict[int, int] = {}  # port -> lock fd, open (and locked) until this process exits
_alloc_lock = threading.Lock()
_cursor: list[int] = []


def _probe_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback TCP port no other test process can be handed (see the module docstring)."""
    span = PORT_HIGH - PORT_LOW
    with _alloc_lock:
        if not _cursor:  # start somewhere per process: fewer lock collisions, not correctness
            _cursor.append((os.getpid() * 7919) % span)
        _LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        for _ in range(span):
            port = PORT_LOW + _cursor[0]
            _cursor[0] = (_cursor[0] + 1) % span
            if port in _held:
                continue
            fd = os.open(_LOCK_DIR / f"{port}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    continue
                raise
            if not _probe_bind(port):
                os.close(fd)  # closing releases the lock
                continue
            _held[port] = fd
            return port
    raise RuntimeError(f"no free test port in [{PORT_LOW}, {PORT_HIGH})")


# ---------------------------------------------------------------------------------------------
# Deadline-bounded waiting
# ---------------------------------------------------------------------------------------------

class WaitTimeout(AssertionError):
    """``wait_until`` ran out of time: an assertion failure, with what was awaited."""


def wait_until(predicate: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05,
               what: str = "the condition", ignore: Iterable[type[BaseException]] = (),
               alive: Callable[[], Any] | None = None) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Raises ``WaitTimeout`` after ``timeout`` seconds naming ``what`` and the last value (or
    the last ignored exception). Exceptions of the ``ignore`` types count as "not yet".
    ``alive`` (e.g. ``lambda: proc.poll() is None``) is checked first each round: when it
    turns false the wait fails at once rather than running out the clock.
    """
    ignored = tuple(ignore)
    deadline = time.monotonic() + timeout
    last: Any = None
    last_exc: BaseException | None = None
    while True:
        if alive is not None and not alive():
            raise WaitTimeout(f"gave up waiting for {what}: the process under test exited")
        try:
            last = predicate()
            last_exc = None
        except ignored as exc:
            last, last_exc = None, exc
        if last:
            return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = f"last error: {last_exc!r}" if last_exc is not None else f"last: {last!r}"
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what} ({detail})")
        time.sleep(min(interval, remaining))


def wait_http_ok(url: str, *, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None,
                 what: str | None = None) -> httpx.Response:
    """Wait until GET ``url`` answers 200 (a service's /healthz); fail early if ``proc`` died."""
    def ok() -> httpx.Response | None:
        resp = httpx.get(url, timeout=1)
        return resp if resp.status_code == 200 else None

    return wait_until(ok, timeout=timeout, interval=0.05, what=what or f"{url} to answer 200",
                      ignore=(httpx.HTTPError,),
                      alive=(lambda: proc.poll() is None) if proc is not None else None)


def wait_rpc(url: str, *, timeout: float = 15.0, proc: subprocess.Popen[Any] | None = None
             ) -> None:
    """Wait until a JSON-RPC node at ``url`` answers eth_chainId."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    wait_until(lambda: httpx.post(url, json=body, timeout=1) is not None, timeout=timeout,
               what=f"the node at {url}", ignore=(httpx.HTTPError,),
               alive=(lambda: proc.poll() is None) if proc is not None else None)


# ---------------------------------------------------------------------------------------------
# The mm executable
# ---------------------------------------------------------------------------------------------

def mm_exe() -> str:
    """The installed ``mm`` console script of the project venv."""
    exe = Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "mm"
    if not exe.exists():
        exe = REPO / ".venv" / "bin" / "mm"
    return str(exe)


def run_mm(*args: str, env: dict[str, str] | None = None, input: str | None = None,
           timeout: float = 60) -> tuple[int, Any, str]:
    """Run the real `mm` executable; returns (exit code, parsed JSON or raw stdout, stderr)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([mm_exe(), *args], capture_output=True, text=True, env=full_env,
                          input=input, timeout=timeout)
    out: Any = proc.stdout
    if proc.stdout.strip().startswith("{"):
        with contextlib.suppress(json.JSONDecodeError):
            out = json.loads(proc.stdout)
    return proc.returncode, out, proc.stderr


# ---------------------------------------------------------------------------------------------
# Approval mails in a dev service's outbox
# ---------------------------------------------------------------------------------------------

LINK_RE = re.compile(r"(https?://[^\s\"'<>]+/approvals/([0-9a-f]+)\?t=([A-Za-z0-9_\-]+))")


def outbox_links(data_dir: Path) -> list[tuple[str, str, str]]:
    """(link, approval id, secret) of every approval mail in ``data_dir/outbox``, oldest
    first."""
    found = []
    for path in sorted((data_dir / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if not str(msg["Subject"]).startswith("Approval needed"):
            continue
        match = LINK_RE.search(msg.get_body(preferencelist=("plain",)).get_content())
        if match:
            found.append((match[1], match[2], match[3]))
    return found


def approve_by_mail(data_dir: Path, base_url: str, seen: int = 0, timeout: float = 15) -> str:
    """The human: wait for an approval mail beyond the first ``seen``, open the newest link
    and approve. Returns the approval id."""
    links = wait_until(lambda: outbox_links(data_dir)[seen:], timeout=timeout,
                       what=f"an approval mail in {data_dir / 'outbox'}")
    _link, approval_id, secret = links[-1]
    resp = httpx.post(f"{base_url}/approvals/{approval_id}",
                      data={"t": secret, "decision": "approve"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return approval_id
