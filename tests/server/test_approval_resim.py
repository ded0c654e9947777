"""After approval the service signs exactly what the human saw, or nothing (issue class 7):
a chain-state change between the approval mail and the click sends the request back to the
human; an unchanged one is signed with the shown gas limit and fee caps."""

from __future__ import annotations

from typing import Any

import httpx

from mm_agent.evm.amounts import format_units
from mm_agent.evm.fees import FEE_CAP_MULTIPLIER

from .guard_helpers import calldata, deploy_probe, send_as, submit_tx
from .test_approvals import post, wait_for_links, wait_terminal
from .test_jobs import BOB
from .test_policy_service import CAROL, guard, policy_yaml, set_policy  # noqa: F401

MAX = 2**256 - 1


def _setup(guard: Any) -> tuple[Any, str, Any, Any, str, str]:  # noqa: F811
    api, address, chain, svc = guard
    probe = deploy_probe(chain)
    musd = chain.token("mUSD")["address"]
    send_as(chain, address, musd, calldata("approve(address,uint256)", probe, MAX))
    send_as(chain, chain.deployed["deployer"], probe,
            calldata("configure(address,uint256)", BOB, 1))
    # Nothing allowlisted: every call to the probe asks the human.
    set_policy(api, svc, address, policy_yaml(address, recipients=[BOB]))
    wait_for_links(svc.outbox_messages, 1)  # that change's own mail (approved above)
    return api, address, chain, svc, probe, musd


def test_state_change_after_the_mail_goes_back_to_the_human(guard: Any) -> None:  # noqa: F811
    api, address, chain, svc, probe, musd = _setup(guard)
    nonce = int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16)
    req = submit_tx(api, address, probe, calldata("take(address,uint256)", musd, 5 * 10**6))
    assert req["status"] == "AWAITING_MFA", req
    # Someone changes the contract after the human was asked: it now takes 3x, to CAROL.
    send_as(chain, chain.deployed["deployer"], probe,
            calldata("configure(address,uint256)", CAROL, 3))
    first = wait_for_links(svc.outbox_messages, 2)[1]
    assert post(svc, first[1], t=first[2], decision="approve").status_code == 200

    again = api.wait(req["pollingId"])
    deadline = 50
    while again["status"] != "AWAITING_MFA" or again["approval"]["reason"].startswith("0x"):
        again = api.wait(req["pollingId"])
        deadline -= 1
        assert deadline, again
    assert "chain changed" in again["approval"]["reason"], again
    assert CAROL.lower() in again["approval"]["reason"].lower()
    # Nothing was signed or sent.
    assert "txHash" not in again
    assert int(chain.rpc("eth_getTransactionCount", [address, "latest"]), 16) == nonce
    assert chain.erc20_balance(musd, CAROL) == 0
    # A fresh approval mail says why; approving THAT one signs the new, shown state.
    second = wait_for_links(svc.outbox_messages, 3)[2]
    text = svc.outbox_messages()[-1].get_body(preferencelist=("plain",)).get_content()
    assert "chain changed" in text
    assert post(svc, second[1], t=second[2], decision="approve").status_code == 200
    done = wait_terminal(api, req["pollingId"])
    assert done["status"] == "COMPLETED", done
    assert chain.erc20_balance(musd, CAROL) == 15 * 10**6


def test_unchanged_request_is_signed_with_the_shown_fees(guard: Any) -> None:  # noqa: F811
    api, address, chain, svc, probe, musd = _setup(guard)
    req = submit_tx(api, address, probe, calldata("take(address,uint256)", musd, 2 * 10**6))
    assert req["status"] == "AWAITING_MFA", req
    shown = req["approval"]["shown"]["tx"]
    assert shown["to"] == probe.lower() and shown["gasLimit"]
    # The replacement ceiling is shown (and stored with what was shown, outside the digest),
    # and the worst case the guard counted is gas limit x that ceiling.
    ceiling = int(shown["maxReplacementFeePerGas"])
    assert ceiling == FEE_CAP_MULTIPLIER * int(shown["maxFeePerGas"])
    fees = req["preview"]["fees"]
    assert int(fees["worstCaseFeeWei"]) == int(shown["gasLimit"]) * ceiling
    link = wait_for_links(svc.outbox_messages, 2)[1]
    mail = svc.outbox_messages()[-1].get_body(preferencelist=("plain",)).get_content()
    gwei = f"{format_units(ceiling, 9)} gwei"
    assert "Network fee" in mail and f"Replacement ceiling: {gwei}" in mail, mail
    page = httpx.get(link[0], timeout=10).text
    assert "Network fee" in page and "Replacement ceiling" in page and gwei in page
    assert format_units(int(fees["worstCaseFeeWei"]), 18) in page
    assert post(svc, link[1], t=link[2], decision="approve").status_code == 200
    done = wait_terminal(api, req["pollingId"])
    assert done["status"] == "COMPLETED", done
    assert done["preview"]["fees"]["maxReplacementFeePerGas"] == str(ceiling)
    tx = chain.rpc("eth_getTransactionByHash", [done["txHash"]])
    assert int(tx["gas"], 16) == int(shown["gasLimit"])
    assert int(tx["maxFeePerGas"], 16) == int(shown["maxFeePerGas"])
    assert int(tx["maxPriorityFeePerGas"], 16) == int(shown["maxPriorityFeePerGas"])
    assert tx["input"] == shown["data"] and tx["to"].lower() == shown["to"]
