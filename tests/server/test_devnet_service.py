"""The service serves the devnet of its MM_HOME (no copied files), operator RPCs only, tokens
resolved at submission, RPC_CHAIN_MISMATCH / INSUFFICIENT_FUNDS before a job is recorded, and
the data dir guarded (lock, busy port, damaged database, create-login --data-dir)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port, run_mm

from mm_agent.errors import DatabaseCorrupt, DataDirLocked, InvalidConfigValue
from mm_agent.local.state import Home
from mm_agent.server.datadir import lock_data_dir
from mm_agent.server.db.store import Store
from mm_agent.server.services.chains_served import parse_rpc_flags

from .test_jobs import BOB, Api


@pytest.fixture
def devnet_service(service_factory: Any, devnet_home: Home, chain: Any) -> tuple[Api, str, Any]:
    """A service whose data dir has no RPC config: it follows MM_HOME/devnet.json."""
    svc = service_factory(data_dir=devnet_home.root / "server",
                          devnet_file=devnet_home.path("devnet.json"),
                          rpc={1: chain.url})  # an operator mistake: chain 1 → a 31337 node
    api = Api(svc.base_url, svc.create_login("dev@example.com")["token"])
    status, out = api.call("POST", "/v1/wallets", json={"name": "main"})
    assert status == 201, out
    return api, out["data"]["address"], chain


def test_chains_balance_and_token_symbols_from_the_devnet(
        devnet_service: tuple[Api, str, Any]) -> None:
    api, address, chain = devnet_service
    status, out = api.call("GET", "/v1/chains")
    assert status == 200, out
    dev = next(c for c in out["data"]["chains"] if c["chainId"] == 31337)
    port = chain.url.rsplit(":", 1)[1]
    assert dev["rpc"] == f"http://127.0.0.1:{port}" and dev["rpcSource"] == "devnet"
    assert {"ETH", "mUSD", "mDAI"} <= {t["symbol"] for t in dev["tokens"]}
    assert 31337 in out["data"]["defaultChainIds"]
    status, out = api.call("GET", f"/v1/wallets/{address}/balance?chainIds=31337")
    assert status == 200, out
    chains = {c["chainId"]: c for c in out["data"]["chains"]}
    assert "mUSD" in {t["symbol"] for t in chains[31337]["tokens"]}


def test_refused_at_submission_and_nothing_recorded(
        devnet_service: tuple[Api, str, Any]) -> None:
    api, address, chain = devnet_service
    cases = [
        ({"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "1", "token": "NOPE"},
         "UNKNOWN_TOKEN"),
        ({"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "1"},
         "INSUFFICIENT_FUNDS"),  # the new wallet holds nothing
        ({"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "1", "token": "mUSD"},
         "INSUFFICIENT_FUNDS"),
        ({"kind": "transfer", "chainId": 1, "to": BOB, "amount": "1"},
         "RPC_CHAIN_MISMATCH"),
    ]
    for body, code in cases:
        status, out = api.call("POST", f"/v1/wallets/{address}/requests", json=body)
        assert out["ok"] is False and out["error"]["code"] == code, (body, out)
        assert status < 500
    port = chain.url.rsplit(":", 1)[1]
    status, out = api.call("POST", f"/v1/wallets/{address}/requests", json=cases[-1][0])
    assert f"127.0.0.1:{port}" in out["error"]["message"]
    status, out = api.call("GET", "/v1/requests")
    assert [r for r in out["data"]["requests"] if r["kind"] == "transaction"] == []


def test_devnet_record_followed_without_restart(devnet_service: tuple[Api, str, Any],
                                               devnet_home: Home) -> None:
    api, _address, _chain = devnet_service
    record = devnet_home.read_json("devnet.json")
    devnet_home.path("devnet.json").unlink()  # devnet stopped
    _status, out = api.call("GET", "/v1/chains")
    assert 31337 not in {c["chainId"] for c in out["data"]["chains"]}
    devnet_home.write_json("devnet.json", record)  # started again
    _status, out = api.call("GET", "/v1/chains")
    assert 31337 in {c["chainId"] for c in out["data"]["chains"]}


def test_operator_rpc_flags_and_env() -> None:
    got = parse_rpc_flags(["8453=https://base.example:8443/k"],
                          env={"MM_SERVER_RPC_10": "https://op.example", "MM_OTHER": "x"})
    assert got == {8453: "https://base.example:8443/k", 10: "https://op.example"}
    with pytest.raises(InvalidConfigValue):
        parse_rpc_flags(["8453"], env={})


def test_data_dir_lock_port_and_damaged_database(tmp_path: Path, mm_home: Home) -> None:
    data_dir = tmp_path / "srv"
    fd = lock_data_dir(data_dir)
    try:
        with pytest.raises(DataDirLocked):
            lock_data_dir(data_dir)
        rc, out, _ = run_mm("server", "start", "--data-dir", str(data_dir), "--port",
                            str(free_port()), "--json")
        assert rc == 1 and out["error"]["code"] == "DATA_DIR_LOCKED", out
    finally:
        os.close(fd)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rc, out, err = run_mm("server", "start", "--data-dir", str(data_dir), "--port",
                              str(port), "--json")
        assert rc == 2 and out["error"]["code"] == "PORT_IN_USE", (out, err)
        assert "uvicorn" not in err.lower()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "mm.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseCorrupt):
        Store.for_data_dir(bad).migrate()


def test_create_login_refuses_a_directory_that_is_no_data_dir(tmp_path: Path,
                                                              mm_home: Home) -> None:
    typo = tmp_path / "mm-sever"
    rc, out, _ = run_mm("server", "admin", "create-login", "--email", "a@example.com",
                        "--data-dir", str(typo), "--json")
    assert rc == 1 and out["error"]["code"] == "NOT_INITIALIZED" and "--create" in out[
        "error"]["hint"]
    assert not typo.exists()
    rc, out, err = run_mm("server", "admin", "create-login", "--email", "a@example.com",
                          "--data-dir", str(typo), "--create", "--json")
    assert rc == 0, (out, err)
    assert (typo / "mm.sqlite").exists()
