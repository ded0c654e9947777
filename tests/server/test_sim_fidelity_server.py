"""Simulation fidelity and fee rules on the wallet service (issue 9): the job runner signs the
previewed gas and fees, a simulation-detecting contract is seen in beast mode, and the HTTP API
refuses a payload chainId/from/nonce that disagrees with the request (an agent can call it
directly, without the CLI's checks)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from sqlalchemy import update

from mm_agent.server.db.store import wallets

from .test_jobs import Api, prepare_service

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))
from sec_helpers import calldata, deltas, send_unlocked

ATTACKER = "0x3333333333333333333333333333333333333333"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TRAP = Path(__file__).resolve().parents[1] / "security" / "contracts" / "SimTrap.json"
VALUE = 10**17


@pytest.fixture
def beast(service: Any, chain: Any) -> tuple[Any, Api, str, Any]:
    prepare_service(service, chain)
    login = service.create_login("fees@example.com")
    api = Api(service.base_url, login["token"])
    status, out = api.call("POST", "/v1/wallets", json={"name": "b", "tradingMode": "beast"})
    assert status == 201, out
    address = out["data"]["address"]
    # An agent token cannot choose beast for itself any more (the human approves that);
    # this test is about the pipeline, so the operator sets it directly.
    with service.state.store.tx() as conn:
        conn.execute(update(wallets).where(wallets.c.address == address)
                     .values(trading_mode="beast"))
    chain.rpc("anvil_setBalance", [address, hex(100 * 10**18)])
    return service, api, address, chain


def _trap(chain: Any) -> str:
    art = json.loads(TRAP.read_text())
    receipt = send_unlocked(chain, OTHER, None,  # type: ignore[arg-type]
                            art["bytecode"] + encode(["address"], [ATTACKER]).hex())
    return str(receipt["contractAddress"])


def _tx_body(to: str, data: str = "0x", value: int = 0, **extra: Any) -> dict[str, Any]:
    return {"kind": "transaction", "chainId": 31337,
            "payload": {"to": to, "data": data, "value": hex(value), **extra}}


def test_beast_mode_preview_sees_the_gas_price_trap(beast: tuple[Any, Api, str, Any]) -> None:
    service, api, address, chain = beast
    trap = _trap(chain)
    body = _tx_body(trap, calldata("claimGasPrice()"), VALUE)
    preview = api.submit(address, {**body, "dryRun": True})
    d = deltas(preview)
    assert d[(address.lower(), "native", None, None)] == -VALUE
    assert d[(ATTACKER.lower(), "native", None, None)] == VALUE
    req = api.submit(address, body)
    done = api.wait(req["pollingId"])
    if done["status"] == "AWAITING_MFA":  # the scan may flag an unknown contract keeping ETH
        service.state.jobs.approve(req["pollingId"])
        done = api.wait(req["pollingId"])
        while done["status"] not in ("COMPLETED", "FAILED"):
            done = api.wait(req["pollingId"])
    assert done["status"] == "COMPLETED", done
    fees = done["preview"]["fees"]
    tx = chain.rpc("eth_getTransactionByHash", [done["txHash"]])
    receipt = chain.rpc("eth_getTransactionReceipt", [done["txHash"]])
    assert int(tx["gas"], 16) == int(fees["gasLimit"])
    assert int(tx["maxFeePerGas"], 16) == int(fees["maxFeePerGas"])
    assert int(tx["maxPriorityFeePerGas"], 16) == int(fees["maxPriorityFeePerGas"])
    assert int(receipt["gasUsed"], 16) == int(done["preview"]["simulation"]["gasUsed"])
    block = int(receipt["blockNumber"], 16)
    paid = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    for (holder, _kind, _asset, _tid), delta in deltas(done["preview"]).items():
        before = int(chain.rpc("eth_getBalance", [holder, hex(block - 1)]), 16)
        after = int(chain.rpc("eth_getBalance", [holder, hex(block)]), 16)
        assert after - before + (paid if holder == address.lower() else 0) == delta


def test_service_refuses_payload_chain_and_from(beast: tuple[Any, Api, str, Any]) -> None:
    _service, api, address, _chain = beast
    to = "0x1111111111111111111111111111111111111111"
    status, out = api.call("POST", f"/v1/wallets/{address}/requests",
                           json=_tx_body(to, value=1, chainId="0x1"))
    assert status == 400 and out["error"]["code"] == "CHAIN_ID_MISMATCH", out
    status, out = api.call("POST", f"/v1/wallets/{address}/requests",
                           json=_tx_body(to, value=1, **{"from": OTHER}))
    assert status == 400 and out["error"]["code"] == "PAYLOAD_FROM_MISMATCH", out
    ok = api.submit(address, _tx_body(to, value=1, chainId=hex(31337), **{"from": address}))
    assert api.wait(ok["pollingId"])["status"] == "COMPLETED"


def test_service_refuses_a_foreign_nonce(beast: tuple[Any, Api, str, Any]) -> None:
    _service, api, address, chain = beast
    to = "0x1111111111111111111111111111111111111111"
    n = int(chain.rpc("eth_getTransactionCount", [address, "pending"]), 16)
    req = api.submit(address, _tx_body(to, value=1, nonce=hex(n + 3)))
    done = api.wait(req["pollingId"])
    assert done["status"] == "FAILED" and done["error"]["code"] == "NONCE_NOT_ALLOWED", done
    assert int(chain.rpc("eth_getTransactionCount", [address, "pending"]), 16) == n
    good = api.wait(api.submit(address, _tx_body(to, value=1, nonce=hex(n)))["pollingId"])
    assert good["status"] == "COMPLETED" and good["nonce"] == n, good


def test_service_high_agent_fee_needs_approval_in_beast_mode(
        beast: tuple[Any, Api, str, Any]) -> None:
    _service, api, address, _chain = beast
    to = "0x1111111111111111111111111111111111111111"
    est = int(api.submit(address, {**_tx_body(to, value=1), "dryRun": True})
              ["fees"]["maxFeePerGas"])
    done = api.wait(api.submit(address, _tx_body(to, value=1,
                                                 maxFeePerGas=hex(10 * est)))["pollingId"])
    assert done["status"] == "AWAITING_MFA", done
    assert [v["rule"] for v in done["preview"]["policy"]["violations"]] == ["fee_cap"]
