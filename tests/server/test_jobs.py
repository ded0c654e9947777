"""Jobs on the real service and anvil: submit, wait, concurrency, idempotency, approvals."""

from __future__ import annotations

import concurrent.futures
import uuid
from typing import Any

import httpx
import pytest

from mm_agent.local.state import Home

BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        access = token.split(":", 1)[0]
        self.http = httpx.Client(base_url=base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {access}"})

    def call(self, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        resp = self.http.request(method, path, **kw)
        return resp.status_code, resp.json()

    def submit(self, address: str, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        status, out = self.call("POST", f"/v1/wallets/{address}/requests", json=body,
                                headers=headers)
        assert status in (200, 202), out
        return out["data"]

    def wait(self, polling_id: str, timeout: float = 30) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout
        version = 0
        while True:
            status, out = self.call("GET", f"/v1/requests/{polling_id}/wait",
                                    params={"version": version, "timeout": 10})
            assert status == 200, out
            req = out["data"]
            if req["status"] in ("COMPLETED", "FAILED", "DENIED", "EXPIRED", "AWAITING_MFA"):
                return req
            version = req["version"]
            assert time.monotonic() < deadline, req


def prepare_service(service: Any, chain: Any) -> None:
    home = Home(service.data_dir)
    home.write_json("config.json", {"rpc.31337": chain.url})
    home.write_json("devnet.json", {"rpcUrl": chain.url, "chainId": 31337,
                                    "tokens": chain.deployed["tokens"],
                                    "contracts": chain.deployed["contracts"]})


def approve_mode_changes(service: Any) -> None:
    """Approve (as the human would) every trading-mode change awaiting approval: a wallet an
    agent token creates in beast starts in guard until the human approves (contract §7)."""
    from sqlalchemy import select

    from mm_agent.server.db.store import jobs

    with service.state.store.read() as conn:
        ids = conn.execute(select(jobs.c.polling_id).where(
            jobs.c.kind == "trading-mode", jobs.c.status == "AWAITING_MFA")).scalars().all()
    for polling_id in ids:
        service.state.jobs.approve(polling_id)


@pytest.fixture
def funded(service: Any, chain: Any) -> tuple[Api, str, Any]:
    prepare_service(service, chain)
    login = service.create_login("alice@example.com")
    api = Api(service.base_url, login["token"])
    status, out = api.call("POST", "/v1/wallets", json={"name": "main", "tradingMode": "beast"})
    assert status == 201, out
    address = out["data"]["address"]
    assert out["data"]["tradingModeChange"]["status"] == "pending_approval"
    approve_mode_changes(service)
    chain.rpc("anvil_setBalance", [address, hex(100 * 10**18)])
    return api, address, chain


def test_transfer_completes_with_exact_delta(funded: tuple[Api, str, Any]) -> None:
    api, address, chain = funded
    before = chain.balance(BOB)
    req = api.submit(address, {"kind": "transfer", "chainId": 31337, "to": BOB,
                               "amount": "1.25"})
    assert req["status"] == "PENDING" and req["pollingId"]
    done = api.wait(req["pollingId"])
    assert done["status"] == "COMPLETED", done
    assert done["txHash"].startswith("0x") and done["intent"].startswith("Transfer 1.25 ETH")
    assert chain.balance(BOB) - before == 125 * 10**16
    assert done["preview"]["scan"]["resultType"] == "Benign"


def test_dry_run_returns_preview_and_sends_nothing(funded: tuple[Api, str, Any]) -> None:
    api, address, chain = funded
    nonce = int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16)
    preview = api.submit(address, {"kind": "transfer", "chainId": 31337, "to": BOB,
                                   "amount": "1", "dryRun": True})
    # Transactions also carry the gas and fees that will be signed (issue 9).
    assert set(preview) == {"intent", "decoded", "simulation", "scan", "policy",
                            "requiresApproval", "fees"}
    assert int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16) == nonce


def test_concurrent_transfers_have_contiguous_nonces(funded: tuple[Api, str, Any]) -> None:
    api, address, chain = funded
    n = 50
    start = int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16)
    body = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.001"}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        reqs = list(pool.map(lambda _i: api.submit(address, body), range(n)))
        done = list(pool.map(lambda r: api.wait(r["pollingId"], 60), reqs))
    assert all(d["status"] == "COMPLETED" for d in done), [d.get("error") for d in done]
    assert sorted(d["nonce"] for d in done) == list(range(start, start + n))
    assert len({d["txHash"] for d in done}) == n


