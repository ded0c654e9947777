"""The anvil process: the binary, start (detached or foreground), stop, status, and the checks
that a recorded pid is still our anvil (pid reuse) before it is signalled."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mm_agent.errors import (
    AnvilNotFound,
    DevnetError,
    DevnetNotRunning,
    NetworkUnreachable,
    RpcError,
    ValidationError,
)
from mm_agent.local import env as env_vars
from mm_agent.local.state import Home

from .deploy import deploy_demo_contracts
from .record import CHAIN_ID, DEVNET_FILE, LOG_FILE
from .record import clear_record as _clear_record
from .record import log_tail as _log_tail
from .record import read_record as _read_record
from .rpc import rpc as _rpc
from .rpc import rpc_client as _client

__all__ = ["DEFAULT_PORT", "find_anvil", "run_foreground", "start", "status", "stop"]

DEFAULT_PORT = 8545
READY_TIMEOUT = 10.0  # seconds for anvil to answer eth_chainId
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL

# Children started by this process, so stop()/run_foreground() can reap them (no zombies, no
# "still running" ResourceWarning) when the devnet is stopped from the process that started it.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# --- anvil binary -----------------------------------------------------------------------------
def _bundled_anvil() -> Path:
    """``<repo>/.tools/bin/anvil``; the repo root is the parent of the ``mm_agent`` folder."""
    return Path(__file__).resolve().parents[2] / ".tools" / "bin" / "anvil"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_anvil() -> str:
    """Path of the anvil binary: ``MM_ANVIL``, then ``anvil`` on PATH, then ``.tools/bin/anvil``.

    An ``MM_ANVIL`` that does not point at an executable is an error, not a reason to fall back:
    the user asked for that binary explicitly.
    """
    explicit = env_vars.get(env_vars.ANVIL)
    if explicit:
        found = shutil.which(explicit) if os.sep not in explicit else None
        candidate = Path(found) if found else Path(explicit).expanduser()
        if _is_executable(candidate):
            return str(candidate)
        raise AnvilNotFound(f"MM_ANVIL={explicit} is not an executable file.")
    on_path = shutil.which("anvil")
    if on_path:
        return on_path
    bundled = _bundled_anvil()
    if _is_executable(bundled):
        return str(bundled)
    raise AnvilNotFound("anvil not found (MM_ANVIL unset, not on PATH, no .tools/bin/anvil).")



# --- process bookkeeping ----------------------------------------------------------------------
def _cmdline(pid: int) -> list[str] | None:
    """argv of ``pid``, or None if it is gone (a zombie's cmdline is empty: gone too)."""
    if Path("/proc/self/cmdline").exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a] or None
    # No procfs (macOS): ask ps.
    try:
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return None
    return out.split() or None


