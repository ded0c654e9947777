"""Shared fixtures: a real anvil for the whole session, reverted to a snapshot after each test,
with the demo contracts deployed; an isolated MM_HOME per test."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import CliRunner, free_port, run_mm, wait_rpc

from mm_agent import devnet
from mm_agent.local.state import Home

# Re-exported for the many `from conftest import ...` call sites; new code imports `helpers`.
__all__ = ["ACCOUNT0", "ACCOUNT1", "TEST_MNEMONIC", "Anvil", "CliRunner", "free_port", "run_mm",
           "start_anvil"]

TEST_MNEMONIC = "test test test test test test test test test test test junk"
ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ACCOUNT1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


class Anvil:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], deployed: dict[str, Any]):
        self.url = url
        self.proc = proc
        self.deployed = deployed
        self.client = httpx.Client(timeout=10)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        body = self.client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                "params": params or []}).json()
        if "error" in body:
            raise RuntimeError(body["error"])
        return body["result"]

    def token(self, symbol: str) -> dict[str, Any]:
        return next(t for t in self.deployed["tokens"] if t["symbol"] == symbol)

    def contract(self, name: str) -> str:
        return str(self.deployed["contracts"][name])

    def balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", [address, "latest"]), 16)

    def erc20_balance(self, token: str, owner: str) -> int:
        data = "0x70a08231" + owner[2:].lower().rjust(64, "0")
        return int(self.rpc("eth_call", [{"to": token, "data": data}, "latest"]), 16)


def start_anvil(*extra: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    proc = subprocess.Popen(
        [devnet.find_anvil(), "--port", str(port), "--chain-id", "31337", "--silent", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_rpc(url, timeout=15, proc=proc)
    except BaseException:
        proc.kill()
        raise
    return url, proc


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    url, proc = start_anvil()
    deployed = devnet.deploy_demo_contracts(url)
    node = Anvil(url, proc, deployed)
    yield node
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def chain(anvil: Anvil) -> Iterator[Anvil]:
    """The session anvil, reverted to its state before the test afterwards."""
    snap = anvil.rpc("evm_snapshot")
    yield anvil
    anvil.rpc("evm_revert", [snap])
    # Per-test settings that a test may have changed on the node.
    anvil.rpc("evm_setAutomine", [True])


@pytest.fixture
def mm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    home_dir = tmp_path / "mmhome"
    monkeypatch.setenv("MM_HOME", str(home_dir))
    for var in ("MM_MNEMONIC", "MM_PASSWORD", "MM_FORMAT", "MM_SERVICE_URL", "MM_DENYLIST",
                "MM_NEW_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    return Home(home_dir)


@pytest.fixture
def devnet_home(mm_home: Home, chain: Anvil) -> Home:
    """An MM_HOME whose devnet record points at the session anvil."""
    mm_home.write_json("devnet.json", {
        "pid": chain.proc.pid, "port": int(chain.url.rsplit(":", 1)[1]), "rpcUrl": chain.url,
        "chainId": 31337, "tokens": chain.deployed["tokens"],
        "contracts": chain.deployed["contracts"], "deployer": chain.deployed["deployer"],
    })
    return mm_home


@pytest.fixture
def byok_home(devnet_home: Home) -> Home:
    """A BYOK wallet (test mnemonic, no password: fast) on the session anvil."""
    from mm_agent.wallets.byok.keyring import ByokKeyring

    devnet_home.write_json("wallets.json", ByokKeyring.initial_state(TEST_MNEMONIC, None))
    return devnet_home


@pytest.fixture
def wallet(byok_home: Home) -> Any:
    from mm_agent import Wallet

    return Wallet.from_env(home=byok_home)


@pytest.fixture
def mm_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The real CLI entry point (``run_argv``) in-process with ``--json``: no interpreter
    start-up per call. ``env`` applies only for the call. Returns (rc, parsed JSON, stderr).
    The tests that matter most for the executable itself use ``run_mm``."""
    from mm_agent.cli.app import run_argv

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
        with monkeypatch.context() as m:
            for key, value in (env or {}).items():
                m.setenv(key, value)
            capsys.readouterr()
            rc = run_argv([*args, "--json"])
            out, err = capsys.readouterr()
        return rc, json.loads(out), err

    return run