def test_idempotency_key_yields_one_job(funded: tuple[Api, str, Any]) -> None:
    api, address, _chain = funded
    key = uuid.uuid4().hex
    body = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.5"}
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        reqs = list(pool.map(lambda _i: api.submit(address, body, key), range(20)))
    assert len({r["pollingId"] for r in reqs}) == 1
    done = api.wait(reqs[0]["pollingId"])
    assert done["status"] == "COMPLETED"
    status, out = api.call("POST", f"/v1/wallets/{address}/requests",
                           json={**body, "amount": "0.6"}, headers={"Idempotency-Key": key})
    assert status == 409 and out["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    # One transaction only.
    _, listing = api.call("GET", "/v1/requests")
    assert len([r for r in listing["data"]["requests"] if r.get("txHash")]) == 1


def test_signatures_recover_to_the_wallet(funded: tuple[Api, str, Any]) -> None:
    from eth_account import Account
    from eth_account.messages import encode_defunct, encode_typed_data

    api, address, _chain = funded
    req = api.wait(api.submit(address, {"kind": "message", "chainId": 31337,
                                        "message": "hello agent"})["pollingId"])
    assert req["status"] == "COMPLETED"
    assert Account.recover_message(encode_defunct(text="hello agent"),
                                   signature=req["signature"]) == address
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"},
                                   {"name": "chainId", "type": "uint256"}],
                  "Note": [{"name": "text", "type": "string"}]},
        "primaryType": "Note", "domain": {"name": "Demo", "chainId": 31337},
        "message": {"text": "hi"},
    }
    req = api.wait(api.submit(address, {"kind": "typed-data", "chainId": 31337,
                                        "payload": typed})["pollingId"])
    assert req["status"] == "COMPLETED", req
    assert Account.recover_message(encode_typed_data(full_message=typed),
                                   signature=req["signature"]) == address


def test_reverting_transaction_fails_without_broadcast(funded: tuple[Api, str, Any]) -> None:
    api, address, chain = funded
    reverter = chain.contract("Reverter")
    nonce = int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16)
    req = api.wait(api.submit(address, {"kind": "transaction", "chainId": 31337, "payload": {
        "to": reverter, "value": "0x0", "data": "0xa9cc4718"}})["pollingId"])
    assert req["status"] == "FAILED" and req["error"]["code"] == "TX_REVERTED"
    assert int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16) == nonce


def test_bad_input_is_rejected_at_submit(funded: tuple[Api, str, Any]) -> None:
    api, address, _chain = funded
    status, out = api.call("POST", f"/v1/wallets/{address}/requests", json={
        "kind": "transfer", "chainId": 31337, "to": "0x123", "amount": "1"})
    assert status == 400 and out["error"]["code"] == "INVALID_EVM_ADDRESS"
    status, out = api.call("POST", f"/v1/wallets/{address}/requests", json={
        "kind": "transfer", "chainId": 31337, "to": BOB, "amount": "-1"})
    assert status == 400 and out["error"]["code"] == "INVALID_AMOUNT"
    status, out = api.call("GET", "/v1/requests/nope")
    assert status == 404 and out["error"]["code"] == "REQUEST_NOT_FOUND"


def test_flagged_request_awaits_approval_then_expires(service_factory: Any, chain: Any) -> None:
    svc = service_factory(approval_window_seconds=1)
    prepare_service(svc, chain)
    api = Api(svc.base_url, svc.create_login("bob@example.com")["token"])
    _, out = api.call("POST", "/v1/wallets", json={})
    address = out["data"]["address"]
    chain.rpc("anvil_setBalance", [address, hex(10**18)])
    musd = chain.token("mUSD")["address"]
    approve_eoa = "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64
    req = api.wait(api.submit(address, {"kind": "transaction", "chainId": 31337, "payload": {
        "to": musd, "value": "0x0", "data": approve_eoa}})["pollingId"])
    assert req["status"] == "AWAITING_MFA"
    assert req["approval"]["channel"] == "email" and req["approval"]["expiresAt"]
    assert "t=" not in str(req)  # the agent never sees the approval secret
    final = api.wait(req["pollingId"], 15)
    while final["status"] == "AWAITING_MFA":
        final = api.wait(req["pollingId"], 15)
    assert final["status"] == "EXPIRED" and final["error"]["code"] == "TX_EXPIRED"