def _is_our_anvil(pid: int, port: int) -> bool:
    """True if ``pid`` is alive and is an anvil listening on ``port`` (guards against pid reuse)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: never ours
    argv = _cmdline(pid)
    if not argv:
        return False
    if not any("anvil" in Path(a).name for a in argv[:2]):
        return False
    wanted = str(port)
    return f"--port={wanted}" in argv or any(
        a == "--port" and b == wanted for a, b in itertools.pairwise(argv)
    )


def _reap(pid: int) -> None:
    """Collect the exit status of a child we started, so it does not linger as a zombie."""
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option anvil's listener uses, so a TIME_WAIT leftover does not count as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True



# --- public API -------------------------------------------------------------------------------
def status(home: Home | None = None) -> dict[str, Any]:
    """``{"running", "stale", "pid", "port", "rpcUrl", "chainId", "blockNumber", "tokens", ...}``.

    ``running`` is false when nothing is recorded (``stale`` false) or when the recorded process
    is gone (``stale`` true: the record is left for ``stop``/``start`` to clean up).
    """
    home = home or Home.from_env()
    record = _read_record(home)
    if record is None:
        return {
            "running": False,
            "stale": False,
            "pid": None,
            "port": None,
            "rpcUrl": None,
            "chainId": None,
            "blockNumber": None,
            "startedAt": None,
            "deployer": None,
            "tokens": [],
            "contracts": {},
        }
    pid, port = int(record["pid"]), int(record.get("port") or 0)
    alive = _is_our_anvil(pid, port)
    block: int | None = None
    if alive:
        with contextlib.suppress(NetworkUnreachable, RpcError), _client() as client:
            block = int(_rpc(client, record["rpcUrl"], "eth_blockNumber"), 16)
    return {
        "running": alive,
        "stale": not alive,
        "pid": pid,
        "port": port,
        "rpcUrl": record.get("rpcUrl"),
        "chainId": record.get("chainId", CHAIN_ID),
        "blockNumber": block,
        "startedAt": record.get("startedAt"),
        "deployer": record.get("deployer"),
        "tokens": record.get("tokens", []),
        "contracts": record.get("contracts", {}),
    }


def start(
    port: int = DEFAULT_PORT,
    *,
    detach: bool,
    home: Home | None = None,
    block_time: float | None = None,
) -> dict[str, Any]:
    """Launch anvil on 127.0.0.1:``port``, deploy the demo set, record it; return :func:`status`.

    ``detach=True``: anvil runs in its own session and outlives the caller. ``detach=False``:
    anvil is the caller's child, in its terminal's process group (Ctrl-C reaches it); the caller
    must wait for it; :func:`run_foreground` does that and cleans up.
    Raises :class:`DevnetError` if a recorded devnet is alive or the port is busy.
    """
    if not 1 <= port <= 65535:
        raise ValidationError(f"Port {port} is out of range (1–65535).")
    if block_time is not None and block_time <= 0:
        raise ValidationError("Block time must be a positive number of seconds.")
    home = home or Home.from_env()
    current = status(home)
    if current["running"]:
        raise DevnetError(
            f"A devnet is already running (pid {current['pid']}, {current['rpcUrl']}).",
            hint="Use it as is, or `mm devnet stop` first.",
            details=current,
        )
    if current["stale"]:
        _clear_record(home)
    if not _port_free(port):
        raise DevnetError(
            f"Port {port} on 127.0.0.1 is already in use.",
            hint="Pick another one with --port, or stop whatever listens there.",
        )

    anvil = find_anvil()
    argv = [
        anvil,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--chain-id",
        str(CHAIN_ID),
        "--silent",
    ]
    if block_time is not None:
        argv += ["--block-time", str(block_time)]

    home.ensure()
    log_fd = os.open(home.path(LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=detach,
            close_fds=True,
        )
    finally:
        os.close(log_fd)  # the child holds its own copy
    _CHILDREN[proc.pid] = proc
    rpc_url = f"http://127.0.0.1:{port}"

    service_pid: int | None = None
    try:
        _wait_ready(proc, rpc_url, home)
        deployed = deploy_demo_contracts(rpc_url, block_time=block_time)
        # The predict/swap contracts (Conditional Tokens, the CTF exchange, Uniswap V2, two
        # YES/NO markets) after the demo tokens, under "markets".
        from mm_agent.markets.devnet_deploy import deploy_markets

        record = {
            "pid": proc.pid,
            "port": port,
            "rpcUrl": rpc_url,
            "chainId": CHAIN_ID,
            "startedAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "detached": detach,
            **deployed,
            "markets": deploy_markets(rpc_url, tokens=deployed["tokens"]),
        }
        home.write_json(DEVNET_FILE, record)
        service_pid, service = _start_market_service(home, detach)
        record["markets"]["service"] = service
        home.write_json(DEVNET_FILE, record)
    except BaseException:
        # Never leave a half-started chain behind (including on Ctrl-C during deployment).
        if service_pid is not None:
            _terminate(service_pid)
        if proc.poll() is None:
            _terminate(proc.pid)
        _CHILDREN.pop(proc.pid, None)
        raise
    return status(home)


MARKETS_LOG_FILE = "devnet-markets.log"
SERVICE_READY_TIMEOUT = 60.0  # the market maker's seeding runs before the service listens
_SERVICE_MODULE = "mm_agent.markets.service"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_market_service(home: Home, detach: bool) -> tuple[int, dict[str, Any]]:
    """The devnet market service (``python -m mm_agent.markets.service``) beside anvil, in
    the same kind of session; returns (pid, ``{"url", "gammaUrl", "pid", "port"}``)."""
    port = _free_port()
    log_fd = os.open(home.path(MARKETS_LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", _SERVICE_MODULE, "--devnet-file",
             str(home.path(DEVNET_FILE)), "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd,
            start_new_session=detach, close_fds=True,
        )
    finally:
        os.close(log_fd)
    _CHILDREN[proc.pid] = proc
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVICE_READY_TIMEOUT
    import httpx

    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                _CHILDREN.pop(proc.pid, None)
                raise DevnetError(
                    f"The devnet market service exited with code {proc.returncode}.",
                    hint=f"See {home.path(MARKETS_LOG_FILE)}.")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/ok").status_code == 200:
                    break
            if time.monotonic() > deadline:
                _terminate(proc.pid)
                raise DevnetError(
                    f"The devnet market service did not answer within "
                    f"{SERVICE_READY_TIMEOUT:.0f} s.", hint=f"See {home.path(MARKETS_LOG_FILE)}.")
            time.sleep(0.1)
    return proc.pid, {"url": url, "gammaUrl": f"{url}/gamma", "pid": proc.pid, "port": port}


def _stop_market_service(record: dict[str, Any]) -> None:
    """Stop the recorded market service if that pid still runs our service module."""
    service = (record.get("markets") or {}).get("service") or {}
    pid = service.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return
    argv = _cmdline(pid)
    if argv and _SERVICE_MODULE in argv:
        _terminate(pid)
    else:
        _reap(pid)


def _wait_ready(proc: subprocess.Popen[bytes], rpc_url: str, home: Home) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with _client() as client:
        while True:
            # Check our process first: if it died (e.g. bind failed), whatever answers on the
            # port is not ours.
            if proc.poll() is not None:
                _CHILDREN.pop(proc.pid, None)
                tail = _log_tail(home)
                raise DevnetError(
                    f"anvil exited with code {proc.returncode} before it was ready"
                    + (f": {tail}" if tail else "."),
                    hint=f"See {home.path(LOG_FILE)}; a busy port is the usual cause.",
                )
            with contextlib.suppress(NetworkUnreachable, RpcError):
                chain_id = int(_rpc(client, rpc_url, "eth_chainId"), 16)
                if chain_id != CHAIN_ID:
                    raise DevnetError(
                        f"{rpc_url} answers with chain id {chain_id}, not {CHAIN_ID}."
                    )
                return
            if time.monotonic() > deadline:
                raise DevnetError(
                    f"anvil did not answer on {rpc_url} within {READY_TIMEOUT:.0f} s.",
                    hint=f"See {home.path(LOG_FILE)}.",
                )
            time.sleep(0.1)


def _terminate(pid: int, grace: float = STOP_GRACE) -> str:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns the signal that ended it."""
    sent = "SIGTERM"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid):
        if time.monotonic() > deadline:
            sent = "SIGKILL"
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    # After SIGKILL the process is gone at once; wait briefly for our own child to be reaped.
    end = time.monotonic() + 2.0
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    _reap(pid)
    return sent


