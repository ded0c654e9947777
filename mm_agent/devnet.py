"""The local devnet: an anvil chain (chain id 31337) with the demo contracts deployed.

``mm devnet start [--port 8545] [--detach]``, ``mm devnet stop`` and ``mm devnet status`` are
thin wrappers over :func:`start` / :func:`run_foreground`, :func:`stop` and :func:`status`.

What is deployed (by anvil's unlocked account 0, over plain JSON-RPC; no web3):

- ``mUSD`` ("Mock USD", 6 decimals) and ``mDAI`` ("Mock DAI", 18 decimals): ``DemoERC20`` with
  EIP-2612 permit; 1,000,000 of each minted to account 0;
- ``mNFT`` (``DemoERC721``) and ``mITEM`` (``DemoERC1155``), nothing minted;
- ``Puller`` (pulls approved tokens/NFTs to itself) and ``Reverter`` (fails in every way).

On a fresh chain the deployer's nonces start at 0, so the addresses are the same every time.
Every token and contract has a public ``mint``: they exist only on this devnet.

The running devnet is recorded in ``MM_HOME/devnet.json``::

    {"pid", "port", "rpcUrl", "chainId": 31337, "startedAt", "deployer", "detached",
     "tokens": [{"symbol", "name", "address", "decimals", "standard"}],
     "contracts": {"Puller": "0x…", "Reverter": "0x…"}}

Starting while a recorded devnet is still alive raises :class:`DevnetError` (with the running
devnet's status in ``details``) rather than silently returning it: the caller may have asked
for another port, and a foreground start must not end up waiting on a process it does not own.
A record whose process is gone is stale and simply replaced.

anvil runs with ``--silent`` (its banner lists the well-known dev keys; keep them out of logs);
its stderr (bind errors, crashes) goes to ``MM_HOME/devnet.log``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mm_agent.errors import (
    AnvilNotFound,
    DevnetError,
    DevnetNotRunning,
    NetworkUnreachable,
    RpcError,
    ValidationError,
)
from mm_agent.local.state import Home

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CHAIN_ID",
    "CONTRACTS_DIR",
    "DEFAULT_PORT",
    "DEVNET_FILE",
    "LOG_FILE",
    "deploy_demo_contracts",
    "find_anvil",
    "load_artifact",
    "run_foreground",
    "start",
    "status",
    "stop",
]

CHAIN_ID = 31337
DEFAULT_PORT = 8545
DEVNET_FILE = "devnet.json"
LOG_FILE = "devnet.log"
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"

READY_TIMEOUT = 10.0  # seconds for anvil to answer eth_chainId
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
RECEIPT_TIMEOUT = 30.0  # seconds per deployment receipt (plus block time when interval mining)

# (artifact, symbol, name, decimals, standard, initial supply in whole tokens)
_TOKENS: tuple[tuple[str, str, str, int, str, int], ...] = (
    ("DemoERC20", "mUSD", "Mock USD", 6, "erc20", 1_000_000),
    ("DemoERC20", "mDAI", "Mock DAI", 18, "erc20", 1_000_000),
    ("DemoERC721", "mNFT", "Mock NFT", 0, "erc721", 0),
    ("DemoERC1155", "mITEM", "Mock Items", 0, "erc1155", 0),
)
_CONTRACTS = ("Puller", "Reverter")

# Children started by this process, so stop()/run_foreground() can reap them (no zombies, no
# "still running" ResourceWarning) when the devnet is stopped from the process that started it.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# --- anvil binary -----------------------------------------------------------------------------
def _bundled_anvil() -> Path:
    """``<repo>/.tools/bin/anvil``; the repo root is the parent of the ``mm_agent`` folder."""
    return Path(__file__).resolve().parent.parent / ".tools" / "bin" / "anvil"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_anvil() -> str:
    """Path of the anvil binary: ``MM_ANVIL``, then ``anvil`` on PATH, then ``.tools/bin/anvil``.

    An ``MM_ANVIL`` that does not point at an executable is an error, not a reason to fall back:
    the user asked for that binary explicitly.
    """
    explicit = os.environ.get("MM_ANVIL")
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


# --- artifacts and JSON-RPC -------------------------------------------------------------------
def load_artifact(name: str) -> dict[str, Any]:
    """The compiled artifact ``mm_agent/contracts/<name>.json`` (abi, bytecode, ...)."""
    path = CONTRACTS_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DevnetError(
            f"No compiled artifact for {name} ({path}).",
            hint="Run scripts/compile_contracts.sh.",
        ) from None


def _rpc(client: httpx.Client, url: str, method: str, params: list[Any] | None = None) -> Any:
    import httpx

    try:
        resp = client.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        )
        resp.raise_for_status()
        body = resp.json()
    except httpx.TransportError as exc:
        raise NetworkUnreachable(f"{url} unreachable ({exc.__class__.__name__}).") from exc
    except (httpx.HTTPStatusError, ValueError) as exc:
        raise RpcError(f"{method} on {url} failed: {exc}") from exc
    if body.get("error"):
        err = body["error"]
        raise RpcError(
            f"{method} failed: {err.get('message', err)}",
            details={"rpcCode": err.get("code"), "data": err.get("data")},
        )
    return body.get("result")


@contextlib.contextmanager
def _client() -> Iterator[httpx.Client]:
    import httpx

    # trust_env=False: a proxy from the environment must not intercept 127.0.0.1 traffic.
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


def _wait_receipt(client: httpx.Client, url: str, tx_hash: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        receipt = _rpc(client, url, "eth_getTransactionReceipt", [tx_hash])
        if receipt:
            return receipt
        if time.monotonic() > deadline:
            raise DevnetError(f"No receipt for {tx_hash} after {timeout:.0f} s.")
        time.sleep(0.1)


def deploy_demo_contracts(rpc_url: str, *, block_time: float | None = None) -> dict[str, Any]:
    """Deploy the demo set on the node at ``rpc_url`` from its first unlocked account.

    Returns ``{"deployer", "tokens": [...], "contracts": {"Puller", "Reverter"}}`` in the
    ``devnet.json`` shape. Works on any anvil (tests start their own).
    """
    from eth_abi import encode
    from eth_utils import to_checksum_address

    with _client() as client:
        accounts = _rpc(client, rpc_url, "eth_accounts")
        if not accounts:
            raise DevnetError(f"{rpc_url} has no unlocked account to deploy from.")
        deployer = to_checksum_address(accounts[0])

        def send(artifact: str, types: list[str], args: list[Any]) -> str:
            data = load_artifact(artifact)["bytecode"] + encode(types, args).hex()
            return _rpc(client, rpc_url, "eth_sendTransaction", [{"from": deployer, "data": data}])

        # Send everything first, then collect receipts: with interval mining they land together.
        pending: list[tuple[str, str]] = []
        for artifact, symbol, name, decimals, _std, supply in _TOKENS:
            if artifact == "DemoERC20":
                types = ["string", "string", "uint8", "uint256"]
                args: list[Any] = [name, symbol, decimals, supply * 10**decimals]
                pending.append((symbol, send(artifact, types, args)))
            else:
                pending.append((symbol, send(artifact, [], [])))
        for name in _CONTRACTS:
            pending.append((name, send(name, [], [])))

        timeout = RECEIPT_TIMEOUT + 3 * (block_time or 0)
        addresses: dict[str, str] = {}
        for label, tx_hash in pending:
            receipt = _wait_receipt(client, rpc_url, tx_hash, timeout)
            if int(receipt.get("status", "0x0"), 16) != 1 or not receipt.get("contractAddress"):
                raise DevnetError(f"Deploying {label} failed (tx {tx_hash}).")
            addresses[label] = to_checksum_address(receipt["contractAddress"])

    tokens = [
        {
            "symbol": symbol,
            "name": name,
            "address": addresses[symbol],
            "decimals": decimals,
            "standard": standard,
        }
        for _artifact, symbol, name, decimals, standard, _supply in _TOKENS
    ]
    return {
        "deployer": deployer,
        "tokens": tokens,
        "contracts": {name: addresses[name] for name in _CONTRACTS},
    }


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


def _log_tail(home: Home, limit: int = 600) -> str:
    try:
        return home.path(LOG_FILE).read_text(errors="replace")[-limit:].strip()
    except FileNotFoundError:
        return ""


def _clear_record(home: Home, pid: int | None = None) -> None:
    """Remove devnet.json (only if it still records ``pid``, when given)."""
    if pid is not None:
        with contextlib.suppress(Exception):
            record = home.read_json(DEVNET_FILE)
            if not isinstance(record, dict) or record.get("pid") != pid:
                return
    home.path(DEVNET_FILE).unlink(missing_ok=True)


def _read_record(home: Home) -> dict[str, Any] | None:
    record = home.read_json(DEVNET_FILE)
    return record if isinstance(record, dict) and record.get("pid") else None


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

    try:
        _wait_ready(proc, rpc_url, home)
        deployed = deploy_demo_contracts(rpc_url, block_time=block_time)
        home.write_json(
            DEVNET_FILE,
            {
                "pid": proc.pid,
                "port": port,
                "rpcUrl": rpc_url,
                "chainId": CHAIN_ID,
                "startedAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "detached": detach,
                **deployed,
            },
        )
    except BaseException:
        # Never leave a half-started chain behind (including on Ctrl-C during deployment).
        if proc.poll() is None:
            _terminate(proc.pid)
        _CHILDREN.pop(proc.pid, None)
        raise
    return status(home)


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
