"""Confirmation decoupled from broadcast (``services/jobs/confirm.py``), on the real service
and anvil: receipts in batches, the hand-off of an unmined job to the per-job path (which
replaces stuck transactions), and a wallet's next job sent before the previous one is mined."""

from __future__ import annotations

import time
from typing import Any

from helpers import wait_until

from .test_jobs import BOB, Api

TRANSFER = {"kind": "transfer", "chainId": 31337, "to": BOB, "amount": "0.01"}


def status_of(api: Api, polling_id: str) -> dict[str, Any]:
    status, out = api.call("GET", f"/v1/requests/{polling_id}")
    assert status == 200, out
    return out["data"]


def test_next_job_is_sent_before_the_previous_receipt(beast_wallet: Any,
                                                     service: Any) -> None:
    """Automine off: three jobs of one wallet are all broadcast (SUBMITTED, nonces in order)
    with none mined; one block mines them and the confirmer completes all three."""
    api, address, chain = beast_wallet
    assert api.wait(api.submit(address, TRANSFER)["pollingId"])["status"] == "COMPLETED"
    service.state.jobs.pipeline.confirmer.handoff_after = 60.0  # stay in the batch path
    chain.rpc("evm_setAutomine", [False])
    ids = [api.submit(address, TRANSFER)["pollingId"] for _ in range(3)]
    wait_until(lambda: all(status_of(api, p)["status"] == "SUBMITTED" for p in ids),
               timeout=30, interval=0.05, what="three jobs broadcast, none mined")
    nonces = sorted(status_of(api, p)["nonce"] for p in ids)
    assert nonces == list(range(nonces[0], nonces[0] + 3))
    assert int(chain.rpc("eth_getTransactionCount", [address, "pending"]), 16) == nonces[-1] + 1
    chain.rpc("evm_mine")
    done = [api.wait(p) for p in ids]
    assert [d["status"] for d in done] == ["COMPLETED"] * 3, done
    assert len({d["result"]["blockNumber"] for d in done}) == 1


def test_unmined_job_goes_to_the_per_job_path(beast_wallet: Any, service: Any) -> None:
    """Not mined within ``handoff_after``: the job leaves the batch and ``confirm_one``
    (``Submitter.confirm``, fee bumps) finishes it once it is mined."""
    api, address, chain = beast_wallet
    confirmer = service.state.jobs.pipeline.confirmer
    confirmer.handoff_after = 0.2
    handed: list[str] = []
    pipeline = service.state.jobs.pipeline
    original = pipeline.confirm_one

    def spy(polling_id: str, *args: Any) -> None:
        handed.append(polling_id)
        original(polling_id, *args)

    pipeline.confirm_one = spy
    chain.rpc("evm_setAutomine", [False])
    polling_id = api.submit(address, TRANSFER)["pollingId"]
    wait_until(lambda: handed, timeout=30, interval=0.05, what="the hand-off")
    assert handed == [polling_id] and status_of(api, polling_id)["status"] == "SUBMITTED"
    time.sleep(0.2)
    chain.rpc("evm_mine")
    done = api.wait(polling_id)
    assert done["status"] == "COMPLETED", done
    assert done["result"]["replacements"] == 0


def test_a_job_not_mined_within_the_wallet_timeout_is_still_watched(
        beast_wallet: Any, service: Any) -> None:
    """The per-job path gives up after ``walletTimeoutSeconds`` with the job still
    SUBMITTED; it must stay watched (it was once left alone until a restart): mined later,
    it completes."""
    from mm_agent.local.state import Home

    api, address, chain = beast_wallet
    home = Home(service.data_dir)
    home.write_json("config.json", {**home.read_json("config.json"),
                                    "walletTimeoutSeconds": 1})
    confirmer = service.state.jobs.pipeline.confirmer
    confirmer.handoff_after = 0.2
    pipeline = service.state.jobs.pipeline
    rounds: list[str] = []
    original = pipeline.confirm_one

    def spy(polling_id: str, *args: Any) -> None:
        rounds.append(polling_id)
        original(polling_id, *args)

    pipeline.confirm_one = spy
    chain.rpc("evm_setAutomine", [False])
    polling_id = api.submit(address, TRANSFER)["pollingId"]
    # The per-job path timed out at least twice (confirmer → per-job → confirmer → …).
    wait_until(lambda: len(rounds) >= 2, timeout=30, interval=0.05, what="two rounds")
    assert status_of(api, polling_id)["status"] == "SUBMITTED"
    chain.rpc("evm_mine")
    done = api.wait(polling_id)
    assert done["status"] == "COMPLETED", done


def test_a_cancel_mined_after_its_watcher_gave_up_still_ends_the_job(
        beast_wallet: Any, service: Any) -> None:
    """The cancel's own watcher waits ``walletTimeoutSeconds``; mined later, the job (watched
    by the confirmer, unmined for good: its nonce went to the cancel) ends DENIED /
    TX_CANCELLED instead of staying SUBMITTED."""
    from mm_agent.local.state import Home

    api, address, chain = beast_wallet
    home = Home(service.data_dir)
    home.write_json("config.json", {**home.read_json("config.json"),
                                    "walletTimeoutSeconds": 1})
    service.state.jobs.pipeline.confirmer.handoff_after = 0.2
    chain.rpc("evm_setAutomine", [False])
    polling_id = api.submit(address, TRANSFER)["pollingId"]
    wait_until(lambda: status_of(api, polling_id)["status"] == "SUBMITTED", timeout=30,
               interval=0.05, what="broadcast")
    status, out = api.call("POST", f"/v1/requests/{polling_id}/cancel")
    assert status == 200, out
    cancel_hash = out["data"]["result"]["cancelTxHash"]
    time.sleep(2.0)  # the cancel's watcher (1 s) gave up
    assert status_of(api, polling_id)["status"] == "SUBMITTED"
    chain.rpc("evm_mine")
    assert chain.rpc("eth_getTransactionReceipt", [cancel_hash])
    done = api.wait(polling_id)
    assert done["status"] == "DENIED" and done["error"]["code"] == "TX_CANCELLED", done


def test_jobs_mined_together_complete_in_one_group_commit(beast_wallet: Any,
                                                         service: Any) -> None:
    """One block mines three jobs: the confirmer completes them in ONE database transaction
    (``complete_many``), not one by one (a broken group commit once fell back silently)."""
    api, address, chain = beast_wallet
    pipeline = service.state.jobs.pipeline
    pipeline.confirmer.handoff_after = 60.0
    original = pipeline.complete_many
    calls: list[tuple[int, BaseException | None]] = []

    def spy(mined: list[Any]) -> None:
        try:
            original(mined)
        except BaseException as exc:
            calls.append((len(mined), exc))
            raise
        calls.append((len(mined), None))

    pipeline.complete_many = spy
    chain.rpc("evm_setAutomine", [False])
    ids = [api.submit(address, TRANSFER)["pollingId"] for _ in range(3)]
    wait_until(lambda: all(status_of(api, p)["status"] == "SUBMITTED" for p in ids),
               timeout=30, interval=0.05, what="three jobs broadcast")
    chain.rpc("evm_mine")
    assert [api.wait(p)["status"] for p in ids] == ["COMPLETED"] * 3
    assert calls == [(3, None)], calls
