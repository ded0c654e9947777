"""A wallet's queued transactions run as batches (``services/jobs/lanes.py``, ``batch.py``) on
the real service and anvil: one sequential simulation, one policy transaction and one signing
transaction per batch; the first job that stops (approval, denial, revert, cancel) sends the
jobs behind it back to be simulated again; nonces stay contiguous and the outflow window exact.

To make a batch deterministic, the test holds the lane's worker on a gate (the real
``run_batch`` wrapped) while the jobs queue up behind it, then opens it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from helpers import approve_by_mail, outbox_links, wait_until
from sqlalchemy import select

from mm_agent.server.db.store import jobs, outflows

from .test_jobs import BOB, Api, prepare_service

CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
TRANSFER = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.01"}


class Gate:
    """Wraps the queue's ``run_batch``: records each batch and holds the first one until
    ``open()`` (so the jobs submitted meanwhile queue up in the lane)."""

    def __init__(self, service: Any) -> None:
        self.queue = service.state.jobs.queue
        self.inner: Callable[[list[str]], list[str]] = self.queue.run_batch
        self.batches: list[list[str]] = []
        self.released = threading.Event()
        self.entered = threading.Event()
        self.queue.run_batch = self

    def __call__(self, batch: list[str]) -> list[str]:
        self.batches.append(list(batch))
        self.entered.set()
        self.released.wait(30)
        return self.inner(batch)

    def open(self) -> None:
        self.released.set()


def nonce_of(chain: Any, address: str) -> int:
    return int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16)


def queued_behind(gate: Gate, api: Api, address: str, bodies: list[dict[str, Any]]
                  ) -> tuple[str, list[str]]:
    """Submit a first transfer (held at the gate), then ``bodies`` (queued behind it);
    returns (the first's id, the others' ids) once they are all queued."""
    first = api.submit(address, TRANSFER)["pollingId"]
    assert gate.entered.wait(30)
    ids = [api.submit(address, body)["pollingId"] for body in bodies]
    wait_until(lambda: gate.queue._lanes.queued() == len(ids), timeout=10, interval=0.01,
               what="the jobs queued in the wallet's lane")
    return first, ids


def spy_signing(gate: Gate) -> list[int]:
    """How many jobs each signing transaction of the batch runner signed."""
    runner = gate.inner.__self__  # type: ignore[attr-defined]
    original = runner._sign_and_store
    sizes: list[int] = []

    def spy(wallet: Any, chain_id: int, signable: list[Any], **kw: Any) -> Any:
        signed, cut = original(wallet, chain_id, signable, **kw)
        sizes.append(len(signed))
        return signed, cut

    runner._sign_and_store = spy
    return sizes


def test_queued_transfers_run_as_one_batch(beast_wallet: Any, service: Any) -> None:
    api, address, chain = beast_wallet
    gate = Gate(service)
    signed = spy_signing(gate)
    start = nonce_of(chain, address)
    bob_before = chain.balance(BOB)
    first, ids = queued_behind(gate, api, address, [TRANSFER] * 12)
    gate.open()
    done = [api.wait(p) for p in [first, *ids]]
    assert [d["status"] for d in done] == ["COMPLETED"] * 13, [d.get("error") for d in done]
    assert gate.batches[0] == [first] and gate.batches[1] == ids  # 12 jobs, one batch
    assert signed == [12]  # one signing transaction (the first job ran alone)
    # Nonces in submission order, no gap; every preview is the engine's and carries the
    # fees that were signed.
    assert [d["nonce"] for d in done] == list(range(start, start + 13))
    assert nonce_of(chain, address) == start + 13
    assert chain.balance(BOB) - bob_before == 13 * 10**16
    for d in done[1:]:
        assert d["intent"].startswith("Transfer 0.01 ETH") and d["preview"]["fees"]
        assert d["preview"]["simulation"]["success"] is True


def test_a_job_that_needs_the_human_sends_the_ones_behind_it_back(
        beast_wallet: Any, service: Any, chain: Any) -> None:
    """[t, t, risky, t, t]: the two before it are signed; the risky one waits for the human;
    the two behind it are simulated again (without it) and complete; once approved, the
    risky one takes the next nonce: no gap, each job reserved once."""
    api, address, _ = beast_wallet
    gate = Gate(service)
    start = nonce_of(chain, address)
    musd = chain.token("mUSD")["address"]
    risky = {"kind": "transaction", "chainId": 31337, "payload": {
        "to": musd, "value": "0x0",
        "data": "0x095ea7b3" + BOB[2:].lower().rjust(64, "0") + "f" * 64}}
    first, ids = queued_behind(gate, api, address,
                               [TRANSFER, TRANSFER, risky, TRANSFER, TRANSFER])
    seen = len(outbox_links(service.data_dir))
    gate.open()
    t1, t2, held, t4, t5 = ids
    assert api.wait(held)["status"] == "AWAITING_MFA"
    done = {p: api.wait(p) for p in (first, t1, t2, t4, t5)}
    assert all(d["status"] == "COMPLETED" for d in done.values()), done
    assert gate.batches[1] == ids and gate.batches[2] == [t4, t5]  # sent back, in order
    assert [done[p]["nonce"] for p in (first, t1, t2, t4, t5)] == list(range(start, start + 5))
    approve_by_mail(service.data_dir, service.base_url, seen=seen)
    approved = api.wait(held)
    while approved["status"] not in ("COMPLETED", "FAILED"):
        approved = api.wait(held)
    assert approved["status"] == "COMPLETED", approved
    assert approved["nonce"] == start + 5 and nonce_of(chain, address) == start + 6
    with service.state.store.read() as conn:
        rows = conn.execute(select(outflows.c.polling_id)).scalars().all()
    assert len(rows) == len(set(rows))  # never reserved twice


def test_a_reverting_job_fails_alone_and_the_rest_complete(
        beast_wallet: Any, service: Any, chain: Any) -> None:
    api, address, _ = beast_wallet
    gate = Gate(service)
    start = nonce_of(chain, address)
    reverter = chain.contract("Reverter")
    bad = {"kind": "transaction", "chainId": 31337,
           "payload": {"to": reverter, "value": "0x0", "data": "0xa9cc4718"}}
    first, ids = queued_behind(gate, api, address, [TRANSFER, bad, TRANSFER, TRANSFER])
    gate.open()
    results = {p: api.wait(p) for p in [first, *ids]}
    assert results[ids[1]]["status"] == "FAILED"
    assert results[ids[1]]["error"]["code"] == "TX_REVERTED"
    assert results[ids[1]]["preview"]["simulation"]["success"] is False
    ok = [first, ids[0], ids[2], ids[3]]
    assert [results[p]["status"] for p in ok] == ["COMPLETED"] * 4
    assert [results[p]["nonce"] for p in ok] == list(range(start, start + 4))
    assert nonce_of(chain, address) == start + 4


def test_a_job_cancelled_before_signing_sends_the_rest_back(
        beast_wallet: Any, service: Any, chain: Any) -> None:
    """The cancel lands between the batch's policy step and its signing transaction: the
    cancelled job is not signed, the jobs behind it run again, nonces stay contiguous."""
    api, address, _ = beast_wallet
    gate = Gate(service)
    start = nonce_of(chain, address)
    first, ids = queued_behind(gate, api, address, [TRANSFER] * 4)
    from mm_agent.server.services.jobs.batch import BatchRunner

    runner: BatchRunner = gate.inner.__self__  # type: ignore[attr-defined]
    original = runner._sign_and_store
    cancelled: list[str] = []

    def cancel_then_sign(*args: Any, **kw: Any) -> Any:
        if not cancelled:
            cancelled.append(ids[1])
            status, out = api.call("POST", f"/v1/requests/{ids[1]}/cancel")
            assert status == 200, out
        return original(*args, **kw)

    runner._sign_and_store = cancel_then_sign  # type: ignore[method-assign]
    gate.open()
    results = {p: api.wait(p) for p in [first, *ids]}
    assert results[ids[1]]["status"] == "DENIED"
    assert results[ids[1]]["error"]["code"] == "TX_CANCELLED"
    ok = [first, ids[0], ids[2], ids[3]]
    assert [results[p]["status"] for p in ok] == ["COMPLETED"] * 4, results
    assert [results[p]["nonce"] for p in ok] == list(range(start, start + 4))
    assert ids[2] in gate.batches[-1]  # ran again after the cut
    with service.state.store.read() as conn:
        state = conn.execute(select(outflows.c.state).where(
            outflows.c.polling_id == ids[1])).scalar()
        signed = conn.execute(select(jobs.c.raw_tx).where(
            jobs.c.polling_id == ids[1])).scalar()
    assert signed is None and state in (None, "released")


def test_the_window_is_exact_within_a_batch(service: Any, chain: Any) -> None:
    """Guard mode, a $100 window, transfers of $40 to an allowlisted recipient queued as one
    batch: the first two fit ($80), the third needs the human and stops the batch; the two
    behind it are judged again and stop too. Only the first three are reserved."""
    prepare_service(service, chain)
    api = Api(service.base_url, service.create_login("window@example.com")["token"])
    _, out = api.call("POST", "/v1/wallets", json={})
    address = out["data"]["address"]
    chain.rpc("anvil_setBalance", [address, hex(100 * 10**18)])
    policy = (f'schema_version: 1\nwallet_address: "{address}"\naddresses:\n  allowlist: []\n'
              f"  blocklist: []\nevm:\n  allowed_chains: [31337]\n"
              f'  token_recipients:\n    allowlist: ["{BOB}"]\n'
              f"  outflow_limits_usd:\n    rolling_24h: 100\n")
    seen = len(outbox_links(service.data_dir))
    status, out = api.call("PUT", f"/v1/wallets/{address}/policy", json={"policy": policy})
    assert status == 200, out
    if out["data"].get("status") == "pending_approval":
        approve_by_mail(service.data_dir, service.base_url, seen=seen)
        wait_until(lambda: api.call("GET", f"/v1/requests/{out['data']['pollingId']}")[1]
                   ["data"]["status"] == "COMPLETED", timeout=15, what="policy applied")
    gate = Gate(service)
    forty = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.02"}  # $40
    first = api.submit(address, {**forty, "amount": "0.000005"})["pollingId"]  # $0.01
    assert gate.entered.wait(30)
    ids = [api.submit(address, forty)["pollingId"] for _ in range(5)]
    wait_until(lambda: gate.queue._lanes.queued() == 5, timeout=10, interval=0.01,
               what="queued")
    gate.open()
    results = [api.wait(p) for p in ids]
    assert [r["status"] for r in results] == ["COMPLETED", "COMPLETED", "AWAITING_MFA",
                                              "AWAITING_MFA", "AWAITING_MFA"], results
    assert api.wait(first)["status"] == "COMPLETED"
    with service.state.store.read() as conn:
        rows = conn.execute(select(outflows.c.polling_id, outflows.c.usd_cents,
                                   outflows.c.state)).all()
    counted = sum(Decimal(r.usd_cents) for r in rows if r.state in ("reserved", "committed"))
    # $0.01 + 2 x $40, plus each one's worst-case gas fee (which counts as outflow too);
    # the third $40 would pass $100.
    assert 8001 < counted <= 10000, counted
    assert {r.polling_id for r in rows} == {first, ids[0], ids[1]}
    assert counted + 4000 > 10000


def test_a_batch_that_fails_before_signing_falls_back_to_one_by_one(
        beast_wallet: Any, service: Any, chain: Any) -> None:
    """Planning a batch raises after the policy reserved (here: the signing step fails once,
    before its transaction): nothing was signed, the reservations are dropped, the first job
    takes the single path and the others run again; all complete, each reserved once."""
    api, address, _ = beast_wallet
    gate = Gate(service)
    start = nonce_of(chain, address)
    runner = gate.inner.__self__  # type: ignore[attr-defined]
    original = runner._sign_and_store
    failed: list[int] = []

    def flaky(*args: Any, **kw: Any) -> Any:
        if not failed:
            failed.append(1)
            raise RuntimeError("disk full")  # before the signing transaction began
        return original(*args, **kw)

    runner._sign_and_store = flaky
    first, ids = queued_behind(gate, api, address, [TRANSFER] * 5)
    gate.open()
    done = [api.wait(p) for p in [first, *ids]]
    assert [d["status"] for d in done] == ["COMPLETED"] * 6, done
    assert [d["nonce"] for d in done] == list(range(start, start + 6))
    with service.state.store.read() as conn:
        rows = conn.execute(select(outflows.c.polling_id, outflows.c.state).where(
            outflows.c.polling_id.in_(ids))).all()
    assert sorted(r.polling_id for r in rows) == sorted(ids)  # once each
    assert {r.state for r in rows} == {"committed"}
