"""Guard mode checks every party that can end up with the wallet's assets (issue classes 3, 4,
5): every recipient the simulation shows (native, ERC-20, ERC-721), every address of typed data,
every grant's spender, and the USD size of grants against what is left of the rolling window.
Real service, real anvil, a real adversarial contract (tests/server/contracts/GuardProbe.sol)."""

from __future__ import annotations

from typing import Any

import pytest

from .guard_helpers import calldata, deploy_probe, send_as, submit_tx, violations
from .test_jobs import BOB
from .test_policy_service import CAROL, guard, policy_yaml, rules, set_policy  # noqa: F401

MAX = 2**256 - 1


@pytest.fixture
def probe(guard: Any) -> tuple[Any, str, Any, Any, str]:  # noqa: F811
    api, address, chain, svc = guard
    return api, address, chain, svc, deploy_probe(chain)


def test_second_native_recipient_of_an_allowlisted_contract_is_named(probe: Any) -> None:
    api, address, _chain, svc, contract = probe
    set_policy(api, svc, address, policy_yaml(address, allow=[contract], recipients=[BOB]))
    req = submit_tx(api, address, contract,
                    calldata("splitEth(address,address)", BOB, CAROL), value=2 * 10**16)
    assert req["status"] == "AWAITING_MFA", req
    named = violations(req, "token_recipient")
    assert any(CAROL in m for m in named), named
    assert not any(BOB in m for m in named)  # the allowlisted first recipient passes


def test_second_token_recipient_pulled_by_a_contract_is_named(probe: Any) -> None:
    api, address, chain, svc, contract = probe
    musd = chain.token("mUSD")["address"]
    # The wallet approved the contract earlier (set up on chain directly).
    send_as(chain, address, musd, calldata("approve(address,uint256)", contract, MAX))
    set_policy(api, svc, address, policy_yaml(address, allow=[contract, musd], recipients=[BOB]))
    data = calldata("splitToken(address,address,address,uint256)", musd, BOB, CAROL, 5 * 10**6)
    req = submit_tx(api, address, contract, data)
    assert req["status"] == "AWAITING_MFA", req
    named = violations(req, "token_recipient")
    assert any(CAROL in m and "mUSD" in m for m in named), named
    assert not any(BOB in m for m in named)
    assert chain.erc20_balance(musd, CAROL) == 0  # nothing signed


def test_nft_moved_by_a_contract_to_an_unlisted_address_is_named(probe: Any) -> None:
    api, address, chain, svc, contract = probe
    nft = chain.token("mNFT")["address"]
    receipt = send_as(chain, chain.deployed["deployer"], nft, calldata("mint(address)", address))
    token_id = int(receipt["logs"][0]["topics"][3], 16)
    send_as(chain, address, nft, calldata("setApprovalForAll(address,bool)", contract, True))
    set_policy(api, svc, address, policy_yaml(address, allow=[contract], recipients=[BOB]))
    req = submit_tx(api, address, contract,
                    calldata("moveNft(address,address,uint256)", nft, CAROL, token_id))
    assert req["status"] == "AWAITING_MFA", req
    assert any(CAROL in m and f"#{token_id}" in m for m in violations(req, "token_recipient"))


def test_typed_data_taker_and_receiver_fields_must_be_trusted(guard: Any) -> None:  # noqa: F811
    api, address, chain, svc = guard
    musd = chain.token("mUSD")["address"]
    set_policy(api, svc, address, policy_yaml(address, allow=[musd], recipients=[BOB]))

    def order(taker: str, receiver: str) -> dict[str, Any]:
        return {"types": {
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "Order": [{"name": "maker", "type": "address"}, {"name": "taker", "type": "address"},
                      {"name": "fill", "type": "Fill"}],
            "Fill": [{"name": "receiver", "type": "address"}, {"name": "amount",
                                                             "type": "uint256"}]},
            "primaryType": "Order",
            "domain": {"name": "Swap", "chainId": 31337, "verifyingContract": musd},
            "message": {"maker": address, "taker": taker,
                        "fill": {"receiver": receiver, "amount": "1"}}}

    trusted = api.wait(api.submit(address, {"kind": "typed-data", "chainId": 31337,
                                       "payload": order(BOB, BOB)})["pollingId"])
    # Trusted parties only: the policy itself has nothing against it (the scanner may still
    # want a look at an unrecognised order).
    assert rules(trusted) <= {"threat_scan"}, trusted["preview"]["policy"]
    req = api.wait(api.submit(address, {"kind": "typed-data", "chainId": 31337,
                                        "payload": order(BOB, CAROL)})["pollingId"])
    assert req["status"] == "AWAITING_MFA", req
    named = violations(req)
    assert any("fill.receiver" in m and CAROL in m for m in named), named
    req = api.wait(api.submit(address, {"kind": "typed-data", "chainId": 31337,
                                        "payload": order(CAROL, BOB)})["pollingId"])
    assert any("taker" in m and CAROL in m for m in violations(req)), violations(req)


def test_grant_to_unlisted_spender_needs_approval(probe: Any) -> None:
    api, address, chain, svc, contract = probe
    musd = chain.token("mUSD")["address"]
    set_policy(api, svc, address, policy_yaml(address, allow=[musd], recipients=[BOB]))
    req = submit_tx(api, address, musd, calldata("approve(address,uint256)", contract, 10**6))
    assert req["status"] == "AWAITING_MFA", req
    assert any("Spender" in m and contract.lower() in m.lower()
               for m in violations(req, "address_allowlist")), violations(req)


def test_grant_to_allowlisted_spender_must_fit_the_remaining_window(probe: Any) -> None:
    api, address, chain, svc, contract = probe
    musd = chain.token("mUSD")["address"]
    set_policy(api, svc, address, policy_yaml(address, allow=[musd, contract], recipients=[BOB],
                                              limit="100"))
    small = submit_tx(api, address, musd, calldata("approve(address,uint256)", contract,
                                                   50 * 10**6))
    assert small["status"] == "COMPLETED", small  # $50 of the $100 left: fine
    big = submit_tx(api, address, musd, calldata("approve(address,uint256)", contract,
                                                 500 * 10**6))
    assert big["status"] == "AWAITING_MFA", big
    assert "address_allowlist" not in rules(big)
    assert any("$500.00" in m for m in violations(big, "outflow_limit")), violations(big)
    unlimited = submit_tx(api, address, musd, calldata("approve(address,uint256)", contract, MAX))
    assert any("unlimited" in m for m in violations(unlimited, "outflow_limit"))
    # After $90 of outflow, a $20 grant no longer fits what is left ($10).
    assert api.wait(api.submit(address, {"kind": "transfer", "chainId": 31337, "to": BOB,
                                         "amount": "90", "token": "mUSD"})["pollingId"]
                    )["status"] == "COMPLETED"
    late = submit_tx(api, address, musd, calldata("approve(address,uint256)", contract,
                                                  20 * 10**6))
    assert late["status"] == "AWAITING_MFA" and "outflow_limit" in rules(late), late