def _alive(pid: int) -> bool:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None  # also reaps it
    return _cmdline(pid) is not None


def stop(home: Home | None = None) -> dict[str, Any]:
    """Stop the devnet recorded in devnet.json and remove the record.

    Only a process that is still the anvil we started (alive, and its command line names anvil
    and the recorded port) is signalled. Raises :class:`DevnetNotRunning` if nothing is
    recorded, or if the record was stale (the record is removed then).
    """
    home = home or Home.from_env()
    record = _read_record(home)
    if record is None:
        raise DevnetNotRunning("No devnet is running.")
    pid, port = int(record["pid"]), int(record.get("port") or 0)
    if not _is_our_anvil(pid, port):
        _clear_record(home)
        _reap(pid)
        raise DevnetNotRunning(
            f"The recorded devnet (pid {pid}, port {port}) was no longer running; "
            "removed its stale record."
        )
    _stop_market_service(record)
    sent = _terminate(pid)
    _clear_record(home)
    return {
        "stopped": True,
        "pid": pid,
        "port": port,
        "rpcUrl": record.get("rpcUrl"),
        "signal": sent,
    }


def run_foreground(
    port: int = DEFAULT_PORT,
    *,
    home: Home | None = None,
    block_time: float | None = None,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """Start a non-detached devnet, hand its status to ``on_ready``, wait until it ends.

    Prints nothing itself (the CLI prints in ``on_ready``). Ctrl-C, SIGTERM or SIGHUP stop
    anvil; devnet.json is removed on the way out. Returns anvil's exit code (0 when stopped by
    the user).
    """
    home = home or Home.from_env()
    info = start(port, detach=False, home=home, block_time=block_time)
    pid = int(info["pid"])
    proc = _CHILDREN[pid]
    restore = _trap_termination()
    try:
        if on_ready is not None:
            on_ready(info)
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            _terminate(pid)
            code = 0
        return code
    finally:
        restore()
        with contextlib.suppress(Exception):
            _stop_market_service(_read_record(home) or {})
        if proc.poll() is None:  # on_ready raised: do not leave anvil running
            _terminate(pid)
        _CHILDREN.pop(pid, None)
        _clear_record(home, pid)


def _trap_termination() -> Callable[[], None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so the foreground devnet is cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signal handlers can only be set from the main thread

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    names = ("SIGTERM", "SIGHUP") if sys.platform != "win32" else ("SIGTERM",)
    previous = {}
    for name in names:
        sig = getattr(signal, name)
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
