"""`requests cancel` on the service: PENDING/AWAITING_MFA end DENIED (TX_CANCELLED) with the
approval closed and nothing signed; a SUBMITTED transaction is replaced by a 0-value
self-transfer with the same nonce; a finished request cannot be cancelled."""

from __future__ import annotations

from typing import Any

from helpers import wait_until
from sqlalchemy import select

from mm_agent.server.db.store import approvals

from .test_jobs import BOB, Api, funded  # noqa: F401  (fixture)


def _wait_status(api: Api, polling_id: str, wanted: str, timeout: float = 20) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        status, out = api.call("GET", f"/v1/requests/{polling_id}")
        assert status == 200, out
        return dict(out["data"]) if out["data"]["status"] == wanted else None

    return wait_until(reached, timeout=timeout, what=f"request {polling_id} to be {wanted}")


def test_cancel_awaiting_mfa_closes_the_approval(service: Any,
                                                 funded: tuple[Api, str, Any]) -> None:  # noqa: F811
    api, address, chain = funded
    # An unlimited mUSD approve to an account without code: Malicious → AWAITING_MFA.
    musd = chain.token("mUSD")["address"]
    data = "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64
    req = api.submit(address, {"kind": "transaction", "chainId": 31337,
                               "payload": {"to": musd, "value": "0x0", "data": data}})
    _wait_status(api, req["pollingId"], "AWAITING_MFA")
    status, out = api.call("POST", f"/v1/requests/{req['pollingId']}/cancel", json={})
    assert status == 200, out
    done = out["data"]
    assert done["status"] == "DENIED" and done["error"]["code"] == "TX_CANCELLED"
    with service.state.store.read() as conn:
        rows = conn.execute(select(approvals.c.status).where(
            approvals.c.polling_id == req["pollingId"])).scalars().all()
    assert rows == ["cancelled"]
    # An approval arriving now changes nothing; nothing was ever signed.
    service.state.jobs.approve(req["pollingId"])
    assert _wait_status(api, req["pollingId"], "DENIED").get("txHash") is None
    # Finished: a second cancel is refused.
    status, out = api.call("POST", f"/v1/requests/{req['pollingId']}/cancel", json={})
    assert status == 409 and out["error"]["code"] == "ALREADY_DECIDED"


def test_cancel_submitted_replaces_the_nonce(funded: tuple[Api, str, Any]) -> None:  # noqa: F811
    api, address, chain = funded
    before = chain.balance(BOB)
    chain.rpc("evm_setAutomine", [False])  # the transfer stays in the mempool
    req = api.submit(address, {"kind": "transfer", "chainId": 31337, "to": BOB,
                               "amount": "0.5"})
    sub = _wait_status(api, req["pollingId"], "SUBMITTED")
    status, out = api.call("POST", f"/v1/requests/{req['pollingId']}/cancel", json={})
    assert status == 200, out
    cancel_hash = out["data"]["result"]["cancelTxHash"]
    assert cancel_hash != sub["txHash"]
    chain.rpc("evm_mine")
    done = _wait_status(api, req["pollingId"], "DENIED")
    assert done["error"]["code"] == "TX_CANCELLED" and cancel_hash in done["error"]["message"]
    mined = chain.rpc("eth_getTransactionByHash", [cancel_hash])
    assert int(mined["nonce"], 16) == sub["nonce"]
    assert mined["to"].lower() == address.lower() and int(mined["value"], 16) == 0
    assert chain.rpc("eth_getTransactionReceipt", [sub["txHash"]]) is None
    assert chain.balance(BOB) == before


def test_cancel_unknown_or_completed(funded: tuple[Api, str, Any]) -> None:  # noqa: F811
    api, address, _chain = funded
    status, out = api.call("POST", "/v1/requests/nope/cancel", json={})
    assert status == 404 and out["error"]["code"] == "REQUEST_NOT_FOUND"
    req = api.submit(address, {"kind": "transfer", "chainId": 31337, "to": BOB,
                               "amount": "0.1"})
    assert api.wait(req["pollingId"])["status"] == "COMPLETED"
    status, out = api.call("POST", f"/v1/requests/{req['pollingId']}/cancel", json={})
    assert status == 409 and out["error"]["code"] == "ALREADY_DECIDED"
